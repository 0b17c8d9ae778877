"""Colour hue: the fewest swaps that put a shuffled board of gradient tiles back in order.

State (released keys): `ideal_grid`, state (B), rows x columns of RGB triples that shade
smoothly from corner to corner, every colour distinct; `shuffled_grid`, state (A), the same
tiles in another order. Derived keys, never read by the solver: `shuffled_order` (for each
position of (A), row-major, the position in (B) of its tile), `swaps` (the answer),
`in_position` and `out_of_position` (tiles of (A) that are, or are not, where (B) has them).

Solving: every colour appears once, so matching each tile of (A) with the tile of (B) of the
same colour gives a permutation. One swap splits one cycle of a permutation in two at best,
so the fewest swaps that sort it is its size minus its number of cycles.

Description: the RGB triple of every tile of both boards, by board, row and column. That is
enough: a reader matches equal triples across the boards, which gives the permutation above;
no colour naming is needed, and names could not tell neighbouring gradient tiles apart.

Sampling follows the released generator (declare-lab/LLM-PuzzleTest, colour_hue.py): one board
in five is a single row of 4-6 tiles, every tile shuffled; the others have 4-6 rows and 4-6
columns (uniform) with 3-11 random tiles permuted among themselves; a draw that moves no tile is
redrawn. Rows and columns are linear ramps between corner colours, in integer steps. Where we
differ: the released corner colours come from a hand-picked list; ours are drawn in HSV, any
hue, saturation 0.35-1.0 and value 0.6-1.0 (the released corners' 10th-90th percentiles are
0.38-0.98 and 0.57-1.0), and a board is redrawn until every two tiles differ by at least 8 in
some channel (the released boards' closest pair differs by 7), so no tile is a visual duplicate
(the size and shuffle are drawn first and kept). The released generator also drops repeated
states; a sampler cannot, the dataset builder deduplicates on `identity`.

Tiles 1-2 and 3-4 of a row swapped: two 2-cycles, two swaps; a 4-cycle takes three.

>>> ideal = [[[10, 0, 0], [20, 0, 0], [30, 0, 0], [40, 0, 0]]]
>>> shuffled = [[[20, 0, 0], [10, 0, 0], [40, 0, 0], [30, 0, 0]]]
>>> ColourHue().solve({"ideal_grid": ideal, "shuffled_grid": shuffled}, QUESTION.format(rows=1, cols=4, n=4))
'2'
>>> min_swaps([1, 2, 3, 0])
3
"""

from __future__ import annotations

import colorsys
import random
import re
from collections import Counter

from PIL import Image, ImageDraw

from visreason.puzzles.base import (
    Puzzle,
    PuzzleError,
    font,
    normalize,
    require_grid,
    require_keys,
    require_question,
    require_size,
)

QUESTION = (
    "A {rows} * {cols} board consists of {n} different coloured tiles. A random state of the board is shown in (A). "
    "The ideal state of the board is shown in (B). A swap consists of selecting any two tiles on the board and "
    "switching their positions. What is the minimum number of swaps required to restore the ideal state of the board "
    "from (A)?"
)
ASKS = "minimum number of swaps"
BOARD_RE = re.compile(r"a (\d+) \* (\d+) board")
SIDES = (4, 5, 6)
ONE_ROW = 0.2  # share of single-row boards, as released (20 of 100)
MIN_CONTRAST = 8  # every two tiles differ by at least this much in some channel

_HEAD = "Two boards of {rows} x {cols} coloured tiles"
_HEAD_RE = re.compile(r"two boards of (\d+) x (\d+) coloured tiles")
_TILE = "({board}) row {r}, column {c}: RGB ({red}, {green}, {blue})"
_TILE_RE = r"\(([ab])\) row (\d+), column (\d+): rgb \((\d+), (\d+), (\d+)\)"

Colour = tuple[int, int, int]
Grid = list[list[Colour]]


def min_swaps(order: list[int]) -> int:
    """The fewest swaps that sort the permutation `order`: its length minus its cycles."""
    seen, cycles = [False] * len(order), 0
    for start in range(len(order)):
        if not seen[start]:
            cycles += 1
            i = start
            while not seen[i]:
                seen[i], i = True, order[i]
    return len(order) - cycles


