"""`visreason rewards audit`: score every reward on probe completions, flag the gameable ones.

For each category a bank of puzzles is read (the released records of the category when
`../shared/algopuzzlevqa` is there, else puzzles generated from fixed seeds); the first is
the puzzle every probe answers. Probe completions are built around its gold answer and its
faithful description (`describe`). Every design scores every probe; a *flag* is any probe
that scores at least as high as the correct, well-formed completion in the same category.
Flags that follow from a design's definition are listed as expected, with the reason; any
other flag is a problem to look at before spending GPU hours. Among the probes are a wrong
description (another state of the bank) and the listing attack (every fact of every state of
the bank), which a perception-aware design must score below the faithful description. A
design that cannot read a category (`rewards.check_categories`) is not applicable there.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import mlflow

from visreason import VisreasonError
from visreason.answers import is_integer, read_clock
from visreason.config import REPO_ROOT
from visreason.files import atomic_write_text, write_json
from visreason.params import all_categories
from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError
from visreason.rewards import DESIGNS, check_categories, score_designs
from visreason.tracking import start_run

DEFAULT_RELEASED = REPO_ROOT.parent / "shared" / "algopuzzlevqa"
N_GENERATED = 20  # puzzles per category in a bank generated for want of the released records

ONLY_ACCURACY = "Only-Accuracy scores the answer alone; the format is left to the prompt"
NO_ACCURACY = "No-Accuracy never looks at correctness"
FIRST_NUMBER = (
    "the scorer reads the first H:MM / first number of the answer, so a hedge pays only when its first "
    "candidate is right: it cannot raise the expected reward"
)
SATURATION = (
    "the tag score saturates (tanh): past a few distinct sentences, more text neither earns nor costs; "
    "length is bounded by max_completion_length"
)
UNREAD = "the design pays for a description's sentences, or ignores it, never for its truth"
REPETITIVE = (
    "the tag score splits a faithful grid description at '. ' into repeated one-symbol sentences (move_box: "
    "'# # # . . #'), so one short sentence per tag outscores it"
)
SENTENCE_SCORED = [name for name, d in DESIGNS.items() if "image_description" in d.weights]
CONTENT_BLIND = {"random": "the random arm's reward is independent of the completion by design"}
# The designs that pay for a correct answer, and those that never read what a description states.
ANSWER_REWARDS = [name for name, d in DESIGNS.items() if {"accuracy", "partial_credit"} & d.weights.keys()]
UNREAD_BY = {name: UNREAD for name, d in DESIGNS.items() if not {"fact_f1", "sufficiency"} & d.weights.keys()}


class Case(NamedTuple):
    """What the probes of one category are built from."""

    gold: str  # the reference puzzle's answer
    wrong: str  # a far wrong answer
    near: str  # a near miss (one minute, or one, off)
    faithful: str  # the reference puzzle's own description
    other: str  # the description of another state of the bank
    listing: str  # every fact of every state of the bank, one per line


def _para(topic: str, n: int) -> str:
    """n distinct, plain sentences about `topic`."""
    return " ".join(f"Step {i}: I check the {topic} once more and note fact number {i}." for i in range(1, n + 1))


def _full(c: Case, answer_block: str, reasoning: Callable[[str], str] = lambda t: _para(t, 4), description=None) -> str:
    """Every tag: the description (faithful unless given), reasoning (a `<visual>` block inside `<think>`),
    then `answer_block`."""
    description = c.faithful if description is None else description
    return (
        f"<image description>{description}</image description>\n"
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
    build: Callable[[Case], str]
    expected: dict[str, str] = field(default_factory=dict)  # reward -> why a flag is by design


ONLY = {"only_accuracy": ONLY_ACCURACY}
SPAM = "<image description>Ok.</image description><think>Ok. <visual>Ok.</visual></think><rethink>Ok.</rethink>"
PROBES = [
    Probe("correct_well_formed", "every tag, the faithful description, 4 distinct sentences each, correct answer",
          lambda c: _full(c, f"<answer>{c.gold}</answer>")),
    Probe("correct_no_reasoning", "only the correct `<answer>` block",
          lambda c: f"<answer>{c.gold}</answer>", ONLY),
    Probe("wrong_verbose", "every tag, well written, wrong answer",
          lambda c: _full(c, f"<answer>{c.wrong}</answer>"), {"no_accuracy": NO_ACCURACY}),
    Probe("near_miss", "every tag, answer off by one minute / by one",
          lambda c: _full(c, f"<answer>{c.near}</answer>"), {"no_accuracy": NO_ACCURACY}),
    Probe("wrong_description", "every tag, the description of another state, correct answer",
          lambda c: _full(c, f"<answer>{c.gold}</answer>", description=c.other), UNREAD_BY),
    Probe("listing_attack", "every tag, the description lists every fact of every state, correct answer",
          lambda c: _full(c, f"<answer>{c.gold}</answer>", description=c.listing), UNREAD_BY),
    Probe("vague_description", "every tag, a description that states no fact, correct answer",
          lambda c: _full(c, f"<answer>{c.gold}</answer>", description=_para("image", 4)), UNREAD_BY),
    Probe("padded_repetition", "one sentence repeated 40 times in every tag, correct answer",
          lambda c: _full(c, f"<answer>{c.gold}</answer>", lambda t: "The answer is clear. " * 40,
                          "The answer is clear. " * 40), ONLY),
    Probe("tag_spam", "all tags repeated 30 times with one short sentence, correct answer",
          lambda c: SPAM * 30 + f"<answer>{c.gold}</answer>",
          {**ONLY, **dict.fromkeys(SENTENCE_SCORED, REPETITIVE)}),
    Probe("several_answers", "every tag, then the correct and a wrong `<answer>` block",
          lambda c: _full(c, f"<answer>{c.gold}</answer><answer>{c.wrong}</answer>")),
    Probe("hedged_gold_first", "every tag, one `<answer>` block listing the correct then a wrong answer",
          lambda c: _full(c, f"<answer>{c.gold} or {c.wrong}</answer>"),
          {**{r: FIRST_NUMBER for r in ANSWER_REWARDS}, "no_accuracy": NO_ACCURACY}),
    Probe("answer_in_wrong_tag", "every tag, the correct answer in a second `<rethink>`, no `<answer>`",
          lambda c: _full(c, f"<rethink>The answer is {c.gold}.</rethink>")),
    Probe("unclosed_tags", "every tag opened, none closed, correct answer",
          lambda c: f"<image description>{c.faithful}<think>{_para('puzzle', 4)}"
          f"<rethink>{_para('answer', 4)}<answer>{c.gold}"),
    Probe("empty", "the empty string", lambda c: ""),
    Probe("huge_100k", "100,000 characters: a reasoning loop in every tag, correct answer",
          lambda c: _pad(_full(c, f"<answer>{c.gold}</answer>", _looping(100_000), _looping(100_000)("image")),
                         100_000), ONLY),
    Probe("long_distinct_100k", "100,000 characters of distinct sentences in every tag, correct answer",
          lambda c: _pad(_full(c, f"<answer>{c.gold}</answer>", lambda t: _para(t, 310), _para("image", 310)),
                         100_000),
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


class Item(NamedTuple):
    """One puzzle of a bank."""

    solution: dict
    question: str
    answer: str


def _released(path: Path) -> list[Item]:
    bank = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                bank.append(Item(record["solution"], record["question"], str(record["answer"])))
            except (ValueError, KeyError, TypeError) as err:
                raise VisreasonError(
                    f"{path}: line {n}: not a record with a solution, question and answer: {err}"
                ) from None
    if not bank:
        raise VisreasonError(f"{path}: no records")
    return bank


def _generated(category: str) -> list[Item]:
    puzzle = CATEGORIES[category]
    bank = []
    for seed in range(N_GENERATED):
        solution, question = puzzle.sample(random.Random(seed))
        bank.append(Item(solution, question, puzzle.solve(solution, question)))
    return bank


def puzzle_banks(params: dict) -> tuple[dict[str, list[Item]], dict[str, str]]:
    """Per category of `params`: its bank of puzzles, and where it came from (a file, or "generated")."""
    released = Path(params.get("data", {}).get("eval", {}).get("local_path") or DEFAULT_RELEASED)
    released = released if released.is_absolute() else (REPO_ROOT / released).resolve()
    banks, sources = {}, {}
    for category in all_categories(params):
        path = released / "data" / f"{category}.json"
        if path.is_file():
            banks[category], sources[category] = _released(path), str(path)
        else:
            banks[category], sources[category] = _generated(category), "generated"
    return banks, sources


def _answer(category: str, solution: dict, question: str) -> str | None:
    try:
        return CATEGORIES[category].solve(solution, question)
    except PuzzleError:
        return None


def case(category: str, bank: list[Item]) -> Case:
    """The probes' material for one category: the first puzzle of the bank is the reference; the other
    description is of the first state with other facts, preferring one that answers its question otherwise."""
    puzzle = CATEGORIES[category]
    ref = bank[0]
    facts = [puzzle.facts(p.solution) for p in bank]
    others = [p for p, f in zip(bank, facts) if set(f) != set(facts[0])]
    if not others:
        raise VisreasonError(f"rewards audit: every {category} puzzle of the bank has the same facts")
    differ = [p for p in others if _answer(category, p.solution, ref.question) != ref.answer]
    listing = "\n".join(sorted({fact for fs in facts for fact in fs}))
    wrong, near = _wrong_answers(ref.answer, category)
    other = (differ or others)[0]
    return Case(ref.answer, wrong, near, puzzle.describe(ref.solution), puzzle.describe(other.solution), listing)


def _applicable(reward: str, category: str) -> bool:
    try:
        check_categories(reward, [category])
    except VisreasonError:
        return False
    return True


def audit(banks: dict[str, list[Item]], sources: dict[str, str]) -> dict:
    """Scores[reward][probe][category] and the flags, as a JSON-ready dict. A design that cannot read a
    category has no score there (listed under `not_applicable`)."""
    names = list(DESIGNS)
    scores: dict[str, dict[str, dict[str, float]]] = {r: {p.name: {} for p in PROBES} for r in names}
    chars = {p.name: 0 for p in PROBES}  # the longest of each probe over categories
    not_applicable: dict[str, list[str]] = {}
    for category, bank in banks.items():
        c = case(category, bank)
        texts = [p.build(c) for p in PROBES]
        chars.update({p.name: max(chars[p.name], len(t)) for p, t in zip(PROBES, texts)})
        able = [r for r in names if _applicable(r, category)]
        for reward in names:
            if reward not in able:
                not_applicable.setdefault(reward, []).append(category)
        ref = bank[0]
        totals = score_designs(able, texts, c.gold, category, solution=ref.solution, question=ref.question, step=0)
        for reward in able:
            for probe, value in zip(PROBES, totals[reward]["total"]):
                scores[reward][probe.name][category] = round(value, 6)
    flags = []
    for probe in PROBES[1:]:
        for reward in names:
            reference = scores[reward][REFERENCE]
            hit = {c: s - reference[c] for c, s in scores[reward][probe.name].items() if s >= reference[c]}
            if hit:
                reason = probe.expected.get(reward) or CONTENT_BLIND.get(reward)
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
        "golds": {category: bank[0].answer for category, bank in banks.items()},
        "gold_sources": sources,
        "probes": {p.name: p.what for p in PROBES},
        "probe_chars": chars,
        "weights": {name: d.weights for name, d in DESIGNS.items()},
        "scores": scores,
        "not_applicable": not_applicable,
        "flags": flags,
        "n_flags": len(flags),
        "n_unexpected": sum(not f["expected"] for f in flags),
    }


def _cell(values: dict[str, float]) -> str:
    if not values:
        return "n/a"
    lo, hi = min(values.values()), max(values.values())
    mean = sum(values.values()) / len(values)
    return f"{mean:.3f}" if hi - lo < 5e-4 else f"{mean:.3f} ({lo:.3f}–{hi:.3f})"


def to_markdown(result: dict) -> str:
    names = list(result["scores"])
    golds = result["golds"]
    lines = [
        "# Reward audit",
        "",
        "Every reward design scored on probe completions, one bank of puzzles per category, built around "
        "the first puzzle's gold answer and faithful description (the released records, else generated "
        f"puzzles; see Per category). A **flag** marks a probe that scores at least as high as `{REFERENCE}` "
        "in some category (scores compared at 6 decimals); expected flags follow from a design's definition.",
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
    lines += ["", "⚑ = scores ≥ the correct, well-formed completion (see Flags)."]
    if result["not_applicable"]:
        lines += ["", "Not applicable (the design cannot read the category's descriptions; it refuses to train on it):"]
        lines += [f"- `{r}`: {', '.join(cats)}" for r, cats in result["not_applicable"].items()]
    lines += ["", "## Flags", ""]
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
            by_reward = (result["scores"][r][probe].get(category) for r in names)
            cells = ("n/a" if v is None else f"{v:.3f}" for v in by_reward)
            lines.append(f"| `{probe}` | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def run_audit(params: dict, out: str | Path) -> dict:
    """The `rewards audit` stage: audit every design, write OUT (Markdown) and its JSON summary beside it,
    inside the stage's MLflow run."""
    out = Path(out)
    if out.suffix != ".md":
        raise VisreasonError(f"--out: expected a Markdown file ending in .md, got {out}")
    banks, sources = puzzle_banks(params)
    result = audit(banks, sources)
    inputs = {f"records.{c}": path for c, path in sources.items() if path != "generated"}
    with start_run(params, "rewards_audit", "rewards_audit", inputs=inputs):
        atomic_write_text(out, to_markdown(result) + "\n")
        write_json(out.with_suffix(".json"), result)  # the summary, written last
        mlflow.log_metrics({"n_flags": result["n_flags"], "n_unexpected": result["n_unexpected"]})
        mlflow.log_metrics(
            {
                f"audit/{reward}/{probe}": sum(by_cat.values()) / len(by_cat)
                for reward, by_probe in result["scores"].items()
                for probe, by_cat in by_probe.items()
                if by_cat
            }
        )
        mlflow.log_artifact(str(out))
        mlflow.log_artifact(str(out.with_suffix(".json")))
    return result
