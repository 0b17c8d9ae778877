"""probe_colour: the lab probe. It has no released records, so this file checks with generated
states what tests/test_puzzles.py checks against the released ones: answers, facts in the
description, bad input named, options, images (pixel by pixel), determinism and the sampler."""

from __future__ import annotations

import json
import math
import random
from collections import Counter

import pytest

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError, normalize
from visreason.puzzles.probe_colour import COLOURS, GRID, QUESTION, SIDES

PROBE = CATEGORIES["probe_colour"]
N = 2000  # sampled states for the marginals


@pytest.fixture(scope="module")
def sampled():
    rng = random.Random(7)
    return [PROBE.sample(rng) for _ in range(N)]


def state(colour="red", side=20, left=0, top=0) -> dict:
    return {"colour": colour, "side": side, "left": left, "top": top}


def test_answer_is_the_colour_and_the_description_states_every_fact():
    solution = state("yellow", 24, 3, 8)
    assert PROBE.solve(solution, QUESTION) == "yellow"
    assert PROBE.facts(solution) == ["yellow square", "24 units wide", "column 3, row 8"]
    text = normalize(PROBE.describe(solution))
    assert all(normalize(f) in text for f in PROBE.facts(solution))
    assert PROBE.fact_fidelity(PROBE.describe(solution), solution) == (3, 3)
    assert PROBE.fact_fidelity("A blue square, 24 units wide.", solution) == (1, 3)


@pytest.mark.parametrize(
    "broken, key",
    [
        ({"side": 20, "left": 0, "top": 0}, "colour"),
        (state(colour="purple"), "colour"),
        (state(colour="RED"), "colour"),
        (state(side=19), "side"),
        (state(side=20.0), "side"),
        (state(side=True), "side"),
        (state(left=13), "left"),  # 13 + 20 > 32: outside the canvas
        (state(top=-1), "top"),
        (state(top="0"), "top"),
    ],
)
def test_bad_state_names_the_key(broken, key):
    for call in (
        lambda: PROBE.solve(broken, QUESTION),
        lambda: PROBE.describe(broken),
        lambda: PROBE.render(broken, 64),
    ):
        with pytest.raises(PuzzleError, match=f"probe_colour: .*'?{key}'?"):
            call()


def test_bad_question_and_size_are_rejected():
    with pytest.raises(PuzzleError, match="question"):
        PROBE.solve(state(), "What is the colour of the sky?")
    for size in (0, 8, 64.0, "64"):
        with pytest.raises(PuzzleError, match="size"):
            PROBE.render(state(), size)
    with pytest.raises(PuzzleError, match="answer"):
        PROBE.options("purple", state(), random.Random(0))


def test_image_shows_the_square_in_its_colour_on_white():
    solution = state("blue", 20, 4, 10)
    image = PROBE.render(solution, 64)  # 2 px per unit
    assert image.mode == "RGB" and image.size == (64, 64)
    inside = [(x, y) for x in range(8, 48) for y in range(20, 60)]
    assert all(image.getpixel(p) == COLOURS["blue"] for p in inside)
    outside = [(x, y) for x in range(64) for y in range(64) if not (8 <= x < 48 and 20 <= y < 60)]
    assert all(image.getpixel(p) == (255, 255, 255) for p in outside)
    assert PROBE.render(solution, 64).tobytes() == image.tobytes()
    assert max(PROBE.render(solution, 500).size) == 500


def test_options_are_the_four_colours_shuffled():
    orders = set()
    for seed in range(40):
        options = PROBE.options("green", state("green"), random.Random(seed))
        assert sorted(options) == sorted(COLOURS)
        orders.add(tuple(options))
    assert len(orders) > 10


def test_sampler_is_deterministic_uniform_and_valid(sampled):
    assert PROBE.sample(random.Random(7)) == sampled[0]
    colours = Counter(s["colour"] for s, _ in sampled)
    sides = Counter(s["side"] for s, _ in sampled)
    for counts, values in ((colours, COLOURS), (sides, SIDES)):
        p = 1 / len(values)
        sd = math.sqrt(N * p * (1 - p))
        assert set(counts) == set(values)
        assert all(abs(counts[v] - N * p) < 4 * sd for v in values), counts  # within 4 standard deviations
    for solution, question in sampled:
        assert question == QUESTION
        assert 0 <= solution["left"] <= GRID - solution["side"] and 0 <= solution["top"] <= GRID - solution["side"]
        assert PROBE.solve(json.loads(json.dumps(solution)), question) == solution["colour"]
    assert len({json.dumps(s, sort_keys=True) for s, _ in sampled}) > N * 0.5  # 3,156 states: few repeats


def test_parse_reads_back_only_complete_valid_descriptions():
    solution = state("green", 28, 4, 0)
    text = PROBE.describe(solution)
    assert PROBE.parse(text) == solution
    assert PROBE.parse(text.upper()) == solution
    assert PROBE.parse(text.replace("column 4", "column 5")) is None  # 5 + 28 > 32
    assert PROBE.parse(text + " A red square.") is None  # two colours stated
    assert PROBE.parse("A green square.") is None
    assert PROBE.claims("a red square, 20 units wide; a blue square") == ["red square", "20 units wide", "blue square"]
