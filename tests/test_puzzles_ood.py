"""Category-specific checks of the out-of-domain puzzles (number_slide, tower_of_hanoi,
water_jugs, checker_move, rotting_kiwi): solvers on small hand-solved states, the
number_slide question parser, released-format details of sampled states, and bad input.
The golden test over the released records lives in test_puzzles.py."""

from __future__ import annotations

import json
import random

import pytest

from visreason import VisreasonError
from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError
from visreason.puzzles.number_slide import slide

SEQ_UP_LEFT = " such that the open position is seen moving in the following sequence: up, left. What is the "

OOD = ["number_slide", "tower_of_hanoi", "water_jugs", "checker_move", "rotting_kiwi"]

# ---------------------------------------------------------------- number_slide

SLIDE = CATEGORIES["number_slide"]
GRID = [[1, 2, 3], [4, 5, 6], [7, 8, 0]]
PREFIX = "You start from the board position shown in the image and perform exactly {n} {word}"


def slide_q(n: int, tail: str) -> str:
    return PREFIX.format(n=n, word="move" if n == 1 else "moves") + tail


@pytest.mark.parametrize(
    "moves, tail, answer",
    [
        # 1 move: the open position goes left or up -> 2 boards.
        (1, ". How many unique final board positions can you reach?", "2"),
        # 2 moves: LL, LU, UL, UU, and LR = UD = the start board (moving back counts) -> 5.
        (2, ". How many unique final board positions can you reach?", "5"),
        # after 1 move the bottom row is 7 0 8 (15) or 7 8 6 (21)
        (
            1,
            ". What is the maximum sum that you can achieve across the bottom most row in the final board position?",
            "21",
        ),
        (
            1,
            ". What is the minimum sum that you can achieve across the bottom most row in the final board position?",
            "15",
        ),
        # the right column is 3 6 8 (17) or 3 0 6 (9)
        (
            1,
            ". What is the minimum sum that you can achieve across the right most column in the final board position?",
            "9",
        ),
        (
            1,
            ". What is the maximum sum that you can achieve across the left most column in the final board position?",
            "12",
        ),
        # after 2 moves the top row is 1 2 3 (6) or 1 2 0 (3, after up, up)
        (2, ". What is the minimum sum that you can achieve across the top most row in the final board position?", "3"),
        # up, left -> [[1,2,3],[4,0,5],[7,8,6]]: row 4 _ 5, column 2 _ 8 (the open position is no number)
        (
            2,
            SEQ_UP_LEFT + "maximum number in the row which now has the open position?",
            "5",
        ),
        (
            2,
            SEQ_UP_LEFT + "minimum number in the row which now has the open position?",
            "4",
        ),
        (
            2,
            SEQ_UP_LEFT + "sum of numbers of the row which now has the open position?",
            "9",
        ),
        (
            2,
            SEQ_UP_LEFT + "maximum number in the column which now has the open position?",
            "8",
        ),
        (
            2,
            SEQ_UP_LEFT + "minimum number in the column which now has the open position?",
            "2",
        ),
        (
            2,
            SEQ_UP_LEFT + "sum of numbers of the column which now has the open position?",
            "10",
        ),
    ],
)
def test_number_slide_question_types(moves, tail, answer):
    assert SLIDE.solve({"starting_grid": GRID, "total_moves": moves}, slide_q(moves, tail)) == answer


def test_number_slide_parsing_ignores_case_and_line_breaks():
    q = slide_q(2, ".\nHOW MANY unique final board\n positions can you reach?")
    assert SLIDE.solve({"starting_grid": GRID}, q) == "5"


