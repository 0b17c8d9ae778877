"""colour_hue: the swap counter on hand-solved boards, bad input, the sampler against the 100
released records, options, rendering and determinism. The golden test over the released answers
and the shared contract live in test_puzzles.py and test_puzzle_contract.py."""

from __future__ import annotations

import json
import random
import re
import statistics

import pytest

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError
from visreason.puzzles.colour_hue import QUESTION, min_swaps, order_of

HUE = CATEGORIES["colour_hue"]
N = 300  # generated states compared with the 100 released ones


def board(*reds: int) -> list[list[list[int]]]:
    """A one-row board whose tiles differ in their red channel only."""
    return [[[r, 0, 0] for r in reds]]


def question(rows: int, cols: int) -> str:
    return QUESTION.format(rows=rows, cols=cols, n=rows * cols)


@pytest.fixture(scope="module")
def released(shared_data):
    with open(shared_data / "data" / "colour_hue.json") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def generated():
    return [HUE.sample(random.Random(seed)) for seed in range(N)]


@pytest.mark.parametrize(
    "shuffled, swaps",
    [
        ((10, 20, 30, 40), 0),  # already ideal
        ((20, 10, 30, 40), 1),  # one transposition
        ((20, 10, 40, 30), 2),  # two disjoint transpositions
        ((20, 30, 10, 40), 2),  # a 3-cycle takes 2 swaps
        ((40, 10, 20, 30), 3),  # a 4-cycle takes 3
        ((20, 10, 40, 50, 30), 3),  # a 2-cycle and a 3-cycle
    ],
)
def test_hand_solved_rows(shuffled, swaps):
    ideal = (10, 20, 30, 40, 50)[: len(shuffled)]
    solution = {"ideal_grid": board(*ideal), "shuffled_grid": board(*shuffled)}
    assert HUE.solve(solution, question(1, len(shuffled))) == str(swaps)


def test_two_dimensional_board_is_read_row_major():
    ideal = [[[0, 0, 0], [0, 0, 50]], [[0, 50, 0], [50, 0, 0]]]
    shuffled = [[[50, 0, 0], [0, 0, 50]], [[0, 50, 0], [0, 0, 0]]]  # corners swapped
    assert HUE.solve({"ideal_grid": ideal, "shuffled_grid": shuffled}, question(2, 2)) == "1"
    assert order_of([[tuple(c) for c in r] for r in ideal], [[tuple(c) for c in r] for r in shuffled]) == [3, 1, 2, 0]


def test_min_swaps_is_length_minus_cycles():
    rng = random.Random(0)
    for _ in range(200):
        order = list(range(rng.randint(1, 12)))
        rng.shuffle(order)
        # Greedy selection sort, one swap per misplaced position, is optimal: compare with it.
        work, greedy = list(order), 0
        for i in range(len(work)):
            while work[i] != i:
                j = work[i]
                work[i], work[j] = work[j], work[i]
                greedy += 1
        assert min_swaps(order) == greedy


def test_released_derived_keys_are_what_the_solver_computes(released):
    """The derived keys (never read by solve) mean what the module says they mean."""
    for rec in released:
        s = rec["solution"]
        ideal = [[tuple(c) for c in r] for r in s["ideal_grid"]]
        shuffled = [[tuple(c) for c in r] for r in s["shuffled_grid"]]
        order = order_of(ideal, shuffled)
        assert order == s["shuffled_order"]
        assert min_swaps(order) == s["swaps"] == int(rec["answer"])
        assert s["out_of_position"] == sum(i != j for i, j in enumerate(order))
        assert s["in_position"] + s["out_of_position"] == len(order)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s.pop("ideal_grid"), "missing key.*'ideal_grid'"),
        (lambda s: s.pop("shuffled_grid"), "missing key.*'shuffled_grid'"),
        (lambda s: s.__setitem__("ideal_grid", "red"), "'ideal_grid' must be a non-empty list of rows"),
        (lambda s: s["shuffled_grid"][0].__setitem__(0, [1, 2]), "'shuffled_grid' cells must be"),
        (lambda s: s["ideal_grid"][0][0].__setitem__(0, 256), "'ideal_grid' cells must be"),
        (lambda s: s["ideal_grid"][0][0].__setitem__(0, "10"), "'ideal_grid' cells must be"),
        (lambda s: s["shuffled_grid"][0].pop(), "'shuffled_grid' is 1 x 3 but 'ideal_grid' is 1 x 4"),
        (lambda s: s["shuffled_grid"][0].__setitem__(0, [99, 0, 0]), "not a rearrangement"),
        (lambda s: s["ideal_grid"][0].__setitem__(1, [10, 0, 0]), "repeats the colour"),
    ],
)
def test_bad_solution_is_named(change, match):
    solution = {"ideal_grid": board(10, 20, 30, 40), "shuffled_grid": board(20, 10, 40, 30)}
    change(solution)
    with pytest.raises(PuzzleError, match=f"colour_hue: .*{match}"):
        HUE.solve(solution, question(1, 4))


def test_question_must_ask_for_swaps_on_this_board():
    solution = {"ideal_grid": board(10, 20, 30, 40), "shuffled_grid": board(20, 10, 40, 30)}
    with pytest.raises(PuzzleError, match="minimum number of swaps"):
        HUE.solve(solution, "How many tiles are in their ideal position in state (B)?")
    with pytest.raises(PuzzleError, match="'a 2 \\* 2 board' is not the solution's 1 x 4"):
        HUE.solve(solution, question(2, 2))


def test_bad_size_is_refused(released):
    for size in (0, 31, 64.0, "512"):
        with pytest.raises(PuzzleError, match="size"):
            HUE.render(released[0]["solution"], size)


