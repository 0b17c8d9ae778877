"""Rotting kiwi: every minute the fresh kiwis 4-adjacent to a rotten one rot; the minutes until
no fresh kiwi is left, by simulating from `timestep["minute_0"]`.

State (released keys): `ids` (the cell codes: 0 empty, 1 fresh, 2 rotten) and `timestep`, whose
`minute_0` is the grid the image shows; its later minutes are derived and never read.

Sampling matches the AlgoPuzzleVQA generator (declare-lab/LLM-PuzzleTest,
`AlgoPuzzleVQA/generation/rotting_kiwi.py`): a 3 x 3 grid, an answer d uniform in 1..6, then
grids of 2..7 kiwis (uniformly many, on uniformly chosen cells, one of them rotten) drawn until
one rots completely in exactly d minutes. What differs: a seeded `random.Random`, and duplicates
are left to the caller. The generator writes no options; ours are drawn like the released ones,
uniformly from 1..6.

>>> RottingKiwi().solve({"ids": {"empty": 0, "fresh": 1, "rotten": 2},
...                      "timestep": {"minute_0": [[2, 1, 1], [0, 0, 1], [0, 0, 1]]}},
...                     "What is the minimum number of minutes that must elapse until no cell has a fresh kiwi?")
'4'
"""

from __future__ import annotations

import functools
import math
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import (
    Puzzle,
    PuzzleError,
    normalize,
    require_keys,
    require_question,
    require_size,
    uniform_options,
)

IDS = {"empty": 0, "fresh": 1, "rotten": 2}
SYMBOLS = {0: "_", 1: "F", 2: "R"}
QUESTION = (
    "You are given a {n} x {n} grid in which each cell can contain either no kiwi, one fresh kiwi, or one rotten "
    "kiwi. Every minute, any fresh kiwi that is 4-directionally adjacent to a rotten kiwi also becomes rotten. What is "
    "the minimum number of minutes that must elapse until no cell has a fresh kiwi?"
)
ASKS = "minimum number of minutes"  # the phrase that identifies this category's question
MAX_ANSWER = 6  # the generator's answers span 1..6
OPTION_VALUES = range(1, 7)  # the released options are all in 1..6
# A fact: "row 2: R F _" (normalised: "row 2: r f _"); each symbol a whole word, so that the "r" of
# a following "row" is not read as a cell.
CLAIM = r"(?<!\w)row \d+: [rf_](?!\w)(?: [rf_](?!\w))*"
ROW = re.compile(r"(?<!\w)row (\d+): ([rf_](?!\w)(?: [rf_](?!\w))*)")
HEAD = re.compile(r"(?<!\w)(\d+) x (\d+) grid")
CODES = {symbol.lower(): value for value, symbol in SYMBOLS.items()}

Grid = list[list[int]]


def parse_grid(solution: dict) -> Grid:
    require_keys(solution, ["ids", "timestep"], "rotting_kiwi")
    if solution["ids"] != IDS:
        raise PuzzleError(f"rotting_kiwi: 'ids' must be {IDS}, got {solution['ids']!r}")
    grid = solution["timestep"].get("minute_0") if isinstance(solution["timestep"], dict) else None
    if grid is None:
        raise PuzzleError("rotting_kiwi: 'timestep' is missing key 'minute_0'")
    if not grid or any(not isinstance(row, list) or len(row) != len(grid[0]) for row in grid):
        raise PuzzleError(f"rotting_kiwi: 'minute_0' must be a rectangular list of lists, got {grid!r}")
    if any(v not in SYMBOLS for row in grid for v in row):
        raise PuzzleError(f"rotting_kiwi: 'minute_0' cells must be 0, 1 or 2, got {grid!r}")
    return [list(row) for row in grid]


def spread(grid: Grid) -> Grid | None:
    """The grid one minute later, or None when nothing changes."""
    rows, cols = len(grid), len(grid[0])
    out = [list(row) for row in grid]
    changed = False
    for r in range(rows):
        for c in range(cols):
            if grid[r][c] == 1 and any(
                0 <= rr < rows and 0 <= cc < cols and grid[rr][cc] == 2
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
            ):
                out[r][c] = 2
                changed = True
    return out if changed else None


def simulate(grid: Grid) -> list[Grid]:
    """The grid at minute 0, 1, ... until it stops changing."""
    history = [grid]
    while (nxt := spread(history[-1])) is not None:
        history.append(nxt)
    return history


