"""`visreason report`: what a run showed, with its uncertainty, from the pipeline's files.

    visreason report --results results --out results/report

Reads only files the pipeline writes and DVC tracks, so a report can always be
rebuilt from `dvc pull` alone:
- `eval/<tag>/<mode>/metrics.json` and `samples.jsonl` (tag: `base`,
  `<design>-seed<seed>`, or an external model's name such as a Claude run);
- `train/<design>/seed<seed>/train_summary.json`, whose `log_history` gives the
  training curves (else the trainer state in `final/` or the newest checkpoint);
- `data/<split>/manifest.json` (provenance; the training answers give the
  majority baseline) and `data/eval/records.jsonl` (the options give chance);
- `captions/<split>/<captioner>/summary.json` (caption fidelity) and the model
  summary `model/<name>/visreason_model.json` (the warm-up's recipe), when present.

Accuracy is in percent everywhere the report writes or logs (tables, CSV files,
MLflow); differences are in percentage points. Intervals are 95%: Wilson's for
proportions, a percentile bootstrap over puzzles (stratified by category, fixed
seed) for paired differences and other means, Welch's for the reward's rise
over training (see `visreason.stats`). Several seeds of a design are averaged
per puzzle before any interval, so an interval covers the puzzles' sampling for
the trained seeds; each seed's own mean is listed beside it.

Writes `report.md`, PNG figures and long-format CSV tables that DVC plots
(`accuracy.csv`, `reward_curves.csv`), all at once (atomically).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

import mlflow

from visreason.files import atomic_dir
from visreason.params import BASE_TAG, split_tag
from visreason.puzzles import ALGOPUZZLEVQA
from visreason.report_figures import figure_accuracy, figure_curves, figure_modes
from visreason.report_inputs import (
    CURVES,
    MEAN_LABELS,
    MEANS,
    MIXTURE,
    PUBLISHED_DOMAIN,
    PUBLISHED_MEAN,
    PUBLISHED_PERCEPTION,
    PUBLISHED_SOURCE,
    RANDOM,
    STUDY9,
    STUDY9_IN_DOMAIN,
    CategorySet,
    Est,
    Evaluation,
    Inputs,
    Training,
    baselines,
    collect,
    label,
    mean_value,
    no_update_reasons,
    paired,
    proportion,
    reward_rise,
    zero_spread,
)
from visreason.stats import wilson
from visreason.tracking import git_commit, start_run

# ---------------------------------------------------------------- Markdown


def cell(est: Est | None, n: int | None = None) -> str:
    """An estimate with its interval; its n too when it differs from the row's `n`."""
    if est is None:
        return "–"
    return est.text() if n is not None and est.n == n else f"{est.text()} (n={est.n})"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _common_n(ests: list) -> int | None:
    """The commonest n among estimates: printed once, in the table's `n` row or column."""
    ns = Counter(e.n for e in ests if isinstance(e, Est))
    return ns.most_common(1)[0][0] if ns else None


def _n_table(first: list[str], header: list[str], rows: list[tuple[list[str], list]], by: str = "row") -> str:
    """A table of estimates with n once per row (an `n` column) or, `by="column"`, once per
    column (an `n` row); a cell whose n differs carries its own."""
    if by == "column":
        ns = [_common_n([ests[j] for _, ests in rows]) for j in range(len(header))]
        out = [["n", *[""] * (len(first) - 1), *("–" if n is None else str(n) for n in ns)]]
        out += [[*lead, *(e if isinstance(e, str) else cell(e, n) for e, n in zip(ests, ns))] for lead, ests in rows]
        return _table([*first, *header], out)
    out = []
    for lead, ests in rows:
        n = _common_n(ests)
        out.append([*lead, "–" if n is None else str(n), *(e if isinstance(e, str) else cell(e, n) for e in ests)])
    return _table([*first, "n", *header], out)


def _join(names: list[str]) -> str:
    return ", ".join(label(c) for c in names) or "none"


