"""The samplers of tower_of_hanoi, water_jugs, checker_move and rotting_kiwi against the
AlgoPuzzleVQA generators (declare-lab/LLM-PuzzleTest, `AlgoPuzzleVQA/generation/<category>.py`)
and the released records, and the start-state identity of these categories.

The reference marginals were measured by running the generators' own code (unchanged except
for leaving out the drawing, the JSON writing and the 100-record cut, and looping longer):
tower_of_hanoi 80,000 draws (half of them from the classic path, as its first 50 of 100);
water_jugs 9,000 capacity draws (its 20, many times over), the candidate pool as it builds it;
checker_move its whole candidate pool; rotting_kiwi exactly, by enumerating the 3 x 3 grids
its rejection loop draws from (checked against 3,000 draws of its own `make_sample`).

Every marginal is compared with a chi-square test at the 0.1% level (the sample is seeded, so
a pass is reproducible; the level keeps an unlucky seed from failing a correct sampler), or a
share within 4 standard errors; each test says which of the old samplers' differences it
catches. Properties that hold for every generated puzzle are asserted for every one.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections import Counter
from typing import NamedTuple

import pytest

from visreason.puzzles import CATEGORIES
from visreason.puzzles.checker_move import generator_space
from visreason.puzzles.tower_of_hanoi import path_to_tower

# Chi-square critical values at the 0.1% level, by degrees of freedom.
CHI2_001 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32, 8: 26.12}


def assert_follows(observed: Counter, expected: dict, what: str) -> None:
    """`observed` counts are a sample of the distribution `expected` (value -> probability)."""
    n = sum(observed.values())
    assert set(observed) <= {k for k, p in expected.items() if p > 0}, f"{what}: values {set(observed) - set(expected)}"
    chi2 = sum((observed[k] - n * p) ** 2 / (n * p) for k, p in expected.items() if p > 0)
    df = sum(p > 0 for p in expected.values()) - 1
    shares = {k: round(observed[k] / n, 3) for k in sorted(expected)}
    assert chi2 < CHI2_001[df], (
        f"{what}: chi2 {chi2:.1f} >= {CHI2_001[df]} (df {df}); got {shares}, expected {expected}"
    )


def assert_share(hits: int, n: int, p: float, what: str, reference_se: float = 0.0) -> None:
    """`hits` of `n` is a share p, within 4 standard errors (the sample's and the reference's)."""
    se = math.sqrt(p * (1 - p) / n + reference_se**2)
    assert abs(hits / n - p) <= 4 * se, f"{what}: {hits}/{n} = {hits / n:.3f}, expected {p:.3f} +- {4 * se:.3f}"


class Drawn(NamedTuple):
    solution: dict
    question: str
    answer: str
    options: list[str]


def draw(name: str, n: int, seed: int = 0) -> list[Drawn]:
    """`n` puzzles of a category from one seeded RNG, as a build draws them; the answer is the solver's."""
    puzzle, rng = CATEGORIES[name], random.Random(seed)
    out = []
    for _ in range(n):
        solution, question = puzzle.sample(rng)
        answer = puzzle.solve(solution, question)
        out.append(Drawn(solution, question, answer, puzzle.options(answer, solution, rng)))
    return out


@pytest.fixture(scope="module")
def released(shared_data):
    def load(name):
        with open(shared_data / "data" / f"{name}.json") as f:
            return [json.loads(line) for line in f if line.strip()]

    return load


def assert_uniform_distractors(puzzles: list[Drawn], values_for, what: str) -> None:
    """Every option lies in the released range for its answer, and each other value of that range is
    a distractor 3 times in (range size - 1), as drawn uniformly (the old options were drawn near the
    answer first)."""
    picked, possible = Counter(), Counter()
    for _, _, answer, options in puzzles:
        values = {str(v) for v in values_for(int(answer))}
        assert answer in options and len(set(options)) == 4 and set(options) <= values, (what, answer, options)
        for v in values - {answer}:
            possible[len(values)] += 1
            picked[len(values)] += v in options
    for size, n in possible.items():
        assert_share(picked[size], n, 3 / (size - 1), f"{what}: share of the distractors drawn from {size} values")


# ---------------------------------------------------------------- tower_of_hanoi

HANOI = CATEGORIES["tower_of_hanoi"]
# The generator: 80,000 draws of its own loop (retrying on its IndexError as it does).
HANOI_DISKS = {3: 0.1022, 4: 0.2085, 5: 0.3419, 6: 0.3475}
HANOI_ANSWERS = {1: 0.1920, 2: 0.1869, 3: 0.1721, 4: 0.1584, 5: 0.1517, 6: 0.1388}
HANOI_ON_CLASSIC_PATH = 0.685  # start and end both on the classic path from rod 1 to rod 3


