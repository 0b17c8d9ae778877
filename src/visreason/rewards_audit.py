"""`visreason rewards audit`: score every reward on probe completions, flag the gameable ones.

For each category a bank of probe completions is built around a real gold answer
(the first released record of the category when `../shared/algopuzzlevqa` is there,
else a fixed answer per category). Every design scores every probe; a *flag* is any
probe that scores at least as high as the correct, well-formed completion in the same
category. Flags that follow from a design's definition are listed as expected, with
the reason; any other flag is a problem to look at before spending GPU hours.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow

from visreason import VisreasonError
from visreason.config import REPO_ROOT
from visreason.files import atomic_write_text, write_json
from visreason.params import all_categories
from visreason.rewards import DESIGNS, is_integer, read_clock, score_designs
from visreason.tracking import start_run

DEFAULT_RELEASED = REPO_ROOT.parent / "shared" / "algopuzzlevqa"
# Used when the released records are absent: the answers of their first records.
FALLBACK_GOLD = {
    "clock": "4:23",
    "maze": "2",
    "move_box": "4",
    "n_queens": "5",
    "number_slide": "8",
    "tower_of_hanoi": "1",
    "water_jugs": "1",
    "checker_move": "5",
    "rotting_kiwi": "4",
}

ONLY_ACCURACY = "Only-Accuracy scores the answer alone; the format is left to the prompt"
NO_ACCURACY = "No-Accuracy never looks at correctness"
FIRST_NUMBER = (
    "the issue's rule reads the first H:MM / first number of the answer, so a hedge pays only when its first "
    "candidate is right: it cannot raise the expected reward"
)
SATURATION = (
    "the tag score saturates (tanh): past a few distinct sentences, more text neither earns nor costs; "
    "length is bounded by max_completion_length"
)
# The designs that pay for a correct answer.
ANSWER_REWARDS = [name for name, d in DESIGNS.items() if {"accuracy", "partial_credit"} & d.weights.keys()]


def _para(topic: str, n: int) -> str:
    """n distinct, plain sentences about `topic`."""
    return " ".join(f"Step {i}: I check the {topic} once more and note fact number {i}." for i in range(1, n + 1))


def _full(answer_block: str, reasoning: Callable[[str], str] = lambda t: _para(t, 4)) -> str:
    """Every tag (a `<visual>` block inside `<think>`), then `answer_block`."""
    return (
        f"<image description>{reasoning('image')}</image description>\n"
        f"<think>{reasoning('puzzle')} <visual>{reasoning('picture')}</visual> {reasoning('rules')}</think>\n"
        f"<rethink>{reasoning('answer')}</rethink>\n{answer_block}"
    )


def _looping(target: int) -> Callable[[str], str]:
    """A model stuck in a loop: the same three sentences, ~target/5 characters per tag."""
    loop = "Wait, let me recount the cells. I am not sure. Let me start over. "
    return lambda topic: loop * ((target - 500) // len(loop) // 5)  # 5 tags, 500 left for markup


def _pad(text: str, size: int) -> str:
    """Pad with spaces (no new sentence) to exactly `size` characters, if shorter."""
    return text + " " * (size - len(text))


@dataclass(frozen=True)
class Probe:
    name: str
    what: str
    build: Callable[[str, str, str], str]  # (gold, wrong, near) -> completion
    expected: dict[str, str] = field(default_factory=dict)  # reward -> why a flag is by design


ONLY = {"only_accuracy": ONLY_ACCURACY}
SPAM = "<image description>Ok.</image description><think>Ok. <visual>Ok.</visual></think><rethink>Ok.</rethink>"
PROBES = [
    Probe("correct_well_formed", "every tag, 4 distinct sentences each, correct answer",
          lambda g, w, n: _full(f"<answer>{g}</answer>")),
    Probe("correct_no_reasoning", "only the correct `<answer>` block",
          lambda g, w, n: f"<answer>{g}</answer>", ONLY),
    Probe("wrong_verbose", "every tag, well written, wrong answer",
          lambda g, w, n: _full(f"<answer>{w}</answer>"), {"no_accuracy": NO_ACCURACY}),
    Probe("near_miss", "every tag, answer off by one minute / by one",
          lambda g, w, n: _full(f"<answer>{n}</answer>"), {"no_accuracy": NO_ACCURACY}),
    Probe("padded_repetition", "one sentence repeated 40 times in every tag, correct answer",
          lambda g, w, n: _full(f"<answer>{g}</answer>", lambda t: "The answer is clear. " * 40), ONLY),
    Probe("tag_spam", "all tags repeated 30 times with one short sentence, correct answer",
          lambda g, w, n: SPAM * 30 + f"<answer>{g}</answer>", ONLY),
    Probe("several_answers", "every tag, then the correct and a wrong `<answer>` block",
          lambda g, w, n: _full(f"<answer>{g}</answer><answer>{w}</answer>")),
    Probe("hedged_gold_first", "every tag, one `<answer>` block listing the correct then a wrong answer",
          lambda g, w, n: _full(f"<answer>{g} or {w}</answer>"),
          {**{r: FIRST_NUMBER for r in ANSWER_REWARDS}, "no_accuracy": NO_ACCURACY}),
    Probe("answer_in_wrong_tag", "every tag, the correct answer in a second `<rethink>`, no `<answer>`",
          lambda g, w, n: _full(f"<rethink>The answer is {g}.</rethink>")),
    Probe("unclosed_tags", "every tag opened, none closed, correct answer",
          lambda g, w, n: f"<image description>{_para('image', 4)}<think>{_para('puzzle', 4)}"
          f"<rethink>{_para('answer', 4)}<answer>{g}"),
    Probe("empty", "the empty string", lambda g, w, n: ""),
    Probe("huge_100k", "100,000 characters: a reasoning loop in every tag, correct answer",
          lambda g, w, n: _pad(_full(f"<answer>{g}</answer>", _looping(100_000)), 100_000), ONLY),
    Probe("long_distinct_100k", "100,000 characters of distinct sentences in every tag, correct answer",
          lambda g, w, n: _pad(_full(f"<answer>{g}</answer>", lambda t: _para(t, 310)), 100_000),
          {**{r: SATURATION for r in DESIGNS if r != "only_accuracy"}, **ONLY}),
]  # fmt: skip
REFERENCE = PROBES[0].name


def _wrong_answers(gold: str, category: str) -> tuple[str, str]:
    """A far wrong answer and a near miss (one minute, or one, off)."""
    time = read_clock(gold) if category == "clock" else None
    if time:
        hours, minutes = time
        far = f"{(hours + 5) % 12 or 12}:{(minutes + 30) % 60:02d}"
        near = f"{hours}:{(minutes + 1) % 60:02d}"
        return far, near
    if is_integer(gold):
        value = int(gold)
        return str(value + 17), str(value + 1)
    return f"not {gold}", f"{gold}x"


def gold_answers(params: dict) -> tuple[dict[str, str], dict[str, str]]:
    """A gold answer per category, and where it came from: the first released record, else `FALLBACK_GOLD`."""
    released = Path(params.get("data", {}).get("eval", {}).get("local_path") or DEFAULT_RELEASED)
    released = released if released.is_absolute() else (REPO_ROOT / released).resolve()
    golds, sources = {}, {}
    for category in all_categories(params):
        path = released / "data" / f"{category}.json"
        if not path.is_file():
            golds[category], sources[category] = FALLBACK_GOLD.get(category, "5"), "builtin"
            continue
        with path.open(encoding="utf-8") as f:
            line = f.readline()
        try:
            golds[category], sources[category] = str(json.loads(line)["answer"]), str(path)
        except (ValueError, KeyError, TypeError) as err:
            raise VisreasonError(f"{path}: line 1: not a record with an 'answer': {err}") from None
    return golds, sources


def audit(golds: dict[str, str], sources: dict[str, str]) -> dict:
    """Scores[reward][probe][category] and the flags, as a JSON-ready dict."""
    names = list(DESIGNS)
    scores: dict[str, dict[str, dict[str, float]]] = {r: {p.name: {} for p in PROBES} for r in names}
    chars = {p.name: 0 for p in PROBES}  # the longest of each probe over categories
    for category, gold in golds.items():
        wrong, near = _wrong_answers(gold, category)
        texts = [p.build(gold, wrong, near) for p in PROBES]
        chars.update({p.name: max(chars[p.name], len(t)) for p, t in zip(PROBES, texts)})
        totals = score_designs(names, texts, gold, category)
        for reward in names:
            for probe, value in zip(PROBES, totals[reward]["total"]):
                scores[reward][probe.name][category] = round(value, 6)
    flags = []
    for probe in PROBES[1:]:
        for reward in names:
            reference = scores[reward][REFERENCE]
            hit = {c: s - reference[c] for c, s in scores[reward][probe.name].items() if s >= reference[c]}
            if hit:
                reason = probe.expected.get(reward)
                flags.append(
                    {
                        "reward": reward,
                        "probe": probe.name,
                        "categories": sorted(hit),
                        "max_excess": round(max(hit.values()), 6),
                        "expected": reason is not None,
                        "reason": reason or "UNEXPECTED: a degenerate completion is not scored below the correct one",
                    }
                )
    return {
        "golds": golds,
        "gold_sources": sources,
        "probes": {p.name: p.what for p in PROBES},
        "probe_chars": chars,
        "weights": {name: d.weights for name, d in DESIGNS.items()},
        "scores": scores,
        "flags": flags,
        "n_flags": len(flags),
        "n_unexpected": sum(not f["expected"] for f in flags),
    }


def _cell(values: dict[str, float]) -> str:
    lo, hi = min(values.values()), max(values.values())
    mean = sum(values.values()) / len(values)
    return f"{mean:.3f}" if hi - lo < 5e-4 else f"{mean:.3f} ({lo:.3f}–{hi:.3f})"


def to_markdown(result: dict) -> str:
    names = list(result["scores"])
    golds = result["golds"]
    lines = [
        "# Reward audit",
        "",
        "Every reward design scored on probe completions, one bank per category, built around its gold "
        "answer (the first released record, else a built-in one; see Per category). A **flag** marks a "
        f"probe that scores at least as high as `{REFERENCE}` in some category (scores compared at 6 "
        "decimals); expected flags follow from a design's definition.",
        "",
        f"Flags: **{result['n_flags']}**, of which unexpected: **{result['n_unexpected']}**.",
        "",
        "## Mean score over categories (min–max where categories differ)",
        "",
        "| probe | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    flagged = {(f["reward"], f["probe"]): f for f in result["flags"]}
    for probe in result["probes"]:
        cells = []
        for reward in names:
            mark = ""
            if (reward, probe) in flagged:
                mark = " ⚑" if flagged[reward, probe]["expected"] else " **⚑ UNEXPECTED**"
            cells.append(_cell(result["scores"][reward][probe]) + mark)
        lines.append(f"| `{probe}` | " + " | ".join(cells) + " |")
    lines += ["", "⚑ = scores ≥ the correct, well-formed completion (see Flags).", "", "## Flags", ""]
    if result["flags"]:
        lines += ["| reward | probe | categories | max excess | expected | reason |", "|---|---|---|---|---|---|"]
        for f in result["flags"]:
            cats = "all" if len(f["categories"]) == len(golds) else ", ".join(f["categories"])
            expected = "yes" if f["expected"] else "**no**"
            row = [f["reward"], f"`{f['probe']}`", cats, f"{f['max_excess']:+.6f}", expected, f["reason"]]
            lines.append("| " + " | ".join(row) + " |")
    else:
        lines.append("None.")
    lines += ["", "## Probes", "", "| probe | characters | what |", "|---|---|---|"]
    lines += [f"| `{p}` | {result['probe_chars'][p]:,} | {what} |" for p, what in result["probes"].items()]
    lines += ["", "## Per category", ""]
    for category, gold in golds.items():
        lines += [f"### {category}", "", f"Gold `{gold}` from {result['gold_sources'][category]}.", ""]
        lines += ["| probe | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for probe in result["probes"]:
            cells = (f"{result['scores'][r][probe][category]:.3f}" for r in names)
            lines.append(f"| `{probe}` | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def run_audit(params: dict, out: str | Path) -> dict:
    """The `rewards audit` stage: audit every design, write OUT (Markdown) and its JSON summary beside it,
    inside the stage's MLflow run."""
    out = Path(out)
    if out.suffix != ".md":
        raise VisreasonError(f"--out: expected a Markdown file ending in .md, got {out}")
    golds, sources = gold_answers(params)
    result = audit(golds, sources)
    inputs = {f"records.{c}": path for c, path in sources.items() if path != "builtin"}
    with start_run(params, "rewards_audit", "rewards_audit", inputs=inputs):
        atomic_write_text(out, to_markdown(result) + "\n")
        write_json(out.with_suffix(".json"), result)  # the summary, written last
        mlflow.log_metrics({"n_flags": result["n_flags"], "n_unexpected": result["n_unexpected"]})
        mlflow.log_metrics(
            {
                f"audit/{reward}/{probe}": sum(by_cat.values()) / len(by_cat)
                for reward, by_probe in result["scores"].items()
                for probe, by_cat in by_probe.items()
            }
        )
        mlflow.log_artifact(str(out))
        mlflow.log_artifact(str(out.with_suffix(".json")))
    return result
