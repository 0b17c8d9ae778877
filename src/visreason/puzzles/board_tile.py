"""Board tile: can 2 x 1 dominoes exactly cover a chequered board with one or two squares removed?

State (released keys): `rows` (4-9) and `columns` (5-9), `removed_positions` (the removed
[row, column] squares, sorted: two on a board of even area, one on an odd one) and the derived
`board` (every square's RGB colour in 0-1, white where removed), `color1`/`color2` (dark and
light yellow) and `squares_of_color1`/`squares_of_color2` (how many of each are left). A square
is dark (color1) when its row plus column is even, so the top-left square is dark.

The solver reads only `rows`, `columns` and `removed_positions`. A domino always covers one
dark and one light square, so a tiling is a perfect matching between the remaining dark and
light squares, neighbour to neighbour; it searches for one by augmenting paths (Kuhn's
algorithm). Counting colours alone is not enough: on a 1 x 4 strip without its two middle
squares the colours balance, yet the two squares left are not adjacent.

>>> BoardTile().solve({"rows": 4, "columns": 5, "removed_positions": [[0, 0], [0, 1]]}, question(4, 5, 2))
'Yes'
>>> BoardTile().solve({"rows": 4, "columns": 5, "removed_positions": [[0, 0], [1, 1]]}, question(4, 5, 2))
'No'
>>> BoardTile().solve({"rows": 1, "columns": 4, "removed_positions": [[0, 1], [0, 2]]}, question(1, 4, 2))
'No'

Sampling follows the released generator (board_tile.py of declare-lab/LLM-PuzzleTest): rows
uniform in 4-9 and columns in 5-9, then two distinct squares removed (one if the area is odd)
drawn from every square but the bottom-right one, as that script draws them. We draw from a
seeded `random.Random` instead of NumPy's global state, and store the colours rounded to 4
decimals as the released records do. The script also rejects a state it has drawn before;
datasets deduplicate on `identity` instead.
"""

from __future__ import annotations

import functools
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, normalize, require_keys, require_size

KEYS = ("rows", "columns", "removed_positions")  # the start state; the other released keys derive from it
DARK, LIGHT, WHITE = (255, 195, 57), (255, 230, 179), (255, 255, 255)
COLOR1, COLOR2 = [round(v / 255, 4) for v in DARK], [round(v / 255, 4) for v in LIGHT]
QUESTION = (
    "The checkerboard shown in the image was originally of {rows} * {cols} in dimension having a total of {cells} "
    "squares. It uses two colours of squares, one light yellow and one dark yellow, in a chequered pattern. {removed} "
    "of the squares have been removed from the board in the position of the white coloured {cell}, as shown in the "
    "image. You have {dominoes} dominoes of size 2 * 1. You can use them as is or you can rotate them to use as a "
    "1 * 2 domino. Is it possible to place all the {dominoes} dominoes in the checkerboard to exactly cover all the "
    "remaining {left} squares? Answer Yes or No."
)
ASKS = "to exactly cover all the remaining"  # the phrase that identifies this category's question
COUNT_WORDS = {"one": 1, "two": 2}
_ASKED = re.compile(r"originally of (\d+) \* (\d+) in dimension.*?\b(one|two) of the squares have been removed")
_DOMINOES = re.compile(r"you have (\d+) dominoes")
_BOARD_FACT = re.compile(r"board of (\d+) rows and (\d+) columns")
_REMOVED_FACT = re.compile(r"removed square at row (\d+), column (\d+) \((dark|light) yellow\)")
_REMOVED_COUNT = re.compile(r"(\d+) squares? (?:has|have) been removed")

Square = tuple[int, int]


def question(rows: int, cols: int, removed: int) -> str:
    """The released question for a `rows` x `cols` board with `removed` (1 or 2) squares removed."""
    cells = rows * cols
    return QUESTION.format(
        rows=rows, cols=cols, cells=cells, removed="One" if removed == 1 else "Two",
        cell="cell" if removed == 1 else "cells", dominoes=(cells - removed) // 2, left=cells - removed,
    )  # fmt: skip