def tower(n: int, rod: int) -> tuple:
    return tuple(tuple(range(n, 0, -1)) if i == rod else () for i in range(3))


def to_tower(position, rod: int = 2) -> int:
    """Moves from `position` to the full tower on `rod` (the path is optimal: a BFS checks it below)."""
    return len(path_to_tower(tuple(map(tuple, position)), rod)) - 1


@pytest.fixture(scope="module")
def hanoi_puzzles():
    return draw("tower_of_hanoi", 3000)


def test_path_to_tower_is_a_shortest_path():
    from visreason.puzzles.tower_of_hanoi import moves_between

    rng = random.Random(1)
    for _ in range(30):
        rods = [[], [], []]
        for disk in range(5, 0, -1):
            rods[rng.randrange(3)].append(disk)
        state = tuple(map(tuple, rods))
        assert to_tower(state) == len(moves_between(state, tower(5, 2))) - 1


def test_hanoi_start_and_end_lie_on_one_optimal_path_to_the_full_tower(hanoi_puzzles, released):
    """Old sampler: 40% of its puzzles did not. The released records all do."""
    pairs = [(r["solution"], r["answer"]) for r in released("tower_of_hanoi")]
    pairs += [(p.solution, p.answer) for p in hanoi_puzzles]
    for solution, answer in pairs:
        start, end = to_tower(solution["start_position"]), to_tower(solution["end_position"])
        assert abs(start - end) == int(answer), f"not on one optimal path to the tower on rod 3: {solution}"
    for p in hanoi_puzzles:  # the derived moves agree with the start state
        moves = p.solution["moves"]
        assert (
            moves[0]["position"] == p.solution["start_position"] and moves[-1]["position"] == p.solution["end_position"]
        )
        assert [m["num_moves"] for m in moves] == list(range(int(p.answer) + 1))


def test_hanoi_disk_and_answer_weights_follow_the_generator(hanoi_puzzles):
    """Old sampler: released disk weights (11/18/33/38) and uniform answers."""
    disks = Counter(sum(map(len, p.solution["start_position"])) for p in hanoi_puzzles)
    assert_follows(disks, HANOI_DISKS, "tower_of_hanoi disks")
    assert_follows(Counter(int(p.answer) for p in hanoi_puzzles), HANOI_ANSWERS, "tower_of_hanoi answers")
    assert all(f"and {sum(map(len, p.solution['start_position']))} disks" in p.question for p in hanoi_puzzles)


def test_hanoi_half_the_paths_are_classic(hanoi_puzzles):
    def on_classic(solution):
        n = sum(map(len, solution["start_position"]))
        path = set(path_to_tower(tower(n, 0)))
        return all(tuple(map(tuple, solution[k])) in path for k in ("start_position", "end_position"))

    hits = sum(on_classic(p.solution) for p in hanoi_puzzles)
    assert_share(hits, len(hanoi_puzzles), HANOI_ON_CLASSIC_PATH, "tower_of_hanoi: both on the classic path")


def test_hanoi_options_in_the_released_range(hanoi_puzzles, released):
    """Old options: up to 9; released: 1..6, drawn uniformly."""
    assert {o for r in released("tower_of_hanoi") for o in r["options"]} == {str(v) for v in range(1, 7)}
    assert_uniform_distractors(hanoi_puzzles, lambda a: range(1, 7), "tower_of_hanoi")


# ---------------------------------------------------------------- water_jugs

JUGS = CATEGORIES["water_jugs"]
# The generator's candidate pool by jug count (its final draw is uniform within a jug count), over
# 9,000 capacity draws: the share of each answer, of starts with an empty jug and of starts with a
# full jug; `se` bounds the standard errors of these shares (bootstrap over the capacity draws, whose
# pairs are correlated). Its path dedup across draws is left out, as ours leaves duplicates to the
# caller; 150 whole runs of its script (20 draws each, with the dedup) agree within 0.03.
JUGS_REFERENCE = {
    3: {"answers": {1: 0.3741, 2: 0.3575, 3: 0.1832, 4: 0.0852}, "empty": 0.2255, "full": 0.4864, "se": 0.0075},
    4: {"answers": {1: 0.1758, 2: 0.3426, 3: 0.2943, 4: 0.1873}, "empty": 0.3710, "full": 0.6962, "se": 0.0070},
    5: {"answers": {1: 0.0963, 2: 0.2515, 3: 0.3381, 4: 0.3140}, "empty": 0.4534, "full": 0.7656, "se": 0.0065},
}


