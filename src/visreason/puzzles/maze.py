"""Maze: count turns or cells on the optimal path of a grid maze.

State (released keys): `maze`, a rows x columns 0/1 grid (0 empty, 1 obstacle; both
sides odd, 7-13), and the derived `optimal_path` ([row, column] cells), its
`optimal_path_length`, `left_turns`, `right_turns` and `total_turns`. Only `maze` is the
start state: the solver, `describe` and `render` read it alone, and `parse` gives it back.

The entrance and the exit are the only two empty cells on the border. The entrance is
the first of them in row-major order: in the released data it is always (1, 0), on the
left edge (green arrow), and the exit opens the bottom-right cell through the bottom or
the right edge (blue arrow). The optimal path is the one through the fewest cells, then
with the fewest turns; a turn is a change of heading between consecutive moves (left or
right as seen by the walker, rows growing downwards). The released mazes are perfect
(one path between any two cells), so these rules pick a unique path; on a maze with
loops the solver still finds the optimum and breaks remaining ties deterministically.

Sampling follows the AlgoPuzzleVQA generator (`generation/maze.py`): both sides uniform
in 7, 9, 11, 13, a perfect maze carved by randomised depth-first search, the exit below
or right of the bottom-right cell with probability 1/2 each, and the question asking for
left turns, right turns, all turns or cells with probabilities 0.2/0.2/0.2/0.4. Options
follow the released records (`banded_options`). What differs: a seeded `random.Random`,
and duplicates are left to the caller.

>>> grid = [[1, 1, 1, 1, 1], [0, 0, 1, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 0, 1], [1, 1, 1, 0, 1]]
>>> shortest_path(grid)
[(1, 0), (1, 1), (2, 1), (2, 2), (2, 3), (3, 3), (4, 3)]
>>> count_turns(shortest_path(grid))
(1, 2)
"""

from __future__ import annotations

import heapq
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import (
    Puzzle,
    PuzzleError,
    banded_options,
    normalize,
    require_grid,
    require_keys,
    require_size,
)

KEYS = ("maze", "optimal_path", "optimal_path_length", "left_turns", "right_turns", "total_turns")  # as released
SIDES = (7, 9, 11, 13)
KIND_WEIGHTS = {"left": 0.2, "right": 0.2, "total": 0.2, "cells": 0.4}  # the generator's question mix

PREAMBLE = (
    "This is maze having {rows} * {columns} cells. The empty cells are coloured white and the obstacle cells "
    "are coloured black. From an empty cell, you can only move up, down, left, or right to another adjacent "
    "empty cell. You cannot move diagonally between two empty cells and cannot step into a cell with an "
    "obstacle. The entry cell of the maze is shown with the green arrow. The exit cell of the maze is shown "
    "with the blue arrow. Suppose you have found the most optimal path in the maze between the entrance and "
    "exit, where you need to go through the least number of empty cells and you need to make the least number "
    "of left and right turns. "
)
ASKS = {
    "left": "What is the total number of left turns do you need to make in this optimal path?",
    "right": "What is the total number of right turns do you need to make in this optimal path?",
    "total": "What is the combined number of left and right turns do you need to make in this optimal path?",
    "cells": "How many cells do you need to visit in this optimal path including the entrance and exit cells?",
}
MOVES = ((0, 1), (1, 0), (0, -1), (-1, 0))  # east, south, west, north

# Statements parse reads, in normalised text: a grid row, the entry or exit cell.
_ROW = r"row (\d+):((?: \d+\b)+)"
_OPENING = r"(entry|exit) cell is row (\d+), column (\d+)\b"
# The released distractors of maze, move_box and number_slide all lie in [1, high] for
# answers up to `limit` (0 of 300 outside in each): (limit, high) bands.


def asked_quantity(question: str) -> str:
    """Which quantity the question's last sentence asks: left, right, total or cells."""
    if not isinstance(question, str):
        raise PuzzleError(f"maze: the question must be a string, got {type(question).__name__}")
    end = question.rfind("?")  # the last question: from the sentence end before it
    last = normalize(question[max(question.rfind(".", 0, end), question.rfind("?", 0, end)) + 1 : end + 1])
    if "how many cells" in last:
        return "cells"
    if "left and right turns" in last or "combined" in last:
        return "total"
    if "left turns" in last:
        return "left"
    if "right turns" in last:
        return "right"
    raise PuzzleError(f"maze: the question asks for neither left, right or all turns nor cells: {question[-120:]!r}")


