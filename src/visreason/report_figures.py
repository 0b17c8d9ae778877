"""The report's figures: one colour, line style and marker per design, intervals drawn, units on every axis.

Training curves are small multiples (one panel per design, the other designs'
means in grey behind it), so that no design's line hides another's, with seeds
as thin lines under their mean. Figures are drawn with `matplotlib.figure.Figure`
straight into files: no pyplot, no global state, never a window.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from visreason.report_inputs import (
    CURVES,
    MEAN_LABELS,
    MEANS,
    PUBLISHED_MEAN,
    Inputs,
    Training,
    label,
    no_update_reasons,
    proportion,
)

LINESTYLES = ("-", "--", "-.", ":")
MARKERS = "osD^vP*Xh<"
DPI = 120


def design_styles(names: list[str]) -> dict[str, dict]:
    """A distinct colour, line style and marker per design (tab10; styles cycle at other periods).

    >>> s = design_styles(["vanilla", "mixture"])
    >>> s["vanilla"]["linestyle"], s["mixture"]["linestyle"], s["vanilla"]["color"] != s["mixture"]["color"]
    ('-', '--', True)
    """
    colors = colormaps["tab10"].colors
    return {
        n: {"color": colors[i % len(colors)], "linestyle": LINESTYLES[i % 4], "marker": MARKERS[i % len(MARKERS)]}
        for i, n in enumerate(names)
    }


PERCENT = {"frac_reward_zero_std"}  # shares drawn in %, as the report prints them


def _points(t: Training, key: str) -> tuple[list[int], list[float]]:
    scale = 100.0 if key in PERCENT else 1.0
    pts = [(h["step"], scale * float(h[key])) for h in t.history if key in h]
    return [p[0] for p in pts], [p[1] for p in pts]


def _mean_curve(runs: dict[int, Training], key: str) -> tuple[list[int], list[float]]:
    """The mean over seeds at the steps every seed logged."""
    curves = [dict(zip(*_points(t, key))) for t in runs.values()]
    steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    return steps, [statistics.fmean(c[s] for c in curves) for s in steps]


def figure_curves(inputs: Inputs, key: str, path: Path) -> bool:
    """Small multiples of one training-log key; False (no file) when no run logged it."""
    designs = [d for d in inputs.trainings if any(_points(t, key)[0] for t in inputs.trainings[d].values())]
    if not designs:
        return False
    styles = design_styles(list(inputs.trainings))
    ncols = min(3, len(designs))
    nrows = math.ceil(len(designs) / ncols)
    fig = Figure(figsize=(max(6.0, 4.3 * ncols), 2.7 * nrows + 1.1), layout="tight")
    axes = list(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).flat)
    means = {d: _mean_curve(inputs.trainings[d], key) for d in designs}
    all_caps: set[int] = set()
    for ax, design in zip(axes, designs):
        st = styles[design]
        for other in designs:
            if other != design:
                ax.plot(*means[other], color="0.8", lw=1, zorder=1)
        runs = inputs.trainings[design]
        for t in runs.values():
            ax.plot(*_points(t, key), color=st["color"], ls=st["linestyle"], lw=0.8, alpha=0.5, zorder=2)
        ax.plot(*means[design], color=st["color"], ls=st["linestyle"], lw=2.2, zorder=3)
        if key == "completions/mean_length":
            caps = {(t.summary.get("settings") or {}).get("max_completion_length") for t in runs.values()} - {None}
            all_caps |= caps
            for cap in caps:  # below the curves, which often run along it
                ax.axhline(cap, color="black", ls=(0, (4, 2)), lw=1.0, zorder=1.5)
                ax.annotate(
                    f"token cap {cap}",
                    (0.02, cap),
                    xycoords=("axes fraction", "data"),
                    xytext=(0, 2),
                    textcoords="offset points",
                    va="bottom",
                    fontsize=7,
                    color="black",
                )
        if key in PERCENT:
            ax.set_ylim(-5, 105)
        title = f"{design} ({len(runs)} seed{'s' if len(runs) != 1 else ''})"
        if all(no_update_reasons(t) for t in runs.values()):
            title += ": NO UPDATE"
        ax.set_title(title, fontsize=9, color=st["color"])
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.tick_params(labelsize=8, labelbottom=True)
    if all_caps:  # room above the cap for its label (the axes share y)
        low, high = axes[0].get_ylim()
        axes[0].set_ylim(low, max(high, max(all_caps) + 0.1 * (max(all_caps) - low)))
    for ax in axes[len(designs) :]:
        ax.set_visible(False)
    for i, ax in enumerate(axes[: len(designs)]):
        if i % ncols == 0:
            ax.set_ylabel(CURVES[key][1], fontsize=8)
        if i + ncols >= len(designs):
            ax.set_xlabel("training step", fontsize=8)
    fig.suptitle(
        f"{CURVES[key][1].capitalize()} per design\nthin: one seed; thick: mean over seeds; grey: the other designs",
        fontsize=9,
    )
    fig.savefig(path, dpi=DPI)
    return True


def _yerr(ests: list) -> list[list[float]]:
    """Asymmetric error bars (below, above) in % from estimates with intervals; 0 where missing.

    Clamped at 0: at an accuracy of exactly 0 or 1, Wilson's bound lands a rounding error beyond it.

    >>> from visreason.report_inputs import Est
    >>> _yerr([Est(0.0, 1e-17, 0.1, 36), None])
    [[0.0, 0.0], [10.0, 0.0]]
    """
    low = [max(0.0, 100 * (e.value - e.lo)) if e is not None and e.lo is not None else 0.0 for e in ests]
    high = [max(0.0, 100 * (e.hi - e.value)) if e is not None and e.hi is not None else 0.0 for e in ests]
    return [low, high]


def figure_accuracy(inputs: Inputs, base_lines: dict | None, path: Path) -> None:
    """Accuracy per model (image input): in-domain, out-of-domain and mean, with intervals and references."""
    models = [g for g in inputs.groups.values() if g.runs.get("image")]
    fig = Figure(figsize=(max(6.0, 1.2 + 1.15 * len(models)), 4.4), layout="tight")
    ax = fig.subplots()
    width = 0.26
    colors = {"in_domain": "#4c72b0", "out_of_domain": "#dd8452", "mean": "#55a868"}
    hatches = {"in_domain": "", "out_of_domain": "//", "mean": ".."}
    for i, key in enumerate(MEANS):
        ests = [proportion(g.runs["image"], "accuracy", inputs.cats.of(key)) for g in models]
        xs = [j + (i - 1) * width for j in range(len(models))]
        ax.bar(
            xs,
            [100 * e.value if e else 0 for e in ests],
            width,
            yerr=_yerr(ests),
            capsize=2,
            error_kw={"elinewidth": 0.8, "ecolor": "0.25"},
            color=colors[key],
            hatch=hatches[key],
            edgecolor="white",
            label=f"ours: {MEAN_LABELS[key]}",
        )
    for name, ls in (("chance", "--"), ("majority", ":")):
        line = base_lines and next((k for k in ("mean", "in_domain") if k in base_lines[name]), None)
        if line:
            value = 100 * base_lines[name][line].value
            ax.axhline(value, color="0.3", ls=ls, lw=1.2, label=f"{name} ({MEAN_LABELS[line]})")
    # The study's means are over the study9 set: drawn only beside ours over the same set.
    pub = [(j, PUBLISHED_MEAN[g.name]) for j, g in enumerate(models) if g.name in PUBLISHED_MEAN]
    if pub and inputs.cats.name == "study9":
        ax.scatter(
            [j + width for j, _ in pub],
            [v for _, v in pub],
            marker="D",
            color="black",
            zorder=4,
            label="study mean, 7B (transcribed)",
        )
    ax.set_xticks(range(len(models)), [g.name for g in models], rotation=25, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Accuracy per model, image input ({inputs.cats.name} set), 95% intervals", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.savefig(path, dpi=DPI)


def figure_modes(inputs: Inputs, path: Path) -> None:
    """Per category, the base model (or the first model) in every input mode, with intervals."""
    group = inputs.base or next(iter(inputs.groups.values()))
    cats = inputs.cats.all
    modes = [m for m in inputs.modes if m in group.runs]
    fig = Figure(figsize=(min(18.0, max(6.0, 2.5 + 0.28 * len(cats) * max(1, len(modes)))), 4.4), layout="tight")
    ax = fig.subplots()
    width = 0.8 / max(len(modes), 1)
    palette = ["#4c72b0", "#55a868", "#c44e52", "#8172b3", "#937860"]
    for i, mode in enumerate(modes):
        ests = [proportion(group.runs[mode], "accuracy", [c]) for c in cats]
        xs = [j + (i - (len(modes) - 1) / 2) * width for j in range(len(cats))]
        ax.bar(
            xs,
            [100 * e.value if e else 0 for e in ests],
            width,
            yerr=_yerr(ests),
            capsize=1.5,
            error_kw={"elinewidth": 0.8, "ecolor": "0.25"},
            color=palette[i % len(palette)],
            hatch=["", "//", "..", "xx", "\\\\"][i % 5],
            edgecolor="white",
            label=mode,
        )
    ax.set_xticks(range(len(cats)), [label(c) for c in cats], rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title(f"Input modes per category: {group.label} (95% intervals; † guessed study category)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.savefig(path, dpi=DPI)
