"""What a description states: its fact precision and recall, and whether it suffices to solve.

The perception-aware rewards (`fact_f1`, `sufficiency`) and evaluation read a model's
`<image description>` through the puzzle's category: `claims` (every fact-shaped statement
the text makes, right or wrong) against `facts(solution)`, and `parse` (the state the text
states) handed to the exact solver. A category without them cannot be read, and a design that
needs them refuses it (`check_readable`) rather than scoring 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from visreason import VisreasonError
from visreason.answers import clock_credit, read_clock, score_answer
from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import Puzzle, PuzzleError, normalize

# The category method a perception term reads descriptions through, and the column it needs.
PERCEPTION_ABILITY = {"fact_f1": "claims", "sufficiency": "parse"}
PERCEPTION_COLUMNS = {"fact_f1": "solution", "sufficiency": "question"}


def can_read(puzzle: Puzzle, ability: str) -> bool:
    """Whether a category implements `claims` (its claim pattern) or `parse`."""
    if ability == "claims":
        return bool(puzzle.claim_pattern) or type(puzzle).claims is not Puzzle.claims
    return getattr(type(puzzle), ability) is not getattr(Puzzle, ability)


def check_readable(name: str, weights: Mapping[str, float], categories: Iterable[Any]) -> None:
    needs = sorted({PERCEPTION_ABILITY[term] for term in weights if term in PERCEPTION_ABILITY})
    if not needs:
        return
    lacking, seen = [], set()
    for category in categories:
        if not isinstance(category, str) or category not in CATEGORIES:
            raise VisreasonError(f"reward '{name}': unknown category {category!r} (valid: {', '.join(CATEGORIES)})")
        if category in seen:
            continue
        seen.add(category)
        missing = [ability for ability in needs if not can_read(CATEGORIES[category], ability)]
        if missing:
            lacking.append(f"{category} (no {' or '.join(missing)})")
    if lacking:
        raise VisreasonError(
            f"reward '{name}' cannot score category {', '.join(lacking)}: it reads each description "
            f"through the category's {' and '.join(needs)}"
        )


def state_facts(category: str, solution: Any) -> frozenset[str]:
    return frozenset(normalize(fact) for fact in CATEGORIES[category].facts(solution))


def _clock_claim(claim: str, fact: str) -> float:
    """Clock: hour/minute credit (`clock_credit`) for the time a claim states."""
    want, got = read_clock(fact), read_clock(claim)
    if want is None or got is None:
        return float(claim == fact)
    return clock_credit(want, got)


# Categories whose claims earn partial credit for a near miss (the rest: exact match).
CLAIM_CREDIT: dict[str, Callable[[str, str], float]] = {"clock": _clock_claim}


def claimed_fact_scores(category: str, text: Any, facts: frozenset[str]) -> tuple[float, float]:
    if not isinstance(text, str) or not facts:
        return 0.0, 0.0
    claims = set(CATEGORIES[category].claims(text))
    if not claims:
        return 0.0, 0.0
    credit = CLAIM_CREDIT.get(category)
    if credit is None:
        matched = float(len(claims & facts))
    else:  # each fact takes the best claim not yet taken
        matched, free = 0.0, set(claims)
        for fact in sorted(facts):
            if not free:
                break
            best = max(sorted(free), key=lambda claim: credit(claim, fact))
            matched += credit(best, fact)
            free.discard(best)
    return matched / len(claims), matched / len(facts)


def fact_scores(text: Any, category: str, solution: dict) -> tuple[float, float]:
    """(precision, recall) of the facts that a description states about the state `solution`.

    Precision = distinct true claims / distinct claims, where the claims are the fact-shaped
    statements the text makes, right or wrong (`CATEGORIES[category].claims`): listing every
    possible fact lowers it. Recall = facts stated / facts of the state (`facts(solution)`). Clock
    claims earn hour/minute credit (`clock_credit`) for the time they state. No text, or no claim:
    (0.0, 0.0). The fact_f1 reward and evaluation both read descriptions through this function.

    >>> state = {"start_state": [["blue"] * 3, ["blue"] * 2, ["blue"] * 3]}
    >>> fact_scores("top-left disk: blue. top-left disk: yellow. top-center disk: blue", "think_dot", state)
    (0.6666666666666666, 0.25)
    """
    check_readable("fact_scores", {"fact_f1": 1.0}, [category])
    return claimed_fact_scores(category, text, state_facts(category, solution))


def f1(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall (0 when both are 0).

    >>> f1(0.5, 1.0)
    0.6666666666666666
    """
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


# The answers `solve` gives per (category, stated state, question): states repeat within a group
# of completions, and solving costs more than parsing. Bounded: cleared when full.
_SOLVED: dict[tuple[str, str, str], str | None] = {}


def _solve(category: str, state: dict, question: str) -> str | None:
    """The category's answer for a stated state, or None when its solver rejects the state."""
    try:
        key = (category, json.dumps(state, sort_keys=True), question)
    except (TypeError, ValueError):  # not JSON data: solve without the memo
        key = None
    if key is None or key not in _SOLVED:
        try:
            answer = CATEGORIES[category].solve(state, question)
        except PuzzleError:
            answer = None
        if key is None:
            return answer
        if len(_SOLVED) >= 4096:
            _SOLVED.clear()
        _SOLVED[key] = answer
    return _SOLVED[key]


def sufficiency_score(text: Any, category: str, question: Any, gold: Any) -> float:
    """1.0 when the description states a complete state from which the category's exact solver
    answers the question correctly (`score_answer`), else 0.0: worth exactly as much as it lets an
    exact reasoner solve the puzzle. A text that states no complete, valid state scores 0.

    >>> state = {"start_state": [["blue"] * 3, ["blue"] * 2, ["blue"] * 3]}
    >>> text = CATEGORIES["think_dot"].describe(state)
    >>> question = "One ball is dropped through the left hole. How many blue faces can be seen in the top row now?"
    >>> sufficiency_score(text, "think_dot", question, "2"), sufficiency_score(text[:100], "think_dot", question, "2")
    (1.0, 0.0)
    """
    check_readable("sufficiency_score", {"sufficiency": 1.0}, [category])
    return stated_sufficiency(text, category, question, gold)


def stated_sufficiency(text: Any, category: str, question: Any, gold: Any) -> float:
    if not isinstance(question, str):
        raise VisreasonError(f"rewards: sufficiency needs each completion's question, got {question!r}")
    if not isinstance(text, str):
        return 0.0
    try:
        state = CATEGORIES[category].parse(text)
    except PuzzleError:
        return 0.0
    return 0.0 if state is None else score_answer(_solve(category, state, question), gold, category)
