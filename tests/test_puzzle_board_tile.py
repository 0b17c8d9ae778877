"""board_tile: the tiling solver on hand-checked boards and against brute force, bad input, the
sampler's marginals against the 100 released records, options, images and determinism."""

from __future__ import annotations

import copy
import json
import math
import random
import re

import pytest
from PIL import Image

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError
from visreason.puzzles.board_tile import question, tileable

TILE = CATEGORIES["board_tile"]
N = 1000  # sampled states for the marginals


@pytest.fixture(scope="module")
def released(shared_data):
    with open(shared_data / "data" / "board_tile.json") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def sampled():
    rng = random.Random(12345)
    return [TILE.sample(rng) for _ in range(N)]


def close(p_gen: float, p_rel: float, n_rel: int = 100, n_gen: int = N) -> bool:
    """Two shares agree within 4 standard errors of their difference (seeded, so never flaky; a
    shift of ~0.2 in a share fails)."""
    p = (p_gen * n_gen + p_rel * n_rel) / (n_gen + n_rel)
    return abs(p_gen - p_rel) <= 4 * math.sqrt(max(p * (1 - p), 0.01) * (1 / n_rel + 1 / n_gen))


def state(rows, cols, removed):
    return {"rows": rows, "columns": cols, "removed_positions": [list(sq) for sq in removed]}


@pytest.mark.parametrize(
    "rows, cols, removed, answer",
    [
        (4, 5, [(0, 0), (0, 1)], "Yes"),  # a dark and a light neighbour
        (4, 5, [(0, 0), (3, 4)], "Yes"),  # opposite corners of a 4 x 5 board: dark (0 + 0) and light (3 + 4)
        (4, 6, [(0, 0), (3, 5)], "No"),  # opposite corners of a 4 x 6 board: both dark (the mutilated board)
        (5, 5, [(2, 2)], "Yes"),  # 25 squares, the centre (dark) removed: 12 + 12 left
        (5, 5, [(0, 1)], "No"),  # a light square removed: 13 dark, 11 light
        (5, 7, [(4, 6)], "Yes"),  # the dark corner removed
        (1, 4, [(0, 1), (0, 2)], "No"),  # colours balance, but squares 0 and 3 are not adjacent
        (1, 4, [(0, 0), (0, 1)], "Yes"),
        (2, 2, [(0, 0), (1, 1)], "No"),  # two light squares left, not adjacent
    ],
)
def test_hand_checked_boards(rows, cols, removed, answer):
    assert TILE.solve(state(rows, cols, removed), question(rows, cols, len(removed))) == answer


def test_balanced_colours_are_not_enough():
    """The solver matches squares; it does not just count colours."""
    # 3 x 4 without the light (0, 1), (1, 0) and the dark (2, 0), (2, 2): 4 + 4 left, but (0, 0) is cut off
    assert not tileable(3, 4, [(0, 1), (1, 0), (2, 0), (2, 2)])
    assert tileable(3, 4, [(0, 1), (1, 1), (2, 0), (2, 1)])  # 4 + 4 left, tiled by dominoes
    assert not tileable(1, 6, [(0, 1), (0, 4)])  # balanced, but square 0 and square 5 stand alone


def brute_force(rows: int, cols: int, removed) -> bool:
    """Cover the first free square (row-major) with a domino going right or down, recursively."""
    free = {(r, c) for r in range(rows) for c in range(cols)} - set(removed)

    def cover(free: frozenset) -> bool:
        if not free:
            return True
        r, c = min(free)
        return any(nb in free and cover(free - {(r, c), nb}) for nb in ((r, c + 1), (r + 1, c)))

    return cover(frozenset(free))


def test_matching_agrees_with_brute_force():
    rng = random.Random(7)
    seen = {True: 0, False: 0}
    for _ in range(300):
        rows, cols = rng.randint(1, 4), rng.randint(1, 5)
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        removed = rng.sample(cells, rng.randint(0, min(4, len(cells))))
        expected = brute_force(rows, cols, removed)
        assert tileable(rows, cols, removed) == expected, (rows, cols, removed)
        seen[expected] += 1
    assert min(seen.values()) > 30  # both outcomes were exercised


def test_golden_answers_follow_the_colour_count(released):
    """On these rectangles (both sides >= 4) a tiling exists exactly when the colours balance."""
    for rec in released:
        s = rec["solution"]
        assert TILE.solve(s, rec["question"]) == ("Yes" if s["squares_of_color1"] == s["squares_of_color2"] else "No")


def test_missing_and_mistyped_keys(released):
    rec = released[0]
    for key in ("rows", "columns", "removed_positions"):
        broken = {k: v for k, v in rec["solution"].items() if k != key}
        with pytest.raises(PuzzleError, match=f"board_tile: .*'{key}'"):
            TILE.solve(broken, rec["question"])
    for key, value in (("rows", "7"), ("columns", 7.0), ("removed_positions", [[0, "7"], [3, 2]])):
        with pytest.raises(PuzzleError, match=f"board_tile: '{key}'"):
            TILE.solve({**rec["solution"], key: value}, rec["question"])
    with pytest.raises(PuzzleError, match="squares_of_color1"):
        TILE.solve({**rec["solution"], "squares_of_color1": 27}, rec["question"])