@pytest.mark.parametrize(
    "solution, question, match",
    [
        ({"starting_grid": GRID}, "What is the answer?", "perform exactly N moves"),
        ({"starting_grid": GRID}, slide_q(1, ". What is the colour of the board?"), "no quantity"),
        (
            {"starting_grid": GRID, "total_moves": 3},
            slide_q(1, ". How many unique final board positions can you reach?"),
            "total_moves",
        ),
        (
            {"starting_grid": GRID},
            slide_q(
                1,
                " such that the open position is seen moving in the following sequence: down."
                " What is the sum of numbers of the row which now has the open position?",
            ),
            "wall",
        ),
        (
            {"starting_grid": GRID},
            slide_q(
                3,
                SEQ_UP_LEFT + "sum of numbers of the row which now has the open position?",
            ),
            "lists 2 moves",
        ),
        (
            {"starting_grid": GRID},
            slide_q(
                1,
                ". What is the maximum sum that you can achieve across the top most column"
                " in the final board position?",
            ),
            "no such line",
        ),
        ({}, slide_q(1, ". How many unique final board positions can you reach?"), "missing key"),
        (
            {"starting_grid": [[1, 2], [3, 4]]},
            slide_q(1, ". How many unique final board positions can you reach?"),
            "0..3",
        ),
        (
            {"starting_grid": [[1, 2, 0], [3, 4]]},
            slide_q(1, ". How many unique final board positions can you reach?"),
            "square",
        ),
    ],
)
def test_number_slide_bad_input(solution, question, match):
    with pytest.raises(PuzzleError, match=match):
        SLIDE.solve(solution, question)


def test_number_slide_sample_matches_released_format(shared_data):
    solution, question = SLIDE.sample(random.Random(7))
    with open(shared_data / "data" / "number_slide.json") as f:
        released = json.loads(f.readline())["solution"]
    assert list(solution) == list(released)
    # the derived keys agree with the start grid: every path replays to its final grid
    grid = solution["starting_grid"]
    finals = []
    for path, final in solution["path_track"].items():
        state = grid
        for d in path.split(", "):
            state = slide(state, d)
        assert state == final
        finals.append(final)
    assert finals == solution["possible_states"]
    assert solution["unique_positions"] == len({json.dumps(f) for f in finals})
    assert f"exactly {solution['total_moves']} move" in question


def test_number_slide_describe_lists_rows_with_open_position():
    text = SLIDE.describe({"starting_grid": GRID})
    assert "row 3: 7 8 0" in text and "0 marks the open position" in text


# ---------------------------------------------------------------- tower_of_hanoi

HANOI = CATEGORIES["tower_of_hanoi"]
HANOI_Q = "What is the minimum number of moves required to go from the starting to the ending configuration?"


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("target", [1, 2])
def test_hanoi_classic_needs_2_to_the_n_minus_1(n, target):
    tower = list(range(n, 0, -1))
    end = [[], [], []]
    end[target] = tower
    assert HANOI.solve({"start_position": [tower, [], []], "end_position": end}, HANOI_Q) == str(2**n - 1)


def test_hanoi_hand_solved_instances():
    # move 2 onto rod 3, then 1 onto it: 2 moves
    assert HANOI.solve({"start_position": [[2], [1], []], "end_position": [[], [], [2, 1]]}, HANOI_Q) == "2"
    assert HANOI.solve({"start_position": [[3, 1], [2], []], "end_position": [[3, 1], [2], []]}, HANOI_Q) == "0"


@pytest.mark.parametrize(
    "solution, match",
    [
        ({"start_position": [[3, 2, 1], [], []]}, "missing key"),
        ({"start_position": [[1, 2], [], []], "end_position": [[], [], [2, 1]]}, "larger disk on a smaller"),
        ({"start_position": [[2, 1], [], []], "end_position": [[], [], [3, 1]]}, "disks 1..n"),
        ({"start_position": [[2, 1], [], []], "end_position": [[1], [], []]}, "differ"),
        ({"start_position": [[2, 1], []], "end_position": [[], [2, 1]]}, "at least 3 rods"),
    ],
)
def test_hanoi_bad_input(solution, match):
    with pytest.raises(PuzzleError, match=match):
        HANOI.solve(solution, HANOI_Q)


def test_hanoi_describe_lists_rods_bottom_to_top():
    text = HANOI.describe({"start_position": [[3], [4], [5, 2, 1]], "end_position": [[3, 2, 1], [], [5, 4]]})
    for fact in ("start rod 3: 5 2 1", "end rod 2: empty", "end rod 1: 3 2 1", "bottom to top"):
        assert fact in text


