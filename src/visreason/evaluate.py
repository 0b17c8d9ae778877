"""`visreason evaluate`: score a model on a split, per category, with reasoning-behaviour metrics.

Input modes (the perception experiment):
- `image`: the puzzle image and the question;
- `text`: the oracle description of the state (the record's `description`) and
  the question, no image;
- `image+caption`: the image, a caption from `visreason captions`, and the question.

The prompt is the reward's own (`rewards.format_prompt`) and answers are scored by
the rewards' scorer (`rewards.extract_answer` + `answers.score_answer`), so the
reported accuracy and the training reward cannot drift apart.

Outputs, in OUTDIR: `settings.json` (what this evaluation runs with), `samples.jsonl`
(one line per puzzle, appended and flushed batch by batch) and `metrics.json`,
written last and atomically. While `metrics.json` is absent, `samples.jsonl` may be
partial: rerunning the same command resumes it without redoing finished samples.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from pathlib import Path

import mlflow

from visreason import VisreasonError
from visreason.answers import CLOCK_TIME, DIGITS, is_integer, score_answer
from visreason.backends import api_options, check_model, load_backend
from visreason.files import append_jsonl, dumps_json, progress, write_json, write_jsonl
from visreason.generation import Request, Sampling
from visreason.params import ANSWER_FORMATS, MODES, split_tag
from visreason.records import load_records
from visreason.rewards import extract_answer, find_block, format_prompt, get_design, sentences
from visreason.stats import mean_over, wilson
from visreason.tracking import start_run

# ---------------------------------------------------------------- accuracy


def accuracy_summary(samples: list[dict], in_domain: list[str], out_of_domain: list[str]) -> dict:
    """Per-category accuracy, the unweighted mean over categories, and in/out-of-domain means."""
    per_category: dict[str, dict] = {}
    for cat in sorted({s["category"] for s in samples}):
        scores = [s["correct"] for s in samples if s["category"] == cat]
        k, n = sum(scores), len(scores)
        per_category[cat] = {"accuracy": k / n, "correct": k, "n": n, "ci95": list(wilson(k, n))}
    return {
        "per_category": per_category,
        "mean": mean_over(per_category, sorted(per_category)),
        "in_domain": mean_over(per_category, in_domain),
        "out_of_domain": mean_over(per_category, out_of_domain),
    }


# ---------------------------------------------------------------- behaviour

NESTED = {"visual": "think"}  # tags whose blocks belong inside another tag's block
REFLECTION = re.compile(
    r"\bwait\b|\blet me (?:verify|check|double[- ]check|re-?check|re-?examine)|\bdouble[- ]check|\bre-?check"
    r"|\bre-?examine|<rethink>",
    re.IGNORECASE,
)
VISUAL = re.compile(
    r"\b(?:colou?rs?|colou?red|red|green|blue|yellow|orange|purple|pink|black|white|gr[ae]y|brown"
    r"|hands?|cells?|rows?|columns?|image|picture|figure|shown|shows?|see|seen|visible|depicted|displayed"
    r"|grid|squares?|board|tiles?|jugs?|disks?|discs?|rods?|pegs?|boxe?s?|queens?|walls?|dial|clock face"
    r"|kiwis?|checkers?)\b",
    re.IGNORECASE,
)
CONCLUSION = re.compile(r"\b(?:so|therefore|thus|hence|answer|total|overall|final(?:ly)?|result|conclude)\b|=", re.I)
TAG = re.compile(r"</?[a-z][a-z ]*>", re.IGNORECASE)


def full_structure(completion: str, prompt: str) -> bool:
    """Every block the prompt's format asks for, complete, in order, nested blocks
    (<visual>) inside their parent (<think>), and exactly one <answer>."""
    pos, contents = 0, {}
    for tag in get_design(prompt).tags:
        if tag in NESTED:
            if find_block(contents.get(NESTED[tag], ""), tag) is None:
                return False
            continue
        block = find_block(completion, tag, pos)
        if block is None:
            return False
        pos, contents[tag] = block[1], block[2]
    return completion.count("<answer>") == 1


def tag_free_sentences(text: str) -> list[str]:
    """The sentences of `text` with its tags removed (`rewards.sentences`)."""
    return sentences(TAG.sub(" ", text))


def reasoning_part(completion: str) -> str:
    """The completion before its first <answer> block (all of it when there is none)."""
    i = completion.find("<answer>")
    return completion if i < 0 else completion[:i]


def value_kind(category: str, gold: str) -> re.Pattern | None:
    """The scorer's pattern of an answer value: a H:MM time for clock, a run of digits for integer answers."""
    if category == "clock":
        return CLOCK_TIME
    return DIGITS if is_integer(gold) else None


