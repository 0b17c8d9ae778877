"""rubiks_cube: face turns on hand-checked cubes, bad input, the sampler against the 100 released
records, options, rendering and determinism. The golden test over the released answers and the
shared contract live in test_puzzles.py and test_puzzle_contract.py."""

from __future__ import annotations

import copy
import json
import random
import re
import statistics

import pytest

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError
from visreason.puzzles.rubiks_cube import COLOURS, FACES, QUESTION, RGB, turn

CUBE = CATEGORIES["rubiks_cube"]
N = 300  # generated states compared with the 100 released ones
# A solved cube: up grey, down red, left orange, right green, front yellow, back blue (released record 0).
SOLVED = {f: [[c] * 3 for _ in range(3)] for f, c in zip(FACES, ("grey", "red", "orange", "green", "yellow", "blue"))}


def question(moves: str, colour: str, face: str) -> str:
    return QUESTION.format(moves=moves, colour=colour, face=face)


def task(moves: str, colour: str, face: str, start=None) -> dict:
    return {"moves": moves, "query_face": face, "query_colour": colour, "start_position": start or SOLVED}


@pytest.fixture(scope="module")
def released(shared_data):
    with open(shared_data / "data" / "rubiks_cube.json") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def generated():
    return [CUBE.sample(random.Random(seed)) for seed in range(N)]


def test_quarter_turns_move_the_right_rows():
    up = turn(SOLVED, "U")  # U: the front's top row comes from the right face
    assert up["front"][0] == ["green"] * 3 and up["front"][1:] == SOLVED["front"][1:]
    assert up["left"][0] == ["yellow"] * 3 and up["up"] == SOLVED["up"]
    right = turn(SOLVED, "R")  # R: the front's right column comes from the down face
    assert [row[2] for row in right["front"]] == ["red"] * 3 and [row[2] for row in right["up"]] == ["yellow"] * 3
    front = turn(SOLVED, "F")  # F: the up face's bottom row comes from the left face
    assert front["up"][2] == ["orange"] * 3 and front["front"] == SOLVED["front"]
    down = turn(SOLVED, "D")  # D: the front's bottom row goes to the right face
    assert down["right"][2] == ["yellow"] * 3


def test_turns_compose_like_a_cube():
    scrambled = turn(SOLVED, "R U2 F3 L D B2 R3")
    for identity in ("U U U U", "F F3", "R2 R2", " ".join(["R U R3 U3"] * 6)):
        assert turn(scrambled, identity) == scrambled
    assert turn(scrambled, "U3") == turn(scrambled, "U U U")
    assert turn(turn(scrambled, "R U"), "U3 R3") == scrambled  # undoing reverses the order


def test_released_end_positions_are_reproduced(released):
    for rec in released:
        s = rec["solution"]
        assert turn(s["start_position"], s["moves"]) == s["end_position"]


@pytest.mark.parametrize(
    "moves, colour, face, answer",
    [
        ("U3 D3 U", "green", "front", "3"),  # released record 0: net D3 brings the right's row to the front
        ("U", "yellow", "front", "6"),
        ("R2", "red", "up", "3"),
        ("F", "yellow", "front", "9"),  # turning a face keeps its own colours
        ("L", "blue", "front", "0"),  # the back face's blue never reaches the front
        ("R L3", "yellow", "up", "6"),  # both outer columns of up get the front's yellow
    ],
)
def test_hand_checked_counts(moves, colour, face, answer):
    assert CUBE.solve(task(moves, colour, face), question(moves, colour, face)) == answer


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s.pop("start_position"), "missing key.*'start_position'"),
        (lambda s: s["start_position"].pop("back"), "'start_position' must map the faces"),
        (lambda s: s["start_position"]["up"].pop(), "'start_position' face 'up' must be 3 rows of 3"),
        (lambda s: s["start_position"]["up"].__setitem__(0, ["grey", "grey", "white"]), "has colour 'white'"),
        (lambda s: s["start_position"]["up"].__setitem__(0, ["red", "grey", "grey"]), "is not a cube"),
        (lambda s: s.__setitem__("moves", "U2"), "question asks 'U' but the solution's 'moves' is 'U2'"),
        (lambda s: s.__setitem__("query_face", "back"), "solution's 'query_face' is 'back'"),
        (lambda s: s.__setitem__("query_colour", "red"), "solution's 'query_colour' is 'red'"),
    ],
)
def test_bad_solution_is_named(change, match):
    solution = copy.deepcopy(task("U", "green", "front"))
    change(solution)
    with pytest.raises(PuzzleError, match=f"rubiks_cube: .*{match}"):
        CUBE.solve(solution, question("U", "green", "front"))


@pytest.mark.parametrize(
    "q, match",
    [
        ("What is the colour of the sky?", "number of small 1 \\* 1"),
        (question("U X2", "green", "front"), "'moves' must be face letters"),
        (question("U4", "green", "front"), "'moves' must be face letters"),
        (question("U", "purple", "front"), "'purple' squares of the 'front' face"),
        (question("U", "green", "top"), "'green' squares of the 'top' face"),
    ],
)
def test_bad_question_is_named(q, match):
    with pytest.raises(PuzzleError, match=f"rubiks_cube: .*{match}"):
        CUBE.solve({"start_position": SOLVED}, q)