def no_update_lines(inputs: Inputs) -> list[str]:
    lines = []
    for design, runs in inputs.trainings.items():
        for seed, t in sorted(runs.items()):
            if reasons := no_update_reasons(t):
                lines.append(f"**NO UPDATE: `{design}` seed {seed} did not train: {'; '.join(reasons)}.**")
    train = inputs.manifests.get("train")
    for design, runs in inputs.trainings.items():
        for seed, t in sorted(runs.items()):
            recorded = t.summary.get("dataset_manifest_sha256")
            if train and recorded and recorded != train[0]:
                lines.append(
                    f"**OTHER DATA: `{design}` seed {seed} was trained on a dataset whose manifest sha256 is "
                    f"{recorded[:12]}…, not data/train's {train[0][:12]}….**"
                )
    warnings = ((inputs.model_summary or {}).get("warmup") or {}).get("warnings") or []
    lines += [f"**WARM-UP: {w}**" for w in warnings]
    return lines


def scope_section(inputs: Inputs) -> str:
    p, cats = inputs.params, inputs.cats
    model = p["model"]["name"]
    designs = inputs.designs()
    seeds = sorted({s for g in designs for s in g.seeds()})
    real = [c for c in cats.all if c in ALGOPUZZLEVQA]
    probes = [c for c in cats.all if c not in ALGOPUZZLEVQA]
    lines = [
        f"- **Scale** `{p['scale']}`, **model** `{model}`, **category set** `{cats.name}`: in-domain "
        f"{_join(cats.in_domain)}; out-of-domain {_join(cats.out_of_domain)}.",
        f"- **Designs** {', '.join(f'`{g.name}`' for g in designs) or 'none (the base model only)'}"
        f"{f', seeds {seeds}' if seeds else ''}; **input modes** {', '.join(inputs.modes)}.",
    ]
    if model == "tiny":
        learnable = (
            f"accuracy on the probe categories ({_join(probes)})"
            if probes
            else "and, with no probe category in this set, accuracy only as a plumbing check"
        )
        lines.append(
            "- **What this run can show:** a tiny model on CPU shows whether each reward design moves what it "
            f"pays for (reward, tag structure, length, {learnable}) against the base and the random arm"
            f"{'' if RANDOM in inputs.groups else ' (this run has none)'}. "
            "**What it cannot show:** the study's 7B numbers; and it cannot solve the real AlgoPuzzleVQA "
            f"categories ({_join(real) or 'none in this set'}), which it runs as plumbing checks only."
        )
    else:
        lines.append(
            f"- **What this run can show:** accuracy of `{model}` under each design with the intervals below; "
            "differences smaller than the resolution stated with the paired tables are not resolved."
        )
    if warmup := warmup_line(inputs.model_summary):
        lines.append(warmup)
    lines.append(
        "- **Units:** accuracy in percent (%), differences in percentage points, everywhere in this report, "
        "its CSV tables and its MLflow run. Intervals are 95%: Wilson for proportions, a percentile bootstrap "
        "over puzzles (10,000 resamples, seed 0, stratified by category) for paired differences and other "
        "means, Welch for the reward rise. A design's seeds are averaged per puzzle; n counts puzzles."
    )
    return "## What this run is\n\n" + "\n".join(lines) + "\n"