def _grid(solution: dict, key: str) -> Grid:
    grid = solution[key]
    require_grid(grid, key, "colour_hue")
    for row in grid:
        for cell in row:
            if not (
                isinstance(cell, list | tuple)
                and len(cell) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in cell)
            ):
                raise PuzzleError(f"colour_hue: {key!r} cells must be [red, green, blue] integers 0-255, got {cell!r}")
    return [[tuple(cell) for cell in row] for row in grid]


def parse_boards(solution: dict) -> tuple[Grid, Grid]:
    """Validated (ideal, shuffled): same shape, distinct colours, (A) a rearrangement of (B)."""
    require_keys(solution, ("ideal_grid", "shuffled_grid"), "colour_hue")
    ideal, shuffled = _grid(solution, "ideal_grid"), _grid(solution, "shuffled_grid")
    if (len(ideal), len(ideal[0])) != (len(shuffled), len(shuffled[0])):
        raise PuzzleError(
            f"colour_hue: 'shuffled_grid' is {len(shuffled)} x {len(shuffled[0])} but 'ideal_grid' is "
            f"{len(ideal)} x {len(ideal[0])}"
        )
    counts = Counter(cell for row in ideal for cell in row)
    if repeated := [list(c) for c, k in counts.items() if k > 1]:
        raise PuzzleError(f"colour_hue: 'ideal_grid' repeats the colour {repeated[0]}, so tiles cannot be matched")
    if counts != Counter(cell for row in shuffled for cell in row):
        raise PuzzleError("colour_hue: 'shuffled_grid' is not a rearrangement of the tiles of 'ideal_grid'")
    return ideal, shuffled


def order_of(ideal: Grid, shuffled: Grid) -> list[int]:
    """For each position of (A), row-major, the position in (B) of the tile of the same colour."""
    where = {cell: i for i, cell in enumerate(cell for row in ideal for cell in row)}
    return [where[cell] for row in shuffled for cell in row]


def _ramp(a: Colour, b: Colour, n: int) -> list[Colour]:
    """`n` colours from `a` to `b` in equal integer steps (truncated), ending exactly at `b`."""
    step = [int((y - x) / (n - 1)) for x, y in zip(a, b)]
    return [tuple(x + s * j for x, s in zip(a, step)) for j in range(n - 1)] + [tuple(b)]