def test_unsolvable_or_inconsistent_states(released):
    rec = released[0]  # a 7 x 8 board, two squares removed
    off = copy.deepcopy(rec["solution"])
    off["removed_positions"][0] = [7, 0]
    with pytest.raises(PuzzleError, match="off the 7 x 8 board"):
        TILE.solve(off, rec["question"])
    twice = copy.deepcopy(rec["solution"])
    twice["removed_positions"][1] = twice["removed_positions"][0]
    with pytest.raises(PuzzleError, match="distinct"):
        TILE.solve(twice, rec["question"])
    with pytest.raises(PuzzleError, match="6 \\* 8 board is not 7 x 8"):
        TILE.solve(rec["solution"], rec["question"].replace("7 * 8", "6 * 8"))
    with pytest.raises(PuzzleError, match="removes one square"):
        TILE.solve(rec["solution"], question(7, 8, 1))
    with pytest.raises(PuzzleError, match="question"):
        TILE.solve(rec["solution"], "Is the board tileable by trominoes?")
    with pytest.raises(PuzzleError, match="Yes' or 'No"):
        TILE.options("Maybe", rec["solution"], random.Random(0))


def test_sampler_marginals(released, sampled):
    rel = [r["solution"] for r in released]
    gen = [s for s, _ in sampled]
    for key, support in (("rows", set(range(4, 10))), ("columns", set(range(5, 10)))):
        assert {s[key] for s in gen} == support == {s[key] for s in rel}
        for v in support:  # uniform, as the released generator draws them
            assert close(sum(s[key] == v for s in gen) / N, sum(s[key] == v for s in rel) / 100), (key, v)
    two = lambda states: sum(len(s["removed_positions"]) == 2 for s in states) / len(states)  # noqa: E731
    assert close(two(gen), two(rel))
    assert all(len(s["removed_positions"]) == (2 if s["rows"] * s["columns"] % 2 == 0 else 1) for s in gen)
    # as released: removed squares sorted, never the bottom-right one
    assert all(s["removed_positions"] == sorted(s["removed_positions"]) for s in gen)
    assert not any([s["rows"] - 1, s["columns"] - 1] in s["removed_positions"] for s in gen)
    answers = [TILE.solve(s, q) for s, q in sampled]
    assert close(answers.count("Yes") / N, sum(r["answer"] == "Yes" for r in released) / 100)


def test_questions_are_released_wording(released, sampled):
    mask = lambda q: re.sub(r"\d+", "N", q)  # noqa: E731
    templates = {mask(r["question"]) for r in released}
    assert {mask(q) for _, q in sampled} == templates
    for rec in released:
        s = rec["solution"]
        assert question(s["rows"], s["columns"], len(s["removed_positions"])) == rec["question"]


def test_sampled_states_are_released_records(released):
    """Where a sampled board is a released one, the whole solution dict and question are equal."""
    wanted = {json.dumps([r["solution"]["rows"], r["solution"]["columns"], r["solution"]["removed_positions"]]): r
              for r in released}  # fmt: skip
    rng, hits = random.Random(0), 0
    for _ in range(3000):
        s, q = TILE.sample(rng)
        rec = wanted.get(json.dumps([s["rows"], s["columns"], s["removed_positions"]]))
        if rec:
            hits += 1
            assert (s, q) == (rec["solution"], rec["question"])
    assert hits > 20


def test_options_are_yes_and_no(sampled):
    rng, orders = random.Random(3), set()
    for s, q in sampled[:200]:
        answer = TILE.solve(s, q)
        opts = TILE.options(answer, s, rng)
        assert sorted(opts) == ["No", "Yes"] and answer in opts
        orders.add(tuple(opts))
    assert len(orders) == 2  # random order, not the answer first


def test_render_matches_released_layout(released, shared_data):
    for rec in released[:10]:
        image = TILE.render(rec["solution"], 512)
        with Image.open(shared_data / "data" / rec["image"]) as original:
            assert abs(image.size[0] - original.size[0]) <= 2 and abs(image.size[1] - original.size[1]) <= 2
        assert image.mode == "RGB" and max(image.size) == 512
        corner = (255, 255, 255) if [0, 0] in rec["solution"]["removed_positions"] else (255, 195, 57)
        assert image.getpixel((11, 11)) == corner  # the top-left square is dark yellow
    small = TILE.render(released[0]["solution"], 32)
    assert max(small.size) == 32
    for size in (31, 0, 512.0, "512", True):
        with pytest.raises(PuzzleError, match="size"):
            TILE.render(released[0]["solution"], size)


def test_determinism():
    def make(seed):
        rng = random.Random(seed)
        s, q = TILE.sample(rng)
        a = TILE.solve(s, q)
        return s, q, TILE.options(a, s, rng), TILE.render(s, 128).tobytes()

    assert make(5) == make(5)
    assert len({json.dumps(make(seed)[0]) for seed in range(20)}) > 15


def test_parse_needs_every_removed_square(released):
    s = released[0]["solution"]
    text = TILE.describe(s)
    assert TILE.parse(text) == {"rows": 7, "columns": 8, "removed_positions": [[0, 7], [3, 2]]}
    assert TILE.parse(text.replace("2 squares have", "3 squares have")) is None
    assert TILE.parse(text.replace("column 7 (light", "column 7 (dark")) is None  # colour contradicts position
    assert TILE.parse(text.replace("row 0, column 7", "row 0, column 9")) is None  # off the board