def _grid(solution: dict) -> list[list[int]]:
    require_keys(solution, ("maze",), "maze")
    grid = solution["maze"]
    require_grid(grid, "maze", "maze")
    if any(type(v) is not int or v not in (0, 1) for row in grid for v in row):
        raise PuzzleError("maze: 'maze' cells must be 0 (empty) or 1 (obstacle)")
    return grid


def openings(grid: list[list[int]]) -> tuple[tuple[int, int], tuple[int, int]]:
    """(entrance, exit): the two empty border cells, entrance first in row-major order."""
    rows, cols = len(grid), len(grid[0])
    edge = [(r, c) for r in range(rows) for c in range(cols) if r in (0, rows - 1) or c in (0, cols - 1)]
    border = [(r, c) for r, c in edge if grid[r][c] == 0]
    if len(border) != 2:
        raise PuzzleError(f"maze: expected exactly 2 empty border cells (entrance, exit), found {len(border)}")
    return border[0], border[1]


def shortest_path(grid: list[list[int]]) -> list[tuple[int, int]]:
    """The path through the fewest cells, then the fewest turns (Dijkstra on (cell, heading))."""
    rows, cols = len(grid), len(grid[0])
    start, goal = openings(grid)
    best = {(start, -1): (1, 0)}
    parent = {}
    queue = [(1, 0, start, -1)]
    while queue:
        cells, turns, cell, heading = heapq.heappop(queue)
        if best[(cell, heading)] < (cells, turns):
            continue
        if cell == goal:
            path = [cell]
            state = (cell, heading)
            while state in parent:
                state = parent[state]
                path.append(state[0])
            return path[::-1]
        for d, (dr, dc) in enumerate(MOVES):
            r, c = cell[0] + dr, cell[1] + dc
            if 0 <= r < rows and 0 <= c < cols and grid[r][c] == 0:
                cost = (cells + 1, turns + (heading not in (-1, d)))
                if cost < best.get(((r, c), d), (1 << 30, 0)):
                    best[((r, c), d)] = cost
                    parent[((r, c), d)] = (cell, heading)
                    heapq.heappush(queue, (*cost, (r, c), d))
    raise PuzzleError("maze: the exit cannot be reached from the entrance")


def count_turns(path: list[tuple[int, int]]) -> tuple[int, int]:
    """(left, right) turns along a path of cells, rows growing downwards."""
    left = right = 0
    for a, b, c in zip(path, path[1:], path[2:]):
        d1 = (b[0] - a[0], b[1] - a[1])
        d2 = (c[0] - b[0], c[1] - b[1])
        cross = d1[1] * d2[0] - d1[0] * d2[1]  # > 0: clockwise on screen, a right turn
        left += cross < 0
        right += cross > 0
    return left, right


def carve(rows: int, cols: int, rng: random.Random) -> list[list[int]]:
    """A perfect maze (randomised depth-first search on the odd cells), entrance at (1, 0),
    exit below or right of the bottom-right cell."""
    grid = [[1] * cols for _ in range(rows)]
    stack = [(1, 1)]
    grid[1][1] = 0
    while stack:
        r, c = stack[-1]
        nxt = [(r + 2 * dr, c + 2 * dc, dr, dc) for dr, dc in MOVES]
        nxt = [n for n in nxt if 0 < n[0] < rows - 1 and 0 < n[1] < cols - 1 and grid[n[0]][n[1]]]
        if not nxt:
            stack.pop()
            continue
        nr, nc, dr, dc = rng.choice(nxt)
        grid[r + dr][c + dc] = grid[nr][nc] = 0
        stack.append((nr, nc))
    grid[1][0] = 0
    if rng.random() < 0.5:
        grid[rows - 1][cols - 2] = 0
    else:
        grid[rows - 2][cols - 1] = 0
    return grid