class RottingKiwi(Puzzle):
    name = "rotting_kiwi"

    def solve(self, solution: dict, question: str) -> str:
        require_question(question, ASKS, self.name)
        history = simulate(parse_grid(solution))
        if any(v == 1 for row in history[-1] for v in row):
            raise PuzzleError("rotting_kiwi: some fresh kiwi never rots, so the question has no answer")
        return str(len(history) - 1)

    def describe(self, solution: dict) -> str:
        grid = parse_grid(solution)
        head = (
            f"A {len(grid)} x {len(grid[0])} grid, rows listed from top to bottom; "
            "R = rotten kiwi, F = fresh kiwi, _ = empty cell:"
        )
        return "\n".join([head, *self.facts(solution)])

    def facts(self, solution: dict) -> list[str]:
        return [f"row {i + 1}: " + " ".join(SYMBOLS[v] for v in row) for i, row in enumerate(parse_grid(solution))]

    def start_state(self, solution: dict) -> list[list[int]]:
        return parse_grid(solution)

    claim_pattern = CLAIM

    def parse(self, text: str) -> dict | None:
        """The grid of "row i: R F _" statements, or None unless they state rows 1..n once each, all of
        one length (and agree with "R x C grid" if stated), and every fresh kiwi rots in the end.

        >>> RottingKiwi().parse("Row 1: R F, row 2: _ F")["timestep"]
        {'minute_0': [[2, 1], [0, 1]]}
        """
        text = normalize(text)
        rows: dict[int, list[int]] = {}
        for i, cells in ROW.findall(text):
            row = [CODES[c] for c in cells.split()]
            if rows.setdefault(int(i), row) != row:
                return None  # one row stated two ways
        if not rows or sorted(rows) != list(range(1, len(rows) + 1)):
            return None
        grid = [rows[i] for i in range(1, len(rows) + 1)]
        head = HEAD.search(text)
        if any(len(row) != len(grid[0]) for row in grid) or (
            head and (int(head[1]), int(head[2])) != (len(grid), len(grid[0]))
        ):
            return None
        if any(v == 1 for row in simulate(grid)[-1] for v in row):
            return None  # a fresh kiwi that never rots: the question has no answer
        return {"ids": dict(IDS), "timestep": {"minute_0": grid}}

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """A 3 x 3 grid with one rotten kiwi and 2..7 empty cells, all of whose kiwis rot after d minutes
        (d uniform in 1..6)."""
        n, target = 3, rng.randint(1, MAX_ANSWER)
        while True:
            cells = [2] + [0] * rng.randint(2, 7)
            cells += [1] * (n * n - len(cells))
            rng.shuffle(cells)
            history = simulate([cells[i * n : (i + 1) * n] for i in range(n)])
            if len(history) - 1 == target and not any(v == 1 for row in history[-1] for v in row):
                break
        solution = {"ids": dict(IDS), "timestep": {f"minute_{t}": grid for t, grid in enumerate(history)}}
        return solution, QUESTION.format(n=n)

    def render(self, solution: dict, size: int) -> Image.Image:
        require_size(size, self.name)
        grid = parse_grid(solution)
        rows, cols = len(grid), len(grid[0])
        margin = round(size * 0.05)
        cell = (size - 2 * margin) // max(rows, cols)
        img = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(img)
        x_off = (size - cols * cell) // 2
        y_off = (size - rows * cell) // 2
        for r in range(rows + 1):
            draw.line((x_off, y_off + r * cell, x_off + cols * cell, y_off + r * cell), fill=(60, 60, 60), width=1)
        for c in range(cols + 1):
            draw.line((x_off + c * cell, y_off, x_off + c * cell, y_off + rows * cell), fill=(60, 60, 60), width=1)
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if v:
                    sprite = _kiwi(cell, rotten=v == 2)
                    img.paste(sprite, (x_off + c * cell, y_off + r * cell), sprite)
        return img

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distractors drawn uniformly from 1..6, like the released options (the
        range widens only to hold an answer outside it)."""
        return uniform_options(answer, rng, OPTION_VALUES[0], OPTION_VALUES[-1])


@functools.lru_cache(maxsize=16)
def _kiwi(cell: int, rotten: bool) -> Image.Image:
    """A halved kiwi (brown skin, green flesh, black seeds, cream core), crossed out in red when
    rotten; drawn at 4x and downsampled once per cell size, then pasted."""
    k = 4
    s = cell * k
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    box = lambda fx0, fy0, fx1, fy1: (fx0 * s, fy0 * s, fx1 * s, fy1 * s)  # noqa: E731
    d.ellipse(box(0.18, 0.16, 0.86, 0.86), fill=(139, 94, 52))
    d.ellipse(box(0.17, 0.15, 0.80, 0.78), fill=(120, 180, 40))
    d.ellipse(box(0.24, 0.22, 0.73, 0.71), fill=(150, 205, 60))
    d.ellipse(box(0.37, 0.36, 0.60, 0.57), fill=(240, 235, 190))
    cx, cy = 0.485 * s, 0.465 * s
    for i in range(14):
        a = 2 * math.pi * i / 14
        x, y = cx + math.cos(a) * 0.16 * s, cy + math.sin(a) * 0.15 * s
        d.ellipse((x - 0.018 * s, y - 0.03 * s, x + 0.018 * s, y + 0.03 * s), fill=(20, 20, 20))
    if rotten:
        w = round(0.07 * s)
        for p0, p1 in (((0.25, 0.22), (0.75, 0.72)), ((0.75, 0.22), (0.25, 0.72))):
            d.line((p0[0] * s, p0[1] * s, p1[0] * s, p1[1] * s), fill=(235, 70, 70), width=w)
            for px, py in (p0, p1):
                d.ellipse((px * s - w / 2, py * s - w / 2, px * s + w / 2, py * s + w / 2), fill=(235, 70, 70))
    return img.resize((cell, cell), Image.LANCZOS)