@pytest.fixture(scope="module")
def jugs_puzzles():
    return draw("water_jugs", 1800)


def test_jugs_hold_at_least_the_largest_capacity(jugs_puzzles, released):
    """Old sampler: 31% held less water than the largest jug; the generator and the release never do."""
    solutions = [r["solution"] for r in released("water_jugs")] + [p.solution for p in jugs_puzzles]
    for s in solutions:
        caps = s["capacities"]
        assert sum(s["start"]) == s["total_water"] >= caps[0] == max(caps), s
        assert len(set(caps)) == len(caps) and caps == sorted(caps, reverse=True) and set(caps) <= set(range(1, 15))
        assert s["start"] != s["end"] and 1 <= s["num_steps"] <= 4


def test_jugs_counts_are_a_third_each(jugs_puzzles, released):
    """The generator keeps 34/33/33 puzzles of 3/4/5 jugs (so does the release)."""
    assert Counter(r["solution"]["num_jugs"] for r in released("water_jugs")) == {3: 34, 4: 33, 5: 33}
    assert_follows(Counter(p.solution["num_jugs"] for p in jugs_puzzles), dict.fromkeys((3, 4, 5), 1 / 3), "jugs")


@pytest.mark.parametrize("n", [3, 4, 5])
def test_jugs_answers_and_fills_follow_the_generator(n, jugs_puzzles):
    """Old sampler: the start filled litre by litre (3 jugs: 6.5% of starts with an empty jug, the
    generator's 22.6%), targets at a uniform distance 1..4."""
    ref = JUGS_REFERENCE[n]
    puzzles = [p for p in jugs_puzzles if p.solution["num_jugs"] == n]
    answers = Counter(int(p.answer) for p in puzzles)
    for d, share in ref["answers"].items():
        assert_share(answers[d], len(puzzles), share, f"water_jugs {n} jugs: answer {d}", ref["se"])
    empty = sum(0 in p.solution["start"] for p in puzzles)
    full = sum(any(a == c for a, c in zip(p.solution["start"], p.solution["capacities"])) for p in puzzles)
    assert_share(empty, len(puzzles), ref["empty"], f"water_jugs {n} jugs: starts with an empty jug", ref["se"])
    assert_share(full, len(puzzles), ref["full"], f"water_jugs {n} jugs: starts with a full jug", ref["se"])


def test_jugs_steps_are_the_generators_path(jugs_puzzles, released):
    """Pours are tried in the generator's order, so the stored steps are the path its BFS finds."""
    from visreason.puzzles.water_jugs import shortest_steps

    for s in [r["solution"] for r in released("water_jugs")] + [p.solution for p in jugs_puzzles[:200]]:
        path = shortest_steps(tuple(s["capacities"]), tuple(s["start"]), tuple(s["end"]))
        assert [list(state) for state in path] == s["steps"] and s["num_steps"] == len(path) - 1


def test_jugs_options_in_the_released_range(jugs_puzzles, released):
    """Released options: 1..6 (answers 1..4), drawn uniformly."""
    assert {o for r in released("water_jugs") for o in r["options"]} == {str(v) for v in range(1, 7)}
    assert_uniform_distractors(jugs_puzzles, lambda a: range(1, 7), "water_jugs")


# ---------------------------------------------------------------- checker_move

CHECKER = CATEGORIES["checker_move"]
CHECKER_CLASSIC_SHARE = 0.24  # the generator's 100: the 24 classic swaps, then 76 of its pairs


def is_classic(row_start: str, row_end: str) -> bool:
    g, r = row_start.count("G"), row_start.count("R")
    return (row_start, row_end) == ("G" * g + "_" + "R" * r, "R" * r + "_" + "G" * g)


@pytest.fixture(scope="module")
def checker_puzzles():
    return draw("checker_move", 3000)


def test_checker_space_is_the_generators(released):
    """The 24 classic swaps of 1-5 checkers a colour (at least 3 checkers) and their 1-5-move sub-paths;
    every released record is one of them, with the moves it stores."""
    classic, pairs = generator_space()
    assert len(classic) == 24 and len(pairs) == 1620
    assert all(len(p[0]) >= 4 and 1 <= len(p) - 1 <= 5 for p in pairs)
    assert {(len(p[0]) - 1, len(p) - 1) for p in classic} == {
        (g + r, g * r + g + r) for g in range(1, 6) for r in range(1, 6) if g + r >= 3
    }
    space = {(p[0], p[-1]): p for p in classic + pairs}
    for rec in released("checker_move"):
        s = rec["solution"]
        assert space.get((s["start_position"], s["end_position"])) == s["moves"], s


