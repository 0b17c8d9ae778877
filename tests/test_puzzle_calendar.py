"""calendar: the weekday arithmetic on hand-checked dates and against `datetime`, bad input, the
sampler's marginals against the 100 released records, options, images, determinism and the
page-only identity."""

from __future__ import annotations

import datetime
import json
import math
import random
import re
from collections import Counter

import pytest
from PIL import Image

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError
from visreason.puzzles.calendar import MONTHS, WEEKDAYS, is_leap, question

CAL = CATEGORIES["calendar"]
N = 1000  # sampled states for the marginals


@pytest.fixture(scope="module")
def released(shared_data):
    with open(shared_data / "data" / "calendar.json") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def sampled():
    rng = random.Random(2024)
    return [CAL.sample(rng) for _ in range(N)]


def close(p_gen: float, p_rel: float, n_rel: int = 100, n_gen: int = N) -> bool:
    """Two shares agree within 4 standard errors of their difference."""
    p = (p_gen * n_gen + p_rel * n_rel) / (n_gen + n_rel)
    return abs(p_gen - p_rel) <= 4 * math.sqrt(max(p * (1 - p), 0.01) * (1 / n_rel + 1 / n_gen))


def page(year: int, month: int) -> dict:
    return {"image_year": year, "image_month": [month, MONTHS[month - 1]]}


def which(solution: dict) -> str:
    return {0: "this", -1: "previous", 1: "next"}[solution["query_year"] - solution["image_year"]]


@pytest.mark.parametrize(
    "shown, ask, answer",
    [
        # 2024 is leap; January 1, 2024 was a Monday
        ((2024, 1), (True, "this", None, 2, 29), "Thursday"),
        ((2024, 1), (True, "this", None, 3, 1), "Friday"),
        ((2024, 1), (True, "this", None, 12, 31), "Tuesday"),
        # crossing into the next (common) year and back into the previous (leap) one
        ((2024, 12), (True, "next", False, 1, 1), "Wednesday"),
        ((2025, 3), (False, "previous", True, 2, 29), "Thursday"),
        ((2025, 1), (False, "previous", True, 12, 31), "Tuesday"),
        # 1900 is not leap (a century), 2000 is (divisible by 400)
        ((1900, 3), (False, "this", None, 1, 1), "Monday"),
        ((2000, 12), (True, "this", None, 2, 29), "Tuesday"),
        ((2100, 6), (False, "previous", False, 2, 28), "Saturday"),
    ],
)
def test_hand_checked_dates(shown, ask, answer):
    year, month = shown
    assert CAL.solve(page(year, month), question(*ask)) == answer
    leap, rel, neighbour, q_month, q_day = ask
    full = {**page(year, month), "query_year": year + {"this": 0, "previous": -1, "next": 1}[rel],
            "query_month": [q_month, MONTHS[q_month - 1]], "query_day": q_day}  # fmt: skip
    assert CAL.solve(full, question(*ask)) == answer


def test_arithmetic_agrees_with_datetime(sampled):
    for solution, q in sampled:
        date = datetime.date(solution["query_year"], solution["query_month"][0], solution["query_day"])
        assert CAL.solve(solution, q) == WEEKDAYS[date.weekday()]


def test_missing_and_mistyped_keys(released):
    rec = released[0]
    for key in ("image_year", "image_month"):
        broken = {k: v for k, v in rec["solution"].items() if k != key}
        with pytest.raises(PuzzleError, match=f"calendar: .*'{key}'"):
            CAL.solve(broken, rec["question"])
    for key, value in (("image_year", "2675"), ("image_month", "January"), ("image_month", [1, "February"]),
                       ("query_month", [8, "Aug"]), ("query_year", 2674.0)):  # fmt: skip
        with pytest.raises(PuzzleError, match=f"calendar: '{key}'"):
            CAL.solve({**rec["solution"], key: value}, rec["question"])


def test_contradictions_are_refused(released):
    rec = released[0]  # January 2675 (common), asks August 2 of the previous (common) year
    s, q = rec["solution"], rec["question"]
    with pytest.raises(PuzzleError, match="query_day"):
        CAL.solve({**s, "query_day": 3}, q)
    with pytest.raises(PuzzleError, match="query_year"):
        CAL.solve({**s, "query_year": 2676}, q)
    with pytest.raises(PuzzleError, match="leap years disagree"):
        CAL.solve(s, q.replace("particular non-leap year", "particular leap year"))
    # February 29 of a common year does not exist
    with pytest.raises(PuzzleError, match="February 29 does not exist"):
        CAL.solve(page(2023, 5), question(False, "this", None, 2, 29))
    # a February page of 29 days under a question calling the year common
    with pytest.raises(PuzzleError, match="February with 29 days"):
        CAL.solve(page(2024, 2), question(False, "this", None, 5, 1))
    # asking about the next year while stating the previous one's leap status
    with pytest.raises(PuzzleError, match="question"):
        CAL.solve(page(2023, 5), question(False, "previous", False, 2, 1).replace("of the previous", "of the next"))
    with pytest.raises(PuzzleError, match="question"):
        CAL.solve(s, "Which day of the week is it today?")
    with pytest.raises(PuzzleError, match="weekday"):
        CAL.options("Funday", s, random.Random(0))