def concluded_value(reasoning: str, kind: re.Pattern) -> str | None:
    """The last value of `kind` in the last reasoning sentence holding a conclusion cue."""
    for sent in reversed(tag_free_sentences(reasoning)):
        if CONCLUSION.search(sent):
            values = [m.group(0) for m in kind.finditer(sent)]
            return values[-1] if values else None
    return None


def behaviour_flags(completion: str, answer: str | None, category: str, gold: str, prompt: str) -> dict:
    """Per-sample behaviour markers; `behaviour_summary` averages them per category.

    - `structure`: `full_structure` for the prompt's format.
    - `reflection`: a re-check marker (wait, let me verify, double-check, re-check,
      re-examine) or a <rethink> block anywhere in the completion.
    - `visual_share`: share of the reasoning's sentences (before <answer>, tags
      removed) naming something shown (colours, hands, cells, rows, columns, image,
      shown...); None when the reasoning has no sentence.
    - `contradiction`: the reasoning's concluded value differs from the answer.
      The concluded value is the last value of the answer's kind (a H:MM time for
      clock, an integer when the gold answer is one) in the last reasoning sentence
      containing a conclusion cue (so, therefore, thus, hence, answer, total,
      overall, final, result, conclude, "="). The two are compared with the answer
      scorer (`score_answer(concluded, value of the answer, category) == 0`). None
      (not counted) when there is no answer, no such sentence or value, or the
      answer kind is neither time nor integer.
    """
    reasoning = reasoning_part(completion)
    sents = tag_free_sentences(reasoning)
    contradiction = None
    kind = value_kind(category, gold)
    if answer and kind is not None:
        concluded = concluded_value(reasoning, kind)
        answered = kind.search(answer)
        if concluded is not None and answered is not None:
            contradiction = score_answer(concluded, answered.group(0), category) == 0
    return {
        "structure": full_structure(completion, prompt),
        "reflection": REFLECTION.search(completion) is not None,
        "visual_share": sum(VISUAL.search(s) is not None for s in sents) / len(sents) if sents else None,
        "contradiction": contradiction,
    }


def _rate(values: list) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def behaviour_summary(samples: list[dict]) -> dict:
    """Per category (and `all`): mean response length (tokens), truncation rate, and the
    rates of full tag structure, self-reflection, visual reference and contradiction."""
    cats = sorted({s["category"] for s in samples})
    groups = {"all": samples} | {c: [s for s in samples if s["category"] == c] for c in cats}
    out = {}
    for name, group in groups.items():
        flags = [s["behaviour"] for s in group]
        out[name] = {
            "n": len(group),
            "mean_tokens": _rate([s["n_tokens"] for s in group]),
            "truncation_rate": _rate([s["truncated"] for s in group]),
            "structure_rate": _rate([f["structure"] for f in flags]),
            "self_reflection_rate": _rate([f["reflection"] for f in flags]),
            "visual_reference_rate": _rate([f["visual_share"] for f in flags]),
            "contradiction_rate": _rate([f["contradiction"] for f in flags]),
            "contradiction_n": sum(f["contradiction"] is not None for f in flags),
        }
    return out


# ---------------------------------------------------------------- scoring


def score_sample(record: dict, prompt_text: str, generation, prompt: str) -> dict:
    """One per-sample line: the completion, its extracted answer, and whether it is correct.

    An empty completion or one without a single <answer> block scores 0.
    """
    completion = generation.text
    answer = extract_answer(completion)
    correct = int(answer is not None and score_answer(answer, record["answer"], record["category"]) == 1)
    return {
        "id": record["id"],
        "category": record["category"],
        "prompt": prompt_text,
        "completion": completion,
        "extracted": answer,
        "gold": record["answer"],
        "correct": correct,
        "n_tokens": generation.n_tokens,
        "truncated": generation.truncated,
        "behaviour": behaviour_flags(completion, answer, record["category"], record["answer"], prompt),
    }