def test_checker_samples_lie_in_the_generators_space(checker_puzzles):
    """Old sampler: 62% of its puzzles outside (random rows), 4.2% on 3 squares."""
    classic, pairs = generator_space()
    space = {(p[0], p[-1]) for p in classic + pairs}
    for p in checker_puzzles:
        s = p.solution
        assert (s["start_position"], s["end_position"]) in space, s
        assert (
            len(s["start_position"]) >= 4
            and s["moves"][0] == s["start_position"]
            and s["moves"][-1] == s["end_position"]
        )
        assert len(s["moves"]) - 1 == int(p.answer)


def test_checker_mix_of_classic_swaps_and_pairs(checker_puzzles):
    """24% classic swaps, uniform over the 24; the rest uniform over the 1,620 pairs, whose answers are
    1..5 moves in 372/348/324/300/276 of them and whose boards have 4..11 squares in 30/80/160/275/320/
    320/270/165."""
    classic = [p for p in checker_puzzles if is_classic(p.solution["start_position"], p.solution["end_position"])]
    rest = [p for p in checker_puzzles if p not in classic]
    # 2 of the 1,620 pairs are also classic swaps (5 moves, 4 squares): their share of the draws is tiny.
    expected_classic = CHECKER_CLASSIC_SHARE + (1 - CHECKER_CLASSIC_SHARE) * 2 / 1620
    assert_share(len(classic), len(checker_puzzles), expected_classic, "checker_move: classic swaps")
    swaps = Counter(g + r for g in range(1, 6) for r in range(1, 6) if g + r >= 3)  # checkers -> swaps
    boards = Counter(len(p.solution["start_position"]) - 1 for p in classic)
    assert_follows(boards, {k: n / 24 for k, n in swaps.items()}, "checker_move classic checkers")
    answers = Counter(int(p.answer) for p in rest)
    assert_follows(
        answers, {d: n / 1620 for d, n in zip(range(1, 6), (372, 348, 324, 300, 276))}, "checker_move answers"
    )
    squares = Counter(len(p.solution["start_position"]) for p in rest)
    counts = (30, 80, 160, 275, 320, 320, 270, 165)
    assert_follows(squares, {k: n / 1620 for k, n in zip(range(4, 12), counts)}, "checker_move squares")


def test_checker_options_in_the_released_ranges(checker_puzzles, released):
    """Old options: never 0; released: 0 in 46 of 100, distractors in 0..5 for answers up to 5, 0..9 up
    to 9, else 0..49."""

    def values_for(answer):
        return range(0, next(t for t in (5, 9, 49) if answer <= t) + 1)

    for rec in released("checker_move"):
        assert {int(o) for o in rec["options"]} <= set(values_for(int(rec["answer"]))), rec["options"]
    assert_uniform_distractors(checker_puzzles, values_for, "checker_move")
    with_zero = sum("0" in p.options for p in checker_puzzles)
    expected = sum(3 / (len(values_for(int(p.answer))) - 1) for p in checker_puzzles) / len(checker_puzzles)
    assert_share(with_zero, len(checker_puzzles), expected, "checker_move: options with 0")  # released: 0.46


# ---------------------------------------------------------------- rotting_kiwi

KIWI = CATEGORIES["rotting_kiwi"]
# The generator draws the answer uniformly in 1..6, then grids of 2..7 kiwis (uniformly many, one
# rotten) until one takes that long; the kiwi count of what it keeps, exactly (enumerating the grids).
KIWI_COUNTS = {2: 0.1268, 3: 0.0726, 4: 0.0627, 5: 0.0883, 6: 0.1832, 7: 0.4665}


@pytest.fixture(scope="module")
def kiwi_puzzles():
    return draw("rotting_kiwi", 2000)


def test_kiwi_grids_and_answers_follow_the_generator(kiwi_puzzles, released):
    for rec in released("rotting_kiwi"):
        grid = rec["solution"]["timestep"]["minute_0"]
        cells = Counter(v for row in grid for v in row)
        assert len(grid) == 3 and cells[2] == 1 and 2 <= cells[0] <= 7
    for p in kiwi_puzzles:
        grid = p.solution["timestep"]["minute_0"]
        cells = Counter(v for row in grid for v in row)
        assert len(grid) == 3 and all(len(row) == 3 for row in grid) and cells[2] == 1 and 2 <= cells[0] <= 7
        assert sorted(p.solution["timestep"]) == sorted(f"minute_{t}" for t in range(int(p.answer) + 1))
    assert_follows(Counter(int(p.answer) for p in kiwi_puzzles), dict.fromkeys(range(1, 7), 1 / 6), "kiwi answers")
    kiwis = Counter(sum(v > 0 for row in p.solution["timestep"]["minute_0"] for v in row) for p in kiwi_puzzles)
    assert_follows(kiwis, KIWI_COUNTS, "rotting_kiwi kiwis")