def parse_board(solution: dict) -> tuple[int, int, list[Square]]:
    """Validated (rows, columns, sorted removed squares)."""
    require_keys(solution, KEYS, "board_tile")
    rows, cols, removed = solution["rows"], solution["columns"], solution["removed_positions"]
    for key, v in (("rows", rows), ("columns", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 30:
            raise PuzzleError(f"board_tile: {key!r} must be an integer in 1-30, got {v!r}")
    squares = []
    for sq in removed if isinstance(removed, list) else [None]:
        if not (isinstance(sq, list | tuple) and len(sq) == 2 and all(type(v) is int for v in sq)):
            raise PuzzleError(f"board_tile: 'removed_positions' must be a list of [row, column] pairs, got {removed!r}")
        if not (0 <= sq[0] < rows and 0 <= sq[1] < cols):
            raise PuzzleError(f"board_tile: 'removed_positions' square {list(sq)} is off the {rows} x {cols} board")
        squares.append((sq[0], sq[1]))
    if not squares or len(set(squares)) != len(squares):
        raise PuzzleError(f"board_tile: 'removed_positions' must name distinct squares, got {removed!r}")
    for key, parity in (("squares_of_color1", 0), ("squares_of_color2", 1)):  # derived: checked when present
        left = sum((r + c) % 2 == parity for r in range(rows) for c in range(cols)) - sum(
            (r + c) % 2 == parity for r, c in squares
        )
        if key in solution and solution[key] != left:
            raise PuzzleError(f"board_tile: {key!r} is {solution[key]!r} but the board has {left} such squares left")
    return rows, cols, sorted(squares)


def tileable(rows: int, cols: int, removed: list[Square]) -> bool:
    """Whether dominoes exactly cover the board without `removed`: a perfect matching of the dark
    squares to adjacent light ones, grown one augmenting path at a time."""
    gone = set(removed)
    cells = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in gone]
    dark = [sq for sq in cells if sum(sq) % 2 == 0]
    if 2 * len(dark) != len(cells):
        return False  # every domino covers one square of each colour
    partner: dict[Square, Square] = {}  # light square -> the dark square it is matched to

    def augment(sq: Square, seen: set) -> bool:
        r, c = sq
        for nb in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nb[0] < rows and 0 <= nb[1] < cols and nb not in gone and nb not in seen:
                seen.add(nb)
                if nb not in partner or augment(partner[nb], seen):
                    partner[nb] = sq
                    return True
        return False

    return all(augment(sq, set()) for sq in dark)


class BoardTile(Puzzle):
    name = "board_tile"
    claim_pattern = r"\bboard of \d+ rows and \d+ columns\b|\bremoved square at row \d+, column \d+\b"

    def solve(self, solution: dict, question: str) -> str:
        rows, cols, removed = parse_board(solution)
        text = normalize(question) if isinstance(question, str) else ""
        if ASKS not in text:
            raise PuzzleError(
                f"board_tile: the question does not ask whether dominoes can cover the board: {question!r}"
            )
        asked = _ASKED.search(text)
        if not asked:
            raise PuzzleError(f"board_tile: the question does not state the board and the removed squares: {text!r}")
        if (int(asked.group(1)), int(asked.group(2))) != (rows, cols):
            raise PuzzleError(
                f"board_tile: the question's {asked.group(1)} * {asked.group(2)} board is not {rows} x {cols}"
            )
        if COUNT_WORDS[asked.group(3)] != len(removed):
            raise PuzzleError(
                f"board_tile: the question removes {asked.group(3)} square(s), 'removed_positions' {len(removed)}"
            )
        dominoes = _DOMINOES.search(text)
        if dominoes and 2 * int(dominoes.group(1)) != rows * cols - len(removed):
            raise PuzzleError(
                f"board_tile: {dominoes.group(1)} dominoes cannot cover {rows * cols - len(removed)} squares"
            )
        return "Yes" if tileable(rows, cols, removed) else "No"

    def describe(self, solution: dict) -> str:
        rows, cols, removed = parse_board(solution)
        facts = self.facts(solution)
        listed = "; ".join(f"{fact} ({_colour_name(sq)})" for fact, sq in zip(facts[1:], removed))
        return (
            f"A chequered {facts[0]}, rows numbered 0-{rows - 1} from the top and columns 0-{cols - 1} from the left. "
            f"A square is dark yellow when its row plus column is even (the top-left square is dark) and light yellow "
            f"otherwise. {len(removed)} {'square has' if len(removed) == 1 else 'squares have'} been removed (shown "
            f"white): {listed}."
        )

    def facts(self, solution: dict) -> list[str]:
        rows, cols, removed = parse_board(solution)
        return [f"board of {rows} rows and {cols} columns"] + [
            f"removed square at row {r}, column {c}" for r, c in removed
        ]

    def start_state(self, solution: dict):
        rows, cols, removed = parse_board(solution)
        return {"rows": rows, "columns": cols, "removed": [list(sq) for sq in removed]}

    def parse(self, text: str) -> dict | None:
        """The board of a `describe` text: its size, its stated number of removed squares and every one of
        them with its colour (a cut list lacks the last colour, so it does not parse)."""
        text = " ".join(text.lower().split())
        boards, counts = _BOARD_FACT.findall(text), _REMOVED_COUNT.findall(text)
        if len(boards) != 1 or len(counts) != 1:
            return None
        removed = [[int(r), int(c)] for r, c, _ in _REMOVED_FACT.findall(text)]
        colours = [colour for *_, colour in _REMOVED_FACT.findall(text)]
        if len(removed) != int(counts[0]) or any(_colour_name(sq) != f"{k} yellow" for sq, k in zip(removed, colours)):
            return None
        solution = {"rows": int(boards[0][0]), "columns": int(boards[0][1]), "removed_positions": sorted(removed)}
        try:
            parse_board(solution)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        rows, cols = rng.choice(range(4, 10)), rng.choice(range(5, 10))
        cells = rows * cols
        picks = sorted(rng.sample(range(cells - 1), 2 if cells % 2 == 0 else 1))  # never the last square, as released
        removed = [[p // cols, p % cols] for p in picks]
        board = [
            [
                [1.0, 1.0, 1.0] if [r, c] in removed else list(COLOR1 if (r + c) % 2 == 0 else COLOR2)
                for c in range(cols)
            ]
            for r in range(rows)
        ]
        left_dark = sum(v == COLOR1 for row in board for v in row)
        solution = {
            "board": board,
            "rows": rows,
            "columns": cols,
            "removed_positions": removed,
            "color1": list(COLOR1),
            "squares_of_color1": left_dark,
            "color2": list(COLOR2),
            "squares_of_color2": cells - len(removed) - left_dark,
        }
        return solution, question(rows, cols, len(removed))

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """Yes and No, in random order (the released records put the answer first 54 times in 100)."""
        if answer not in ("Yes", "No"):
            raise PuzzleError(f"board_tile: the answer must be 'Yes' or 'No', got {answer!r}")
        opts = ["Yes", "No"]
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """The board as the released images draw it: square cells edge to edge, dark and light yellow,
        white where removed, on a thin white margin; `size` px on the long side."""
        require_size(size, self.name)
        rows, cols, removed = parse_board(solution)
        image = _board(rows, cols, size).copy()
        xs, ys = _edges(cols, rows, size), _edges(rows, cols, size)
        draw = ImageDraw.Draw(image)
        for r, c in removed:
            draw.rectangle((xs[c], ys[r], xs[c + 1] - 1, ys[r + 1] - 1), fill=WHITE)
        return image


def _colour_name(square) -> str:
    return "dark yellow" if sum(square) % 2 == 0 else "light yellow"


def _edges(n: int, other: int, size: int) -> list[int]:
    """Pixel edges of `n` cells along one side, when the longer side (max(n, other) cells) spans
    `size` px less a margin of 9/512 of it on both ends, as in the released images."""
    margin = round(size * 9 / 512)
    cell = (size - 2 * margin) / max(n, other)
    return [margin + round(i * cell) for i in range(n + 1)]


@functools.lru_cache(maxsize=64)
def _board(rows: int, cols: int, size: int) -> Image.Image:
    """The full board at `size` px, no square removed (cached: 30 board shapes per image size)."""
    xs, ys = _edges(cols, rows, size), _edges(rows, cols, size)
    margin = xs[0]
    image = Image.new("RGB", (xs[-1] + margin, ys[-1] + margin), WHITE)
    draw = ImageDraw.Draw(image)
    for r in range(rows):
        for c in range(cols):
            draw.rectangle((xs[c], ys[r], xs[c + 1] - 1, ys[r + 1] - 1), fill=DARK if (r + c) % 2 == 0 else LIGHT)
    return image
