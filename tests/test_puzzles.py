"""The puzzle engine, checked against the released AlgoPuzzleVQA records and against itself.

Every test runs for every AlgoPuzzleVQA category of the registry: the solvers must reproduce
all 1,800 released answers, generated puzzles must re-solve and be deterministic, descriptions must
state every fact, and bad input must stop with an error that names the problem.
"""

from __future__ import annotations

import copy
import json
import random
import re
from typing import NamedTuple

import pytest
from PIL import Image

from visreason import VisreasonError
from visreason.puzzles import ALGOPUZZLEVQA, CATEGORIES
from visreason.puzzles.base import PuzzleError, normalize, uniform_options

NAMES = sorted(ALGOPUZZLEVQA)
IN_DOMAIN = ["clock", "maze", "move_box", "n_queens"]
N_GENERATED = 50
BAD_INPUT = (ValueError, VisreasonError)


class Generated(NamedTuple):
    question: str
    options: list[str]
    answer: str
    solution: dict
    image: Image.Image


def generate(puzzle, seed: int, size: int = 64) -> Generated:
    """One puzzle as `visreason data build` makes it: sample, solve, options, render, from one RNG."""
    rng = random.Random(seed)
    solution, question = puzzle.sample(rng)
    answer = puzzle.solve(solution, question)
    return Generated(question, puzzle.options(answer, solution, rng), answer, solution, puzzle.render(solution, size))


@pytest.fixture(scope="module")
def released(shared_data):
    """category -> its 100 released records."""
    out = {}
    for name in NAMES:
        with open(shared_data / "data" / f"{name}.json") as f:
            out[name] = [json.loads(line) for line in f if line.strip()]
    return out


@pytest.fixture(scope="module")
def generated():
    """category -> N_GENERATED puzzles from seeds 0..N-1, 64 px (drawing is size-generic)."""
    return {name: [generate(CATEGORIES[name], seed) for seed in range(N_GENERATED)] for name in NAMES}


