"""wood_slide: shortest solutions by hand, unreachable ends, bad input, the sampler against the
100 released records, options, determinism and the image. The shared checks (all released
answers, the contract) live in test_puzzles.py and test_puzzle_contract.py."""

from __future__ import annotations

import copy
import json
import math
import random
from collections import Counter

import pytest

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError, bfs
from visreason.puzzles.wood_slide import (
    CLASSIC,
    QUESTION,
    WOOD,
    Board,
    classic_arrangements,
    same_shape_table,
    successors,
)

PUZZLE = CATEGORIES["wood_slide"]
N = 600
ASK = "What is the minimum number of moves required to reach the ending configuration from the starting configuration?"


@pytest.fixture(scope="module")
def released(shared_data):
    with open(shared_data / "data" / "wood_slide.json") as f:
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


def moves(start: str, end: str, question: str = ASK) -> str:
    return PUZZLE.solve({"start_position": start, "end_position": end}, question)


# ---------------------------------------------------------------- the solver, by hand


def test_released_first_record_by_hand(released):
    rec = released[0]["solution"]
    # the 1 x 1 block 5 slides down into the empty cell below it
    assert (rec["start_position"], rec["end_position"]) == (
        "4722\n5733\n0611\n0611\n8899",
        "4722\n0733\n5611\n0611\n8899",
    )
    assert moves(rec["start_position"], rec["end_position"], released[0]["question"]) == "1"


def test_small_grids_by_hand():
    assert moves("12\n30", "12\n30") == "0"  # already there
    # a 2 x 2 block slides one cell per move
    assert moves("1100\n1100", "0110\n0110") == "1"
    assert moves("1100\n1100", "0011\n0011") == "2"
    # three 1 x 1 blocks round one empty cell: 2 down, 1 right, 3 up, 2 left (the other way round takes 8)
    assert moves("12\n30", "31\n20") == "4"
    # 22 must go down (1 move) and 3 from the lower left to the upper right (3 moves at least), but 22
    # cannot go down while 3 is under half of it: 3 right, right, up, then 22 down
    assert moves("220\n300", "003\n220") == "4"


def test_blocks_are_told_apart_by_their_digit():
    # swapping the two 1 x 1 blocks of the 2 x 2 ring cannot be done: the ring only rotates
    with pytest.raises(PuzzleError, match=r"wood_slide: the end position '21\\n30' cannot be reached"):
        moves("12\n30", "21\n30")


def test_a_block_needs_every_cell_it_moves_into():
    # the 1 x 2 block cannot move down while block 3 sits under half of it, and 3 can only move left
    with pytest.raises(PuzzleError, match="cannot be reached from the start position '22\\\\n03'"):
        moves("22\n03", "03\n22")


@pytest.mark.slow
def test_an_unreachable_classic_end_is_refused():
    # two 1 x 2 blocks swapped: no moves do that (the search exhausts the 67,104 grids reachable)
    swapped = CLASSIC.replace("2", "x").replace("3", "2").replace("x", "3")
    with pytest.raises(PuzzleError, match="cannot be reached"):
        moves(CLASSIC, swapped, QUESTION)


def test_successors_by_hand():
    # the classic start 1122/1133/4500/6788/6799: only blocks next to the two empty cells can move,
    # and only towards them: 3 (1 x 2, above) down, 5 (1 x 1, left of them) right, 8 (1 x 2, below) up
    assert sorted(successors(CLASSIC.replace("\n", ""), 5, 4)) == sorted(
        ["11221100453367886799", "11221133405067886799", "11221133458867006799"]
    )


def test_derived_moves_are_not_read(released):
    rec = released[1]
    garbled = copy.deepcopy(rec["solution"])
    garbled["moves"] = ["nonsense"]
    assert PUZZLE.solve(garbled, rec["question"]) == rec["answer"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "solution, named",
    [
        ({"start_position": "4722\n5733\n0611\n0611\n8899"}, "missing key.*'end_position'"),
        ({"end_position": "4722\n5733\n0611\n0611\n8899"}, "missing key.*'start_position'"),
        ({"start_position": ["4722"], "end_position": "4722"}, "'start_position' must be"),
        ({"start_position": "12\n3", "end_position": "12\n30"}, "'start_position' must be"),
        ({"start_position": "1a\n30", "end_position": "12\n30"}, "'start_position' must be"),
        ({"start_position": "12\n30", "end_position": "11\n10"}, "block 1 of 'end_position' is not a rectangle"),
        ({"start_position": "12\n30", "end_position": "120\n300"}, "is 2 x 2 but 'end_position' is 2 x 3"),
        ({"start_position": "12\n30", "end_position": "12\n00"}, "do not hold the same blocks"),
        ({"start_position": "120\n300", "end_position": "110\n300"}, "do not hold the same blocks"),
    ],
)
def test_bad_states_are_named(solution, named):
    with pytest.raises(PuzzleError, match=named):
        PUZZLE.solve(solution, ASK)


def test_questions_that_disagree_with_the_state_are_refused(released):
    rec = released[0]
    with pytest.raises(PuzzleError, match="question"):
        PUZZLE.solve(rec["solution"], "How many blocks are brown?")
    with pytest.raises(PuzzleError, match="grid 'grid size 4 \\* 4 units'"):
        PUZZLE.solve(rec["solution"], QUESTION.replace("5 * 4", "4 * 4"))
    with pytest.raises(PuzzleError, match="blocks"):
        PUZZLE.solve(rec["solution"], QUESTION.replace("four 1 * 2", "three 1 * 2"))
    with pytest.raises(PuzzleError, match="empty"):
        PUZZLE.solve(rec["solution"], QUESTION.replace("two empty", "three empty"))
    small = {"start_position": "12\n30", "end_position": "10\n32"}
    with pytest.raises(PuzzleError, match="grid"):
        PUZZLE.solve(small, QUESTION)  # the released question describes the 5 x 4 puzzle