def test_hanoi_parse_needs_both_configurations_whole():
    text = HANOI.describe({"start_position": [[3], [2, 1], []], "end_position": [[3, 2, 1], [], []]})
    assert HANOI.parse(text) == {"start_position": [[3], [2, 1], []], "end_position": [[3, 2, 1], [], []]}
    assert HANOI.parse(text.replace("end rod 2: empty", "")) is None  # a rod left out
    assert HANOI.parse(text + " start rod 1: 3 2") is None  # a rod stated two ways
    assert HANOI.parse(text.replace("end rod 1: 3 2 1", "end rod 1: 3 1")) is None  # disk 2 lost
    assert HANOI.parse(text.replace("3 rods and 3 disks", "3 rods and 4 disks")) is None  # the head disagrees
    assert HANOI.parse(
        text.replace("start rod 1: 3", "start rod 1: 3 2").replace("start rod 2: 2 1", "start rod 2: 1")
    ) == {
        "start_position": [[3, 2], [1], []],
        "end_position": [[3, 2, 1], [], []],
    }


# ---------------------------------------------------------------- water_jugs

JUGS = CATEGORIES["water_jugs"]
JUGS_Q = "What is the minimum number of water pouring steps required to achieve the objective?"
CLASSIC_JUGS = {"num_jugs": 3, "capacities": [8, 5, 3], "total_water": 8, "start": [8, 0, 0], "end": [4, 4, 0]}


def test_water_jugs_classic_8_5_3_needs_7_pours():
    question = (
        "The objective is to reach the amounts of 4, 4, 0 litres of water in the jugs from left to right. " + JUGS_Q
    )
    assert JUGS.solve(CLASSIC_JUGS, question) == "7"


def test_water_jugs_hand_solved_instance():
    # jug 1 into jug 3 -> [3, 1, 1], then jug 3 into jug 2 -> [3, 2, 0]; no single pour does it
    sol = {"num_jugs": 3, "capacities": [6, 5, 1], "total_water": 5, "start": [4, 1, 0], "end": [3, 2, 0]}
    assert JUGS.solve(sol, JUGS_Q) == "2"


@pytest.mark.parametrize(
    "change, question, match",
    [
        ({"end": [5, 1, 0]}, JUGS_Q, "cannot be reached"),  # [6,0,0] -> [5,1,0] needs splitting water (all even)
        ({"start": [9, 0, 0], "total_water": 9}, JUGS_Q, "overflows"),
        ({"end": [4, 4]}, JUGS_Q, "3 non-negative integers"),
        ({"end": [4, 3, 0]}, JUGS_Q, "different total water"),
        ({}, "The objective is to reach the amounts of 4, 0, 2 litres of water. " + JUGS_Q, "question targets"),
    ],
)
def test_water_jugs_bad_input(change, question, match):
    base = {"num_jugs": 3, "capacities": [8, 4, 2], "total_water": 6, "start": [6, 0, 0], "end": [4, 2, 0]}
    with pytest.raises(PuzzleError, match=match):
        JUGS.solve({**base, **change}, question)


def test_water_jugs_missing_key():
    with pytest.raises(PuzzleError, match="'capacities'"):
        JUGS.solve({"start": [1, 0, 0], "end": [0, 1, 0]}, JUGS_Q)


def test_water_jugs_targets_come_from_the_question():
    """The image shows the start; the targets are in the question, so a state without `end` (as
    parsed from a description) is solved from the question alone."""
    question = "The objective is to reach the amounts of 4, 4, 0 litres of water in the jugs. " + JUGS_Q
    no_end = {k: v for k, v in CLASSIC_JUGS.items() if k != "end"}
    assert JUGS.solve(no_end, question) == "7"
    assert JUGS.solve(JUGS.parse(JUGS.describe(CLASSIC_JUGS)), question) == "7"
    with pytest.raises(PuzzleError, match="'end'"):
        JUGS.solve(no_end, JUGS_Q)
    with pytest.raises(PuzzleError, match="overflows"):
        JUGS.solve(no_end, question.replace("4, 4, 0", "2, 0, 6"))


