"""The samplers against the AlgoPuzzleVQA generators and the released records, and the puzzle identity.

Each category draws a few thousand puzzles from one seeded RNG and compares their marginals
with the generator's (declare-lab/LLM-PuzzleTest, `AlgoPuzzleVQA/generation/<category>.py`):
weights read from the generator's code are exact; the few marginals the code does not state
(move_box's brick count and flag placement, number_slide's sum questions) were measured by
replaying the generator's own sampling loop, without drawing, for 4,000 puzzles (seed 1).
Shares must lie within Z standard errors (of both samples where the reference is measured):
at these sample sizes that is tight enough to reject each sampler this suite replaced, and
the draws are seeded, so the outcome never changes between runs.

Options are checked against the released records: the rule each category's released
options follow is asserted on the released records too, so the rule is the data's.
"""

from __future__ import annotations

import collections
import copy
import json
import math
import random
import re

import pytest

from visreason.puzzles import CATEGORIES
from visreason.puzzles.maze import asked_quantity, openings
from visreason.puzzles.move_box import INNER, SIDE, Board, could_need, min_pushes, timesteps
from visreason.puzzles.n_queens import completions

Z = 4.5  # standard errors allowed
DRAWS = {"clock": 4000, "maze": 2000, "move_box": 2000, "n_queens": 3000, "number_slide": 2000}


@pytest.fixture(scope="module")
def drawn():
    """category -> [(solution, question, answer, options)], as `visreason data build` draws them."""
    out = {}
    for name, n in DRAWS.items():
        puzzle, rng = CATEGORIES[name], random.Random(f"sampling-{name}")
        out[name] = []
        for _ in range(n):
            solution, question = puzzle.sample(rng)
            answer = puzzle.solve(solution, question)
            out[name].append((solution, question, answer, puzzle.options(answer, solution, rng)))
    return out


@pytest.fixture(scope="module")
def released(shared_data):
    out = {}
    for name in DRAWS:
        with open(shared_data / "data" / f"{name}.json") as f:
            out[name] = [json.loads(line) for line in f if line.strip()]
    return out


def assert_shares(values, expected: dict, reference_n: int | None = None, label: str = "") -> None:
    """Every value's share of `values` is within Z standard errors of `expected` (a share per value;
    values outside it must not occur). `reference_n`: the expected shares were measured on that
    many draws, whose error counts too."""
    counts, n = collections.Counter(values), len(values)
    assert set(counts) <= set(expected), f"{label}: values never expected: {sorted(set(counts) - set(expected))}"
    for value, p in expected.items():
        se = math.sqrt(p * (1 - p) * (1 / n + (1 / reference_n if reference_n else 0)))
        share = counts[value] / n
        assert abs(share - p) <= Z * se + 1e-9, (
            f"{label} {value!r}: share {share:.4f}, expected {p:.4f} +- {Z * se:.4f}"
        )


def uniform(values) -> dict:
    return {v: 1 / len(values) for v in values}


def normalised(weights: dict) -> dict:
    return {k: w / sum(weights.values()) for k, w in weights.items()}


def distractors(options: list[str], answer: str) -> list[str]:
    return [o for o in options if o != answer]


# ---------------------------------------------------------------- clock