def compute_metrics(samples: list[dict], params: dict, settings: dict) -> dict:
    cats = params["categories"]
    return {
        **settings,
        "n": len(samples),
        "n_empty": sum(not s["completion"].strip() for s in samples),
        "n_no_answer": sum(s["extracted"] is None for s in samples),
        "accuracy": accuracy_summary(samples, cats["in_domain"], cats["out_of_domain"]),
        "behaviour": behaviour_summary(samples),
    }


# ---------------------------------------------------------------- inputs


def load_captions(captions_dir: str | Path) -> dict[str, str]:
    """id -> caption from a `visreason captions` output folder."""
    path = Path(captions_dir) / "captions.jsonl"
    if not path.is_file():
        raise VisreasonError(f"captions not found: {path} (run `visreason captions` first)")
    with open(path, encoding="utf-8") as f:
        return {row["id"]: row["caption"] for row in map(json.loads, f)}


def build_prompts(
    records: list[dict], data_dir: Path, mode: str, prompt: str, answer_format: str, captions: dict | None
) -> list:
    """One `Request` per record; every bad input fails here, before generation.

    `text` mode gives the oracle description instead of the image; `image+caption`
    shows the image with the caption before the question.
    """
    requests = []
    for r in records:
        description = caption = None
        if mode == "text":
            description = r.get("description")
            if not description:
                raise VisreasonError(f"record {r['id']}: no 'description', so text mode cannot run on this split")
        elif mode == "image+caption":
            if not (captions.get(r["id"]) or "").strip():
                raise VisreasonError(f"record {r['id']}: no caption in the captions folder")
            caption = captions[r["id"]]
        options = r.get("options") if answer_format == "multiple_choice" else None
        if answer_format == "multiple_choice" and not options:
            raise VisreasonError(f"record {r['id']}: no 'options' for the multiple_choice answer format")
        image = None
        if mode != "text":
            image = data_dir / r["image"]
            if not image.is_file():
                raise VisreasonError(f"record {r['id']}: image not found: {image}")
        text = format_prompt(prompt, r["question"], options=options, description=description, caption=caption)
        requests.append(Request(text, image))
    return requests


def read_finished(path: Path, expected: dict[str, str]) -> list[dict]:
    """Samples already in `path` whose id and prompt match this evaluation.

    Reading stops at the first unreadable line (a write cut short by a kill).
    """
    done: dict[str, dict] = {}
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break
            if expected.get(row.get("id")) == row.get("prompt"):
                done[row["id"]] = row
    return list(done.values())


def prepare_outdir(out: Path, settings: dict, expected: dict[str, str]) -> dict[str, dict]:
    """Make OUTDIR ready to append to; return the samples already done (id -> sample).

    A finished evaluation (metrics.json present) or one run with other settings
    starts over; otherwise samples.jsonl keeps its valid samples (a line cut off by
    a kill is dropped).
    """
    samples, metrics, settings_path = out / "samples.jsonl", out / "metrics.json", out / "settings.json"
    out.mkdir(parents=True, exist_ok=True)
    same = settings_path.is_file() and settings_path.read_text(encoding="utf-8") == dumps_json(settings)
    if metrics.exists() or not same:
        metrics.unlink(missing_ok=True)
        samples.unlink(missing_ok=True)
        write_json(settings_path, settings)
    finished = {s["id"]: s for s in read_finished(samples, expected)}
    write_jsonl(samples, finished.values())
    return finished


# ---------------------------------------------------------------- the stage


