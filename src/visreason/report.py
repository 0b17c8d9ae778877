"""`visreason report`: the study's tables and figures from the pipeline's files.

    visreason report --results results --out results/report

Reads only files the pipeline writes and DVC tracks, so a report can always be
rebuilt from `dvc pull` alone:
- `results/eval/<tag>/<mode>/metrics.json` (tag: `base` or `<reward>-seed<seed>`);
- `results/train/<reward>/seed<seed>/train_summary.json`, whose `log_history`
  gives the reward and response-length curves (else the trainer state in
  `final/` or in the newest checkpoint);
- `results/captions/<split>/<captioner>/summary.json` (caption fidelity).

Writes `report.md`, PNG figures and two long-format CSV tables that DVC plots
(`accuracy.csv`, `reward_curves.csv`). The study's published numbers appear
beside ours, labelled as such: a tiny random-weight model on CPU is not meant to
reach them, only to exercise the same pipeline.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import mlflow

from visreason import VisreasonError
from visreason.files import atomic_dir, read_json
from visreason.params import MODES, all_categories, split_tag
from visreason.stats import aggregate_seeds
from visreason.tracking import start_run

# Published numbers (arXiv 2601.00215), accuracy in %, 9 AlgoPuzzleVQA categories, open-ended.
PUBLISHED_SOURCE = "published, arXiv 2601.00215: Qwen2.5-VL-7B, GRPO without SFT"
PUBLISHED_MEAN = {
    "base": 10.00,
    "vanilla": 13.22,
    "only_accuracy": 15.11,
    "mixture": 15.56,
    "continuous": 14.67,
    "visual_fusion": 13.33,
    "no_accuracy": 11.22,
}
PUBLISHED_DOMAIN = {"mixture": (21.25, 11.0)}  # (in-domain, out-of-domain)
# Perception: mean over 9 categories, image -> text description, and clock alone.
PUBLISHED_PERCEPTION = {"Claude 3.5 Sonnet": (25.9, 52.6, 3, 84), "Claude 3.7 Sonnet": (42.4, 66.0, 7, 83)}
# Training-log keys (TRL GRPOTrainer) drawn as curves.
CURVES = {"reward": "mean total reward", "completions/mean_length": "mean response length (tokens)"}


# ---------------------------------------------------------------- loading


def _read(path: Path) -> dict:
    try:
        return read_json(path)
    except json.JSONDecodeError as err:
        raise VisreasonError(f"{path}: invalid JSON ({err.msg}, line {err.lineno})") from None


def load_metrics(results: Path) -> dict[str, dict[str, dict]]:
    """{tag: {mode: metrics}} from every `eval/<tag>/<mode>/metrics.json`."""
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for path in sorted((results / "eval").glob("*/*/metrics.json")):
        metrics = _read(path)
        if "accuracy" not in metrics or "per_category" not in metrics["accuracy"]:
            raise VisreasonError(f"{path}: not an evaluation summary (no accuracy.per_category)")
        out[path.parent.parent.name][path.parent.name] = metrics
    if not out:
        raise VisreasonError(f"no evaluation metrics under {results / 'eval'} (run `visreason evaluate` first)")
    return dict(out)


def load_histories(results: Path) -> dict[str, dict[int, list[dict]]]:
    """{reward: {seed: log_history}}; a run without a history is left out."""
    out: dict[str, dict[int, list[dict]]] = defaultdict(dict)
    for path in sorted((results / "train").glob("*/seed*/train_summary.json")):
        summary = _read(path)
        history = summary.get("log_history")
        if history is None:
            # Trainer state beside the model, else the newest checkpoint's (kept
            # between runs but not pushed by DVC).
            ckpts = sorted(path.parent.glob("checkpoints/checkpoint-*/trainer_state.json"), key=_step)
            states = [path.parent / "final" / "trainer_state.json", *reversed(ckpts)]
            state = next((s for s in states if s.is_file()), None)
            history = _read(state).get("log_history") if state else None
        if history:
            out[path.parent.parent.name][int(path.parent.name[4:])] = history
    return dict(out)


def _step(path: Path) -> int:
    """checkpoints/checkpoint-12/trainer_state.json -> 12."""
    return int(path.parent.name.rsplit("-", 1)[-1])


def load_captions(results: Path) -> dict[str, dict]:
    """{<split>/<captioner>: summary}."""
    return {
        f"{p.parent.parent.name}/{p.parent.name}": _read(p)
        for p in sorted((results / "captions").glob("*/*/summary.json"))
    }


# ---------------------------------------------------------------- aggregation


def by_design(metrics: dict[str, dict[str, dict]], mode: str) -> dict[str, list[dict]]:
    """{design: [metrics of each seed]} for one input mode; `base` first."""
    out: dict[str, list[dict]] = defaultdict(list)
    for tag in sorted(metrics, key=lambda t: (t != "base", t)):
        if mode in metrics[tag]:
            out[split_tag(tag)[0]].append(metrics[tag][mode])
    return dict(out)


def _acc(metrics: dict, key: str) -> float | None:
    """Accuracy in % of `mean`/`in_domain`/`out_of_domain` or of a category."""
    acc = metrics["accuracy"]
    entry = acc.get(key) if key in ("mean", "in_domain", "out_of_domain") else acc["per_category"].get(key)
    return None if not entry else 100.0 * entry["accuracy"]


def seed_stats(runs: list[dict], key: str) -> tuple[float, float, int] | None:
    """(mean, sample std, number of seeds) of one accuracy in %, via `evaluate.aggregate_seeds`;
    None if any seed lacks it."""
    if not runs:
        return None
    agg = aggregate_seeds(runs)
    entry = agg[key] if key in ("mean", "in_domain", "out_of_domain") else agg["per_category"].get(key)
    return None if entry is None else (100.0 * entry["mean"], 100.0 * entry["std"], agg["n_seeds"])


def fmt(stats: tuple[float, float, int] | None) -> str:
    """'12.5' for one seed, '12.5 ± 1.2' (mean ± std) for several, '–' when missing."""
    if stats is None:
        return "–"
    mean, std, n = stats
    return f"{mean:.1f} ± {std:.1f}" if n > 1 else f"{mean:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- sections


def table2(metrics: dict, params: dict) -> str:
    """Accuracy per reward design (image mode): mean, in/out-of-domain, per category."""
    cats = all_categories(params)
    designs = by_design(metrics, "image")
    header = ["model", "seeds", "mean", "in-domain", "out-of-domain", *cats, "mean (published)", "in / out (published)"]
    rows = []
    for design, runs in designs.items():
        pub_dom = PUBLISHED_DOMAIN.get(design)
        rows.append(
            [
                design,
                str(len(runs)) if design != "base" else "–",
                *(fmt(seed_stats(runs, key)) for key in ("mean", "in_domain", "out_of_domain", *cats)),
                f"{PUBLISHED_MEAN[design]:.2f}" if design in PUBLISHED_MEAN else "–",
                f"{pub_dom[0]:.2f} / {pub_dom[1]:.2f}" if pub_dom else "–",
            ]
        )
    return (
        "## Accuracy per reward design (Table 2 analogue)\n\n"
        "Accuracy (%) on the evaluation split, image input, open-ended; `base` is the model before training. "
        "Several seeds: mean ± sample standard deviation. The last two columns are the study's numbers "
        f"({PUBLISHED_SOURCE}), for reference.\n\n" + _table(header, rows)
    )


def table3(metrics: dict, params: dict) -> str:
    """Image vs text (vs image+caption) per category, for every model."""
    cats = all_categories(params)
    header = ["model", "input", "mean", *cats]
    rows = []
    for mode in MODES:
        for design, runs in by_design(metrics, mode).items():
            rows.append([design, mode, *(fmt(seed_stats(runs, key)) for key in ("mean", *cats))])
    rows.sort(key=lambda r: (r[0] != "base", r[0], MODES.index(r[1])))
    pub = _table(
        ["model (published)", "image", "text", "clock: image", "clock: text"],
        [[name, *(f"{v:g}" for v in values)] for name, values in PUBLISHED_PERCEPTION.items()],
    )
    return (
        "## Image versus text (Table 3 analogue)\n\n"
        "Accuracy (%) per category when the model sees the image, the exact text description of the "
        "puzzle state instead (`text`), or the image with a caption (`image+caption`).\n\n"
        + _table(header, rows)
        + f"\nThe study's perception experiment ({PUBLISHED_SOURCE.split(':')[0]}; mean over 9 categories):\n\n"
        + pub
    )


def behaviour_table(metrics: dict) -> str:
    keys = [
        "mean_tokens",
        "truncation_rate",
        "structure_rate",
        "self_reflection_rate",
        "visual_reference_rate",
        "contradiction_rate",
    ]
    rows = []
    for tag in sorted(metrics, key=lambda t: (t != "base", t)):
        for mode in MODES:
            beh = metrics[tag].get(mode, {}).get("behaviour", {}).get("all")
            if beh:
                rows.append([tag, mode, *("–" if beh.get(k) is None else f"{beh[k]:.2f}" for k in keys)])
    if not rows:
        return ""
    return (
        "## Reasoning behaviour\n\nOver all evaluation puzzles: response length (tokens) and the share of "
        "responses that hit the token limit, have the prompt's full tag structure, re-check themselves, "
        "refer to what is shown, or answer against their own reasoning.\n\n" + _table(["model", "input", *keys], rows)
    )


def captions_table(captions: dict) -> str:
    rows = []
    for name, summary in captions.items():
        fid = summary.get("fidelity") or {}
        per_cat = fid.get("per_category", fid) if isinstance(fid, dict) else {}
        for cat, value in sorted(per_cat.items()):
            score = value.get("fidelity", value.get("mean")) if isinstance(value, dict) else value
            if isinstance(score, (int, float)):
                rows.append([name, cat, f"{100 * score:.1f}"])
    if not rows:
        return ""
    return (
        "## Caption fidelity\n\nShare of the puzzle state's facts (%) that a caption states correctly "
        "(the oracle is the exact description).\n\n" + _table(["captions", "category", "fidelity"], rows)
    )


# ---------------------------------------------------------------- CSV and figures


def accuracy_rows(metrics: dict) -> list[dict]:
    rows = []
    for tag in sorted(metrics):
        for mode, m in sorted(metrics[tag].items()):
            for key in ("mean", "in_domain", "out_of_domain", *sorted(m["accuracy"]["per_category"])):
                value = _acc(m, key)
                if value is not None:
                    rows.append({"model": tag, "mode": mode, "category": key, "accuracy": round(value, 4)})
    return rows


def curve_rows(histories: dict) -> list[dict]:
    rows = []
    for reward, seeds in sorted(histories.items()):
        for seed, history in sorted(seeds.items()):
            for entry in history:
                for key in CURVES:
                    if key in entry and "step" in entry:
                        rows.append(
                            {"reward": reward, "seed": seed, "step": entry["step"], "metric": key, "value": entry[key]}
                        )
    return rows


def _csv(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _figure_accuracy(metrics: dict, path: Path) -> None:
    designs = by_design(metrics, "image")
    names = list(designs)
    keys = [("mean", "mean"), ("in_domain", "in-domain"), ("out_of_domain", "out-of-domain")]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(names), 4))
    width = 0.2
    for i, (key, label) in enumerate(keys):
        stats = [seed_stats(designs[n], key) or (0.0, 0.0, 0) for n in names]
        xs = [j + (i - 1) * width for j in range(len(names))]
        ax.bar(xs, [s[0] for s in stats], width, yerr=[s[1] for s in stats], label=f"ours: {label}")
    pub = [PUBLISHED_MEAN.get(n) for n in names]
    ax.scatter(
        [j for j, v in enumerate(pub) if v is not None],
        [v for v in pub if v is not None],
        marker="D",
        color="black",
        zorder=3,
        label="published mean (Qwen2.5-VL-7B)",
    )
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy per reward design (image input)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _figure_modes(metrics: dict, params: dict, path: Path) -> None:
    cats = all_categories(params)
    base = metrics.get("base") or metrics[sorted(metrics)[0]]
    modes = [m for m in MODES if m in base]
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * len(cats), 4))
    width = 0.8 / max(len(modes), 1)
    for i, mode in enumerate(modes):
        values = [_acc(base[mode], c) or 0.0 for c in cats]
        ax.bar([j + (i - (len(modes) - 1) / 2) * width for j in range(len(cats))], values, width, label=mode)
    ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Image vs text per category ({'base' if 'base' in metrics else sorted(metrics)[0]})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _figure_curves(rows: list[dict], metric: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    series: dict[tuple, list] = defaultdict(list)
    for r in rows:
        if r["metric"] == metric:
            series[(r["reward"], r["seed"])].append((r["step"], r["value"]))
    for (reward, seed), points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=f"{reward} (seed {seed})")
    ax.set_xlabel("training step")
    ax.set_ylabel(CURVES[metric])
    ax.set_title(f"{CURVES[metric].capitalize()} per reward design")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- entry points


def build_report(results: str | Path, out: str | Path, params: dict) -> Path:
    """Write report.md, figures and CSV tables into `out` (atomically); return `out`."""
    matplotlib.use("Agg")  # files only, never a window
    results, out = Path(results), Path(out)
    metrics = load_metrics(results)
    histories = load_histories(results)
    captions = load_captions(results)
    curves = curve_rows(histories)
    figures = [("accuracy_per_reward.png", "Accuracy per reward design"), ("image_vs_text.png", "Image vs text")]
    if curves:
        figures += [("reward_curves.png", "Reward curves"), ("response_length.png", "Response length")]
    with atomic_dir(out) as tmp:
        _figure_accuracy(metrics, tmp / figures[0][0])
        _figure_modes(metrics, params, tmp / figures[1][0])
        if curves:
            _figure_curves(curves, "reward", tmp / "reward_curves.png")
            _figure_curves(curves, "completions/mean_length", tmp / "response_length.png")
        (tmp / "accuracy.csv").write_text(_csv(accuracy_rows(metrics), ["model", "mode", "category", "accuracy"]))
        (tmp / "reward_curves.csv").write_text(_csv(curves, ["reward", "seed", "step", "metric", "value"]))
        sections = [
            f"# visreason report\n\nScale `{params['scale']}`, model `{params['model']['name']}`; "
            f"{len(metrics)} evaluated models. Generated by `visreason report` from `{results}`.\n",
            table2(metrics, params),
            table3(metrics, params),
            behaviour_table(metrics),
            captions_table(captions),
            "## Training curves\n\n"
            + ("" if curves else "No training history found (train_summary.json has no `log_history`).\n"),
            "\n".join(f"![{title}]({name})\n" for name, title in figures),
        ]
        (tmp / "report.md").write_text("\n".join(s for s in sections if s))
    return out


def run_report(params: dict, results: str | Path, out: str | Path) -> Path:
    """The `report` stage: build the report inside its own MLflow run, logging the headline accuracies."""
    out = build_report(results, out, params)
    results = Path(results)
    with start_run(params, "report", run_name="report", inputs={"eval": results / "eval", "train": results / "train"}):
        for row in accuracy_rows(load_metrics(results)):
            if row["category"] in ("mean", "in_domain", "out_of_domain"):
                key = f"accuracy/{row['model']}/{row['mode'].replace('+', '_')}/{row['category']}"
                mlflow.log_metric(key, row["accuracy"])
        mlflow.log_artifacts(str(out), artifact_path="report")
    return out