def test_kiwi_options_in_the_released_range(kiwi_puzzles, released):
    """Old options: up to 9; released: 1..6, drawn uniformly."""
    assert {o for r in released("rotting_kiwi") for o in r["options"]} == {str(v) for v in range(1, 7)}
    assert_uniform_distractors(kiwi_puzzles, lambda a: range(1, 7), "rotting_kiwi")


# ---------------------------------------------------------------- identity


def _hanoi_other_path(s):
    s["moves"] = s["moves"][:1]  # a different (wrong) derived path: the identity must not read it


def _jugs_other_steps(s):
    s["steps"], s["num_steps"] = [s["start"]], 0


def _kiwi_no_later_minutes(s):
    s["timestep"] = {"minute_0": s["timestep"]["minute_0"]}


def _checker_other_moves(s):
    s["moves"] = [s["start_position"]]


DERIVED_ONLY = {
    "tower_of_hanoi": [_hanoi_other_path, lambda s: s.pop("moves")],
    "water_jugs": [_jugs_other_steps, lambda s: s.pop("steps"), lambda s: s.pop("end")],
    "checker_move": [_checker_other_moves, lambda s: s.pop("moves"), lambda s: s.pop("red_checkers")],
    "rotting_kiwi": [_kiwi_no_later_minutes],
}


def _swap_rods(key):
    def change(s):
        s[key] = [s[key][1], s[key][0], *s[key][2:]]

    return change


def _flip_kiwi(s):
    grid = s["timestep"]["minute_0"]
    r, c = next((r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v == 1)
    grid[r][c] = 0


def _pour_litre(s):
    start, caps = s["start"], s["capacities"]
    pairs = [(i, j) for i in range(len(start)) for j in range(len(start)) if i != j and start[i] and start[j] < caps[j]]
    i, j = pairs[0]
    s["start"][i] -= 1
    s["start"][j] += 1


OTHER_START = {
    "tower_of_hanoi": [_swap_rods("start_position"), _swap_rods("end_position")],
    "water_jugs": [_pour_litre],
    "checker_move": [lambda s: s.update(end_position=s["end_position"][::-1])],
    "rotting_kiwi": [_flip_kiwi],
}


@pytest.mark.parametrize("name", sorted(DERIVED_ONLY))
def test_identity_ignores_derived_keys(name, released):
    puzzle = CATEGORIES[name]
    for rec in released(name)[:20]:
        for change in DERIVED_ONLY[name]:
            other = copy.deepcopy(rec["solution"])
            change(other)
            assert other != rec["solution"]
            assert puzzle.identity(other, rec["question"]) == puzzle.identity(rec["solution"], rec["question"])


@pytest.mark.parametrize("name", sorted(OTHER_START))
def test_identity_separates_start_states(name, released):
    puzzle, changed = CATEGORIES[name], 0
    for rec in released(name)[:20]:
        for change in OTHER_START[name]:
            other = copy.deepcopy(rec["solution"])
            change(other)
            if puzzle.start_state(other) != puzzle.start_state(rec["solution"]):  # (two empty rods swap to the same)
                changed += 1
                assert puzzle.identity(other, rec["question"]) != puzzle.identity(rec["solution"], rec["question"])
    assert changed >= 15 * len(OTHER_START[name])


def test_identity_separates_tasks(released):
    """water_jugs: the same jugs with another target (stated in the question) is another puzzle."""
    jugs = CATEGORIES["water_jugs"]
    rec = released("water_jugs")[0]
    solution = {k: v for k, v in rec["solution"].items() if k not in ("end", "steps", "num_steps")}
    targets = ", ".join(map(str, rec["solution"]["end"]))
    other_end = list(rec["solution"]["start"])
    other_question = rec["question"].replace(
        f"amounts of {targets} litres", f"amounts of {', '.join(map(str, other_end))} litres"
    )
    assert other_question != rec["question"]
    assert jugs.identity(solution, other_question) != jugs.identity(solution, rec["question"])
    assert jugs.solve(solution, other_question) == "0" and jugs.solve(solution, rec["question"]) == rec["answer"]


@pytest.mark.parametrize("name", sorted(DERIVED_ONLY))
def test_released_identities_are_distinct(name, released):
    puzzle = CATEGORIES[name]
    records = released(name)
    assert len({puzzle.identity(r["solution"], r["question"]) for r in records}) == len(records)