class Maze(Puzzle):
    name = "maze"
    claim_pattern = r"(?<!\w)(?:row \d+:(?: \d+\b)+|(?:entry|exit) cell is row \d+, column \d+\b)"

    def solve(self, solution: dict, question: str) -> str:
        asked = asked_quantity(question)
        path = shortest_path(_grid(solution))
        left, right = count_turns(path)
        return str({"left": left, "right": right, "total": left + right, "cells": len(path)}[asked])

    def describe(self, solution: dict) -> str:
        grid = _grid(solution)
        start, goal = openings(grid)
        lines = [
            f"A maze of {len(grid)} rows and {len(grid[0])} columns; 1 is an obstacle (black) cell and 0 an empty "
            f"(white) cell. Rows are numbered from 0 at the top, columns from 0 at the left.",
            *_row_facts(grid),
            f"The {_cell_fact('entry', start)} (green arrow); the {_cell_fact('exit', goal)} (blue arrow).",
        ]
        return "\n".join(lines)

    def facts(self, solution: dict) -> list[str]:
        grid = _grid(solution)
        start, goal = openings(grid)
        return [*_row_facts(grid), _cell_fact("entry", start), _cell_fact("exit", goal)]

    def start_state(self, solution: dict) -> dict:
        return {"maze": [list(row) for row in _grid(solution)]}

    def parse(self, text: str) -> dict | None:
        """The grid stated as describe states it: "R rows and C columns", then rows 0..R-1 of
        C cells 0/1 each; the entry and exit cells, where stated, must be the grid's. None
        unless the rows are complete and the maze has an entrance, an exit and a path."""
        if not isinstance(text, str):
            return None
        text = normalize(text)
        dims = set(re.findall(r"(\d+) rows and (\d+) columns", text))
        if len(dims) != 1:
            return None
        n_rows, n_cols = map(int, dims.pop())
        rows: dict[int, list[int]] = {}
        for r, cells in re.findall(_ROW, text):
            values = [int(v) for v in cells.split()]
            if rows.setdefault(int(r), values) != values:
                return None  # one row stated twice, differently
        if sorted(rows) != list(range(n_rows)) or any(len(v) != n_cols or set(v) - {0, 1} for v in rows.values()):
            return None
        grid = [rows[r] for r in range(n_rows)]
        try:
            cells = dict(zip(("entry", "exit"), openings(grid)))
            shortest_path(grid)
        except PuzzleError:
            return None
        for kind, r, c in re.findall(_OPENING, text):
            if (int(r), int(c)) != cells[kind]:
                return None
        return {"maze": grid}

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        rows, cols = rng.choice(SIDES), rng.choice(SIDES)
        grid = carve(rows, cols, rng)
        path = shortest_path(grid)
        left, right = count_turns(path)
        solution = {
            "maze": grid,
            "optimal_path": [list(cell) for cell in path],
            "optimal_path_length": len(path),
            "left_turns": left,
            "right_turns": right,
            "total_turns": left + right,
        }
        kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        return solution, PREAMBLE.format(rows=rows, columns=cols) + ASKS[kind]

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        return banded_options(answer, rng)

    def render(self, solution: dict, size: int) -> Image.Image:
        """Black obstacles, white cells with faint grid lines, a green arrow into the
        entrance and a blue arrow out of the exit, the maze ~77% of the canvas."""
        require_size(size, self.name)
        grid = _grid(solution)
        rows, cols = len(grid), len(grid[0])
        cell = max(2, int(size * 0.77 / max(rows, cols)))
        x0, y0 = (size - cell * cols) // 2, (size - cell * rows) // 2
        image = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(image)
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                x, y = x0 + c * cell, y0 + r * cell
                if v:
                    draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(0, 0, 0))
                else:
                    draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill="white", outline=(235, 235, 235))
        start, goal = openings(grid)
        _arrow(draw, x0, y0, cell, start, _inward(start, rows, cols), (0, 128, 0))
        _arrow(draw, x0, y0, cell, goal, _outward(goal, rows, cols), (0, 0, 255))
        return image


def _row_facts(grid: list[list[int]]) -> list[str]:
    return [f"row {r}: {' '.join(map(str, row))}" for r, row in enumerate(grid)]


def _cell_fact(kind: str, cell: tuple[int, int]) -> str:
    return f"{kind} cell is row {cell[0]}, column {cell[1]}"


def _outward(cell: tuple[int, int], rows: int, cols: int) -> tuple[int, int]:
    r, c = cell
    return (1, 0) if r == rows - 1 else (-1, 0) if r == 0 else (0, 1) if c == cols - 1 else (0, -1)


def _inward(cell: tuple[int, int], rows: int, cols: int) -> tuple[int, int]:
    dr, dc = _outward(cell, rows, cols)
    return -dr, -dc


def _arrow(draw: ImageDraw.ImageDraw, x0: int, y0: int, cell: int, at, heading, colour) -> None:
    """An arrow across cell `at` pointing along `heading` (drow, dcol)."""
    cx, cy = x0 + at[1] * cell + cell / 2, y0 + at[0] * cell + cell / 2
    dx, dy = heading[1], heading[0]
    half, head = cell * 0.42, cell * 0.2
    tail = (cx - dx * half, cy - dy * half)
    tip = (cx + dx * half, cy + dy * half)
    base = (tip[0] - dx * head, tip[1] - dy * head)
    draw.line((*tail, *base), fill=colour, width=max(1, round(cell / 18)))
    px, py = -dy * head * 0.55, dx * head * 0.55
    draw.polygon([tip, (base[0] + px, base[1] + py), (base[0] - px, base[1] - py)], fill=colour)
