"""Move box (storekeeper / Sokoban, one box): the minimum number of pushes to the flag.

State (released keys): `ids` (the characters: empty ".", brick "#", box "B", person
"S", target "T"), `timestep` ({"grid_0": initial grid, "grid_1": ..., one grid per
push of an optimal solution}), `target` ([row, column]) and `box_location` (the box's
cells along that solution, start included). The answer is computed from `grid_0` alone
by breadth-first search over (box cell, player region) states, one layer per push.

The released later grids follow one rule, which `sample` reproduces: they are `grid_0`
with the "S" and "B" characters erased (so those cells read ""), the box drawn at
`box_location[t]` and the player behind it, at `box_location[t - 1]`.

>>> grid = [list("#####"), list("#S.T#"), list("#.B.#"), list("#...#"), list("#####")]
>>> min_pushes(grid, IDS)
[(2, 2), (2, 3), (1, 3)]
"""

from __future__ import annotations

import functools
import random
from collections import deque

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, integer_options, require_grid, require_keys, require_size

KEYS = ("ids", "timestep", "target", "box_location")
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
MOVES = ((0, 1), (1, 0), (0, -1), (-1, 0))
WALL_COUNTS, WALL_WEIGHTS = (1, 2, 3, 4, 5, 6), (39, 32, 16, 7, 4, 2)  # inner bricks, as released