def test_bad_sizes_are_refused(released):
    for size in (0, 16, 31, 512.0, "512"):
        with pytest.raises(PuzzleError, match="size"):
            PUZZLE.render(released[0]["solution"], size)


# ---------------------------------------------------------------- the sampler against the released records


def test_sampled_answers_match_the_released_spread(released, sampled):
    gen = Counter(PUZZLE.solve(s, q) for s, q in sampled)
    rel = Counter(r["answer"] for r in released)
    assert set(gen) == set(rel) == {"1", "2", "3", "4", "5"}
    assert not close(gen, rel, N, len(released)), (gen, rel)
    for value in gen:  # and d is uniform, as declared
        assert abs(gen[value] / N - 0.2) < 4 * math.sqrt(0.16 / N)


def test_sampled_puzzles_use_the_released_blocks_and_question(released, sampled):
    shapes = {json.dumps(Board(r["solution"]["start_position"], "s").shapes) for r in released}
    assert shapes == {json.dumps(Board(CLASSIC, "classic").shapes)}  # one block set, one labelling by shape
    assert {r["question"] for r in released} == {QUESTION}
    for solution, question in sampled:
        assert question == QUESTION
        for key in ("start_position", "end_position"):
            board = Board(solution[key], key)
            assert (board.rows, board.cols, board.cells.count("0")) == (5, 4, 2)
            assert json.dumps(board.shapes) in shapes


def test_sampled_starts_are_arrangements_of_the_classic_puzzle(released, sampled):
    table = same_shape_table(Board(CLASSIC, "classic").shapes)
    arrangements = {s.translate(table) for s in classic_arrangements()}
    assert len(arrangements) == 1398
    for rec in released:  # the released starts lie on a solution of the classic puzzle
        assert rec["solution"]["start_position"].replace("\n", "").translate(table) in arrangements
    starts = [s["start_position"].replace("\n", "") for s, _ in sampled]
    assert all(s.translate(table) in arrangements for s in starts)
    assert len(set(starts)) > 0.95 * N  # spread over the arrangements and their labellings


def test_sampled_moves_are_a_shortest_solution(sampled):
    for solution, question in sampled[:100]:
        path = [m.replace("\n", "") for m in solution["moves"]]
        assert solution["moves"][0] == solution["start_position"] and solution["moves"][-1] == solution["end_position"]
        assert all(b in set(successors(a, 5, 4)) for a, b in zip(path, path[1:]))
        assert str(len(path) - 1) == PUZZLE.solve(solution, question)


def test_same_shape_blocks_never_give_a_shorter_answer(released, sampled):
    """Telling same-shape blocks apart never matters, in the released records and in ours: no grid
    that differs from the end only by a same-shape swap is nearer to the start."""
    table = same_shape_table(Board(CLASSIC, "classic").shapes)
    pairs = [(r["solution"], r["question"]) for r in released] + sampled[:150]
    for solution, question in pairs:
        start, end = (solution[k].replace("\n", "") for k in ("start_position", "end_position"))
        d = int(PUZZLE.solve(solution, question))
        seen = bfs(start, lambda s: successors(s, 5, 4), max_depth=d - 1)
        assert end.translate(table) not in {s.translate(table) for s in seen}


# ---------------------------------------------------------------- options, determinism, image


def test_options_span_the_released_range(released, sampled):
    rng = random.Random(1)
    for solution, question in sampled[:200]:
        answer = PUZZLE.solve(solution, question)
        opts = PUZZLE.options(answer, solution, rng)
        assert len(opts) == len(set(opts)) == 4 and answer in opts
        assert set(opts) <= {"1", "2", "3", "4", "5", "6"}
    assert {o for r in released for o in r["options"]} == {"1", "2", "3", "4", "5", "6"}


def test_determinism():
    def one(seed):
        rng = random.Random(seed)
        solution, question = PUZZLE.sample(rng)
        answer = PUZZLE.solve(solution, question)
        return solution, question, PUZZLE.options(answer, solution, rng), PUZZLE.render(solution, 96).tobytes()

    assert one(3) == one(3)
    assert len({json.dumps(one(seed)[:3]) for seed in range(30)}) == 30


def test_image_matches_the_released_layout(released, shared_data):
    from PIL import Image

    rec = released[0]
    image = PUZZLE.render(rec["solution"], 512)
    theirs = Image.open(shared_data / "data" / rec["image"]).size
    assert image.mode == "RGB" and image.width == 512 and abs(image.height - theirs[1]) <= 4
    # "4722/5733/0611/0611/8899": each block in its released shade, the empty cells white
    unit = 512 / (2 * 4 + 0.98 + 0.8)

    def cell(grid: int, r: int, c: int):  # the centre of a cell of the start (0) or end (1) grid
        return image.getpixel((round((0.4 + grid * 4.98 + c + 0.5) * unit), round((0.4 + r + 0.5) * unit)))

    assert cell(0, 0, 0) == WOOD["4"] and cell(0, 2, 2) == WOOD["1"] and cell(0, 4, 3) == WOOD["9"]
    assert cell(0, 2, 0) == (255, 255, 255) and cell(1, 1, 0) == (255, 255, 255) and cell(1, 2, 0) == WOOD["5"]
