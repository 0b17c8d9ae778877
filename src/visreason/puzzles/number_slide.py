"""Number slide: an n x n sliding-tile board (0 is the open position) and one of three questions.

A move slides the *open position* one square left, right, up or down (the tile there
takes its place). The released records ask, after exactly N moves:

1. "How many unique final board positions can you reach?": all N-move sequences,
   moving back allowed, counted by distinct final grid;
2. "What is the maximum|minimum sum that you can achieve across the top|bottom|left|right
   most row|column in the final board position?": over those same final grids, the open
   position counting 0;
3. "... moving in the following sequence: up, left. What is the maximum number|minimum
   number|sum of numbers in|of the row|column which now has the open position?": after
   that one sequence, over the tiles of that line (the open position is not a number).

All three were checked against the 100 released records. The start state is
`starting_grid`; `total_moves` repeats the question's move count (checked where present),
and `path_track`, `possible_states` and `unique_positions` are derived (never read).

Sampling follows the AlgoPuzzleVQA generator (`generation/number_slide.py`): the size is
3, 4 or 5 with weights 0.25/0.45/0.3 and the tiles a uniform shuffle; the question kind is
unique positions, an extreme sum or a move sequence with weights 0.25/0.35/0.4, and the
move count 1-3 (0.25/0.45/0.3), 1-4 (0.2/0.33/0.33/0.16) or 2-4 (0.25/0.35/0.4) by kind. A
sum question asks about a (minimum or maximum, line) whose extreme at most 2 move
sequences reach (`sum_questions`; any line if none is), a sequence question about a
uniform legal sequence, its statistic and line uniform. Options follow the released
records (`banded_options`). What differs: a seeded `random.Random`, a redraw where the
generator would fail (no line qualifies even at 100 sequences), and duplicates are left
to the caller.

>>> p = NumberSlide()
>>> sol = {"starting_grid": [[1, 2, 3], [4, 5, 6], [7, 8, 0]], "total_moves": 1}
>>> p.solve(sol, "... perform exactly 1 move. How many unique final board positions can you reach?")
'2'
>>> p.parse(p.describe(sol))
{'starting_grid': [[1, 2, 3], [4, 5, 6], [7, 8, 0]]}
"""

from __future__ import annotations

import json
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, banded_options, font, normalize, require_keys, require_size

# Direction of the open position -> (row step, column step). The order is the one the
# released `path_track` keys enumerate in.
DIRECTIONS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}

QUESTION_PREFIX = (
    "The board shown in the image is a sliding puzzle of {n} * {n} tile dimensions. It has {tiles} numbered tiles "
    "and one unoccupied (open) position. Tiles in the same row or column of the open position can be moved by "
    "sliding them horizontally or vertically, respectively. All tiles always stay and move inside the red boundary "
    "wall, as shown in the image. A move is defined as moving the open position by one tile unit in any available "
    "direction. You start from the board position shown in the image and perform exactly {moves} {move_word}"
)
UNIQUE_Q = ". How many unique final board positions can you reach?"
SUM_Q = ". What is the {extreme} sum that you can achieve across the {side} most {line} in the final board position?"
SEQUENCE_Q = (
    " such that the open position is seen moving in the following sequence: {seq}."
    " What is the {stat} the {line} which now has the open position?"
)
SIDES = {"top": "row", "bottom": "row", "left": "column", "right": "column"}
SEQUENCE_STATS = ("maximum number in", "minimum number in", "sum of numbers of")

# The generator's weights: board size; question kind; move count by kind.
SIZE_WEIGHTS = {3: 0.25, 4: 0.45, 5: 0.3}
KIND_WEIGHTS = {"unique": 0.25, "sum": 0.35, "sequence": 0.4}
MOVE_WEIGHTS = {"unique": {1: 0.25, 2: 0.45, 3: 0.3}, "sum": {1: 0.2, 2: 0.33, 3: 0.33, 4: 0.16},
                "sequence": {2: 0.25, 3: 0.35, 4: 0.4}}  # fmt: skip
RARE, ANY = 2, 100  # a sum question's extreme must be reached by at most RARE sequences, else ANY
_ROW = r"row (\d+):((?: \d+\b)+)"

MOVES_RE = re.compile(r"perform exactly (\d+) moves?\b")
UNIQUE_RE = re.compile(r"how many unique final board positions")
SUM_RE = re.compile(
    r"what is the (maximum|minimum) sum that you can achieve across the (top|bottom|left|right) most (row|column)"
)
SEQUENCE_RE = re.compile(
    r"following sequence: ((?:left|right|up|down)(?:, (?:left|right|up|down))*)\. "
    r"what is the (maximum number in|minimum number in|sum of numbers of) the (row|column)"
    r" which now has the open position"
)

