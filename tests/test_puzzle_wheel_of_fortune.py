"""wheel_of_fortune: spins by hand, bad input, the sampler against the 100 released records
(there is no released generator), options, determinism and the image. The shared checks
(all released answers, the contract) live in test_puzzles.py and test_puzzle_contract.py."""

from __future__ import annotations

import copy
import json
import math
import random
import re
from collections import Counter

import pytest

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError
from visreason.puzzles.wheel_of_fortune import COLOURS, PRIZES, QUESTION, WIDTHS, parse_spin

PUZZLE = CATEGORIES["wheel_of_fortune"]
N = 800
# Four quarter segments starting at 45: Car on top (45-135), Pizza left, Money bottom, Watch right (315-45).
WHEEL = {
    "angles": [90, 90, 90, 90],
    "original_boundaries": [45, 135, 225, 315],
    "original_prizes": ["Car", "Pizza", "Money", "Watch"],
    "original_colors": ["lime", "silver", "cyan", "yellow"],
    "arrow_at": 0,
}


def spin(direction: str, how: str, n: int = 4) -> str:
    return QUESTION.format(n=n, direction=direction, spin=how)


@pytest.fixture(scope="module")
def released(shared_data):
    with open(shared_data / "data" / "wheel_of_fortune.json") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def sampled():
    rng = random.Random(2024)
    return [PUZZLE.sample(rng) for _ in range(N)]


def close(generated: Counter, released: Counter, n_gen: int, n_rel: int, z: float = 3.0) -> list:
    """The values whose shares differ between two samples by more than z standard errors of the
    difference of two binomial shares (the pooled share's); [] when all agree."""
    off = []
    for value in set(generated) | set(released):
        p_gen, p_rel = generated[value] / n_gen, released[value] / n_rel
        pooled = (generated[value] + released[value]) / (n_gen + n_rel)
        se = math.sqrt(max(pooled * (1 - pooled), 1e-9) * (1 / n_gen + 1 / n_rel))
        if abs(p_gen - p_rel) > z * se:
            off.append((value, round(p_gen, 3), round(p_rel, 3)))
    return off


# ---------------------------------------------------------------- the solver, by hand


@pytest.mark.parametrize(
    "direction, how, prize",
    [
        ("clockwise", "rotates 90 degrees", "Car"),  # the top segment comes round to the arrow on the right
        ("counterclockwise", "rotates 90 degrees", "Money"),  # the bottom one does
        ("clockwise", "rotates 360 degrees", "Watch"),  # a full turn changes nothing
        ("counterclockwise", "rotates 44 degrees", "Watch"),  # 44 < 45: Watch still covers the arrow
        ("counterclockwise", "rotates 46 degrees", "Money"),
        ("clockwise", "makes 1.25 full rotations", "Car"),  # 450 degrees = a quarter turn, clockwise
        ("counterclockwise", "makes 2.5 full rotations", "Pizza"),  # half a turn
        ("clockwise", "rotates 1785 degrees", "Watch"),  # 1785 = 4 turns + 345: 15 degrees short of a turn
    ],
)
def test_spins_by_hand(direction, how, prize):
    assert PUZZLE.solve(WHEEL, spin(direction, how)) == prize


def test_segments_that_wrap_past_360_and_unequal_widths():
    # starts past 360 (as released: 45 + widths) and a segment over 0 degrees
    wheel = {"angles": [30, 300, 30], "original_boundaries": [330, 360, 660], "arrow_at": 90,
             "original_prizes": ["A", "B", "C"]}  # fmt: skip
    # A: 330-0, B: 0-300, C: 300-330; the arrow at 90 is in B
    assert PUZZLE.solve(wheel, spin("clockwise", "rotates 0 degrees", 3)) == "B"
    # clockwise 110: the point now at 90 was at 200 (B); counterclockwise 125: it was at 325 (C)
    assert PUZZLE.solve(wheel, spin("clockwise", "rotates 110 degrees", 3)) == "B"
    assert PUZZLE.solve(wheel, spin("counterclockwise", "rotates 125 degrees", 3)) == "C"
    assert PUZZLE.solve(wheel, spin("counterclockwise", "rotates 105 degrees", 3)) == "A"  # 345


