"""`visreason captions`: a caption for every puzzle of a split, and caption fidelity.

Captioners:
- `oracle`: the record's `description`, i.e. the puzzle engine's `describe(solution)`,
  the exact text rendering of the state (the text side of the perception experiment);
- `model`: a vision-language model (a local folder, or `claude:<model-id>`) asked to
  describe the image in the category's canonical format, shown by an example.

Caption fidelity is a direct perception score: per category, the share of the state's
atomic facts (`Puzzle.facts(solution)`: the time on the clock, each maze row, each
queen's square, each jug's amount...) that the caption states verbatim, up to case
and spacing (`Puzzle.fact_fidelity`). The oracle scores 1.0 by construction.

Output folder (written atomically): `captions.jsonl` (id, category, caption,
facts_correct, facts_total, n_tokens, truncated), then `summary.json`.
"""

from __future__ import annotations

import random
from pathlib import Path

import mlflow

from visreason import VisreasonError
from visreason.backends import api_options, check_model, load_backend
from visreason.files import atomic_dir, progress, write_json, write_jsonl
from visreason.generation import Request, Sampling
from visreason.params import CAPTIONERS
from visreason.puzzles import CATEGORIES
from visreason.records import load_records
from visreason.tracking import start_run


def caption_prompt(category: str) -> str:
    """The instruction for a model captioner, with an example in the canonical format.

    The example describes a fixed random state of the same category (never the
    puzzle shown), so the model learns the format, not the answer.
    """
    puzzle = CATEGORIES[category]
    example, _ = puzzle.sample(random.Random(f"caption-example-{category}"))
    return (
        "Describe the state of the puzzle shown in the image, precisely and completely. "
        "Use exactly the format of this example, which describes another puzzle of the same kind:\n\n"
        f"{puzzle.describe(example)}\n\n"
        "Write only the description."
    )


def fidelity(caption: str, record: dict) -> tuple[int, int]:
    """(facts the caption states, facts in the state) for one record."""
    return CATEGORIES[record["category"]].fact_fidelity(caption, record["solution"])


def summarize(rows: list[dict]) -> dict:
    """Per category: fidelity (facts stated / facts, pooled over puzzles), the share of
    captions with every fact right, and counts; plus the unweighted mean over categories."""
    per_category = {}
    for cat in sorted({r["category"] for r in rows}):
        group = [r for r in rows if r["category"] == cat]
        correct, total = sum(r["facts_correct"] for r in group), sum(r["facts_total"] for r in group)
        per_category[cat] = {
            "fidelity": correct / total if total else 0.0,
            "all_facts_rate": sum(r["facts_correct"] == r["facts_total"] for r in group) / len(group),
            "facts_correct": correct,
            "facts_total": total,
            "n": len(group),
        }
    mean = sum(c["fidelity"] for c in per_category.values()) / len(per_category)
    return {"fidelity": {"per_category": per_category, "mean": mean}, "n": len(rows)}


def model_captions(records: list[dict], data_dir: Path, model: str, params: dict) -> list:
    """One `Generation` per record from a model captioner, in batches."""
    cfg = params["captions"]
    sampling = Sampling(max_new_tokens=cfg["max_new_tokens"])
    backend = load_backend(model, sampling, params["evaluate"]["backend"], **api_options(params))
    prompts = {cat: caption_prompt(cat) for cat in {r["category"] for r in records}}
    requests = [Request(prompts[r["category"]], data_dir / r["image"]) for r in records]
    size = cfg["batch_size"]
    outs = []
    for i in progress(range(0, len(requests), size), desc="captions", total=-(-len(requests) // size)):
        outs.extend(backend.generate(requests[i : i + size], seed=params["evaluate"]["seed"] + i))
    return outs


def run_captions(params: dict, *, data: str | Path, captioner: str, out: str | Path, model: str | None = None) -> dict:
    """Caption every record of the split in `data`; write OUTDIR/captions.jsonl and summary.json."""
    if captioner not in CAPTIONERS:
        raise VisreasonError(f"unknown captioner '{captioner}' (valid: {', '.join(CAPTIONERS)})")
    if captioner == "model" and not model:
        raise VisreasonError("--captioner model needs --model (a model folder or claude:<model-id>)")
    if captioner == "oracle" and model:
        raise VisreasonError("--model is only for --captioner model (the oracle reads the records' descriptions)")
    if model:
        check_model(model)
    data = Path(data)
    records = load_records(data)  # every record has a non-empty description
    split = records[0]["split"]
    inputs = {"data": data} | ({"model": model} if model and Path(model).exists() else {})
    tags = {"captioner": captioner, "model": model or ""}
    with start_run(
        params, "captions", f"{split}/{captioner}", inputs, tags, log_params={"captions": params["captions"]}
    ):
        if captioner == "oracle":
            texts = [(r["description"], None, None) for r in records]
        else:
            texts = [(g.text, g.n_tokens, g.truncated) for g in model_captions(records, data, model, params)]
        rows = []
        for r, (caption, n_tokens, truncated) in zip(records, texts):
            correct, total = fidelity(caption, r)
            rows.append(
                {
                    "id": r["id"],
                    "category": r["category"],
                    "caption": caption,
                    "facts_correct": correct,
                    "facts_total": total,
                    "n_tokens": n_tokens,
                    "truncated": truncated,
                }
            )
        summary = {"captioner": captioner, "model": model, "data": str(data), "split": split, **summarize(rows)}
        log_summary(summary)
        with atomic_dir(out) as tmp:
            write_jsonl(tmp / "captions.jsonl", rows)
            write_json(tmp / "summary.json", summary)
    return summary


def log_summary(summary: dict) -> None:
    fid = summary["fidelity"]
    values = {f"fidelity/{c}": v["fidelity"] for c, v in fid["per_category"].items()}
    mlflow.log_metrics(values | {"fidelity/mean": fid["mean"]})
    mlflow.log_dict(summary, "summary.json")