def _state(solution: dict) -> tuple[list[list[str]], dict, tuple, tuple, tuple]:
    """(grid_0, ids, box, player, target) of a solution, validated."""
    require_keys(solution, KEYS, "move_box")
    ids, steps = solution["ids"], solution["timestep"]
    require_keys(ids, tuple(IDS), "move_box ids")
    if not isinstance(steps, dict) or "grid_0" not in steps:
        raise PuzzleError("move_box: 'timestep' must be a dict holding the initial grid 'grid_0'")
    grid = steps["grid_0"]
    require_grid(grid, "grid_0", "move_box")
    found = {}
    for kind in ("box", "person", "target"):
        cells = [(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v == ids[kind]]
        if len(cells) != 1:
            raise PuzzleError(f"move_box: 'grid_0' must hold exactly one {kind} {ids[kind]!r}, found {len(cells)}")
        found[kind] = cells[0]
    if list(found["target"]) != list(solution["target"]):
        raise PuzzleError(f"move_box: 'target' {solution['target']} disagrees with grid_0's target {found['target']}")
    return grid, ids, found["box"], found["person"], found["target"]


def min_pushes(grid: list[list[str]], ids: dict) -> list[tuple[int, int]]:
    """The box's cells along a solution with the fewest pushes (start included).

    Raises PuzzleError when the box cannot reach the target."""
    find = {v: (r, c) for r, row in enumerate(grid) for c, v in enumerate(row)}
    paths = push_paths(grid, ids, find[ids["box"]], find[ids["person"]], stop_at=find[ids["target"]])
    if find[ids["target"]] not in paths:
        raise PuzzleError("move_box: the box cannot be pushed onto the target")
    return paths[find[ids["target"]]]


def push_paths(grid, ids, box, player, stop_at=None) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """For every cell the box can reach: the box's cells along a fewest-pushes route there.

    Breadth-first search over states (box cell, player region), one layer per push; the
    player region is named by its smallest cell. Stops early once `stop_at` is reached."""
    free = {(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v != ids["brick"]}
    near = {(r, c): [(r + dr, c + dc) for dr, dc in MOVES if (r + dr, c + dc) in free] for r, c in free}

    def region(start: tuple[int, int], box: tuple[int, int]) -> set:
        seen, todo = {start, box}, [start]
        while todo:
            for n in near[todo.pop()]:
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        seen.discard(box)
        return seen

    start = (box, min(region(player, box)))
    parent = {start: None}
    first = {box: start}
    queue = deque([start])
    while queue and stop_at not in first:
        state = queue.popleft()
        box, rep = state
        reach = region(rep, box)
        for dr, dc in MOVES:
            behind, ahead = (box[0] - dr, box[1] - dc), (box[0] + dr, box[1] + dc)
            if behind in reach and ahead in free:
                nxt = (ahead, min(region(box, ahead)))
                if nxt not in parent:
                    parent[nxt] = state
                    first.setdefault(ahead, nxt)
                    queue.append(nxt)
    paths = {}
    for cell, state in first.items():
        path = []
        while state is not None:
            path.append(state[0])
            state = parent[state]
        paths[cell] = path[::-1]
    return paths


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

    def solve(self, solution: dict, question: str) -> str:
        if "minimum number of pushes" not in " ".join(question.lower().split()):
            raise PuzzleError(
                f"move_box: the question does not ask for the minimum number of pushes: {question[-120:]!r}"
            )
        grid, ids, *_ = _state(solution)
        return str(len(min_pushes(grid, ids)) - 1)

    def describe(self, solution: dict) -> str:
        grid, ids, *_ = _state(solution)
        legend = ", ".join(f"{ids[k]} {word}" for k, word in _WORDS.items())
        facts = self.facts(solution)
        header = (
            f"A {len(grid)} x {len(grid[0])} storekeeper grid, rows numbered from 0 at the top and columns "
            f"from 0 at the left. Legend: {legend}."
        )
        return "\n".join([header, *facts[:-3], "; ".join(facts[-3:]) + "."])

    def facts(self, solution: dict) -> list[str]:
        grid, _, box, player, target = _state(solution)
        rows = [f"row {r}: {' '.join(row)}" for r, row in enumerate(grid)]
        where = {"box": box, "player": player, "target": target}
        return [*rows, *(f"{kind} at row {r}, column {c}" for kind, (r, c) in where.items())]

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """A 6 x 6 warehouse whose minimum push count is drawn uniformly from 1-5 (as
        released): place bricks, box and player, then put the flag on a cell the box
        reaches in exactly that many pushes (the flag does not change the game)."""
        wanted = rng.randint(1, 5)
        inner = [(r, c) for r in range(1, SIDE - 1) for c in range(1, SIDE - 1)]
        while True:
            grid = [[IDS["brick"] if min(r, c) == 0 or max(r, c) == SIDE - 1 else IDS["empty"] for c in range(SIDE)]
                    for r in range(SIDE)]  # fmt: skip
            walls = rng.choices(WALL_COUNTS, WALL_WEIGHTS)[0]
            picked = rng.sample(inner, walls + 2)
            for r, c in picked[:walls]:
                grid[r][c] = IDS["brick"]
            box, player = picked[walls:]
            grid[box[0]][box[1]], grid[player[0]][player[1]] = IDS["box"], IDS["person"]
            paths = push_paths(grid, IDS, box, player)
            ends = sorted(cell for cell, path in paths.items() if len(path) - 1 == wanted and cell != player)
            if ends:
                break
        target = rng.choice(ends)
        grid[target[0]][target[1]] = IDS["target"]
        path = paths[target]
        solution = {
            "ids": dict(IDS),
            "timestep": timesteps(grid, path, IDS),
            "target": list(target),
            "box_location": [list(cell) for cell in path],
        }
        return solution, QUESTION.format(rows=SIDE, cols=SIDE)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        return integer_options(answer, rng, 1, max(5, int(answer) + 3))

    def render(self, solution: dict, size: int) -> Image.Image:
        """Brick walls, a cardboard box, a person and a chequered flag on white cells."""
        require_size(size, self.name)
        grid, ids, box, player, target = _state(solution)
        rows, cols = len(grid), len(grid[0])
        cell = max(4, int(size * 0.89 / max(rows, cols)))
        x0, y0 = (size - cell * cols) // 2, (size - cell * rows) // 2
        image = Image.new("RGB", (size, size), "white")
        brick = _sprite("brick", cell)
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if v == ids["brick"]:
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
