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

A model captioner sees the image at params' one image resolution (`model.min_pixels`,
`model.max_pixels`), as training and evaluation do, and decodes greedily with the
settings recorded in `summary.json` (`decoding`).

Output folder (written atomically): `captions.jsonl` (id, category, caption,
facts_correct, facts_total, n_tokens, truncated), then `summary.json`. Every bad
input (records, a missing or damaged model) fails with one line before the folder
is written or an MLflow run opens.
"""

from __future__ import annotations

import random
from pathlib import Path

import mlflow

from visreason import VisreasonError
from visreason.backends import Backend, check_model, image_settings, load_backend, measure_prompts
from visreason.files import atomic_dir, progress, write_json, write_jsonl
from visreason.generation import Request, Sampling, load_image
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


def caption_requests(records: list[dict], data_dir: Path) -> list[Request]:
    prompts = {cat: caption_prompt(cat) for cat in {r["category"] for r in records}}
    return [Request(prompts[r["category"]], data_dir / r["image"]) for r in records]


def caption_backend(model: str, requests: list[Request], params: dict) -> Backend:
    """The model captioner's backend, loaded (a model that cannot load fails here)."""
    measured = measure_prompts(model, requests, params)
    sampling = Sampling(max_new_tokens=params["captions"]["max_new_tokens"])
    return load_backend(model, sampling, params, params["evaluate"]["backend"], max(measured) if measured else None)


def model_captions(backend: Backend, requests: list[Request], params: dict) -> list:
    """One `Generation` per request from a model captioner, in batches."""
    size = params["captions"]["batch_size"]
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
        check_model(model, params)
    data = Path(data)
    records = load_records(data)  # every record has a non-empty description
    split = records[0]["split"]
    backend = requests = None
    if captioner == "model":
        requests = caption_requests(records, data)
        for request in requests:
            load_image(request)  # a bad image fails now, naming its file, rather than mid-run
        backend = caption_backend(model, requests, params)
    inputs = {"data": data} | ({"model": model} if model and Path(model).exists() else {})
    tags = {"captioner": captioner, "model": model or ""}
    with start_run(
        params, "captions", f"{split}/{captioner}", inputs, tags, log_params={"captions": params["captions"]}
    ):
        if backend is None:
            texts = [(r["description"], None, None) for r in records]
        else:
            texts = [(g.text, g.n_tokens, g.truncated) for g in model_captions(backend, requests, params)]
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
        if backend is not None:
            summary |= {"backend": backend.name, "decoding": backend.decoding}
            summary["image_resolution"] = image_settings(model, params)
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