def _kv(d: dict) -> str:
    """`key value` pairs of a summary (nested values as compact JSON)."""
    return "; ".join(f"{k} {json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in d.items())


START_RATES = ("accuracy", "full_structure", "answer_tag", "any_tag")  # warm-up rates shown, in %


def warmup_line(model_summary: dict | None) -> str | None:
    """The base model's warm-up as its summary states it: recipe, and where each prompt starts."""
    warmup = (model_summary or {}).get("warmup")
    if not isinstance(warmup, dict):
        return None
    text = "- **Base model warm-up** (a stand-in for pretraining, not SFT)"
    if isinstance(warmup.get("recipe"), dict):
        text += f": recipe {_kv(warmup['recipe'])}"
    starts = []
    for prompt, rates in (warmup.get("start") or {}).items():
        shown = [
            f"{k.replace('_', ' ')} {100 * rates[k]:.1f}%"
            for k in START_RATES
            if isinstance(rates.get(k), (int, float))
        ]
        starts.append(f"`{prompt}` prompt: {', '.join(shown)} (n={rates.get('n', '?')})")
    if starts:
        text += ". It starts from " + "; ".join(starts)
    return text + "."


def moved_section(inputs: Inputs) -> str:
    """Per design, at a glance: did it train, and what did it move."""
    cats, base, random = inputs.cats, inputs.base, inputs.groups.get(RANDOM)
    ind = cats.in_domain
    header = [
        "reward rise",
        "zero-spread groups (%)",
        "Δ accuracy vs base",
        f"Δ accuracy vs `{RANDOM}`",
        "blank-image accuracy",
        "Δ tag structure",
        "Δ length (tokens)",
        "Δ visual references",
    ]
    rows = []
    for g in inputs.designs():
        image, blank = g.runs.get("image", []), g.runs.get("blank", [])
        b_image = base.runs.get("image", []) if base else []
        r_image = random.runs.get("image", []) if random and g.name != RANDOM else []
        ests = [
            reward_rise(inputs.trainings.get(g.name, {})),
            zero_spread(inputs.trainings.get(g.name, {})),
            paired(image, b_image, "accuracy", ind),
            paired(image, r_image, "accuracy", ind),
            proportion(blank, "accuracy", ind) if blank else None,
            paired(image, b_image, "structure", cats.all, stratify=False),
            paired(image, b_image, "tokens", cats.all, stratify=False, scale=1.0),
            paired(image, b_image, "visual_reference", cats.all, stratify=False),
        ]
        rows.append(([f"`{g.name}`", str(len(g.seeds()))], ests))
    text = "## What each design moved\n\n"
    if base and base.runs.get("image"):
        acc = proportion(base.runs["image"], "accuracy", ind)
        blank = proportion(base.runs.get("blank", []), "accuracy", ind) if base.runs.get("blank") else None
        on_blank = "" if blank is None else f", and {cell(blank)} on a blank image"
        prompt = base.runs["image"][0].metrics.get("prompt", "?")
        text += (
            f"The base model scores {cell(acc)} in-domain (image){on_blank}. "
            f"It answers the `{prompt}` prompt and each design its own, so the behaviour columns of a design that "
            "did not train measure its prompt alone.\n\n"
        )
    if not rows:
        return text + "No trained design was evaluated.\n"
    return (
        text + _n_table(["design", "seeds"], header, rows, by="column") + "\n"
        "- *reward rise*: mean reward (the design's own scale) of the last tenth of logged training steps minus "
        "the first tenth (at least 2 steps each), averaged over seeds; n = steps in the first windows. "
        "*zero-spread groups*: the mean share of prompt groups whose completions all got the same reward "
        "(no GRPO signal); 100% means nothing was learnt.\n"
        f"- *accuracy* columns: image input, the in-domain mean ({_join(ind)}), paired by puzzle; *blank-image "
        "accuracy*: the same puzzles with a blank image in place of the puzzle image. A design that gains "
        "accuracy from the image loses it here.\n"
        "- *Δ tag structure* (points), *length* (tokens), *visual references* (points): against the base, over "
        "all evaluated puzzles of the set, image input.\n"
    )


def study_section(inputs: Inputs) -> str:
    pub = ", ".join(f"{k} {v:.2f}" for k, v in PUBLISHED_MEAN.items())
    ind, ood = PUBLISHED_DOMAIN[MIXTURE]
    note = (
        ""
        if inputs.cats.name == "study9"
        else f" This run's set is `{inputs.cats.name}`: compare the study's means with our study9 columns only."
    )
    return (
        "## The study's numbers\n\n"
        f"Published ({PUBLISHED_SOURCE}): mean accuracy {pub} (%); Mixture {ind:.2f} in-domain, {ood:.2f} "
        "out-of-domain. They are a **second-hand transcription**, and they refer to the **study9** set: "
        f"in-domain {', '.join(STUDY9_IN_DOMAIN)}; out-of-domain number_slide, tower_of_hanoi, water_jugs and two "
        "categories the study never names, for which **checker_move† and rotting_kiwi† are our guess** (†)."
        + note
        + " They appear beside ours in the accuracy and perception tables, labelled.\n"
    )


def provenance_section(inputs: Inputs) -> str:
    commits = sorted(
        {c for runs in inputs.trainings.values() for t in runs.values() if (c := t.summary.get("git_commit"))}
    )
    lines = [
        f"- Report built at commit `{git_commit()}`"
        + (f"; trainings ran at {', '.join(f'`{c}`' for c in commits)}" if commits else "")
        + "."
    ]
    for split, (sha, manifest) in inputs.manifests.items():
        lines.append(
            f"- Data `{split}`: manifest.json sha256 `{sha}` ({manifest.get('num_records', '?')} records, "
            f"source {manifest.get('source', '?')})."
        )
    header = ["model", "training run", *inputs.modes]
    rows = []
    for g in inputs.groups.values():
        tags = sorted({e.tag for evs in g.runs.values() for e in evs})
        for tag in tags:
            design, seed = split_tag(tag)
            t = inputs.trainings.get(design, {}).get(seed) if seed is not None else None
            by_mode = {e.mode: e for evs in g.runs.values() for e in evs if e.tag == tag}
            rows.append(
                [tag, _run_id(t.summary if t else None)]
                + [_run_id(by_mode[m].metrics) if m in by_mode else "–" for m in inputs.modes]
            )
    return "## Provenance\n\n" + "\n".join(lines) + "\n\nMLflow run ids:\n\n" + _table(header, rows)


def _run_id(d: dict | None) -> str:
    return f"`{d['mlflow_run_id']}`" if d and d.get("mlflow_run_id") else "–"


def _rows_keys(cats: CategorySet) -> list[tuple[str, str]]:
    """(key, printed label) of the accuracy tables' rows: categories, then the means."""
    return [(c, label(c)) for c in cats.all] + [(k, f"**{MEAN_LABELS[k]}**") for k in MEANS]


def accuracy_section(inputs: Inputs, base_lines: dict | None) -> str:
    """Accuracy per design and category (image input), beside chance, majority and the study."""
    cats = inputs.cats
    models = [g for g in inputs.groups.values() if g.runs.get("image")]
    names = [
        f"`{g.label}`" + (f" ({len(g.seeds())} seed{'s' * (len(g.seeds()) != 1)})" if g.trained else "") for g in models
    ]
    extra = ["chance", "majority"] if base_lines else []
    rows = []
    for key, text in _rows_keys(cats):
        ests = [base_lines[b].get(key) for b in extra] if base_lines else []
        ests += [proportion(g.runs["image"], "accuracy", cats.of(key)) for g in models]
        rows.append(([text], ests))
    seeds_row = [
        ", ".join(f"{100 * proportion([e], 'accuracy', cats.all).value:.1f}" for e in g.runs["image"])
        if g.trained
        else "–"
        for g in models
    ]
    rows.append((["mean, each seed"], ["–"] * len(extra) + seeds_row))
    if cats.name != "study9" and set(STUDY9) <= set(cats.all):
        rows.append(
            (
                ["**study9 mean**"],
                ["–"] * len(extra) + [proportion(g.runs["image"], "accuracy", list(STUDY9)) for g in models],
            )
        )
    pub = [f"{PUBLISHED_MEAN[g.name]:.2f}" if g.name in PUBLISHED_MEAN else "–" for g in models]
    pub_dom = [
        f"{PUBLISHED_DOMAIN[g.name][0]:.2f} / {PUBLISHED_DOMAIN[g.name][1]:.2f}" if g.name in PUBLISHED_DOMAIN else "–"
        for g in models
    ]
    rows.append((["study9 mean, **study** (7B, transcribed)"], ["–"] * len(extra) + pub))
    rows.append((["in / out-of-domain, **study**"], ["–"] * len(extra) + pub_dom))
    text = (
        "## Accuracy per design and category\n\n"
        "Accuracy (%) on the evaluation split, image input, open-ended, with 95% intervals; `base` is the model "
        "before training. The means are unweighted over the set's categories. "
    )
    if base_lines:
        answers = ", ".join(f"{label(c)} `{a}`" for c, a in base_lines["answers"].items() if c in cats.all)
        text += (
            "*chance*: a uniform guess over each puzzle's options, scored by the answer scorer (its interval: where "
            "95% of such guessers land); *majority*: always the category's commonest training answer "
            f"({answers or 'no training set'}), scored on these puzzles; – where the training set lacks the category. "
        )
    else:
        text += "(No data/eval/records.jsonl under the results: chance and majority baselines are not computed.) "
    text += "† our guess for a category the study never names."
    evaluated = {s["category"] for g in models for e in g.runs["image"] for s in e.samples.values()}
    if missing := [c for c in cats.all if c not in evaluated]:
        text += f" **Not evaluated: {_join(missing)}**: their rows are empty and the means cover the others."
    if outside := sorted(evaluated - set(cats.all)):
        text += f" Evaluated but outside the `{cats.name}` set, so in no table: {_join(outside)}."
    return text + "\n\n" + _n_table(["category"], [*extra, *names], rows)


def paired_section(inputs: Inputs) -> str:
    """Each design against the base and against Mixture, paired by puzzle, with the run's resolution."""
    cats, base = inputs.cats, inputs.base
    text = "## Paired differences\n\n"
    n_all = proportion(base.runs["image"], "accuracy", cats.all) if base and base.runs.get("image") else None
    widths = []
    for ref in (BASE_TAG, MIXTURE):
        other = inputs.groups.get(ref)
        models = [g for g in inputs.designs() if g.name != ref and g.runs.get("image")]
        if not other or not other.runs.get("image") or not models:
            why = "no evaluated design besides it" if other else "it was not evaluated"
            text += f"No comparison with `{ref}`: {why}.\n\n"
            continue
        rows = []
        for key, printed in _rows_keys(cats):
            ests = [paired(g.runs["image"], other.runs["image"], "accuracy", cats.of(key)) for g in models]
            widths += [(e.hi - e.lo) / 2 for e in ests if e is not None and e.lo is not None and key == "mean"]
            rows.append(([printed], ests))
        text += (
            f"Accuracy (image input) of each design minus `{ref}`, in points, paired by puzzle (seeds averaged "
            "per puzzle), with a 95% bootstrap interval stratified by category:\n\n"
            + _n_table(["category"], [f"`{g.name}`" for g in models], rows)
            + "\n"
        )
    if n_all:
        text += (
            f"**Resolution.** With n = {n_all.n} puzzles in the `{cats.name}` mean and the base model's accuracy "
            f"of {100 * n_all.value:.1f}%, one model's 95% interval is ±{50 * (n_all.hi - n_all.lo):.1f} points wide "
            "(half its Wilson interval)"
        )
        if widths:
            text += (
                f"; the paired intervals of the means above are ±{100 * statistics.median(widths):.1f} points wide "
                "(median): a smaller difference between two designs is not resolved by this run"
            )
        text += ".\n"
    return text


def perception_section(inputs: Inputs) -> str:
    """Image vs text vs image+caption (and blank): per model, then per category for untrained models."""
    cats, modes = inputs.cats, inputs.modes
    rows = []
    for g in inputs.groups.values():
        ests: list = [proportion(g.runs[m], "accuracy", cats.all) if m in g.runs else None for m in modes]
        ests.append(
            paired(g.runs["text"], g.runs["image"], "accuracy", cats.all) if {"text", "image"} <= set(g.runs) else None
        )
        rows.append(([f"`{g.label}`"], ests))
    text = (
        "## Image versus text (perception)\n\n"
        f"Mean accuracy (%) over the `{cats.name}` set when the model sees the image, the exact text description "
        "of the puzzle state instead (`text`), the image with a caption (`image+caption`) or a blank image "
        "(`blank`); *text − image* is paired by puzzle, in points.\n\n"
        + _n_table(["model"], [*modes, "text − image"], rows)
    )
    untrained = [g for g in inputs.groups.values() if not g.trained]
    for g in untrained:
        rows = [
            ([printed], [proportion(g.runs[m], "accuracy", cats.of(key)) if m in g.runs else None for m in modes])
            for key, printed in _rows_keys(cats)
        ]
        text += f"\nPer category, `{g.label}`:\n\n" + _n_table(["category"], modes, rows)
    pub = _table(
        ["model (study, transcribed)", "image", "text", "clock: image", "clock: text"],
        [
            [name, f"{image:.1f}", f"{text:.1f}", f"{clock_image:g}", f"{clock_text:g}"]
            for name, (image, text, clock_image, clock_text) in PUBLISHED_PERCEPTION.items()
        ],
    )
    return (
        text + "\nThe study's perception experiment (arXiv 2601.00215, transcribed by hand; mean over the study9 set, "
        "and clock alone, in %):\n\n" + pub
    )


def wrong_description_share(runs: list[Evaluation], cats: list[str]) -> Est | None:
    """Of the correct answers with a scored description, the share whose description missed a fact (recall < 1)."""
    hits = [
        recall < 1
        for e in runs
        for pid, (cat, recall) in e.column("fact_recall").items()
        if cat in cats and e.samples[pid]["correct"]
    ]
    return Est(statistics.fmean(hits), *wilson(sum(hits), len(hits)), len(hits)) if hits else None


def descriptions_section(inputs: Inputs) -> str:
    cats = inputs.cats.all
    header = [
        "accuracy",
        "fact precision",
        "fact recall",
        "blank-image accuracy",
        "image − blank",
        "correct from a wrong description",
        f"fact precision − `{MIXTURE}`",
        f"fact recall − `{MIXTURE}`",
        "facts stated",
        f"facts stated − `{MIXTURE}`",
    ]
    mixture = inputs.groups[MIXTURE].runs.get("image", []) if MIXTURE in inputs.groups else []
    rows = []
    for g in inputs.groups.values():
        image, blank = g.runs.get("image", []), g.runs.get("blank", [])
        if not image:
            continue
        versus = mixture and g.name != MIXTURE
        rows.append(
            (
                [f"`{g.label}`"],
                [
                    proportion(image, "accuracy", cats),
                    mean_value(image, "fact_precision", cats),
                    mean_value(image, "fact_recall", cats),
                    proportion(blank, "accuracy", cats) if blank else None,
                    paired(image, blank, "accuracy", cats) if blank else None,
                    wrong_description_share(image, cats),
                    paired(image, mixture, "fact_precision", cats, stratify=False) if versus else None,
                    paired(image, mixture, "fact_recall", cats, stratify=False) if versus else None,
                    mean_value(image, "facts_stated", cats),
                    paired(image, mixture, "facts_stated", cats, stratify=False) if versus else None,
                ],
            )
        )
    return (
        "## The designs' own descriptions\n\n"
        "Image input, over the set. *fact precision*: of the fact-shaped claims in the model's own "
        "`<image description>`, the share that are true of the puzzle; *fact recall*: of the puzzle's facts, "
        "the share the description states (both in %, over answers with a description; – where the design asks "
        "for none or evaluation recorded none). *image − blank*: how much accuracy depends on the image, paired "
        "by puzzle, in points. *correct from a wrong description*: of the correct answers with a description, "
        "the share whose description missed or misstated a fact (recall < 1); n counts answers over seeds. "
        f"*− `{MIXTURE}`*: the design's fidelity minus Mixture's, in points, paired by puzzle over the puzzles "
        "both described (seeds averaged per puzzle), with a 95% bootstrap interval: whether paying for true facts "
        "(`fact_f1`) or for enough facts (`sufficiency`) makes descriptions more faithful than paying for a "
        "description tag. *facts stated*: fact recall over every answer, 0 where the answer has no description, "
        "so defined even when a design stops describing; its difference from Mixture is paired over all puzzles."
        "\n\n" + _n_table(["model"], header, rows)
    )


BEHAVIOUR = [
    ("tokens", "mean length (tokens)"),
    ("truncation", "truncated"),
    ("structure", "full tag structure"),
    ("reflection", "self-reflection"),
    ("visual_reference", "visual references"),
    ("contradiction", "contradicts itself"),
]


def behaviour_section(inputs: Inputs) -> str:
    cats = inputs.cats.all
    rows = []
    for g in inputs.groups.values():
        for mode in inputs.modes:
            runs = g.runs.get(mode)
            if not runs:
                continue
            ests = [
                mean_value(runs, key, cats, scale=1.0)
                if key == "tokens"
                else mean_value(runs, key, cats)
                if key == "visual_reference"
                else proportion(runs, key, cats, by_category=False)
                for key, _ in BEHAVIOUR
            ]
            rows.append(([f"`{g.label}`", mode], ests))
    if not rows:
        return ""
    return (
        "## Reasoning behaviour\n\n"
        "Over all evaluated puzzles of the set (pooled): response length, and the share (%) of responses that hit "
        "the token limit, have the prompt's full tag structure, re-check themselves, refer to what is shown "
        "(share of reasoning sentences), or answer against their own concluded value (over the responses where "
        "both can be read: its own n).\n\n" + _n_table(["model", "input"], [t for _, t in BEHAVIOUR], rows)
    )


def captions_section(captions: dict) -> str:
    rows = []
    for name, summary in captions.items():
        for cat, v in sorted(((summary.get("fidelity") or {}).get("per_category") or {}).items()):
            if not isinstance(v, dict) or not isinstance(v.get("fidelity"), (int, float)):
                continue
            correct, total, n = v.get("facts_correct"), v.get("facts_total"), v.get("n")
            fid = Est(v["fidelity"], *wilson(correct, total), total) if total else Est(v["fidelity"], None, None, 0)
            every = (
                Est(v["all_facts_rate"], *wilson(v["all_facts_rate"] * n, n), n)
                if n and "all_facts_rate" in v
                else None
            )
            rows.append(([name, label(cat)], [fid, every]))
    if not rows:
        return ""
    return (
        "## Caption fidelity\n\n"
        "Share (%) of the puzzle states' facts that the captions state correctly (n: facts; the interval treats "
        "facts as independent, so it is narrower than one over captions), and the share of captions with every "
        "fact right (n: captions). The oracle is the exact description.\n\n"
        + _n_table(["captions", "category"], ["fidelity", "every fact right"], rows)
    )


def training_section(inputs: Inputs, figures: list[tuple[str, str]]) -> str:
    """The heading always says something: the curves, or why there are none."""
    text = "## Training curves\n\n"
    runs = [(d, s, t) for d, seeds in inputs.trainings.items() for s, t in sorted(seeds.items())]
    if not runs:
        return text + "No training run under `train/`: this report covers untrained models only.\n"
    without = [f"`{d}` seed {s}" for d, s, t in runs if not t.history]
    if not figures:
        return (
            text + f"No training history found: {', '.join(without)} (train_summary.json has no `log_history`, "
            "and no trainer state was found).\n"
        )
    text += (
        "One panel per design, so that no curve hides another: thin lines are seeds, the thick line their mean "
        "over the steps every seed logged, grey lines the other designs' means. Rewards are on each design's own "
        "scale (its terms and weights), so compare a design with itself over steps; the dashed black line on the "
        "length curves is the completion token cap.\n\n"
    )
    if without:
        text += f"No history for {', '.join(without)}.\n\n"
    return text + "\n".join(f"![{title}]({name})\n" for name, title in figures)


# ---------------------------------------------------------------- CSV tables


def accuracy_rows(inputs: Inputs) -> list[dict]:
    """Long format for DVC plots: one row per evaluated model (tag), mode and category or mean, in %."""
    rows = []
    for g in inputs.groups.values():
        for mode, evs in g.runs.items():
            for ev in evs:
                for key in (*inputs.cats.all, *MEANS):
                    if est := proportion([ev], "accuracy", inputs.cats.of(key)):
                        rows.append(
                            {
                                "model": ev.tag,
                                "mode": mode,
                                "category": key,
                                "accuracy": round(100 * est.value, 4),
                                "ci_low": round(100 * est.lo, 4),
                                "ci_high": round(100 * est.hi, 4),
                                "n": est.n,
                            }
                        )
    return rows


def curve_rows(trainings: dict[str, dict[int, Training]]) -> list[dict]:
    rows = []
    for design, seeds in trainings.items():
        for seed, t in sorted(seeds.items()):
            for entry in t.history:
                for key in CURVES:
                    if key in entry:
                        rows.append(
                            {"reward": design, "seed": seed, "step": entry["step"], "metric": key, "value": entry[key]}
                        )
    return rows


def _csv(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


# ---------------------------------------------------------------- entry points


def build_report(results: str | Path, out: str | Path, params: dict) -> Inputs:
    """Write report.md, figures and CSV tables into `out` (atomically); return what was read."""
    inputs = collect(results, params)
    ids = {pid for g in inputs.groups.values() for evs in g.runs.values() for e in evs for pid in e.samples}
    base_lines = baselines(inputs.records, inputs.manifests, inputs.cats, ids) if inputs.records else None
    with atomic_dir(out) as tmp:
        figure_accuracy(inputs, base_lines, tmp / "accuracy_per_reward.png")
        figure_modes(inputs, tmp / "image_vs_text.png")
        curves = [
            (name, title.capitalize())
            for key, (name, title) in CURVES.items()
            if figure_curves(inputs, key, tmp / name)
        ]
        (tmp / "accuracy.csv").write_text(
            _csv(accuracy_rows(inputs), ["model", "mode", "category", "accuracy", "ci_low", "ci_high", "n"])
        )
        (tmp / "reward_curves.csv").write_text(
            _csv(curve_rows(inputs.trainings), ["reward", "seed", "step", "metric", "value"])
        )
        sections = [
            "# visreason report\n",
            "\n\n".join(no_update_lines(inputs)),
            scope_section(inputs),
            moved_section(inputs),
            study_section(inputs),
            provenance_section(inputs),
            accuracy_section(inputs, base_lines),
            "![Accuracy per model](accuracy_per_reward.png)\n",
            paired_section(inputs),
            perception_section(inputs),
            "![Input modes per category](image_vs_text.png)\n",
            descriptions_section(inputs),
            behaviour_section(inputs),
            captions_section(inputs.captions),
            training_section(inputs, curves),
        ]
        (tmp / "report.md").write_text("\n".join(s.rstrip("\n") + "\n" for s in sections if s))
    return inputs


def headline_metrics(inputs: Inputs) -> dict[str, float]:
    """What the report's MLflow run logs, accuracy in %: each model's means per mode, and per
    design its reward rise and its paired in-domain accuracy change against the base."""
    values = {}
    for row in accuracy_rows(inputs):
        if row["category"] in MEANS:
            values[f"accuracy/{row['model']}/{row['mode'].replace('+', '_')}/{row['category']}"] = row["accuracy"]
    base = inputs.base.runs.get("image", []) if inputs.base else []
    for g in inputs.designs():
        if rise := reward_rise(inputs.trainings.get(g.name, {})):
            values[f"reward_rise/{g.name}"] = rise.value
        if delta := paired(g.runs.get("image", []), base, "accuracy", inputs.cats.in_domain):
            values[f"delta_vs_base/{g.name}/image/in_domain"] = 100 * delta.value
    return values


def run_report(params: dict, results: str | Path, out: str | Path) -> Path:
    """The `report` stage: build the report inside its own MLflow run, logging the headline numbers."""
    results, out = Path(results), Path(out)
    inputs = build_report(results, out, params)
    for line in no_update_lines(inputs):  # loud in the job's log too, not only in report.md
        print(f"visreason report: {line.strip('*')}", file=sys.stderr)
    # The files read, hashed one by one: hashing all of train/ would read every checkpoint.
    read = {"eval": results / "eval"}
    read |= {f"data.{split}": results / "data" / split / "manifest.json" for split in inputs.manifests}
    for design, seeds in inputs.trainings.items():
        read |= {
            f"train.{design}.seed{s}": results / "train" / design / f"seed{s}" / "train_summary.json" for s in seeds
        }
    with start_run(params, "report", run_name="report", inputs=read, tags={"accuracy_unit": "percent"}):
        mlflow.log_metrics(headline_metrics(inputs))
        mlflow.log_artifacts(str(out), artifact_path="report")
    return out