# ---------------------------------------------------------------- sampler against the released records


def test_sampled_states_have_the_released_keys_and_derived_values(released, generated):
    keys = set(released[0]["solution"])
    for solution, q in generated:
        assert set(solution) == keys
        assert solution == json.loads(json.dumps(solution))
        ideal = [[tuple(c) for c in r] for r in solution["ideal_grid"]]
        shuffled = [[tuple(c) for c in r] for r in solution["shuffled_grid"]]
        assert solution["shuffled_order"] == order_of(ideal, shuffled)
        assert solution["swaps"] == int(HUE.solve(solution, q)) >= 1
        assert solution["out_of_position"] >= 2 and solution["in_position"] + solution["out_of_position"] == len(
            solution["shuffled_order"]
        )


def test_sampled_sizes_follow_the_released_ones(released, generated):
    def shape(s):
        return len(s["ideal_grid"]), len(s["ideal_grid"][0])

    released_shapes = {shape(r["solution"]) for r in released}
    shapes = [shape(s) for s, _ in generated]
    assert set(shapes) == released_shapes  # 1 x 4-6 and 4-6 x 4-6, all 12 seen
    # One board in five is a single row (released: 20 of 100). Binomial sd over N = 300 is 0.023.
    one_row = sum(rows == 1 for rows, _ in shapes) / N
    assert abs(one_row - 0.2) < 0.08


def test_question_is_the_released_wording(released):
    for rec in released:
        grid = rec["solution"]["ideal_grid"]
        assert question(len(grid), len(grid[0])) == rec["question"]


def test_questions_use_the_released_template(released, generated):
    template = {re.sub(r"\d+", "N", r["question"]) for r in released}
    assert {re.sub(r"\d+", "N", q) for _, q in generated} == template
    for solution, q in generated[:20]:
        rows, cols = len(solution["ideal_grid"]), len(solution["ideal_grid"][0])
        assert q == question(rows, cols)


def test_answers_span_and_spread_like_the_released_ones(released, generated):
    got = [int(HUE.solve(s, q)) for s, q in generated]
    gold = [int(r["answer"]) for r in released]
    assert min(got) == min(gold) == 1 and max(got) <= 10
    assert len(set(got)) >= 9  # released: 10 distinct values, 1-10
    # Means: released 4.50 (sd 2.28, n = 100), so a standard error of about 0.25 on the difference.
    assert abs(statistics.mean(got) - statistics.mean(gold)) < 0.8
    assert max(got.count(v) for v in set(got)) / N < 0.3  # no dominant answer (released: 18%)


def test_sampled_tiles_are_distinct_colours(generated):
    for solution, _ in generated:
        cells = [tuple(c) for row in solution["ideal_grid"] for c in row]
        assert all(max(abs(x - y) for x, y in zip(p, q)) >= 8 for i, p in enumerate(cells) for q in cells[i + 1 :])


# ---------------------------------------------------------------- options, rendering, text, determinism


def test_options_stay_in_the_released_ranges(released, generated):
    assert all(1 <= int(o) <= 10 for r in released for o in r["options"])
    rng = random.Random(1)
    for solution, q in generated:
        answer = HUE.solve(solution, q)
        options = HUE.options(answer, solution, rng)
        assert len(options) == len(set(options)) == 4 and answer in options
        high = 5 if int(answer) <= 5 else 6 if int(answer) == 6 else max(9, int(answer))
        assert all(1 <= int(o) <= high for o in options), (answer, options)


def test_render_shows_the_tiles(released):
    solution = released[60]["solution"]  # a 6 x 4 board
    image = HUE.render(solution, 512)
    assert image.mode == "RGB" and image.size == (512, 251)
    side, top = round(512 * 0.363), round(512 * 0.041)
    for grid, left in ((solution["shuffled_grid"], round(512 * 0.059)), (solution["ideal_grid"], round(512 * 0.578))):
        rows, cols = len(grid), len(grid[0])
        for r in range(rows):
            for c in range(cols):
                x, y = left + (c + 0.5) * side / cols, top + (r + 0.5) * side / rows
                assert image.getpixel((int(x), int(y))) == tuple(grid[r][c])
    assert HUE.render(solution, 64).size == (64, 31)


def test_description_states_every_tile_and_parses_back(released):
    solution = released[5]["solution"]
    text = HUE.describe(solution)
    assert "two boards of" in text.lower() and len(HUE.facts(solution)) == 2 * len(solution["shuffled_order"])
    parsed = HUE.parse(text)
    assert parsed == {"ideal_grid": solution["ideal_grid"], "shuffled_grid": solution["shuffled_grid"]}
    dropped = text.replace(HUE.facts(solution)[3] + "; ", "")
    assert HUE.parse(dropped) is None  # a tile missing
    clashing = text + " (A) row 1, column 1: RGB (1, 2, 3)."
    assert HUE.parse(clashing) is None  # a tile stated twice, differently
    first = HUE.facts(solution)[0]
    foreign = re.sub(r"RGB \(.*\)", "RGB (1, 2, 3)", first)  # a colour (B) does not have
    assert HUE.parse(text.replace(first, foreign)) is None


def test_sampling_is_deterministic():
    for seed in (0, 11):
        a, b = random.Random(seed), random.Random(seed)
        (sa, qa), (sb, qb) = HUE.sample(a), HUE.sample(b)
        assert (sa, qa) == (sb, qb)
        answer = HUE.solve(sa, qa)
        assert HUE.options(answer, sa, a) == HUE.options(answer, sb, b)
        assert HUE.render(sa, 128).tobytes() == HUE.render(sb, 128).tobytes()
    assert HUE.sample(random.Random(0)) != HUE.sample(random.Random(1))
