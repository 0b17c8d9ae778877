"""`visreason evaluate`: score a model on a split, per category, with reasoning-behaviour metrics.

Input modes (the perception experiment):
- `image`: the puzzle image and the question;
- `text`: the oracle description of the state (the record's `description`) and
  the question, no image;
- `image+caption`: the image, a caption from `visreason captions`, and the question;
- `blank`: the `image` prompt with a blank image of the same size in place of the
  puzzle image: how much of the accuracy comes from what the image shows.

The prompt is the reward's own (`rewards.format_prompt`) and answers are scored by
the rewards' scorer (`rewards.extract_answer` + `answers.score_answer`), so the
reported accuracy and the training reward cannot drift apart.

Images are resized to params' one image resolution (`model.min_pixels`,
`model.max_pixels`), as in training; the decoding settings each backend applies are
explicit and recorded (`decoding` in metrics.json).

One call evaluates one model in one or more modes (the libraries and the model load once).
Outputs, in OUTDIR/<mode>/: `settings.json` (what this evaluation runs with), `samples.jsonl`
(one line per puzzle, appended and flushed batch by batch) and `metrics.json`,
written last and atomically. While `metrics.json` is absent, `samples.jsonl` may be
partial: rerunning the same command resumes it without redoing finished samples.
Every bad input (model, records, captions, a damaged samples.jsonl) fails with one
line before OUTDIR is touched or an MLflow run opens. Resumed samples keep only what
the model generated; their answers and scores are recomputed, never read back.
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
from visreason.backends import (
    backend_decoding,
    backend_kind,
    check_model,
    image_settings,
    load_backend,
    measure_prompts,
    model_label,
)
from visreason.files import append_jsonl, dumps_json, progress, write_json, write_jsonl
from visreason.generation import Generation, Request, Sampling, load_image
from visreason.params import ANSWER_FORMATS, MODES, split_tag
from visreason.perception import can_read, fact_scores
from visreason.puzzles import CATEGORIES
from visreason.records import load_records
from visreason.rewards import DESCRIPTION, extract_answer, find_block, format_prompt, get_design, sentences
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


def description_fact_scores(text: str, category: str, solution: dict) -> tuple[float | None, float | None]:
    """(precision, recall) of the facts a description states about the puzzle state: the fact_f1
    reward's `perception.fact_scores`, with the precision undefined (None) when the text makes no
    fact-shaped claim at all. (None, None) for a category whose claims cannot be read.

    >>> toy = {"start_state": [["blue"] * 3, ["yellow"] * 2, ["blue"] * 3]}  # think_dot: 8 disks, 8 facts
    >>> description_fact_scores("Top-left disk: blue. Top-center disk: yellow.", "think_dot", toy)
    (0.5, 0.125)
    >>> description_fact_scores("A toy with disks.", "think_dot", toy)
    (None, 0.0)
    """
    puzzle = CATEGORIES[category]
    if not can_read(puzzle, "claims"):
        return None, None
    precision, recall = fact_scores(text, category, solution)
    return (precision if puzzle.claims(text) else None), recall


def behaviour_flags(
    completion: str, answer: str | None, category: str, gold: str, prompt: str, solution: dict | None = None
) -> dict:
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
    - `fact_precision`, `fact_recall`: `description_fact_scores` of the completion's
      first <image description> block against the state (`solution`); None when the
      prompt asks for no description, the completion has none, or no solution is given.
    - `facts_stated`: `fact_recall`, and 0 when the completion has no description: of the
      puzzle's facts, the share the answer states, defined for every answer to a prompt
      that asks for a description (so a design that stops describing scores 0, not "–").
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
    precision = recall = stated = None
    asked = DESCRIPTION in get_design(prompt).tags
    block = find_block(completion, DESCRIPTION) if asked else None
    if block is not None and solution is not None:
        precision, recall = description_fact_scores(block[2], category, solution)
    if asked and solution is not None and can_read(CATEGORIES[category], "claims"):
        stated = 0.0 if recall is None else recall
    return {
        "structure": full_structure(completion, prompt),
        "reflection": REFLECTION.search(completion) is not None,
        "visual_share": sum(VISUAL.search(s) is not None for s in sents) / len(sents) if sents else None,
        "contradiction": contradiction,
        "fact_precision": precision,
        "fact_recall": recall,
        "facts_stated": stated,
    }


def _rate(values: list) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def behaviour_summary(samples: list[dict]) -> dict:
    """Per category (and `all`): mean response length (tokens), truncation rate, the rates of full
    tag structure, self-reflection, visual reference and contradiction, and the fidelity of the
    model's own descriptions: mean fact precision and recall (over samples with a description,
    `fact_n`), and among correct answers with a description (`correct_described_n`) the share
    reached from a wrong one (recall < 1)."""
    cats = sorted({s["category"] for s in samples})
    groups = {"all": samples} | {c: [s for s in samples if s["category"] == c] for c in cats}
    out = {}
    for name, group in groups.items():
        flags = [s["behaviour"] for s in group]
        described = [
            f["fact_recall"] < 1 for s, f in zip(group, flags) if s["correct"] and f["fact_recall"] is not None
        ]
        out[name] = {
            "n": len(group),
            "mean_tokens": _rate([s["n_tokens"] for s in group]),
            "truncation_rate": _rate([s["truncated"] for s in group]),
            "structure_rate": _rate([f["structure"] for f in flags]),
            "self_reflection_rate": _rate([f["reflection"] for f in flags]),
            "visual_reference_rate": _rate([f["visual_share"] for f in flags]),
            "contradiction_rate": _rate([f["contradiction"] for f in flags]),
            "contradiction_n": sum(f["contradiction"] is not None for f in flags),
            "fact_precision": _rate([f["fact_precision"] for f in flags]),
            "fact_recall": _rate([f["fact_recall"] for f in flags]),
            "fact_n": sum(f["fact_recall"] is not None for f in flags),
            "facts_stated": _rate([f.get("facts_stated") for f in flags]),
            "correct_from_wrong_description_rate": _rate(described),
            "correct_described_n": len(described),
        }
    return out


# ---------------------------------------------------------------- scoring


def score_sample(record: dict, prompt_text: str, generation: Generation, prompt: str, prompt_tokens=None) -> dict:
    """One per-sample line: the completion, its extracted answer, and whether it is correct.

    Everything but the prompt and the generation is computed here, from the record: a
    resumed sample is scored again by this function. An empty completion or one without
    a single <answer> block scores 0.
    """
    completion = generation.text
    answer = extract_answer(completion)
    category, gold = record["category"], record["answer"]
    return {
        "id": record["id"],
        "category": category,
        "prompt": prompt_text,
        "prompt_tokens": prompt_tokens,
        "completion": completion,
        "extracted": answer,
        "gold": gold,
        "correct": answer is not None and score_answer(answer, gold, category) == 1,
        "n_tokens": generation.n_tokens,
        "truncated": generation.truncated,
        "behaviour": behaviour_flags(completion, answer, category, gold, prompt, record["solution"]),
    }


def compute_metrics(samples: list[dict], params: dict, settings: dict) -> dict:
    cats = params["categories"]
    lengths = [s["prompt_tokens"] for s in samples if s.get("prompt_tokens") is not None]
    return {
        **settings,
        "n": len(samples),
        "n_empty": sum(not s["completion"].strip() for s in samples),
        "n_no_answer": sum(s["extracted"] is None for s in samples),
        "prompt_tokens": {"max": max(lengths), "mean": sum(lengths) / len(lengths)} if lengths else None,
        "accuracy": accuracy_summary(samples, cats["in_domain"], cats["out_of_domain"]),
        "behaviour": behaviour_summary(samples),
    }


# ---------------------------------------------------------------- inputs


def load_captions(captions_dir: str | Path) -> dict[str, str]:
    """id -> caption from a `visreason captions` output folder; a damaged line is one error naming it."""
    path = Path(captions_dir) / "captions.jsonl"
    if not path.is_file():
        raise VisreasonError(f"captions not found: {path} (run `visreason captions` first)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise VisreasonError(f"{path}: not valid UTF-8 (rerun `visreason captions`)") from None
    captions = {}
    for n, line in enumerate(lines, 1):
        where = f"{path} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise VisreasonError(f"{where}: invalid JSON ({err.msg}): rerun `visreason captions`") from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise VisreasonError(f"{where}: expected an object with a string 'id'")
        if not isinstance(row.get("caption"), str):
            raise VisreasonError(f"{where} (record {row['id']}): no 'caption' string")
        captions[row["id"]] = row["caption"]
    return captions


def build_prompts(
    records: list[dict], data_dir: Path, mode: str, prompt: str, answer_format: str, captions: dict | None
) -> list:
    """One `Request` per record; every bad input fails here, before generation.

    `text` mode gives the oracle description instead of the image; `image+caption`
    shows the image with the caption before the question; `blank` is `image` with a
    blank image of the same size.
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
        text = format_prompt(
            prompt,
            r["question"],
            options=options,
            description=description,
            caption=caption,
            category=r["category"],
            solution=r["solution"],
        )
        requests.append(Request(text, image, blank=mode == "blank"))
    return requests