def _corner(rng: random.Random) -> Colour:
    """A random corner colour: any hue, fairly saturated and bright, like the released corners."""
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.35, 1.0), rng.uniform(0.6, 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def _distinct(cells: list[Colour]) -> bool:
    return all(
        max(abs(x - y) for x, y in zip(p, q)) >= MIN_CONTRAST for i, p in enumerate(cells) for q in cells[i + 1 :]
    )


class ColourHue(Puzzle):
    name = "colour_hue"
    claim_pattern = r"(?<!\w)" + _TILE_RE

    def solve(self, solution: dict, question: str) -> str:
        require_question(question, ASKS, self.name)
        ideal, shuffled = parse_boards(solution)
        asked = BOARD_RE.search(normalize(question))
        if asked and (int(asked.group(1)), int(asked.group(2))) != (len(ideal), len(ideal[0])):
            raise PuzzleError(
                f"colour_hue: the question's board {asked.group(0)!r} is not the solution's "
                f"{len(ideal)} x {len(ideal[0])} 'ideal_grid'"
            )
        return str(min_swaps(order_of(ideal, shuffled)))

    def start_state(self, solution: dict):
        ideal, shuffled = parse_boards(solution)
        return {"ideal_grid": [[list(c) for c in row] for row in ideal],
                "shuffled_grid": [[list(c) for c in row] for row in shuffled]}  # fmt: skip

    def describe(self, solution: dict) -> str:
        ideal, shuffled = parse_boards(solution)
        rows, cols = len(ideal), len(ideal[0])
        facts = self.facts(solution)
        head = (
            _HEAD.format(rows=rows, cols=cols) + f" ({rows} rows, {cols} columns), each tile given as its RGB colour, "
            f"rows numbered 1-{rows} from the top and columns 1-{cols} from the left. (A) is the random state and "
            f"(B) the ideal state; both hold the same {rows * cols} distinct colours."
        )
        half = len(facts) // 2
        return "\n".join([head, "; ".join(facts[:half]) + ".", "; ".join(facts[half:]) + "."])

    def facts(self, solution: dict) -> list[str]:
        ideal, shuffled = parse_boards(solution)
        return [
            _TILE.format(board=board, r=r + 1, c=c + 1, red=cell[0], green=cell[1], blue=cell[2])
            for board, grid in (("A", shuffled), ("B", ideal))
            for r, row in enumerate(grid)
            for c, cell in enumerate(row)
        ]

    def parse(self, text: str) -> dict | None:
        """Both boards, when the header states their size and every tile of both is given once."""
        text = normalize(text)
        head = _HEAD_RE.search(text)
        if not head:
            return None
        rows, cols = int(head.group(1)), int(head.group(2))
        tiles: dict[tuple[str, int, int], list[int]] = {}
        for m in re.finditer(_TILE_RE, text):
            key, cell = (m.group(1), int(m.group(2)), int(m.group(3))), [int(v) for v in m.group(4, 5, 6)]
            if tiles.setdefault(key, cell) != cell:
                return None  # one tile stated with two colours
        if len(tiles) != 2 * rows * cols or not rows:  # checked first: the header may state any size
            return None
        if set(tiles) != {(b, r, c) for b in "ab" for r in range(1, rows + 1) for c in range(1, cols + 1)}:
            return None
        solution = {
            "ideal_grid": [[tiles["b", r, c] for c in range(1, cols + 1)] for r in range(1, rows + 1)],
            "shuffled_grid": [[tiles["a", r, c] for c in range(1, cols + 1)] for r in range(1, rows + 1)],
        }
        try:
            parse_boards(solution)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        if rng.random() < ONE_ROW:
            rows, cols = 1, rng.choice(SIDES)
            moved = cols
        else:
            rows, cols = rng.choice(SIDES), rng.choice(SIDES)
            moved = rng.randint(3, 11)
        while True:  # corner colours until every two tiles are told apart
            if rows == 1:
                ideal = [_ramp(_corner(rng), _corner(rng), cols)]
            else:
                top = _ramp(_corner(rng), _corner(rng), cols)
                bottom = _ramp(_corner(rng), _corner(rng), cols)
                columns = [_ramp(t, b, rows) for t, b in zip(top, bottom)]
                ideal = [[columns[c][r] for c in range(cols)] for r in range(rows)]
            cells = [cell for row in ideal for cell in row]
            if _distinct(cells):
                break
        while True:  # permute `moved` random positions among themselves until a tile moves
            picked = rng.sample(range(len(cells)), moved)
            order = list(range(len(cells)))
            for src, dst in zip(sorted(picked), picked):
                order[dst] = src
            out = sum(i != j for i, j in enumerate(order))
            if out:
                break
        shuffled = [cells[i] for i in order]
        solution = {
            "ideal_grid": [[list(c) for c in row] for row in ideal],
            "shuffled_grid": [[list(shuffled[r * cols + c]) for c in range(cols)] for r in range(rows)],
            "shuffled_order": order,
            "swaps": min_swaps(order),
            "in_position": len(cells) - out,
            "out_of_position": out,
        }
        return solution, QUESTION.format(rows=rows, cols=cols, n=rows * cols)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distinct others, uniform in 1-5 (answers up to 5), 1-6 (answer 6) or 1-9
        (higher answers), the ranges the released options span."""
        gold = int(answer)
        high = max(5, gold) if gold <= 6 else max(9, gold)
        opts = [str(v) for v in rng.sample([v for v in range(1, high + 1) if v != gold], 3)] + [answer]
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """(A) left and (B) right as square panels of flat tiles on white, labelled below."""
        require_size(size, self.name)
        ideal, shuffled = parse_boards(solution)
        width, height = size, max(1, round(size * 1400 / 2860))  # the released canvas, 2860 x 1400
        image = Image.new("RGB", (width, height), "white")
        side, top = round(size * 0.363), round(size * 0.041)
        label_font = font(max(6, round(size * 0.032)))
        draw = ImageDraw.Draw(image)
        for label, grid, left in (("(A)", shuffled, round(size * 0.059)), ("(B)", ideal, round(size * 0.578))):
            tiles = Image.new("RGB", (len(grid[0]), len(grid)))
            tiles.putdata([cell for row in grid for cell in row])
            image.paste(tiles.resize((side, side), Image.Resampling.NEAREST), (left, top))
            label_y = top + side + round(size * 0.037)
            draw.text((left + side / 2, label_y), label, fill="black", font=label_font, anchor="mm")
        return image
