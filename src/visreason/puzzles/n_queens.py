"""N-queens: complete a board with two queens missing; the Manhattan distance between them.

State (released keys): `rows` = `columns` = n (8, 9 or 10), `given_queen_positions`
(n - 2 [row, column] squares, sorted) and the derived `missing_queen_positions` (the 2
squares that complete the board, sorted). The start state is the board size and the
given queens; the solver never reads the derived key: it places the two queens by
backtracking and refuses a board with no completion, or with completions at different
distances. (With two queens missing there is no such board: the other completion, where
it exists, swaps the two columns, which keeps the distance.)

Sampling follows the AlgoPuzzleVQA generator (`generation/n_queens.py`): n is 8, 9 or 10
in the released proportions 30/35/35, the solution uniform among all n-queens solutions,
and the two removed queens a uniform pair; like the generator, we keep the about 0.7% of
boards that have a second completion. Options follow the released records: the answer
and three other values of 3-15. What differs: a seeded `random.Random`, sizes drawn with
those weights rather than in fixed blocks of 30/35/35, and duplicates left to the caller.

>>> given = [[0, 6], [1, 2], [3, 5], [4, 7], [5, 4], [7, 3]]
>>> completions(8, given)
[[(2, 0), (6, 1)]]
"""

from __future__ import annotations

import functools
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, normalize, require_keys, require_size, uniform_options

KEYS = ("rows", "columns", "given_queen_positions")  # the start state; `missing_queen_positions` is derived
SIZES, SIZE_WEIGHTS = (8, 9, 10), (30, 35, 35)  # as released
OPTION_RANGE = (3, 15)  # the released distractors, for every board size
_SIZE = r"(?<!\w)(\d+) x (\d+) squares"
_QUEEN = r"queen at row (\d+), column (\d+)\b"
QUESTION = (
    "You are given {article} {n} * {n} chessboard. The Manhattan distance between two squares in a chessboard is "
    "equal to the minimal number of orthogonal King moves between these squares on the otherwise empty board. "
    "The objective is to place {n} chess queens on this board so that no two queens threaten each other; i.e. "
    "no two queens share the same row, column, or diagonal. {given} queens have already been placed in some of "
    "the squares of the board, as shown in the image. Suppose you pick two squares to place the two remaining "
    "queen pieces in a way that fulfills the objective. What is the Manhattan distance between these two squares?"
)
_LIGHT, _DARK = (255, 230, 179), (254, 195, 57)


def _board(solution: dict) -> tuple[int, list[tuple[int, int]]]:
    """(n, given queens) of a solution, validated."""
    require_keys(solution, KEYS, "n_queens")
    n, cols = solution["rows"], solution["columns"]
    if not (type(n) is int and 4 <= n <= 26 and n == cols):
        raise PuzzleError(f"n_queens: 'rows' and 'columns' must be the same integer in 4-26, got {n!r} x {cols!r}")
    given = solution["given_queen_positions"]
    if not isinstance(given, list) or not all(
        isinstance(q, (list, tuple)) and len(q) == 2 and all(type(v) is int and 0 <= v < n for v in q) for q in given
    ):
        raise PuzzleError(f"n_queens: 'given_queen_positions' must be [row, column] squares on the {n} x {n} board")
    return n, [tuple(q) for q in given]


def _distance(n: int, given: list) -> int:
    """The Manhattan distance between the two missing queens; PuzzleError if it is not one number."""
    if n - len(given) != 2:
        raise PuzzleError(f"n_queens: expected 2 missing queens on the {n} x {n} board, {n - len(given)} are missing")
    distances = {abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in completions(n, given)}
    if len(distances) != 1:
        raise PuzzleError(f"n_queens: the given queens have {'no' if not distances else 'an ambiguous'} completion")
    return distances.pop()


def completions(n: int, given: list) -> list[list[tuple[int, int]]]:
    """Every way to place the missing queens (one per free row) so that no two of the n
    queens attack each other, each as a sorted list of squares. Backtracking."""
    given = [tuple(q) for q in given]
    rows, cols = {r for r, _ in given}, {c for _, c in given}
    diag, anti = {r - c for r, c in given}, {r + c for r, c in given}
    if len(rows) < len(given) or len(cols) < len(given) or len(diag) < len(given) or len(anti) < len(given):
        return []  # the given queens already attack each other
    free_rows = [r for r in range(n) if r not in rows]
    found, placed = [], []

    def place(i: int) -> None:
        if i == len(free_rows):
            found.append(sorted(placed))
            return
        r = free_rows[i]
        for c in range(n):
            if c not in cols and r - c not in diag and r + c not in anti:
                cols.add(c), diag.add(r - c), anti.add(r + c), placed.append((r, c))
                place(i + 1)
                cols.discard(c), diag.discard(r - c), anti.discard(r + c), placed.pop()

    place(0)
    return found


@functools.lru_cache(maxsize=4)
def all_solutions(n: int) -> tuple[tuple[int, ...], ...]:
    """Every n-queens solution as its column per row (92 for n = 8, 724 for n = 10)."""
    return tuple(tuple(c for _, c in sol) for sol in completions(n, []))