def test_water_jugs_parse_rejects_incomplete_or_impossible_states():
    text = JUGS.describe(CLASSIC_JUGS)
    assert JUGS.parse(text)["start"] == [8, 0, 0]
    assert JUGS.parse(text.replace("jug 3: 0 litres (capacity 3 litres)", "")) is None  # "3 jugs" but 2 listed
    assert JUGS.parse(text.replace("jug 2: 0 litres", "jug 2: 9 litres")) is None  # over capacity
    assert JUGS.parse(text + " jug 1: 7 litres (capacity 8 litres)") is None  # jug 1 stated two ways


def test_water_jugs_describe_states_amounts_and_capacities():
    text = JUGS.describe(CLASSIC_JUGS)
    assert "jug 1: 8 litres (capacity 8 litres)" in text and "jug 3: 0 litres (capacity 3 litres)" in text


# ---------------------------------------------------------------- checker_move

CHECKER = CATEGORIES["checker_move"]
CHECKER_Q = "How many moves are required to reach the ending configuration from the starting configuration?"


@pytest.mark.parametrize("g, r", [(1, 1), (1, 2), (2, 2), (3, 2), (3, 3)])
def test_checker_classic_swap_needs_gr_plus_g_plus_r(g, r):
    sol = {
        "start_position": "G" * g + "_" + "R" * r,
        "end_position": "R" * r + "_" + "G" * g,
        "green_checkers": g,
        "red_checkers": r,
    }
    assert CHECKER.solve(sol, CHECKER_Q) == str(g * r + g + r)


def test_checker_hand_solved_instances():
    # G jumps over R into the gap: 1 move
    assert CHECKER.solve({"start_position": "GR_", "end_position": "_RG"}, CHECKER_Q) == "1"
    # G_RR -> _GRR (slide) -> RG_R (jump) -> R_GR (slide): 3 moves
    assert CHECKER.solve({"start_position": "G_RR", "end_position": "R_GR"}, CHECKER_Q) == "3"


@pytest.mark.parametrize(
    "solution, match",
    [
        ({"start_position": "RR_G", "end_position": "G_RR"}, "cannot be reached"),  # checkers never move back
        ({"start_position": "G_R_", "end_position": "_GR_"}, "exactly one _"),
        ({"start_position": "GxR_", "end_position": "_GxR"}, "exactly one _"),
        ({"start_position": "G_R", "end_position": "_GRR"}, "different checkers"),
        ({"start_position": "G_R", "end_position": "RG_", "green_checkers": 2}, "green_checkers"),
        ({"start_position": "G_R"}, "missing key"),
    ],
)
def test_checker_bad_input(solution, match):
    with pytest.raises(PuzzleError, match=match):
        CHECKER.solve(solution, CHECKER_Q)


def test_checker_parse_needs_both_rows_and_a_reachable_end():
    assert CHECKER.parse("start: G_R end: RG_")["end_position"] == "RG_"
    assert CHECKER.parse("start: G_R") is None
    assert CHECKER.parse("start: RR_G end: G_RR") is None  # checkers never move back
    assert CHECKER.parse("start: G_R end: RG_ start: GR_") is None  # the start stated two ways
    assert CHECKER.parse("start: G_R end: R_R") is None  # different checkers


# ---------------------------------------------------------------- rotting_kiwi

KIWI = CATEGORIES["rotting_kiwi"]
KIWI_Q = "What is the minimum number of minutes that must elapse until no cell has a fresh kiwi?"
IDS = {"empty": 0, "fresh": 1, "rotten": 2}


def kiwi(grid):
    return {"ids": IDS, "timestep": {"minute_0": grid}}


def test_kiwi_hand_solved_instances():
    assert KIWI.solve(kiwi([[2, 1, 1], [1, 1, 1], [1, 1, 1]]), KIWI_Q) == "4"  # farthest corner is 4 steps away
    assert KIWI.solve(kiwi([[1, 1, 1], [1, 2, 1], [1, 1, 1]]), KIWI_Q) == "2"
    assert KIWI.solve(kiwi([[2, 0, 0], [0, 0, 0], [0, 0, 2]]), KIWI_Q) == "0"
    # a snake around empties: the rot must go the long way round
    assert KIWI.solve(kiwi([[2, 1, 1], [0, 0, 1], [1, 1, 1]]), KIWI_Q) == "6"