Grid = list[list[int]]


def parse_grid(solution: dict) -> Grid:
    """The validated `starting_grid`: square, a permutation of 0..n*n-1."""
    require_keys(solution, ["starting_grid"], "number_slide")
    grid = solution["starting_grid"]
    n = len(grid) if isinstance(grid, list) else 0
    if n < 2 or any(not isinstance(row, list) or len(row) != n for row in grid):
        raise PuzzleError(f"number_slide: 'starting_grid' must be a square list of lists, got {grid!r}")
    if sorted(v for row in grid for v in row) != list(range(n * n)):
        raise PuzzleError(f"number_slide: 'starting_grid' must hold 0..{n * n - 1} once each, got {grid!r}")
    return [list(row) for row in grid]


def open_position(grid: Grid) -> tuple[int, int]:
    return next((r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v == 0)


def slide(grid: Grid, direction: str) -> Grid | None:
    """The grid after moving the open position one step, or None at the wall."""
    r, c = open_position(grid)
    dr, dc = DIRECTIONS[direction]
    rr, cc = r + dr, c + dc
    if not (0 <= rr < len(grid) and 0 <= cc < len(grid)):
        return None
    out = [list(row) for row in grid]
    out[r][c], out[rr][cc] = out[rr][cc], 0
    return out


def all_paths(grid: Grid, moves: int) -> list[tuple[tuple[str, ...], Grid]]:
    """Every legal sequence of exactly `moves` moves (moving back allowed) with its final grid."""
    if moves == 0:
        return [((), grid)]
    out = []
    for d in DIRECTIONS:
        nxt = slide(grid, d)
        if nxt is not None:
            out += [((d, *rest), final) for rest, final in all_paths(nxt, moves - 1)]
    return out


def line_values(grid: Grid, side: str) -> list[int]:
    return {
        "top": grid[0],
        "bottom": grid[-1],
        "left": [row[0] for row in grid],
        "right": [row[-1] for row in grid],
    }[side]


def sum_questions(finals: list[Grid], threshold: int = RARE) -> list[tuple[str, str]]:
    """The (extreme, side) pairs a sum question may ask about, in the generator's order: those whose
    extreme sum at most `threshold` of the final grids (one per move sequence) reach.

    >>> sum_questions([[[1, 2], [3, 0]], [[1, 0], [3, 2]], [[0, 1], [3, 2]]])[:3]
    [('minimum', 'top'), ('maximum', 'top'), ('minimum', 'left')]
    """
    out = []
    for side in ("top", "left", "bottom", "right"):
        sums = [sum(line_values(final, side)) for final in finals]
        for extreme, value in (("minimum", min(sums)), ("maximum", max(sums))):
            if sums.count(value) <= threshold:
                out.append((extreme, side))
    return out


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class NumberSlide(Puzzle):
    name = "number_slide"
    claim_pattern = r"(?<!\w)row \d+:(?: \d+\b)+"

    def solve(self, solution: dict, question: str) -> str:
        grid = parse_grid(solution)
        q = " ".join(question.lower().split())
        found = MOVES_RE.search(q)
        if not found:
            raise PuzzleError(f"number_slide: question does not say 'perform exactly N moves': {question!r}")
        moves = int(found.group(1))
        if "total_moves" in solution and solution["total_moves"] != moves:
            raise PuzzleError(
                f"number_slide: question says {moves} moves but 'total_moves' is {solution['total_moves']}"
            )
        if m := SEQUENCE_RE.search(q):
            seq = m.group(1).split(", ")
            if len(seq) != moves:
                raise PuzzleError(
                    f"number_slide: question lists {len(seq)} moves but says exactly {moves}: {question!r}"
                )
            for d in seq:
                nxt = slide(grid, d)
                if nxt is None:
                    raise PuzzleError(f"number_slide: move sequence {m.group(1)!r} runs into the wall")
                grid = nxt
            r, c = open_position(grid)
            line = grid[r] if m.group(3) == "row" else [row[c] for row in grid]
            tiles = [v for v in line if v != 0]
            stat = m.group(2)
            return str(
                max(tiles) if stat.startswith("maximum") else min(tiles) if stat.startswith("minimum") else sum(tiles)
            )
        finals = [final for _, final in all_paths(grid, moves)]
        if UNIQUE_RE.search(q):
            return str(len({json.dumps(f) for f in finals}))
        if m := SUM_RE.search(q):
            extreme, side, line = m.groups()
            if SIDES[side] != line:
                raise PuzzleError(f"number_slide: question asks for the {side} most {line}: no such line")
            sums = [sum(line_values(f, side)) for f in finals]
            return str(max(sums) if extreme == "maximum" else min(sums))
        raise PuzzleError(f"number_slide: question asks for no quantity this solver knows: {question!r}")

    def describe(self, solution: dict) -> str:
        grid = parse_grid(solution)
        n = len(grid)
        lines = [f"A {n} x {n} sliding puzzle board, rows listed from top to bottom (0 marks the open position):"]
        return "\n".join(lines + self.facts(solution))

    def facts(self, solution: dict) -> list[str]:
        return [f"row {i + 1}: " + " ".join(map(str, row)) for i, row in enumerate(parse_grid(solution))]

    def start_state(self, solution: dict) -> dict:
        return {"starting_grid": parse_grid(solution)}

    def parse(self, text: str) -> dict | None:
        """The board stated as describe states it: "an n x n sliding puzzle board" where stated, and
        rows 1..n of n numbers each, 0..n*n-1 once each. None unless the rows make such a board."""
        if not isinstance(text, str):
            return None
        text = normalize(text)
        rows: dict[int, list[int]] = {}
        for r, cells in re.findall(_ROW, text):
            values = [int(v) for v in cells.split()]
            if rows.setdefault(int(r), values) != values:
                return None  # one row stated twice, differently
        n = len(rows)
        sizes = {(int(a), int(b)) for a, b in re.findall(r"(\d+) x (\d+) sliding puzzle", text)}
        if sizes - {(n, n)} or sorted(rows) != list(range(1, n + 1)):
            return None
        solution = {"starting_grid": [rows[r] for r in range(1, n + 1)]}
        try:
            parse_grid(solution)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        while True:
            n, kind = _pick(rng, SIZE_WEIGHTS), _pick(rng, KIND_WEIGHTS)
            moves = _pick(rng, MOVE_WEIGHTS[kind])
            cells = list(range(n * n))
            rng.shuffle(cells)
            grid = [cells[i * n : (i + 1) * n] for i in range(n)]
            paths = all_paths(grid, moves)
            finals = [final for _, final in paths]
            sums = (sum_questions(finals) or sum_questions(finals, ANY)) if kind == "sum" else None
            if sums != []:
                break  # the generator fails where no line qualifies: draw again
        solution = {
            "starting_grid": grid,
            "total_moves": moves,
            "path_track": {", ".join(p): final for p, final in paths},
            "possible_states": finals,
            "unique_positions": len({json.dumps(final) for final in finals}),
        }
        prefix = QUESTION_PREFIX.format(n=n, tiles=n * n - 1, moves=moves, move_word="move" if moves == 1 else "moves")
        if kind == "unique":
            question = prefix + UNIQUE_Q
        elif kind == "sum":
            extreme, side = rng.choice(sums)
            question = prefix + SUM_Q.format(extreme=extreme, side=side, line=SIDES[side])
        else:
            seq = rng.choice(paths)[0]
            question = prefix + SEQUENCE_Q.format(
                seq=", ".join(seq), stat=rng.choice(SEQUENCE_STATS), line=rng.choice(("row", "column"))
            )
        return solution, question

    def render(self, solution: dict, size: int) -> Image.Image:
        require_size(size, self.name)
        grid = parse_grid(solution)
        n = len(grid)
        img = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(img)
        margin = round(size * 0.035)
        draw.rectangle((margin, margin, size - margin, size - margin), outline=(220, 30, 30), width=max(1, size // 300))
        inner = size - 2 * margin
        cell = inner / n
        pad = max(2, round(cell * 0.03))
        text_font = font(round(cell * 0.38))
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if v == 0:
                    continue
                x0, y0 = margin + c * cell + pad, margin + r * cell + pad
                x1, y1 = margin + (c + 1) * cell - pad, margin + (r + 1) * cell - pad
                draw.rounded_rectangle(
                    (x0, y0, x1, y1), radius=cell * 0.08, fill="white", outline=(110, 110, 110), width=1
                )
                draw.text(((x0 + x1) / 2, (y0 + y1) / 2), str(v), fill="black", font=text_font, anchor="mm")
        return img

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        return banded_options(answer, rng)