def test_registry_has_every_released_category(shared_data):
    assert NAMES == sorted(p.stem for p in (shared_data / "data").glob("*.json")) and len(NAMES) == 18
    assert all(CATEGORIES[name].name == name for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_golden_released_answers(name, released):
    puzzle = CATEGORIES[name]
    records = released[name]
    assert len(records) == 100
    wrong = [
        (i, rec["answer"], got)
        for i, rec in enumerate(records)
        if (got := puzzle.solve(rec["solution"], rec["question"])) != rec["answer"]
    ]
    assert not wrong, f"{len(wrong)} released {name} answers not reproduced (index, gold, got): {wrong[:5]}"
    for rec in records:
        text, facts = puzzle.describe(rec["solution"]), puzzle.facts(rec["solution"])
        assert text and facts
        missing = [f for f in facts if normalize(f) not in normalize(text)]
        assert not missing, f"{name} {rec['image']}: describe() lacks facts {missing[:3]}"


@pytest.mark.parametrize("name", NAMES)
def test_generated_puzzles_resolve(name, released, generated):
    puzzle = CATEGORIES[name]
    released_keys = {tuple(sorted(rec["solution"])) for rec in released[name]}
    for g in generated[name]:
        assert tuple(sorted(g.solution)) in released_keys, f"{name}: keys {sorted(g.solution)} are not released keys"
        # JSON round trip: what the dataset stores is what gets re-solved.
        solution = json.loads(json.dumps(g.solution))
        assert puzzle.solve(solution, g.question) == g.answer
        assert isinstance(g.answer, str) and g.answer
        n_options = {len(rec["options"]) for rec in released[name]}  # 4, or 2 for yes/no (board_tile)
        assert {len(g.options)} == n_options and len(set(g.options)) == len(g.options) and g.answer in g.options
        assert all(isinstance(o, str) for o in g.options)
        assert g.image.mode == "RGB" and max(g.image.size) == 64
        assert puzzle.fact_fidelity(puzzle.describe(solution), solution)[0] == len(puzzle.facts(solution))


@pytest.mark.parametrize("name", NAMES)
def test_generation_is_deterministic(name, generated):
    puzzle = CATEGORIES[name]
    for seed in (0, 7):
        again = generate(puzzle, seed)
        first = generated[name][seed]
        assert (again.solution, again.question, again.options, again.answer) == (
            first.solution,
            first.question,
            first.options,
            first.answer,
        )
        assert again.image.tobytes() == first.image.tobytes()
    # and the seed matters
    assert len({json.dumps(g.solution, sort_keys=True) for g in generated[name]}) > N_GENERATED // 2


@pytest.mark.parametrize("name", NAMES)
def test_render_size_and_bytes(name, released):
    puzzle = CATEGORIES[name]
    solution = released[name][0]["solution"]
    image = puzzle.render(solution, 512)
    assert isinstance(image, Image.Image) and image.mode == "RGB" and max(image.size) == 512
    assert puzzle.render(solution, 512).tobytes() == image.tobytes()
    assert any(lo != hi for lo, hi in image.getextrema()), f"{name}: blank image"


def _mask(question: str) -> str:
    """A question with numbers and first names masked: its template."""
    question = re.sub(r"\d+", "N", question)
    return re.sub(r"\b[A-Z][a-z]+\b(?='s event| came)", "X", question)


@pytest.mark.parametrize("name", IN_DOMAIN)
def test_questions_use_released_templates(name, released, generated):
    templates = {_mask(rec["question"]) for rec in released[name]}
    used = {_mask(g.question) for g in generated[name]}
    assert used <= templates, f"{name}: questions outside the released wording: {sorted(used - templates)[:2]}"
    assert len(used) == len(templates) or name != "maze", "maze: all 4 question types should be generated"


@pytest.mark.parametrize("name", IN_DOMAIN)
def test_answer_spread(name, generated):
    """Generated answers vary like the released ones (no degenerate generator)."""
    answers = [g.answer for g in generated[name]]
    assert len(set(answers)) >= 4


@pytest.mark.parametrize("name", NAMES)
def test_fact_fidelity(name, released):
    puzzle = CATEGORIES[name]
    for rec in released[name][:10]:
        solution = rec["solution"]
        facts = puzzle.facts(solution)
        text = puzzle.describe(solution)
        assert puzzle.fact_fidelity(text, solution) == (len(facts), len(facts))
        # One fact stated wrongly (a digit changed, else a letter) scores lower.
        fact = next((f for f in facts if re.search(r"\d", f)), facts[0])
        wrong = re.sub(r"\d", lambda m: str((int(m.group()) + 1) % 10), fact, count=1)
        if wrong == fact:
            wrong = fact[:-1] + ("x" if fact[-1] != "x" else "y")
        caption = normalize(text).replace(normalize(fact), normalize(wrong))
        assert puzzle.fact_fidelity(caption, solution)[0] < len(facts)
        assert puzzle.fact_fidelity("", solution) == (0, len(facts))


@pytest.mark.parametrize("name", NAMES)
def test_missing_key_is_named(name, released):
    """Dropping a key the solver reads stops with an error naming it; dropping one it does
    not read (a derived key such as a precomputed path) must leave the answer unchanged.
    Never a bare KeyError or a wrong answer."""
    puzzle = CATEGORIES[name]
    rec = released[name][0]
    named = 0
    for key in rec["solution"]:
        broken = copy.deepcopy(rec["solution"])
        del broken[key]
        try:
            answer = puzzle.solve(broken, rec["question"])
        except BAD_INPUT as err:
            assert key in str(err), f"{name}: error for missing {key!r} does not name it: {err}"
            named += 1
        else:
            assert answer == rec["answer"], f"{name}: without {key!r} the answer changed to {answer!r}"
    assert named >= 1, f"{name}: no missing key was reported"


# The keys of the state the image shows; every other released key is derived from them.
START_KEYS = {
    "clock": ("current_hour", "current_minute"),
    "maze": ("maze",),
    "move_box": ("ids", "timestep"),
    "n_queens": ("rows", "columns", "given_queen_positions"),
}


@pytest.mark.parametrize("name", IN_DOMAIN)
def test_in_domain_solvers_require_the_start_state_only(name, released):
    """Dropping a start-state key stops solve and describe with an error naming it; the derived
    keys (stored path, turn counts, later grids, missing queens, the clock's repeated duration)
    may all be missing at once, as in a parsed description."""
    puzzle = CATEGORIES[name]
    rec = released[name][0]
    for key in START_KEYS[name]:
        broken = {k: v for k, v in rec["solution"].items() if k != key}
        with pytest.raises(PuzzleError, match=re.escape(key)):
            puzzle.solve(broken, rec["question"])
        with pytest.raises(PuzzleError, match=re.escape(key)):
            puzzle.describe(broken)
    bare = {k: rec["solution"][k] for k in START_KEYS[name]}
    if name == "move_box":
        bare["timestep"] = {"grid_0": rec["solution"]["timestep"]["grid_0"]}
    assert puzzle.solve(bare, rec["question"]) == rec["answer"]
    assert puzzle.describe(bare) == puzzle.describe(rec["solution"])
    assert puzzle.identity(bare, rec["question"]) == puzzle.identity(rec["solution"], rec["question"])
    if name == "clock":  # half a duration is a mistyped record, not a parsed one
        for key in set(rec["solution"]) - set(START_KEYS[name]):
            broken = {k: v for k, v in rec["solution"].items() if k != key}
            with pytest.raises(PuzzleError, match=re.escape(key)):
                puzzle.solve(broken, rec["question"])


@pytest.mark.parametrize("name", NAMES)
def test_malformed_question_is_rejected(name, released):
    puzzle = CATEGORIES[name]
    rec = released[name][0]
    with pytest.raises(BAD_INPUT, match="question"):
        puzzle.solve(rec["solution"], "What is the colour of the sky?")


@pytest.mark.parametrize("name", IN_DOMAIN)
def test_bad_size_is_rejected(name, released):
    solution = released[name][0]["solution"]
    for size in (0, -5, 8, 512.0, "512"):
        with pytest.raises(PuzzleError, match="size"):
            CATEGORIES[name].render(solution, size)


def test_clock_twelve_is_written_zero():
    clock = CATEGORIES["clock"]
    solution = {"current_hour": 11, "current_minute": 50, "add_hour": 0, "add_minute": 20}
    assert clock.solve(solution, "Emily's event is going to start in 20 minutes.") == "0:10"
    solution = {"current_hour": 12, "current_minute": 5, "subtract_hour": 1, "subtract_minute": 10}
    assert clock.solve(solution, "Tyler came to an event 1 hour 10 minutes ago.") == "10:55"


def test_clock_question_must_agree_with_state():
    clock = CATEGORIES["clock"]
    solution = {"current_hour": 3, "current_minute": 0, "add_hour": 1, "add_minute": 5}
    with pytest.raises(PuzzleError, match="disagrees"):
        clock.solve(solution, "Emily's event is going to start in 2 hours 5 minutes.")
    with pytest.raises(PuzzleError, match="subtract_hour"):
        clock.solve(solution, "Emily came to an event 1 hour 5 minutes ago.")
    with pytest.raises(PuzzleError, match="current time"):
        clock.solve({**solution, "current_hour": 13}, "Emily's event is going to start in 1 hour 5 minutes.")


def test_clock_options_are_times():
    clock = CATEGORIES["clock"]
    for seed in range(20):
        g = generate(clock, seed)
        assert all(re.fullmatch(r"(1[01]|\d):[0-5]\d", o) for o in g.options), g.options


@pytest.mark.parametrize("kind, expected", [("left", "1"), ("right", "2"), ("total", "3"), ("cells", "7")])
def test_maze_question_types(kind, expected):
    from visreason.puzzles.maze import ASKS, PREAMBLE

    grid = [[1, 1, 1, 1, 1], [0, 0, 1, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 0, 1], [1, 1, 1, 0, 1]]
    solution = {"maze": grid, "optimal_path": [], "optimal_path_length": 0,
                "left_turns": 0, "right_turns": 0, "total_turns": 0}  # fmt: skip
    question = PREAMBLE.format(rows=5, columns=5) + ASKS[kind]
    assert CATEGORIES["maze"].solve(solution, question) == expected


def test_maze_prefers_fewer_turns_among_shortest_paths():
    from visreason.puzzles.maze import count_turns, shortest_path

    # Two 7-cell routes from (1, 0) to (4, 3): a staircase (3 turns) and an L (1 turn).
    grid = [[1, 1, 1, 1, 1], [0, 0, 0, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 0, 1], [1, 1, 1, 0, 1]]
    path = shortest_path(grid)
    assert len(path) == 7 and sum(count_turns(path)) == 1


def test_maze_needs_two_openings():
    solution = {"maze": [[1, 1, 1], [0, 0, 1], [1, 1, 1]], "optimal_path": [], "optimal_path_length": 0,
                "left_turns": 0, "right_turns": 0, "total_turns": 0}  # fmt: skip
    with pytest.raises(PuzzleError, match="border"):
        CATEGORIES["maze"].solve(solution, "How many cells do you need to visit in this optimal path?")


def test_move_box_unreachable_and_inconsistent_target(released):
    move_box = CATEGORIES["move_box"]
    rec = released["move_box"][0]
    moved = copy.deepcopy(rec["solution"])
    moved["target"] = [1, 1]
    with pytest.raises(PuzzleError, match="target"):
        move_box.solve(moved, rec["question"])
    stuck = copy.deepcopy(rec["solution"])
    grid = stuck["timestep"]["grid_0"]
    grid[2][2], grid[1][3] = ".", "B"  # box in a corner: cannot be pushed anywhere
    with pytest.raises(PuzzleError, match="cannot be pushed"):
        move_box.solve(stuck, rec["question"])


def test_n_queens_rejects_attacking_or_ambiguous_boards(released):
    n_queens = CATEGORIES["n_queens"]
    rec = released["n_queens"][0]
    attacking = copy.deepcopy(rec["solution"])
    attacking["given_queen_positions"][0] = [0, 2]  # same column as the queen at (1, 2)
    with pytest.raises(PuzzleError, match="no completion"):
        n_queens.solve(attacking, rec["question"])
    short = copy.deepcopy(rec["solution"])
    short["given_queen_positions"] = short["given_queen_positions"][:-1]
    with pytest.raises(PuzzleError, match="3 are missing"):
        n_queens.solve(short, rec["question"])


def test_uniform_options():
    rng = random.Random(0)
    for answer in ("0", "3", "9"):
        opts = uniform_options(answer, rng, 0, 9)
        assert len(set(opts)) == 4 and answer in opts and all(0 <= int(o) <= 9 for o in opts)
    assert "12" in uniform_options("12", rng, 0, 9)  # the range widens to hold the answer
    with pytest.raises(PuzzleError, match="too small"):
        uniform_options("1", rng, 0, 2)
