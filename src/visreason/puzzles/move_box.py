"""Move box (storekeeper / Sokoban, one box): the minimum number of pushes to the flag.

State (released keys): `ids` (the characters: empty ".", brick "#", box "B", person
"S", target "T"), `timestep` ({"grid_0": initial grid, "grid_1": ..., one grid per
push of an optimal solution}), `target` ([row, column]) and `box_location` (the box's
cells along that solution, start included). The start state is `grid_0` read through
`ids` (written in the characters above whatever `ids` says): the answer is computed from
it alone by breadth-first search over (box cell, player region) states, one layer per
push. `target` repeats the flag's cell and must agree where present; the later grids and
`box_location` are one optimal solution among several, so they are never read.

The released later grids follow one rule, which `sample` reproduces: they are `grid_0`
with the "S" and "B" characters erased (so those cells read ""), the box drawn at
`box_location[t]` and the player behind it, at `box_location[t - 1]`.

Sampling follows the AlgoPuzzleVQA generator (`generation/move_box.py`): it draws the
answer uniformly from 1-5 first, then redraws whole warehouses until the minimum push
count equals it. A warehouse is 6 x 6 with brick borders; 10-15 (uniform) of the 16 inner
cells are open, the box, the player and the flag on three of them at random, and the
other inner cells are bricks. Options follow the released records (`banded_options`:
three of the other values 1-5). What differs: a seeded `random.Random`, and duplicates
are left to the caller.

>>> grid = [list("#####"), list("#S.T#"), list("#.B.#"), list("#...#"), list("#####")]
>>> min_pushes(grid)
[(2, 2), (1, 2), (1, 3)]
"""

from __future__ import annotations

import functools
import random
import re
from collections import deque

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

IDS = {"empty": ".", "brick": "#", "box": "B", "person": "S", "target": "T"}
SIDE = 6
QUESTION = (
    "A storekeeper is a puzzle in which the player pushes boxes around in a warehouse trying to get them to "
    "target locations. The game is represented by an {rows} x {cols} grid of characters grid where each element "
    "is a wall, floor, or box. Your task is to move the box to the end flag under the following rules:\n\n"
    "1. The box can be moved to an adjacent free cell by standing next to the box and then moving in the "
    "direction of the box by 1 grid. This is a push.\n2. The player cannot walk through the box.\n\n"
    "What is the minimum number of pushes to move the box to the end flag."
)
OPEN_CELLS = (10, 15)  # inner cells the generator opens, uniform
ANSWERS = (1, 5)  # the generator's answer range, uniform

# Statements parse reads, in normalised text: a grid row (one character a cell), a position.
_ROW = r"row (\d+):((?: \S(?!\S))+)"
_WHERE = r"(box|player|target) at row (\d+), column (\d+)\b"
_KIND = {"box": "box", "player": "person", "target": "target"}
INNER = tuple((r, c) for r in range(1, SIDE - 1) for c in range(1, SIDE - 1))


def could_need(box: tuple[int, int], target: tuple[int, int], pushes: int) -> bool:
    """Whether a box can need exactly `pushes` pushes to the flag in a SIDE x SIDE warehouse with
    brick borders; False only where it cannot. Every push moves the box one cell, so the distance
    is at most `pushes` and of the same parity; a box beside the border stays on that line (there
    is no floor on the far side to push it from)."""
    distance = abs(box[0] - target[0]) + abs(box[1] - target[1])
    if distance > pushes or distance % 2 != pushes % 2:
        return False
    return all(box[axis] not in (1, SIDE - 2) or target[axis] == box[axis] for axis in (0, 1))


