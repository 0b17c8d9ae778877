"""The one answer scorer: exact accuracy and partial credit, shared by the rewards and evaluation.

Rewards and evaluation import these functions, so the accuracy a report shows and the
reward a model was trained on can never disagree about what a correct answer is.
"""

from __future__ import annotations

import re
from typing import Any

CLOCK_TIME = re.compile(r"(?<![0-9])([0-9]{1,2}):([0-9]{2})(?![0-9])")
DIGITS = re.compile(r"[0-9]+")
_MAX_INT_DIGITS = 4000  # below Python's int/str conversion limit (4300)


def read_clock(text: str) -> tuple[int, int] | None:
    """The first H:MM of `text` as (hours, minutes), or None."""
    match = CLOCK_TIME.search(text)
    return (int(match[1]), int(match[2])) if match else None


def _gold(gold: Any) -> str | None:
    """The gold answer as a string: an integer column is read as its digits; anything else but a string is None."""
    if isinstance(gold, int) and not isinstance(gold, bool):
        return str(gold)
    return gold if isinstance(gold, str) else None


def _twelve_is_zero(time: tuple[int, int]) -> tuple[int, int]:
    return (0 if time[0] == 12 else time[0], time[1])


def is_integer(gold: str) -> bool:
    """Whether an answer is a run of ASCII digits (after stripping): the scorer's integer rule."""
    return DIGITS.fullmatch(gold.strip()) is not None


def _plain(text: str) -> str:
    text = text.strip()
    return text[:-1].strip().casefold() if text.endswith(".") else text.casefold()


def _read_pair(pred: Any, gold: Any, category: str | None) -> tuple[str, Any, Any] | None:
    """(kind, gold, prediction) as the scorers compare them, or None when the pair cannot score.

    kind `clock`: the first H:MM of each; `integer` (the gold is a run of digits): digit strings
    without leading zeros, the prediction's first run of digits; `text`: `_plain` of each.
    """
    gold = _gold(gold)
    if not isinstance(pred, str) or gold is None:
        return None
    if category == "clock":
        want, got = read_clock(gold), read_clock(pred)
        return None if want is None or got is None else ("clock", want, got)
    if is_integer(gold):
        match = DIGITS.search(pred)
        return None if not match else ("integer", gold.strip().lstrip("0") or "0", match[0].lstrip("0") or "0")
    return "text", _plain(gold), _plain(pred)


def _exact(kind: str, want: Any, got: Any) -> float:
    if kind == "clock":
        return float(_twelve_is_zero(want) == _twelve_is_zero(got))
    return float(bool(want) and want == got)


def score_answer(pred: str | None, gold: str | None, category: str | None) -> float:
    """Exact accuracy, 1.0 or 0.0: the one scorer of rewards and evaluation.

    - category `clock`: the first H:MM of each string (1-2 digits, colon, 2 digits); hour 12 = hour 0;
    - gold a run of digits: the first run of digits of the prediction, as an integer;
    - otherwise: case-insensitive, after stripping whitespace and one trailing period.
    A gold answer that does not parse scores 0.

    >>> score_answer("It is 12:05 now", "0:05", "clock"), score_answer("7 moves", "07", "maze")
    (1.0, 1.0)
    >>> score_answer("Left.", "left", "other"), score_answer(None, "4", "maze")
    (1.0, 0.0)
    """
    pair = _read_pair(pred, gold, category)
    return 0.0 if pair is None else _exact(*pair)


def _circular(a: int, b: int, period: int) -> int:
    d = abs(a % period - b % period)
    return min(d, period - d)


def clock_credit(want: tuple[int, int], got: tuple[int, int]) -> float:
    """Hour/minute partial credit of the time `got` against `want`, both (hours, minutes).

    0.5*H + 0.5*M with dh, dm circular distances on a 12-hour / 60-minute dial,
    H = 0 if dh > 2 else 1 - dh/5, M = 0 if dm > 10 else 1 - dm/20. A time off the dial
    (hour above 12, minute above 59) gets exact credit only, so that full credit means exactly
    what `score_answer` accepts: 15:55 is not 3:55.

    >>> clock_credit((0, 2), (11, 58)), clock_credit((3, 55), (15, 55)), clock_credit((12, 5), (0, 5))
    (0.8, 0.0, 1.0)
    """
    if max(want[0], got[0]) > 12 or max(want[1], got[1]) > 59:
        return _exact("clock", want, got)
    dh, dm = _circular(want[0], got[0], 12), _circular(want[1], got[1], 60)
    return 0.5 * (0.0 if dh > 2 else 1 - dh / 5) + 0.5 * (0.0 if dm > 10 else 1 - dm / 20)


def partial_credit(pred: str | None, gold: str | None, category: str | None) -> float:
    """The Continuous reward's answer term; 1 exactly when `score_answer` is 1.

    - clock: `clock_credit` of the first H:MM of each;
    - integers: d = |pred - gold|, 0 if d > 5 else 1/(1 + d);
    - otherwise: exact (`score_answer`).

    >>> partial_credit("11:58", "0:02", "clock"), partial_credit("8", "5", "maze")
    (0.8, 0.25)
    """
    pair = _read_pair(pred, gold, category)
    if pair is None:
        return 0.0
    kind, want, got = pair
    if kind == "clock":
        return clock_credit(want, got)
    if kind == "integer":
        if abs(len(got) - len(want)) > 1:  # at least 10x apart: d > 5
            return 0.0
        if max(len(got), len(want)) > _MAX_INT_DIGITS:
            return float(got == want)
        d = abs(int(got) - int(want))
        return 0.0 if d > 5 else 1 / (1 + d)
    return _exact(kind, want, got)