class NQueens(Puzzle):
    name = "n_queens"
    claim_pattern = r"(?<!\w)(?:\d+ x \d+ squares|queen at row \d+, column \d+\b)"

    def solve(self, solution: dict, question: str) -> str:
        text = normalize(question) if isinstance(question, str) else ""
        if "manhattan distance" not in text or "two remaining" not in text:
            raise PuzzleError(
                f"n_queens: the question does not ask for the Manhattan distance between the two remaining "
                f"queens: {str(question)[-120:]!r}"
            )
        n, given = _board(solution)
        asked = re.search(r"(\d+)\s*\*\s*(\d+)\s+chessboard", text)
        if asked and (int(asked.group(1)), int(asked.group(2))) != (n, n):
            raise PuzzleError(f"n_queens: the question's board {asked.group(0)!r} is not the solution's {n} x {n}")
        return str(_distance(n, given))

    def start_state(self, solution: dict) -> dict:
        n, given = _board(solution)
        return {"n": n, "queens": sorted([r, c] for r, c in given)}

    def parse(self, text: str) -> dict | None:
        """The board stated as describe states it: "n x n squares" and the n - 2 given queens
        ("queen at row r, column c"; "with k queens already placed", where stated, must count
        them). None unless that is a board whose two missing queens can be placed."""
        if not isinstance(text, str):
            return None
        text = normalize(text)
        sizes = set(re.findall(_SIZE, text))
        if len(sizes) != 1:
            return None
        n, cols = map(int, sizes.pop())
        queens = sorted({(int(r), int(c)) for r, c in re.findall(_QUEEN, text)})
        if any(int(k) != len(queens) for k in re.findall(r"with (\d+) queens already placed", text)):
            return None
        solution = {"rows": n, "columns": cols, "given_queen_positions": [list(q) for q in queens]}
        try:
            _distance(*_board(solution))
        except PuzzleError:
            return None
        return solution

    def describe(self, solution: dict) -> str:
        n, given = _board(solution)
        facts = self.facts(solution)
        return (
            f"A chessboard of {facts[0]}, rows numbered 0-{n - 1} from the top and columns 0-{n - 1} from the left, "
            f"with {len(given)} queens already placed: " + "; ".join(facts[1:]) + "."
        )

    def facts(self, solution: dict) -> list[str]:
        n, given = _board(solution)
        return [f"{n} x {n} squares"] + [f"queen at row {r}, column {c}" for r, c in given]

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """A uniform random full solution with a uniform pair of its queens removed."""
        n = rng.choices(SIZES, SIZE_WEIGHTS)[0]
        cols = rng.choice(all_solutions(n))
        missing = sorted(rng.sample(range(n), 2))
        given = [[r, c] for r, c in enumerate(cols) if r not in missing]
        solution = {
            "rows": n,
            "columns": n,
            "given_queen_positions": given,
            "missing_queen_positions": [[r, cols[r]] for r in missing],
        }
        article = "an" if n in (8, 11, 18) else "a"
        return solution, QUESTION.format(article=article, n=n, given=n - 2)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distinct others of 3-15, uniformly, as released."""
        return uniform_options(answer, rng, *OPTION_RANGE)

    def render(self, solution: dict, size: int) -> Image.Image:
        """A yellow-orange chequered board (top-left square light) with white queens."""
        require_size(size, self.name)
        n, given = _board(solution)
        image = _empty_board(n, size).copy()
        cell = (size - 2 * _margin(size)) // n
        offset = (size - cell * n) // 2
        queen = _queen(cell)
        for r, c in given:
            image.paste(queen, (offset + c * cell, offset + r * cell), queen)
        return image


def _margin(size: int) -> int:
    return round(size / 64)


@functools.lru_cache(maxsize=16)
def _empty_board(n: int, size: int) -> Image.Image:
    cell = (size - 2 * _margin(size)) // n
    offset = (size - cell * n) // 2
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for r in range(n):
        for c in range(n):
            x, y = offset + c * cell, offset + r * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=_LIGHT if (r + c) % 2 == 0 else _DARK)
    return image


@functools.lru_cache(maxsize=16)
def _queen(cell: int) -> Image.Image:
    """A white crown with a black outline (RGBA, `cell` px), drawn at 4x and reduced."""
    s = 4 * cell
    u = s / 100
    image = Image.new("RGBA", (s, s), (255, 255, 255, 0))
    d = ImageDraw.Draw(image)
    line = max(1, round(2.5 * u))
    white, black = (255, 255, 255, 255), (0, 0, 0, 255)
    tips = [(24, 36), (37, 31), (50, 29), (63, 31), (76, 36)]
    crown = [(30 * u, 64 * u), (24 * u, 36 * u), (37 * u, 52 * u), (37 * u, 31 * u), (46 * u, 50 * u), (50 * u, 29 * u),
             (54 * u, 50 * u), (63 * u, 31 * u), (63 * u, 52 * u), (76 * u, 36 * u), (70 * u, 64 * u)]  # fmt: skip
    d.polygon(crown, fill=white, outline=black, width=line)
    d.rounded_rectangle((29 * u, 63 * u, 71 * u, 74 * u), radius=3 * u, fill=white, outline=black, width=line)
    for x, y in tips:
        d.ellipse(((x - 3.5) * u, (y - 3.5) * u, (x + 3.5) * u, (y + 3.5) * u), fill=white, outline=black, width=line)
    return image.reduce(4)