# What a resumed sample must hold: what the model generated, and the prompt it was given.
SAMPLE_FIELDS = {"id": str, "prompt": str, "completion": str, "n_tokens": int, "truncated": bool, "correct": bool}
START_OVER = "delete it to start this evaluation over"


def read_samples(path: Path) -> list[dict]:
    """The rows of a samples.jsonl, each checked (`SAMPLE_FIELDS`); a damaged row is one error naming it.

    A last line without its line break (a write cut short by a kill) is dropped, not an error.
    """
    chunks = path.read_bytes().split(b"\n")
    rows = []
    for n, chunk in enumerate(chunks, 1):
        last = n == len(chunks)  # the text after the last line break: empty unless cut short
        where = f"{path} line {n}"
        try:
            row = json.loads(chunk.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            if last:
                break
            problem = "not valid UTF-8" if isinstance(err, UnicodeDecodeError) else f"invalid JSON ({err.msg})"
            raise VisreasonError(f"{where}: {problem}; {START_OVER}") from None
        if not isinstance(row, dict):
            raise VisreasonError(f"{where}: expected a sample object, got {json.dumps(row)}; {START_OVER}")
        for field, kind in SAMPLE_FIELDS.items():
            if field not in row:
                raise VisreasonError(f"{where}: sample is missing field '{field}'; {START_OVER}")
            value = row[field]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                wanted = "true or false" if kind is bool else f"a{'n' if kind is int else ''} {kind.__name__}"
                raise VisreasonError(
                    f"{where}: field '{field}' must be {wanted}, got {json.dumps(value)}; {START_OVER}"
                )
        rows.append(row)
    return rows


def rescore(rows: list[dict], records: dict[str, dict], expected: dict[str, str], prompt: str, lengths):
    """(id -> sample, how many stored scores differed) for the rows of this evaluation (same id and
    prompt), scored again from their completions by `score_sample`; other rows are dropped."""
    done, changed = {}, 0
    for row in rows:
        rid = row["id"]
        if expected.get(rid) == row["prompt"]:
            generation = Generation(row["completion"], row["n_tokens"], row["truncated"])
            done[rid] = score_sample(records[rid], row["prompt"], generation, prompt, lengths.get(rid))
            changed += done[rid]["correct"] != row["correct"]
    return done, changed


def finished_samples(out: Path, settings: dict, records, expected, prompt, lengths):
    """(id -> sample, stored scores that differed) for what OUTDIR already holds of this evaluation,
    re-scored, reading only; (None, 0) when OUTDIR must start over: a finished evaluation
    (metrics.json present), or one run with other settings."""
    settings_path = out / "settings.json"
    same = settings_path.is_file() and settings_path.read_text(encoding="utf-8") == dumps_json(settings)
    if (out / "metrics.json").exists() or not same:
        return None, 0
    samples = out / "samples.jsonl"
    return rescore(read_samples(samples), records, expected, prompt, lengths) if samples.exists() else ({}, 0)


def prepare_outdir(out: Path, settings: dict, finished: dict[str, dict] | None) -> None:
    """Make OUTDIR ready to append to: its samples.jsonl holds exactly the `finished` samples
    (a line cut off by a kill is dropped); None starts over with a fresh settings.json."""
    samples, metrics, settings_path = out / "samples.jsonl", out / "metrics.json", out / "settings.json"
    out.mkdir(parents=True, exist_ok=True)
    if finished is None:
        metrics.unlink(missing_ok=True)
        samples.unlink(missing_ok=True)
        write_json(settings_path, settings)
    write_jsonl(samples, (finished or {}).values())


# ---------------------------------------------------------------- the stage


def run_evaluate(
    params: dict,
    *,
    model: str,
    data: str | Path,
    modes: list[str],
    prompt: str,
    tag: str,
    out: str | Path,
    captions: str | Path | None = None,
    answer_format: str | None = None,
    backend: str | None = None,
) -> dict[str, dict]:
    """Evaluate `model` on the split in `data` in each of `modes`, one after another in this
    process, so that the libraries and the model load once; write
    OUTDIR/<mode>/{settings.json,samples.jsonl,metrics.json} and one MLflow run per mode.
    Every mode's inputs are checked before any mode runs. Returns {mode: metrics}."""
    cfg = params["evaluate"]
    answer_format = answer_format or cfg["answer_format"]
    backend = backend or cfg["backend"]
    if not modes or len(set(modes)) != len(modes):
        raise VisreasonError(f"modes must be one or more distinct modes, got {list(modes)}")
    for mode in modes:
        if mode not in MODES:
            raise VisreasonError(f"unknown mode '{mode}' (valid: {', '.join(MODES)})")
    if answer_format not in ANSWER_FORMATS:
        raise VisreasonError(f"unknown answer format '{answer_format}' (valid: {', '.join(ANSWER_FORMATS)})")
    if "image+caption" in modes and captions is None:
        raise VisreasonError("mode image+caption needs --captions (a `visreason captions` output folder)")
    get_design(prompt)
    check_model(model, params)
    data, out = Path(data), Path(out)
    records = load_records(data)
    by_id = {r["id"]: r for r in records}
    caption_map = load_captions(captions) if "image+caption" in modes else None
    requests = {mode: build_prompts(records, data, mode, prompt, answer_format, caption_map) for mode in modes}
    for request in (q for qs in requests.values() for q in qs):
        if request.image is not None:
            load_image(request)  # a bad image fails now, naming its file, rather than mid-run
    sampling = Sampling(cfg["max_new_tokens"], cfg["temperature"], cfg["top_p"])
    measured = {mode: measure_prompts(model, qs, params) for mode, qs in requests.items()}
    # One backend serves every mode, sized for the longest prompt of any.
    longest = max((max(m) for m in measured.values() if m), default=None)

    shared = {
        "model": str(model),
        "model_label": model_label(model, params),
        "data": str(data),
        "prompt": prompt,
        "tag": tag,
        "answer_format": answer_format,
        "sampling": {
            "max_new_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": cfg["seed"],
        },
        "backend": backend_kind(model, backend),
        "decoding": backend_decoding(model, sampling, params, backend, longest),  # every setting it applies
        "image_resolution": image_settings(model, params),
    }
    plans = []  # (mode, settings, requests, prompt lengths, finished samples or None)
    for mode in modes:
        captioned = captions and mode == "image+caption"
        settings = shared | {"mode": mode, "captions": str(captions) if captioned else None}
        lengths = dict(zip(by_id, measured[mode])) if measured[mode] else {}
        expected = {r["id"]: q.text for r, q in zip(records, requests[mode])}
        finished, changed = finished_samples(out / mode, settings, by_id, expected, prompt, lengths)
        if finished:
            left = len(records) - len(finished)
            print(f"evaluate: resuming {out / mode}: {len(finished)} samples done, {left} to go", file=sys.stderr)
        if changed:
            print(f"evaluate: {changed} resumed samples were stored with another score: re-scored", file=sys.stderr)
        plans.append((mode, settings, requests[mode], lengths, finished))

    pending = any(len(finished or {}) < len(records) for *_, finished in plans)
    gen = load_backend(model, sampling, params, backend, longest) if pending else None
    inputs = {"data": data} | ({"model": model} if Path(model).exists() else {})
    results = {}
    for mode, settings, mode_requests, lengths, finished in plans:
        mode_inputs = inputs | ({"captions": captions} if settings["captions"] else {})
        results[mode] = evaluate_mode(
            params, gen, records, mode_requests, lengths, finished, settings, mode_inputs, out / mode
        )
    return results


def evaluate_mode(params, gen, records, requests, lengths, finished, settings, inputs, out: Path) -> dict:
    """Generate what `finished` lacks of one mode, batch by batch, appending to OUTDIR/samples.jsonl
    inside this mode's MLflow run; then write metrics.json (with the run's id)."""
    cfg = params["evaluate"]
    tag, mode, prompt = settings["tag"], settings["mode"], settings["prompt"]
    done = dict(finished or {})
    pending = [(r, q) for r, q in zip(records, requests) if r["id"] not in done]
    design, seed = split_tag(tag)
    tags = {"reward": design, "seed": "" if seed is None else seed, "mode": mode, "prompt": prompt}
    logged = {"evaluate": settings | {"batch_size": cfg["batch_size"]}}
    prepare_outdir(out, settings, finished)
    with start_run(params, "evaluate", f"{tag}/{mode}", inputs=inputs, tags=tags, log_params=logged) as run:
        batch_size = cfg["batch_size"]
        batches = [pending[i : i + batch_size] for i in range(0, len(pending), batch_size)]
        with open(out / "samples.jsonl", "a", encoding="utf-8") as f:
            for batch in progress(batches, desc=f"evaluate {tag}/{mode}"):
                # The seed depends on the batch's puzzles only: a resumed or a separate run samples alike.
                seed = cfg["seed"] + zlib.crc32(" ".join(r["id"] for r, _ in batch).encode())
                outs = gen.generate([q for _, q in batch], seed=seed)
                scored = [score_sample(r, q.text, g, prompt, lengths.get(r["id"])) for (r, q), g in zip(batch, outs)]
                append_jsonl(f, scored)
                done |= {s["id"]: s for s in scored}
        samples = [done[r["id"]] for r in records]
        metrics = compute_metrics(samples, params, settings) | {"mlflow_run_id": run.info.run_id}
        log_metrics(run, metrics, out)
        write_json(out / "metrics.json", metrics)
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