def test_the_released_first_record_by_hand(released):
    rec = released[0]  # clockwise 2.55 turns = 918 = 2 x 360 + 198; arrow at 315
    assert rec["question"].count("2.55 full rotations") == 1
    # the point now under the arrow was at 315 + 198 = 153 degrees: Laptop's segment (105-165)
    assert PUZZLE.solve(rec["solution"], rec["question"]) == "Laptop" == rec["answer"]


def test_spin_text_is_read_exactly():
    assert parse_spin(spin("clockwise", "makes 2.55 full rotations"))[:2] == ("clockwise", 918)
    assert parse_spin(spin("counterclockwise", "rotates 555 degrees"))[:2] == ("counterclockwise", 555)


def test_derived_keys_are_not_read(released):
    rec = released[3]
    garbled = copy.deepcopy(rec["solution"])
    for key in ("effective_rotation", "rotated_boundaries", "rotated_prizes", "rotated_colors"):
        garbled[key] = None
    assert PUZZLE.solve(garbled, rec["question"]) == rec["answer"]


# ---------------------------------------------------------------- bad input


def test_an_arrow_on_a_boundary_has_no_answer():
    with pytest.raises(PuzzleError, match="boundary"):
        PUZZLE.solve(WHEEL, spin("clockwise", "rotates 45 degrees"))
    with pytest.raises(PuzzleError, match="boundary"):
        PUZZLE.solve(WHEEL, spin("counterclockwise", "makes 1.125 full rotations"))  # 405 = 360 + 45


@pytest.mark.parametrize(
    "change, key",
    [
        ({"angles": [90, 90, 90, 80]}, "'angles'"),  # not a full circle
        ({"angles": [90, 90, 180, "90"]}, "'angles'"),
        ({"original_boundaries": [45, 135, 225, 300]}, "'original_boundaries'"),  # a gap
        ({"original_boundaries": [45, 135, 225]}, "'original_boundaries'"),
        ({"original_prizes": ["Car", "Car", "Money", "Watch"]}, "'original_prizes'"),
        ({"original_prizes": ["Car", "Pizza", "Money"]}, "'original_prizes'"),
        ({"arrow_at": "right"}, "'arrow_at'"),
        ({"arrow_at": True}, "'arrow_at'"),
        ({"direction": "counterclockwise"}, "'direction'"),  # the question spins clockwise
    ],
)
def test_bad_values_are_named(change, key):
    with pytest.raises(PuzzleError, match=re.escape(key)):
        PUZZLE.solve({**WHEEL, **change}, spin("clockwise", "rotates 90 degrees"))


def test_missing_keys_and_bad_questions_are_named():
    for key in ("angles", "original_boundaries", "original_prizes", "arrow_at"):
        with pytest.raises(PuzzleError, match=f"missing key.*'{key}'"):
            PUZZLE.solve({k: v for k, v in WHEEL.items() if k != key}, spin("clockwise", "rotates 90 degrees"))
    with pytest.raises(PuzzleError, match="'original_colors'"):
        PUZZLE.describe({k: v for k, v in WHEEL.items() if k != "original_colors"})
    with pytest.raises(PuzzleError, match="'original_colors'"):
        PUZZLE.render({**WHEEL, "original_colors": ["lime", "silver", "cyan", "notacolour"]}, 64)
    with pytest.raises(PuzzleError, match="question"):
        PUZZLE.solve(WHEEL, "You spin the wheel. What is your prize?")
    with pytest.raises(PuzzleError, match="6 segments"):
        PUZZLE.solve(WHEEL, spin("clockwise", "rotates 90 degrees", n=6))


def test_bad_sizes_are_refused():
    for size in (0, 16, 31, 512.0, "512"):
        with pytest.raises(PuzzleError, match="size"):
            PUZZLE.render(WHEEL, size)


# ---------------------------------------------------------------- the sampler against the released records