def test_bad_size_is_refused():
    for size in (0, 31, 64.0, "512"):
        with pytest.raises(PuzzleError, match="size"):
            CUBE.render({"start_position": SOLVED}, size)


# ---------------------------------------------------------------- sampler against the released records


def _solved(faces) -> bool:
    return all(len({c for row in grid for c in row}) == 1 for grid in faces.values())


def test_sampled_states_have_the_released_keys(released, generated):
    keys = set(released[0]["solution"])
    for solution, q in generated:
        assert set(solution) == keys
        assert solution == json.loads(json.dumps(solution))
        assert solution["end_position"] == turn(solution["start_position"], solution["moves"])
        assert q == question(solution["moves"], solution["query_colour"], solution["query_face"])


def test_question_is_the_released_wording(released):
    for rec in released:
        s = rec["solution"]
        assert question(s["moves"], s["query_colour"], s["query_face"]) == rec["question"]


def test_sampled_cubes_follow_the_released_ones(released, generated):
    # Scrambled starts: released 60 of 100; binomial sd over N = 300 is 0.028.
    scrambled = sum(not _solved(s["start_position"]) for s, _ in generated) / N
    assert abs(scrambled - 0.6) < 0.1
    assert sum(not _solved(r["solution"]["start_position"]) for r in released) == 60
    # 1-3 moves, each a face letter with 1-3 quarter turns written as released ("U", "U2", "U3").
    lengths = [len(s["moves"].split()) for s, _ in generated]
    assert all(60 <= lengths.count(k) <= 140 for k in (1, 2, 3))  # 100 expected each, sd 8
    tokens = {t for s, _ in generated for t in s["moves"].split()}
    assert (
        tokens
        == {t for r in released for t in r["solution"]["moves"].split()}
        == {f + q for f in "UDLRFB" for q in ("", "2", "3")}
    )
    faces = [s["query_face"] for s, _ in generated]
    colours = [s["query_colour"] for s, _ in generated]
    assert all(25 <= faces.count(f) <= 75 for f in FACES) and set(colours) == set(COLOURS)  # 50 expected, sd 6.5


def test_answers_span_and_spread_like_the_released_ones(released, generated):
    got = [int(CUBE.solve(s, q)) for s, q in generated]
    gold = [int(r["answer"]) for r in released]
    assert 0 <= min(got) and max(got) <= 9 and {0, 1, 2, 3, 6, 9} <= set(got)
    # A colour absent from the face: released 7 of 100, ours about 9%; sd over N = 300 is 0.016.
    assert 0.02 <= got.count(0) / N <= 0.16
    # Means: released 2.73 (sd 2.27, n = 100), a standard error near 0.26 on the difference.
    assert abs(statistics.mean(got) - statistics.mean(gold)) < 0.8


# ---------------------------------------------------------------- options, rendering, text, determinism


def test_options_stay_in_the_released_range(released, generated):
    assert {int(o) for r in released for o in r["options"]} == set(range(10))
    rng = random.Random(1)
    for solution, q in generated:
        answer = CUBE.solve(solution, q)
        options = CUBE.options(answer, solution, rng)
        assert len(options) == len(set(options)) == 4 and answer in options
        assert all(0 <= int(o) <= 9 for o in options)


def test_render_draws_the_net(released):
    solution = released[60]["solution"]  # a scrambled start
    size = 512
    image = CUBE.render(solution, size)
    assert image.mode == "RGB" and image.size == (512, 446)
    places = {"up": (1, 0), "left": (0, 1), "front": (1, 1), "right": (2, 1), "back": (3, 1), "down": (1, 2)}
    cell = size * 0.205 / 3
    for face, (col, row) in places.items():
        x0, y0 = size * 0.014 + col * size * 0.256, size * 0.045 + row * size * 0.288
        for r in range(3):
            for c in range(3):
                pixel = image.getpixel((int(x0 + (c + 0.5) * cell), int(y0 + (r + 0.5) * cell)))
                assert pixel == RGB[solution["start_position"][face][r][c]], (face, r, c)


def test_description_states_every_square_and_parses_back(released):
    solution = released[60]["solution"]
    text = CUBE.describe(solution)
    facts = CUBE.facts(solution)
    assert len(facts) == 54 and facts[0] == "up face, row 1, column 1: " + solution["start_position"]["up"][0][0]
    assert CUBE.parse(text) == {"start_position": solution["start_position"]}
    assert CUBE.parse(text.replace(facts[10] + ";", "")) is None  # a square missing
    recoloured = re.sub(r": (\w+)$", lambda m: ": " + ("red" if m.group(1) != "red" else "blue"), facts[4])
    assert CUBE.parse(text.replace(facts[4], recoloured)) is None  # ten of one colour: not a cube
    assert CUBE.parse(text[: text.rindex(":") + 3]) is None  # the last colour cut short


def test_sampling_is_deterministic():
    for seed in (0, 11):
        a, b = random.Random(seed), random.Random(seed)
        (sa, qa), (sb, qb) = CUBE.sample(a), CUBE.sample(b)
        assert (sa, qa) == (sb, qb)
        answer = CUBE.solve(sa, qa)
        assert CUBE.options(answer, sa, a) == CUBE.options(answer, sb, b)
        assert CUBE.render(sa, 128).tobytes() == CUBE.render(sb, 128).tobytes()
    assert CUBE.sample(random.Random(0)) != CUBE.sample(random.Random(1))