def run_evaluate(
    params: dict,
    *,
    model: str,
    data: str | Path,
    mode: str,
    prompt: str,
    tag: str,
    out: str | Path,
    captions: str | Path | None = None,
    answer_format: str | None = None,
    backend: str | None = None,
) -> dict:
    """Evaluate `model` on the split in `data`; write OUTDIR/{settings.json,samples.jsonl,metrics.json}."""
    cfg = params["evaluate"]
    answer_format = answer_format or cfg["answer_format"]
    backend = backend or cfg["backend"]
    if mode not in MODES:
        raise VisreasonError(f"unknown mode '{mode}' (valid: {', '.join(MODES)})")
    if answer_format not in ANSWER_FORMATS:
        raise VisreasonError(f"unknown answer format '{answer_format}' (valid: {', '.join(ANSWER_FORMATS)})")
    if mode == "image+caption" and captions is None:
        raise VisreasonError("mode image+caption needs --captions (a `visreason captions` output folder)")
    get_design(prompt)
    check_model(model)
    data, out = Path(data), Path(out)
    records = load_records(data)
    caption_map = load_captions(captions) if mode == "image+caption" else None
    requests = build_prompts(records, data, mode, prompt, answer_format, caption_map)
    sampling = Sampling(cfg["max_new_tokens"], cfg["temperature"], cfg["top_p"])

    settings = {
        "model": str(model),
        "data": str(data),
        "mode": mode,
        "prompt": prompt,
        "tag": tag,
        "answer_format": answer_format,
        "captions": str(captions) if captions else None,
        "sampling": {
            "max_new_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": cfg["seed"],
        },
    }
    samples_path, metrics_path = out / "samples.jsonl", out / "metrics.json"
    expected = {r["id"]: q.text for r, q in zip(records, requests)}
    finished = prepare_outdir(out, settings, expected)
    pending = [(r, q) for r, q in zip(records, requests) if r["id"] not in finished]
    if finished:
        print(f"evaluate: resuming {out}: {len(finished)} samples done, {len(pending)} to go", file=sys.stderr)

    design, seed = split_tag(tag)
    tags = {"reward": design, "seed": "" if seed is None else seed, "mode": mode, "prompt": prompt}
    inputs = {"data": data} | ({"model": model} if Path(model).exists() else {})
    inputs |= {"captions": captions} if captions else {}
    logged = {"evaluate": settings | {"batch_size": cfg["batch_size"], "backend": backend}}
    with start_run(params, "evaluate", f"{tag}/{mode}", inputs=inputs, tags=tags, log_params=logged) as run:
        if pending:
            gen = load_backend(model, sampling, backend, **api_options(params))
            batch_size = cfg["batch_size"]
            batches = [pending[i : i + batch_size] for i in range(0, len(pending), batch_size)]
            with open(samples_path, "a", encoding="utf-8") as f:
                for batch in progress(batches, desc=f"evaluate {tag}/{mode}"):
                    seed = cfg["seed"] + zlib.crc32(" ".join(r["id"] for r, _ in batch).encode())
                    outs = gen.generate([q for _, q in batch], seed=seed)
                    append_jsonl(f, [score_sample(r, q.text, g, prompt) for (r, q), g in zip(batch, outs)])
        order = {r["id"]: i for i, r in enumerate(records)}
        samples = sorted(read_finished(samples_path, expected), key=lambda s: order[s["id"]])
        if len(samples) != len(records):
            raise VisreasonError(f"{samples_path}: {len(samples)} samples for {len(records)} records")
        metrics = compute_metrics(samples, params, settings)
        log_metrics(run, metrics, out)
        write_json(metrics_path, metrics)
    return metrics


def log_metrics(run, metrics: dict, out: Path) -> None:
    acc = metrics["accuracy"]
    values = {f"accuracy/{c}": v["accuracy"] for c, v in acc["per_category"].items()}
    values |= {f"accuracy/{k}": acc[k]["accuracy"] for k in ("mean", "in_domain", "out_of_domain") if acc[k]}
    for cat, b in metrics["behaviour"].items():
        values |= {f"behaviour/{cat}/{k}": v for k, v in b.items() if v is not None}
    values |= {"n_empty": metrics["n_empty"], "n_no_answer": metrics["n_no_answer"]}
    mlflow.log_metrics(values)
    mlflow.log_artifact(str(out / "samples.jsonl"))
    mlflow.log_dict(metrics, "metrics.json")