def test_clock_state_and_question_are_uniform(drawn):
    rows = drawn["clock"]
    assert_shares([s["current_hour"] for s, *_ in rows], uniform(range(1, 13)), label="hour")
    assert_shares([s["current_minute"] // 10 for s, *_ in rows], uniform(range(6)), label="minute (tens)")
    forward = ["add_hour" in s for s, *_ in rows]
    assert_shares(forward, {True: 0.5, False: 0.5}, label="'in' (add) rather than 'ago'")
    hours = [s.get("add_hour", s.get("subtract_hour")) for s, *_ in rows]
    minutes = [s.get("add_minute", s.get("subtract_minute")) for s, *_ in rows]
    assert_shares(hours, uniform(range(4)), label="duration hours")
    assert set(minutes) == set(range(1, 60)), "duration minutes are 1-59 (never 0)"
    names = [re.match(r"(\w+)(?:'s event| came)", q).group(1) for _, q, *_ in rows]
    assert_shares(names, uniform(sorted(set(names))), label="first name")
    assert len(set(names)) == 20


def test_clock_options_are_random_times_as_released(drawn, released):
    def hour(option: str) -> int:
        return int(option.split(":")[0])

    for rec in released["clock"]:
        assert all(1 <= hour(o) <= 11 for o in distractors(rec["options"], rec["answer"]))
    rows = drawn["clock"]
    for _, _, answer, options in rows:
        assert len(set(options)) == 4 and answer in options
        assert all(re.fullmatch(r"([1-9]|1[01]):[0-5]\d", o) for o in distractors(options, answer))
    assert_shares([hour(o) for *_, a, opts in rows for o in distractors(opts, a)], uniform(range(1, 12)), label="hour")


# ---------------------------------------------------------------- maze


def test_maze_sizes_exit_and_question_mix(drawn):
    rows = drawn["maze"]
    assert_shares([len(s["maze"]) for s, *_ in rows], uniform((7, 9, 11, 13)), label="rows")
    assert_shares([len(s["maze"][0]) for s, *_ in rows], uniform((7, 9, 11, 13)), label="columns")
    kinds = [asked_quantity(q) for _, q, *_ in rows]
    assert_shares(kinds, {"left": 0.2, "right": 0.2, "total": 0.2, "cells": 0.4}, label="question")
    exits = [openings(s["maze"]) for s, *_ in rows]
    assert {entry for entry, _ in exits} == {(1, 0)}
    assert_shares([goal[0] == len(s["maze"]) - 2 for (s, *_), (_, goal) in zip(rows, exits)], {True: 0.5, False: 0.5})


def test_maze_is_perfect(drawn):
    """Depth-first carving leaves a spanning tree of the rooms: rooms + (rooms - 1) passages + 2 openings."""
    for s, *_ in drawn["maze"][:300]:
        grid = s["maze"]
        rooms = (len(grid) // 2) * (len(grid[0]) // 2)
        assert sum(v == 0 for row in grid for v in row) == 2 * rooms - 1 + 2


def _bands_hold(answer: str, options: list[str]) -> bool:
    """The released rule: distractors in [1, 5], [1, 9], [1, 49], [1, 99] for answers up to 5, 10, 50, 100."""
    gold = int(answer)
    high = next((h for limit, h in ((5, 5), (10, 9), (50, 49), (100, 99)) if gold <= limit), 2 * gold)
    return all(1 <= int(o) <= high for o in distractors(options, answer))


@pytest.mark.parametrize("name", ["maze", "move_box", "number_slide"])
def test_banded_options_as_released(name, drawn, released):
    assert all(_bands_hold(r["answer"], r["options"]) for r in released[name])
    assert all("0" not in r["options"] for r in released[name])
    for _, _, answer, options in drawn[name]:
        assert len(set(options)) == 4 and answer in options and _bands_hold(answer, options)
        assert answer == "0" or "0" not in options


# ---------------------------------------------------------------- move_box

# Measured by replaying generation/move_box.py's make_sample loop (4,000 draws).
GENERATOR_BRICKS = {1: 0.3728, 2: 0.3053, 3: 0.1643, 4: 0.0920, 5: 0.0413, 6: 0.0245}  # inner bricks
GENERATOR_BOX_TO_FLAG = {1: 0.2098, 2: 0.2792, 3: 0.3845, 4: 0.1265}  # Manhattan distance, box to flag
GENERATOR_N = 4000


def _cells(solution: dict) -> dict:
    return {v: (r, c) for r, row in enumerate(solution["timestep"]["grid_0"]) for c, v in enumerate(row)}


def test_move_box_answers_bricks_and_placement_follow_the_generator(drawn):
    rows = drawn["move_box"]
    assert_shares([a for *_, a, _ in rows], uniform(["1", "2", "3", "4", "5"]), label="answer")
    bricks = [sum(v == "#" for row in s["timestep"]["grid_0"][1:-1] for v in row[1:-1]) for s, *_ in rows]
    assert_shares(bricks, GENERATOR_BRICKS, GENERATOR_N, label="inner bricks")
    cells = [_cells(s) for s, *_ in rows]
    distance = [abs(c["B"][0] - c["T"][0]) + abs(c["B"][1] - c["T"][1]) for c in cells]
    assert_shares(distance, GENERATOR_BOX_TO_FLAG, GENERATOR_N, label="box to flag")
    for s, *_ in rows:
        grid = s["timestep"]["grid_0"]
        assert len(grid) == SIDE and all(v == "#" for v in grid[0] + grid[-1] + [row[0] for row in grid])


def test_move_box_pair_filter_never_rejects_a_possible_answer():
    """`could_need` only rules out what cannot happen: over warehouses drawn as the generator draws
    them, every solvable one needs a push count `could_need` allows."""
    rng = random.Random(0)
    solved = 0
    for _ in range(3000):
        picked = rng.sample(INNER, rng.randint(10, 15))
        box, player, target = picked[:3]
        board = Board(SIDE, SIDE, picked)
        path = board.path(board.index(box), board.index(player), board.index(target))
        if path is not None:
            solved += 1
            assert could_need(box, target, len(path) - 1), (picked[:3], len(path) - 1)
    assert solved > 300


def test_move_box_push_search_matches_a_plain_search():
    """The bit-mask search against a direct breadth-first search over (box, player) cells."""

    def plain(grid, box, player, target):
        free = {(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v != "#"}
        seen, layer, pushes = {(box, player)}, [(box, player)], 0
        while layer:
            if any(b == target for b, _ in layer):
                return pushes
            nxt = []
            for b, p in layer:
                reach, todo = {p}, [p]
                while todo:
                    r, c = todo.pop()
                    for n in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                        if n in free and n != b and n not in reach:
                            reach.add(n)
                            todo.append(n)
                for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    ahead = (b[0] + dr, b[1] + dc)
                    if (b[0] - dr, b[1] - dc) in reach and ahead in free and (ahead, b) not in seen:
                        seen.add((ahead, b))
                        nxt.append((ahead, b))
            layer, pushes = nxt, pushes + 1
        return None

    rng = random.Random(1)
    for _ in range(300):
        rows, cols = rng.randint(3, 7), rng.randint(3, 7)
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        picked = rng.sample(cells, rng.randint(3, len(cells)))
        grid = [["#"] * cols for _ in range(rows)]
        for (r, c), v in zip(picked, ["B", "S", "T"] + ["."] * len(picked)):
            grid[r][c] = v
        try:
            got = len(min_pushes(grid)) - 1
        except ValueError:
            got = None
        assert got == plain(grid, *picked[:3]), grid


# ---------------------------------------------------------------- n_queens

# Boards with two queens removed from a solution that have a second completion, counted over
# every solution and pair: 16 / 2576 (8), 96 / 12672 (9), 224 / 32580 (10); weighted 30/35/35.
SECOND_COMPLETION = 0.3 * 16 / 2576 + 0.35 * 96 / 12672 + 0.35 * 224 / 32580


def test_n_queens_sizes_pairs_and_ambiguous_boards_follow_the_generator(drawn):
    rows = drawn["n_queens"]
    sizes = [s["rows"] for s, *_ in rows]
    assert_shares(sizes, {8: 0.30, 9: 0.35, 10: 0.35}, label="board size")
    for n in (8, 9, 10):  # every row is one of the two emptied ones with probability 2 / n
        emptied = [r for s, *_ in rows if s["rows"] == n for r, _ in s["missing_queen_positions"]]
        assert_shares(emptied, uniform(range(n)), label=f"emptied row ({n} x {n})")
    second = [len(completions(s["rows"], s["given_queen_positions"])) > 1 for s, *_ in rows]
    assert any(second), "the generator keeps boards with a second completion"
    assert_shares(second, {True: SECOND_COMPLETION, False: 1 - SECOND_COMPLETION}, label="second completion")


def test_n_queens_options_are_three_to_fifteen_as_released(drawn, released):
    for rec in released["n_queens"]:
        assert all(3 <= int(o) <= 15 for o in rec["options"])
    rows = drawn["n_queens"]
    for _, _, answer, options in rows:
        assert len(set(options)) == 4 and answer in options
    for v in map(str, range(3, 16)):  # each other value is one of the 3 distractors with probability 3 / 12
        chosen = [v in opts for *_, a, opts in rows if a != v]
        assert_shares(chosen, {True: 0.25, False: 0.75}, label=f"distractor {v}")


# ---------------------------------------------------------------- number_slide

# Measured by replaying generation/number_slide.py (1,410 sum questions among 4,000 draws).
GENERATOR_SUM_MINIMUM, GENERATOR_SUMS = 0.7043, 1410


def _slide_kind(question: str) -> str:
    q = question.lower()
    return "unique" if "unique final board" in q else "sum" if "sum that you can achieve" in q else "sequence"


def test_number_slide_sizes_kinds_and_moves_follow_the_generator(drawn):
    rows = drawn["number_slide"]
    assert_shares([len(s["starting_grid"]) for s, *_ in rows], {3: 0.25, 4: 0.45, 5: 0.3}, label="size")
    kinds = [_slide_kind(q) for _, q, *_ in rows]
    assert_shares(kinds, {"unique": 0.25, "sum": 0.35, "sequence": 0.4}, label="kind")
    weights = {
        "unique": {1: 0.25, 2: 0.45, 3: 0.3},
        "sum": normalised({1: 0.2, 2: 0.33, 3: 0.33, 4: 0.16}),
        "sequence": {2: 0.25, 3: 0.35, 4: 0.4},
    }
    for kind, expected in weights.items():
        moves = [s["total_moves"] for (s, *_), k in zip(rows, kinds) if k == kind]
        assert_shares(moves, expected, label=f"moves ({kind})")


def test_number_slide_questions_follow_the_generator(drawn):
    from visreason.puzzles.number_slide import ANY, sum_questions

    sums = seqs = 0
    extremes, stats = [], []
    for s, q, *_ in drawn["number_slide"]:
        kind = _slide_kind(q)
        if kind == "sum":
            sums += 1
            extreme, side = re.search(
                r"the (maximum|minimum) sum that you can achieve across the (\w+) most", q
            ).groups()
            allowed = sum_questions(s["possible_states"]) or sum_questions(s["possible_states"], ANY)
            assert (extreme, side) in allowed
            extremes.append(extreme)
        elif kind == "sequence":
            seqs += 1
            stats.append(re.search(r"what is the (.+) the (row|column) which now has", q.lower()).groups())
    assert_shares(extremes, {"minimum": GENERATOR_SUM_MINIMUM, "maximum": 1 - GENERATOR_SUM_MINIMUM},
                  GENERATOR_SUMS, label="sum question")  # fmt: skip
    submodes = [(stat, line) for stat in ("maximum number in", "minimum number in", "sum of numbers of")
                for line in ("row", "column")]  # fmt: skip
    assert_shares(stats, uniform(submodes), label="sequence question")


# ---------------------------------------------------------------- identity


def _identity(name: str, solution: dict, question: str) -> str:
    return CATEGORIES[name].identity(solution, question)


def test_move_box_records_with_another_optimal_path_share_the_identity(released):
    """A record of the same warehouse that stores another, as short push path (found on the
    transposed grid, so the search tries the directions in another order) is the same puzzle."""
    other_path = 0
    for rec in released["move_box"]:
        solution = rec["solution"]
        grid = solution["timestep"]["grid_0"]
        ours = min_pushes(grid)  # the generator's path, and its grids
        assert [list(c) for c in ours] == solution["box_location"]
        assert json.loads(json.dumps(timesteps(grid, ours, solution["ids"]))) == solution["timestep"]
        path = [(c, r) for r, c in min_pushes([list(column) for column in zip(*grid)])]
        other = {**solution, "timestep": timesteps(grid, path, solution["ids"]), "box_location": path}
        other_path += path != [tuple(c) for c in solution["box_location"]]
        assert CATEGORIES["move_box"].solve(other, rec["question"]) == rec["answer"]
        assert _identity("move_box", other, rec["question"]) == _identity("move_box", solution, rec["question"])
    assert other_path >= 10


def test_derived_keys_do_not_change_the_identity(released):
    cases = {
        "maze": lambda s: {"maze": s["maze"], "optimal_path": [], "left_turns": 99},
        "n_queens": lambda s: {
            **s,
            "given_queen_positions": s["given_queen_positions"][::-1],
            "missing_queen_positions": [[0, 0], [1, 1]],
        },  # fmt: skip
        "number_slide": lambda s: {"starting_grid": s["starting_grid"]},
        "clock": lambda s: {"current_hour": s["current_hour"], "current_minute": s["current_minute"]},
        "move_box": lambda s: {"ids": s["ids"], "timestep": {"grid_0": s["timestep"]["grid_0"]}},
    }
    for name, strip in cases.items():
        for rec in released[name][:20]:
            solution, question = rec["solution"], rec["question"]
            assert _identity(name, strip(copy.deepcopy(solution)), question) == _identity(name, solution, question)


def test_move_box_identity_reads_the_grid_through_ids(released):
    solution = released["move_box"][0]["solution"]
    question = released["move_box"][0]["question"]
    swap = {".": "_", "#": "X", "B": "b", "S": "p", "T": "f"}
    renamed = {
        "ids": {k: swap[v] for k, v in solution["ids"].items()},
        "timestep": {"grid_0": [[swap[v] for v in row] for row in solution["timestep"]["grid_0"]]},
    }
    assert _identity("move_box", renamed, question) == _identity("move_box", solution, question)


def test_clock_identity_is_the_time_and_the_task_not_the_name():
    state = {"current_hour": 3, "current_minute": 7, "add_hour": 1, "add_minute": 5}
    question = "Emily's event is going to start in 1 hour 5 minutes. The current time is shown on the clock."
    same = _identity("clock", state, question)
    assert _identity("clock", state, question.replace("Emily", "Tyler")) == same
    later = {**state, "current_minute": 8}
    assert _identity("clock", later, question) != same
    longer = {**state, "add_minute": 6}
    assert _identity("clock", longer, question.replace("5 minutes", "6 minutes")) != same
    back = {"current_hour": 3, "current_minute": 7, "subtract_hour": 1, "subtract_minute": 5}
    assert _identity("clock", back, "Emily came to an event 1 hour 5 minutes ago.") != same


@pytest.mark.parametrize("name", ["maze", "move_box", "n_queens", "number_slide"])
def test_another_state_or_task_is_another_puzzle(name, released):
    first, second = released[name][:2]
    question = first["question"]
    assert _identity(name, second["solution"], question) != _identity(name, first["solution"], question)
    other_task = {
        "maze": lambda q: q.rsplit("? ", 1)[0] + "? How many cells do you need to visit in this optimal path?",
        "number_slide": lambda q: re.sub(r"exactly \d+", "exactly 9", q),
    }
    if name in other_task:
        assert _identity(name, first["solution"], other_task[name](question)) != _identity(
            name, first["solution"], question
        )