def _marginals(pairs):
    wheels = [s for s, _ in pairs]
    return {
        "segments": Counter(len(s["angles"]) for s in wheels),
        "equal": Counter(len(set(s["angles"])) == 1 for s in wheels),
        "arrow": Counter(s["arrow_at"] for s in wheels),
        "direction": Counter(parse_spin(q)[0] for _, q in pairs),
        "wording": Counter("degrees" in parse_spin(q)[2] for _, q in pairs),
    }


def test_sampled_marginals_match_the_released_ones(released, sampled):
    rel = _marginals([(r["solution"], r["question"]) for r in released])
    gen = _marginals(sampled)
    for name in rel:
        assert set(gen[name]) == set(rel[name]), name
        assert not close(gen[name], rel[name], N, len(released)), (name, gen[name], rel[name])


def test_sampled_odds_are_the_declared_ones(sampled):
    """Tighter than the comparison with 100 records: N draws against the odds the module declares."""
    from visreason.puzzles.wheel_of_fortune import SIZE_WEIGHTS, SIZES

    gen = _marginals(sampled)
    expected = {
        "segments": {n: w / sum(SIZE_WEIGHTS) for n, w in zip(SIZES, SIZE_WEIGHTS)},
        "equal": {True: 0.5, False: 0.5},
        "arrow": {a: 1 / 8 for a in range(0, 360, 45)},
        "direction": {"clockwise": 0.5, "counterclockwise": 0.5},
        "wording": {True: 0.5, False: 0.5},
    }
    for name, odds in expected.items():
        for value, p in odds.items():
            assert abs(gen[name][value] / N - p) < 4 * math.sqrt(p * (1 - p) / N), (name, value, gen[name])


def _widths(wheels: list[list], n: int) -> Counter:
    """How often each width occurs on the wheels of n unequal segments."""
    return Counter(w for angles in wheels if len(angles) == n and len(set(angles)) > 1 for w in angles)


def test_sampled_widths_match_the_released_unequal_wheels(released, sampled):
    for n, drawn in WIDTHS.items():
        rel = _widths([r["solution"]["angles"] for r in released], n)
        gen = _widths([s["angles"] for s, _ in sampled], n)
        allowed = set(range(min(drawn), max(drawn) + 1, 5))  # the last width, the remainder, is any such value
        assert set(rel) <= allowed and set(gen) <= allowed, (n, rel, gen)
        gen_drawn, rel_drawn = Counter({w: gen[w] for w in drawn}), Counter({w: rel[w] for w in drawn})
        assert not close(gen_drawn, rel_drawn, sum(gen.values()), sum(rel.values())), (n, gen, rel)


def test_sampled_spins_stay_in_the_released_ranges(released, sampled):
    def amounts(pairs, wording):
        return [float(m.group(1)) for _, q in pairs if (m := re.search(rf"(\d+(?:\.\d+)?) {wording}", q))]

    released_pairs = [(r["solution"], r["question"]) for r in released]
    for wording, low, high, step in (("degrees", 90, 1785, 15), ("full rotations", 1.25, 5.95, 0.05)):
        gen, rel = amounts(sampled, wording), amounts(released_pairs, wording)
        assert low <= min(gen) and max(gen) <= high and low == min(rel) and max(rel) == high
        assert all(abs(x / step - round(x / step)) < 1e-6 for x in gen + rel)
        assert abs(sum(gen) / len(gen) - sum(rel) / len(rel)) < 0.15 * (high - low)  # both spread over the range