def test_sampler_marginals(released, sampled):
    rel, gen = [r["solution"] for r in released], [s for s, _ in sampled]
    years = [s["image_year"] for s in gen]
    assert 1900 <= min(years) < 1920 and 2880 < max(years) <= 2900  # released: 1905-2892
    leap = lambda states: sum(is_leap(s["image_year"]) for s in states) / len(states)  # noqa: E731
    assert close(leap(gen), leap(rel))
    for rel_kind in ("this", "previous", "next"):
        share = lambda states: sum(which(s) == rel_kind for s in states) / len(states)  # noqa: E731,B023
        assert close(share(gen), share(rel)), rel_kind
    assert all(s["query_month"][0] != s["image_month"][0] for s in gen + rel)  # never the shown month
    for key in ("image_month", "query_month"):
        assert {s[key][0] for s in gen} == set(range(1, 13)) == {s[key][0] for s in rel}
        assert max(Counter(s[key][0] for s in gen).values()) / N < 0.12  # uniform: 1/12 each
    days = Counter(s["query_day"] for s in gen)
    assert set(days) == set(range(1, 32)) and days[31] < days[1]  # uniform over the month's own days
    answers = Counter(CAL.solve(s, q) for s, q in sampled)
    assert set(answers) == set(WEEKDAYS) and max(answers.values()) / N < 0.2  # released: 7 answers, top 24%


def test_questions_are_released_wording(released, sampled):
    mask = lambda q: re.sub(r"\d+", "N", re.sub("|".join(MONTHS), "M", q))  # noqa: E731
    assert {mask(q) for _, q in sampled} == {mask(r["question"]) for r in released}  # all 8 templates
    for rec in released:
        s = rec["solution"]
        ask = (is_leap(s["image_year"]), which(s), is_leap(s["query_year"]), s["query_month"][0], s["query_day"])
        assert question(*ask) == rec["question"]


def test_options_are_four_weekdays(released, sampled):
    rng, places = random.Random(1), Counter()
    for s, q in sampled[:400]:
        answer = CAL.solve(s, q)
        opts = CAL.options(answer, s, rng)
        assert len(set(opts)) == 4 and answer in opts and set(opts) <= set(WEEKDAYS)
        places[opts.index(answer)] += 1
    assert min(places.values()) > 60  # the answer's place is random, as released (28/27/24/21)
    assert all(len(set(r["options"])) == 4 and set(r["options"]) <= set(WEEKDAYS) for r in released)


def test_identity_is_the_page_not_the_year():
    """Two years whose January looks the same give the same puzzle; the description states no year."""
    a, b = page(2010, 1), page(2021, 1)  # January 1 a Friday in both, 31 days
    q = question(False, "this", None, 3, 1)
    assert CAL.identity(a, q) == CAL.identity(b, q)
    assert CAL.describe(a) == CAL.describe(b) and "2010" not in CAL.describe(a)
    assert CAL.identity(page(2024, 2), q) != CAL.identity(page(2023, 2), q)  # 29 and 28 days


def test_parse_reads_the_page_back():
    text = CAL.describe(page(2024, 2))
    parsed = CAL.parse(text)
    assert CAL.start_state(parsed) == {"month": 2, "first_weekday": "Thursday", "days": 29}
    assert CAL.parse(text.replace("has 29 days", "has 30 days")) is None  # no February is that long
    assert CAL.parse(text.replace("February 1 is", "March 1 is")) is None  # facts about two months
    assert CAL.parse(text + " The calendar of March.") is None  # two pages


def test_render_matches_released_layout(released, shared_data):
    for rec in released[:5]:
        image = CAL.render(rec["solution"], 512)
        with Image.open(shared_data / "data" / rec["image"]) as original:
            assert image.size == original.size == (512, 384)
        assert image.mode == "RGB"
    assert max(CAL.render(released[0]["solution"], 32).size) == 32
    for size in (31, 0, 512.0, "512"):
        with pytest.raises(PuzzleError, match="size"):
            CAL.render(released[0]["solution"], size)


def test_determinism():
    def make(seed):
        rng = random.Random(seed)
        s, q = CAL.sample(rng)
        return s, q, CAL.options(CAL.solve(s, q), s, rng), CAL.render(s, 128).tobytes()

    assert make(9) == make(9)
    assert len({json.dumps(make(seed)[:2]) for seed in range(20)}) == 20