@functools.lru_cache(maxsize=8)
def _pairs(pushes: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (box, flag) cells of the inner square for which `could_need(box, flag, pushes)`."""
    return [(b, t) for b in INNER for t in INNER if b != t and could_need(b, t, pushes)]


def _state(solution: dict) -> tuple[list[list[str]], tuple, tuple, tuple]:
    """(grid_0 in the characters of IDS, box, player, target) of a solution, validated."""
    require_keys(solution, ("ids", "timestep"), "move_box")
    ids, steps = solution["ids"], solution["timestep"]
    require_keys(ids, tuple(IDS), "move_box ids")
    kind_of = {ids[k]: k for k in IDS if isinstance(ids[k], str)}
    if len(kind_of) != len(IDS):
        raise PuzzleError(f"move_box: 'ids' must give the {len(IDS)} kinds distinct characters, got {ids}")
    if not isinstance(steps, dict) or "grid_0" not in steps:
        raise PuzzleError("move_box: 'timestep' must be a dict holding the initial grid 'grid_0'")
    grid = steps["grid_0"]
    require_grid(grid, "grid_0", "move_box")
    unknown = sorted({repr(v) for row in grid for v in row if not isinstance(v, str) or v not in kind_of})
    if unknown:
        raise PuzzleError(f"move_box: 'grid_0' holds characters that 'ids' does not name: {', '.join(unknown)}")
    grid = [[IDS[kind_of[v]] for v in row] for row in grid]
    found = {}
    for kind in ("box", "person", "target"):
        cells = [(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v == IDS[kind]]
        if len(cells) != 1:
            raise PuzzleError(f"move_box: 'grid_0' must hold exactly one {kind} {ids[kind]!r}, found {len(cells)}")
        found[kind] = cells[0]
    if "target" in solution and solution["target"] != list(found["target"]):
        raise PuzzleError(f"move_box: 'target' {solution['target']} disagrees with grid_0's target {found['target']}")
    return grid, found["box"], found["person"], found["target"]


def min_pushes(grid: list[list[str]]) -> list[tuple[int, int]]:
    """The box's cells along a solution with the fewest pushes (start included), on a grid in
    the characters of IDS. Raises PuzzleError when the box cannot reach the target."""
    find = {v: (r, c) for r, row in enumerate(grid) for c, v in enumerate(row)}
    floor = [(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v != IDS["brick"]]
    board = Board(len(grid), len(grid[0]), floor)
    path = board.path(*(board.index(find[IDS[kind]]) for kind in ("box", "person", "target")))
    if path is None:
        raise PuzzleError("move_box: the box cannot be pushed onto the target")
    return [board.cell(i) for i in path]


class Board:
    """A rows x cols grid whose `floor` cells (the non-brick ones) are one bit mask, cell (r, c)
    at bit r * cols + c: the player's reach is then a few shifts and ands, not a walk over sets
    (the sampler runs hundreds of searches for some puzzles)."""

    def __init__(self, rows: int, cols: int, floor):
        self.rows, self.cols = rows, cols
        self.free = sum(1 << (r * cols + c) for r, c in floor)
        first_column = sum(1 << (r * self.cols) for r in range(self.rows))
        everything = (1 << (self.rows * self.cols)) - 1
        # shifting a row's last cell left (or its first right) would wrap into the next row
        self.not_first, self.not_last = everything & ~first_column, everything & ~(first_column << (self.cols - 1))

    def index(self, cell: tuple[int, int]) -> int:
        return cell[0] * self.cols + cell[1]

    def cell(self, index: int) -> tuple[int, int]:
        return divmod(index, self.cols)

    def reach(self, start: int, box: int) -> int:
        """The cells the player reaches from cell `start` with the box on cell `box` (a mask)."""
        floor, region = self.free & ~(1 << box), 1 << start
        while True:
            grown = region | (
                floor
                & (
                    (region << 1) & self.not_first
                    | (region >> 1) & self.not_last
                    | region << self.cols
                    | region >> self.cols
                )
            )
            if grown == region:
                return region
            region = grown

    def search(self, box: int, player: int, goal: int | None = None, max_pushes: int | None = None) -> dict:
        """Breadth-first search over states (box cell, player region), one layer per push:
        state -> (parent state, pushes). Stops once the box reaches `goal`, or at `max_pushes`.
        Pushes are tried in the generator's order, so that among equally short routes it finds
        the generator's: the released push path of all 100 records."""
        start = (box, self.reach(player, box))
        seen = {start: (None, 0)}
        queue = deque([start])
        n = self.rows * self.cols
        while queue:
            state = queue.popleft()
            (box, region), pushes = state, seen[state][1]
            if pushes == max_pushes:
                continue
            column = box % self.cols
            for step in (self.cols, -self.cols, 1, -1):  # the generator's order: down, up, right, left
                behind, ahead = box - step, box + step
                if not (0 <= behind < n and 0 <= ahead < n) or (abs(step) == 1 and column in (0, self.cols - 1)):
                    continue
                if region >> behind & 1 and self.free >> ahead & 1:
                    nxt = (ahead, self.reach(box, ahead))
                    if nxt not in seen:
                        seen[nxt] = (state, pushes + 1)
                        if ahead == goal:
                            return seen
                        queue.append(nxt)
        return seen

    def path(self, box: int, player: int, goal: int, max_pushes: int | None = None) -> list[int] | None:
        """The box's cells along a fewest-pushes route to `goal` (start included), or None."""
        seen = self.search(box, player, goal, max_pushes)
        state = next((s for s in seen if s[0] == goal), None)
        path = []
        while state is not None:
            path.append(state[0])
            state = seen[state][0]
        return path[::-1] or None


def timesteps(grid: list[list[str]], path: list[tuple[int, int]], ids: dict) -> dict:
    """The released `timestep` dict for a push path (see the module docstring)."""
    base = [[v.replace(ids["person"], "").replace(ids["box"], "") for v in row] for row in grid]
    steps = {"grid_0": [row[:] for row in grid]}
    for t in range(1, len(path)):
        g = [row[:] for row in base]
        g[path[t][0]][path[t][1]] = ids["box"]
        g[path[t - 1][0]][path[t - 1][1]] = ids["person"]
        steps[f"grid_{t}"] = g
    return steps


class MoveBox(Puzzle):
    name = "move_box"
    # A row is its cells, one symbol each, up to whitespace, ";" or "," (facts may be listed inline).
    claim_pattern = r"(?<!\w)(?:row \d+:(?: [^\s;,](?=[\s;,]|$))+|(?:box|player|target) at row \d+, column \d+\b)"

    def solve(self, solution: dict, question: str) -> str:
        if not isinstance(question, str) or "minimum number of pushes" not in normalize(question):
            raise PuzzleError(
                f"move_box: the question does not ask for the minimum number of pushes: {str(question)[-120:]!r}"
            )
        grid, *_ = _state(solution)
        return str(len(min_pushes(grid)) - 1)

    def start_state(self, solution: dict) -> dict:
        grid, *_ = _state(solution)
        return {"grid_0": grid}

    def parse(self, text: str) -> dict | None:
        """The warehouse stated as describe states it: "R x C storekeeper grid", then rows 0..R-1
        of C characters each (# wall, . floor, B box, S player, T flag, any case); the box,
        player and target cells, where stated, must be the grid's. None unless the rows are
        complete and the box can be pushed onto the flag."""
        if not isinstance(text, str):
            return None
        text = normalize(text)
        dims = set(re.findall(r"(\d+) x (\d+) storekeeper grid", text))
        if len(dims) != 1:
            return None
        n_rows, n_cols = map(int, dims.pop())
        chars = {v.lower(): v for v in IDS.values()}
        rows: dict[int, list[str]] = {}
        for r, cells in re.findall(_ROW, text):
            values = [chars.get(v, "?") for v in cells.split()]
            if rows.setdefault(int(r), values) != values:
                return None  # one row stated twice, differently
        if sorted(rows) != list(range(n_rows)) or any(len(v) != n_cols or "?" in v for v in rows.values()):
            return None
        solution = {"ids": dict(IDS), "timestep": {"grid_0": [rows[r] for r in range(n_rows)]}}
        try:
            grid, box, player, target = _state(solution)
            min_pushes(grid)
        except PuzzleError:
            return None
        cells = {"box": box, "person": player, "target": target}
        if any((int(r), int(c)) != cells[_KIND[kind]] for kind, r, c in re.findall(_WHERE, text)):
            return None
        return solution

    def describe(self, solution: dict) -> str:
        grid, *_ = _state(solution)
        legend = ", ".join(f"{IDS[k]} {word}" for k, word in _WORDS.items())
        facts = self.facts(solution)
        header = (
            f"A {len(grid)} x {len(grid[0])} storekeeper grid, rows numbered from 0 at the top and columns "
            f"from 0 at the left. Legend: {legend}."
        )
        return "\n".join([header, *facts[:-3], "; ".join(facts[-3:]) + "."])

    def facts(self, solution: dict) -> list[str]:
        grid, box, player, target = _state(solution)
        rows = [f"row {r}: {' '.join(row)}" for r, row in enumerate(grid)]
        where = {"box": box, "player": player, "target": target}
        return [*rows, *(f"{kind} at row {r}, column {c}" for kind, (r, c) in where.items())]

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """The generator's draw: the answer first, then warehouses until one needs exactly that many
        pushes. Box and flag are drawn among the pairs that can need that many (`_pairs`), the rest
        as the generator draws it: the same distribution, with far fewer searches."""
        wanted = rng.randint(*ANSWERS)
        pairs = _pairs(wanted)
        while True:
            open_cells = rng.randint(*OPEN_CELLS)
            box, target = rng.choice(pairs)
            player, *floor = rng.sample([c for c in INNER if c not in (box, target)], open_cells - 2)
            board = Board(SIDE, SIDE, [box, target, player, *floor])
            path = board.path(board.index(box), board.index(player), board.index(target), max_pushes=wanted)
            if path is not None and len(path) - 1 == wanted:
                break
        grid = [[IDS["brick"]] * SIDE for _ in range(SIDE)]
        for r, c in floor:
            grid[r][c] = IDS["empty"]
        for (r, c), kind in ((box, "box"), (player, "person"), (target, "target")):
            grid[r][c] = IDS[kind]
        path = [board.cell(i) for i in path]
        solution = {
            "ids": dict(IDS),
            "timestep": timesteps(grid, path, IDS),
            "target": list(target),
            "box_location": [list(cell) for cell in path],
        }
        return solution, QUESTION.format(rows=SIDE, cols=SIDE)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        return banded_options(answer, rng)

    def render(self, solution: dict, size: int) -> Image.Image:
        """Brick walls, a cardboard box, a person and a chequered flag on white cells."""
        require_size(size, self.name)
        grid, box, player, target = _state(solution)
        rows, cols = len(grid), len(grid[0])
        cell = max(4, int(size * 0.89 / max(rows, cols)))
        x0, y0 = (size - cell * cols) // 2, (size - cell * rows) // 2
        image = Image.new("RGB", (size, size), "white")
        brick = _sprite("brick", cell)
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if v == IDS["brick"]:
                    image.paste(brick, (x0 + c * cell, y0 + r * cell))
        for kind, (r, c) in (("flag", target), ("box", box), ("person", player)):
            if kind == "flag" and target in (box, player):
                continue
            sprite = _sprite(kind, cell)
            image.paste(sprite, (x0 + c * cell, y0 + r * cell), sprite)
        return image


_WORDS = {"brick": "wall", "empty": "floor", "box": "box", "person": "player", "target": "target flag"}


@functools.lru_cache(maxsize=32)
def _sprite(kind: str, cell: int) -> Image.Image:
    """One cell's picture (RGB for bricks, RGBA otherwise), drawn at 2x and halved."""
    s = 2 * cell
    image = Image.new("RGBA", (s, s), (255, 255, 255, 0 if kind != "brick" else 255))
    d = ImageDraw.Draw(image)
    u = s / 100  # drawing unit: the cell is 100 x 100
    if kind == "brick":
        shades = ((196, 68, 44), (214, 88, 56), (181, 58, 38), (226, 104, 70))
        courses, height = 7, 92 / 7
        for i in range(courses):
            top = 4 + i * height
            offset = 0 if i % 2 == 0 else -12
            for j, left in enumerate(range(offset, 96, 24)):
                box = (max(4, left + 4) * u, top * u, min(96, left + 24 + 2) * u, (top + height - 2) * u)
                if box[2] > box[0]:
                    d.rectangle(box, fill=shades[(i * 3 + j) % len(shades)])
        return image.reduce(2).convert("RGB")
    if kind == "box":
        d.polygon([(18 * u, 36 * u), (50 * u, 22 * u), (84 * u, 34 * u), (52 * u, 48 * u)], fill=(228, 182, 124))
        d.polygon([(18 * u, 36 * u), (52 * u, 48 * u), (52 * u, 86 * u), (18 * u, 72 * u)], fill=(196, 136, 82))
        d.polygon([(52 * u, 48 * u), (84 * u, 34 * u), (84 * u, 70 * u), (52 * u, 86 * u)], fill=(168, 112, 64))
        d.polygon([(60 * u, 26 * u), (68 * u, 29 * u), (36 * u, 43 * u), (28 * u, 40 * u)], fill=(244, 214, 170))
    elif kind == "person":
        d.rectangle((40 * u, 62 * u, 48 * u, 92 * u), fill=(120, 120, 130))
        d.rectangle((52 * u, 62 * u, 60 * u, 92 * u), fill=(120, 120, 130))
        d.rounded_rectangle((36 * u, 36 * u, 64 * u, 66 * u), radius=5 * u, fill=(0, 170, 160))
        d.rectangle((30 * u, 38 * u, 36 * u, 62 * u), fill=(245, 196, 120))
        d.rectangle((64 * u, 38 * u, 70 * u, 62 * u), fill=(245, 196, 120))
        d.ellipse((39 * u, 8 * u, 61 * u, 34 * u), fill=(245, 196, 120))
        d.chord((38 * u, 6 * u, 62 * u, 28 * u), 180, 360, fill=(110, 62, 30))
    elif kind == "flag":
        d.line((20 * u, 20 * u, 20 * u, 92 * u), fill=(150, 150, 150), width=max(1, round(4 * u)))
        for i in range(6):
            for j in range(4):
                fill = (20, 20, 20) if (i + j) % 2 == 0 else (255, 255, 255, 255)
                d.rectangle(((22 + 10 * i) * u, (20 + 9 * j) * u, (32 + 10 * i) * u, (29 + 9 * j) * u), fill=fill)
        d.rectangle((22 * u, 20 * u, 82 * u, 56 * u), outline=(20, 20, 20), width=max(1, round(u)))
    return image.reduce(2)