def test_sampled_records_have_the_released_form(released, sampled):
    for solution, question in sampled[:200]:
        n = len(solution["angles"])
        assert solution["original_boundaries"][0] == 45 and sum(solution["angles"]) == pytest.approx(360)
        assert len(set(solution["original_colors"])) == n and set(solution["original_colors"]) <= set(COLOURS)
        assert len(set(solution["original_prizes"])) == n and set(solution["original_prizes"]) <= set(PRIZES)
        direction, degrees, _ = parse_spin(question)
        assert solution["direction"] == direction
        # the released conventions of the derived keys, re-derived from the question
        turn = degrees if direction == "counterclockwise" else -degrees
        assert solution["effective_rotation"] == (1 if direction == "counterclockwise" else -1) * (turn % 360)
        rotated = solution["rotated_boundaries"]
        assert rotated == sorted(rotated) and 0 <= rotated[0] < 360
        k = solution["rotated_prizes"].index(solution["original_prizes"][0])
        assert rotated[k] == pytest.approx(float((45 + turn) % 360))
    assert {c for r in released for c in r["solution"]["original_colors"]} == set(COLOURS)
    assert {p for r in released for p in r["solution"]["original_prizes"]} == set(PRIZES)


def test_sampled_arrows_keep_clear_of_boundaries(sampled):
    from fractions import Fraction

    from visreason.puzzles.wheel_of_fortune import Wheel

    for solution, question in sampled[:300]:
        direction, degrees, _ = parse_spin(question)
        gap = Wheel(solution).under_arrow(degrees if direction == "counterclockwise" else -degrees)[1]
        assert gap >= Fraction(2)


def test_sampled_answers_spread_over_the_prizes(released, sampled):
    gen = Counter(PUZZLE.solve(s, q) for s, q in sampled)
    rel = Counter(r["answer"] for r in released)
    assert set(gen) == set(PRIZES) and set(rel) == set(PRIZES)
    assert not close(gen, rel, N, len(released))


# ---------------------------------------------------------------- options, determinism, image


def test_options_are_prizes_of_the_wheel(released, sampled):
    rng = random.Random(1)
    for solution, question in sampled[:200]:
        answer = PUZZLE.solve(solution, question)
        opts = PUZZLE.options(answer, solution, rng)
        assert len(opts) == len(set(opts)) == 4 and answer in opts
        assert set(opts) <= set(solution["original_prizes"])
    assert all(set(r["options"]) <= set(r["solution"]["original_prizes"]) for r in released)
    # a wheel of fewer than 4 prizes still gets 4 options, the others from the released prizes
    small = {"angles": [180, 180], "original_boundaries": [0, 180], "arrow_at": 90, "original_prizes": ["Car", "Pizza"]}
    opts = PUZZLE.options("Car", small, rng)
    assert len(set(opts)) == 4 and {"Car", "Pizza"} <= set(opts) and set(opts) <= set(PRIZES)


def test_determinism():
    def one(seed):
        rng = random.Random(seed)
        solution, question = PUZZLE.sample(rng)
        answer = PUZZLE.solve(solution, question)
        return solution, question, PUZZLE.options(answer, solution, rng), PUZZLE.render(solution, 96).tobytes()

    assert one(3) == one(3)
    assert len({json.dumps(one(seed)[:3]) for seed in range(30)}) == 30


def test_image_is_cropped_to_the_wheel_and_arrow_like_the_released(released, shared_data):
    from PIL import Image

    for arrow in (0, 45, 90, 180, 225, 270):
        rec = next(r for r in released if r["solution"]["arrow_at"] == arrow)
        ours = PUZZLE.render(rec["solution"], 512)
        theirs = Image.open(shared_data / "data" / rec["image"]).size
        assert ours.mode == "RGB" and max(ours.size) == 512
        assert all(abs(a - b) <= 8 for a, b in zip(ours.size, theirs)), (arrow, ours.size, theirs)
    image = PUZZLE.render(WHEEL, 512)  # the arrow on the right widens the image to 2.18 wheel radii
    k = 512 / 2.18
    centre = (1.02 * k, 1.02 * k)
    assert image.getpixel(centre) == (255, 255, 255)  # the hub
    inside = lambda r, a: (centre[0] + r * k * math.cos(math.radians(a)), centre[1] - r * k * math.sin(math.radians(a)))  # noqa: E731
    assert image.getpixel(inside(0.35, 100)) == (0, 255, 0)  # Car's segment, on top, is lime
    assert image.getpixel(inside(0.35, 190)) == (192, 192, 192)  # Pizza's, on the left, silver