def test_kiwi_ignores_later_minutes_of_the_record():
    sol = kiwi([[2, 1, 1], [1, 1, 1], [1, 1, 1]])
    sol["timestep"]["minute_1"] = [[2, 2, 2], [2, 2, 2], [2, 2, 2]]
    assert KIWI.solve(sol, KIWI_Q) == "4"


@pytest.mark.parametrize(
    "solution, match",
    [
        (kiwi([[2, 0, 1], [0, 0, 0], [0, 0, 0]]), "never rots"),
        (kiwi([[2, 3, 1], [0, 0, 0], [0, 0, 0]]), "0, 1 or 2"),
        (kiwi([[2, 1], [0, 0, 0]]), "rectangular"),
        ({"ids": {"empty": 0, "fresh": 2, "rotten": 1}, "timestep": {"minute_0": [[2]]}}, "'ids'"),
        ({"ids": IDS, "timestep": {"minute_1": [[2]]}}, "minute_0"),
        ({"ids": IDS}, "missing key"),
    ],
)
def test_kiwi_bad_input(solution, match):
    with pytest.raises(PuzzleError, match=match):
        KIWI.solve(solution, KIWI_Q)


def test_kiwi_parse_needs_a_whole_grid_that_rots():
    text = KIWI.describe(kiwi([[2, 1, 0], [0, 0, 0], [1, 1, 1]]))  # the bottom row never rots
    assert KIWI.parse(text) is None
    text = KIWI.describe(kiwi([[2, 1, 0], [0, 1, 0], [1, 1, 1]]))
    assert KIWI.parse(text)["timestep"]["minute_0"] == [[2, 1, 0], [0, 1, 0], [1, 1, 1]]
    assert KIWI.parse(text.replace("row 3: F F F", "")) is None  # "3 x 3" but 2 rows
    assert KIWI.parse(text.replace("row 3: F F F", "row 3: F F")) is None  # a short row
    assert KIWI.claims("row 1: R F _ row 2: _ F _") == ["row 1: r f _", "row 2: _ f _"]  # "r" of "row" is no cell


def test_kiwi_describe_uses_legend():
    text = KIWI.describe(kiwi([[2, 1, 0], [0, 0, 0], [1, 1, 1]]))
    assert "row 1: R F _" in text and "R = rotten kiwi" in text


# ---------------------------------------------------------------- all five


@pytest.mark.parametrize("category, answers", [("tower_of_hanoi", 6), ("water_jugs", 4), ("rotting_kiwi", 6)])
def test_sampled_answers_cover_the_released_range(category, answers):
    puzzle, rng = CATEGORIES[category], random.Random(0)
    seen = {puzzle.solve(*puzzle.sample(rng)) for _ in range(120)}
    assert seen == {str(d) for d in range(1, answers + 1)}


@pytest.mark.parametrize("category", OOD)
def test_render_is_deterministic_and_sized(category):
    puzzle = CATEGORIES[category]
    solution, _ = puzzle.sample(random.Random(3))
    a, b = puzzle.render(solution, 256), puzzle.render(json.loads(json.dumps(solution)), 256)
    assert a.mode == "RGB" and max(a.size) == 256
    assert a.tobytes() == b.tobytes()
    with pytest.raises(VisreasonError, match="size"):
        puzzle.render(solution, 0)


@pytest.mark.parametrize(
    "puzzle, solution, question",
    [
        (HANOI, {"start_position": [[2, 1], [], []], "end_position": [[], [], [2, 1]]}, HANOI_Q),
        (JUGS, CLASSIC_JUGS, JUGS_Q),
        (CHECKER, {"start_position": "G_R", "end_position": "RG_"}, CHECKER_Q),
        (KIWI, kiwi([[2, 1]]), KIWI_Q),
    ],
)
def test_question_must_ask_what_the_category_answers(puzzle, solution, question):
    puzzle.solve(solution, "  " + question.upper().replace(" ", "\n "))  # case and line breaks do not matter
    with pytest.raises(PuzzleError, match="question does not ask"):
        puzzle.solve(solution, "How many disks are there?")


@pytest.mark.parametrize("category", OOD)
def test_not_a_dict_is_a_clear_error(category):
    with pytest.raises(PuzzleError, match=category):
        CATEGORIES[category].solve([1, 2, 3], "")
