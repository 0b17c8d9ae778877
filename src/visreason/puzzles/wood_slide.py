"""Wood slide: a sliding block puzzle; the minimum number of moves from the start to the end grid, by BFS.

State (released keys): `start_position` and `end_position`, each a 5 x 4 grid written as
rows of digits joined by newlines ("4722\\n5733\\n0611\\n0611\\n8899"): the cells that share a
digit form one rectangular wooden block, 0 is an empty cell. The released puzzles use the
classic 9 blocks: one 2 x 2 (1), four 1 x 2 (2, 3, 8, 9), two 2 x 1 (6, 7) and two 1 x 1
(4, 5), with two empty cells. The derived `moves` (the grids of one shortest solution,
start and end included) is never read.

A move slides one block by one cell up, down, left or right into empty cells. Blocks are
told apart by their digit (their colour in the image): the end grid is reached when every
block is where the end grid has it.

Sampling follows the released generator's outcome, a start and an end 1..5 moves apart
(uniform) on the classic block set, but it does not draw both from the one shortest
solution of the classic puzzle as the released generator does (that pool has about 80
grids, too few for training sets that must not overlap the released ones): the start is a
uniform draw from the 1,398 arrangements of the block shapes reachable from the classic
start, with same-shape blocks relabelled at random, the end a uniform draw from the grids
exactly d moves away. Ends that a different labelling of same-shape blocks would reach in
fewer moves are rejected, so that the answer does not depend on telling same-shape blocks
apart (true of every released record).

>>> WoodSlide().solve({"start_position": "4722\\n5733\\n0611\\n0611\\n8899",
...                    "end_position": "4722\\n0733\\n5611\\n0611\\n8899"},
...                   "What is the minimum number of moves required to reach the ending configuration?")
'1'
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter, deque

from PIL import Image, ImageDraw

from visreason.puzzles.base import (
    Puzzle,
    PuzzleError,
    bfs,
    font,
    normalize,
    require_keys,
    require_question,
    require_size,
    shortest_path,
)

QUESTION = (
    "Consider a sliding block puzzle of grid size 5 * 4 units. It has 9 wooden blocks of varying sizes: one 2 * 2, "
    "four 1 * 2, two 2 * 1, and two 1 * 1. The gird also has two empty 1 * 1 spaces. The blocks cannot be removed "
    "from the grid, and may only be slid horizontally and vertically within its boundary. A move is defined as "
    "selecting a block that is slideable, and moving it by 1 unit either horizontally or vertically, whichever is "
    "possible. The image shows the starting and ending configurations of the puzzle grid. The wooden blocks are shown "
    "in various shades of brown and the empty spaces are shown in white. What is the minimum number of moves required "
    "to reach the ending configuration from the starting configuration?"
)  # released wording, typo ("gird") included
ASKS = "minimum number of moves required"  # the phrase that identifies this category's question
GRID_RE = re.compile(r"grid size (\d+) \* (\d+) units")
BLOCKS_RE = re.compile(r"it has (\w+) wooden blocks of varying sizes: ([^.]*)\.")
BLOCK_RE = re.compile(r"(\w+) (\d+) \* (\d+)")
EMPTY_RE = re.compile(r"(\w+) empty 1 \* 1 spaces?")
NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
CLASSIC = "1122\n1133\n4500\n6788\n6799"  # the classic start; block 1 (2 x 2) is to reach the lower left
MAX_ANSWER = 5  # the released answers span 1..5
OPTION_RANGE = (1, 6)  # the released options span 1..6
# Block colours of the released images (shades of brown), by digit; 0 stays white.
WOOD = {
    "1": (160, 82, 45), "2": (193, 154, 107), "3": (205, 133, 63), "4": (210, 180, 140), "5": (222, 184, 135),
    "6": (244, 164, 96), "7": (139, 115, 85), "8": (166, 123, 91), "9": (110, 76, 52),
}  # fmt: skip
_HEADER = (
    "Two {rows} x {cols} grids of a sliding block puzzle, the start and the end configuration, rows listed from "
    "top to bottom and cells from left to right. Cells with the same digit form one wooden block (each digit is "
    "one block, in its own shade of brown); 0 is an empty cell."
)


class Board:
    """A validated grid: `cells` is the row-major string of digits, `shapes` maps digit -> (height, width)."""

    def __init__(self, text: str, key: str):
        rows = text.split("\n") if isinstance(text, str) else None
        if not rows or not rows[0] or any(len(r) != len(rows[0]) or not r.isdigit() or not r.isascii() for r in rows):
            raise PuzzleError(f"wood_slide: {key!r} must be equal rows of digits joined by newlines, got {text!r}")
        self.rows, self.cols, self.cells = len(rows), len(rows[0]), "".join(rows)
        self.shapes = {}
        for label in sorted(set(self.cells) - {"0"}):
            where = [divmod(i, self.cols) for i, ch in enumerate(self.cells) if ch == label]
            height = max(r for r, _ in where) - min(r for r, _ in where) + 1
            width = max(c for _, c in where) - min(c for _, c in where) + 1
            if height * width != len(where):
                raise PuzzleError(f"wood_slide: block {label} of {key!r} is not a rectangle: {text!r}")
            self.shapes[label] = (height, width)


def parse_boards(solution: dict) -> tuple[Board, Board]:
    """The validated (start, end) boards: same size, the same blocks, the same number of empty cells."""
    require_keys(solution, ("start_position", "end_position"), "wood_slide")
    start, end = Board(solution["start_position"], "start_position"), Board(solution["end_position"], "end_position")
    if (start.rows, start.cols) != (end.rows, end.cols):
        raise PuzzleError(
            f"wood_slide: 'start_position' is {start.rows} x {start.cols} but 'end_position' is {end.rows} x {end.cols}"
        )
    if start.shapes != end.shapes or start.cells.count("0") != end.cells.count("0"):
        raise PuzzleError(
            f"wood_slide: 'start_position' {solution['start_position']!r} and 'end_position' "
            f"{solution['end_position']!r} do not hold the same blocks"
        )
    return start, end


def successors(cells: str, rows: int, cols: int):
    """Every grid one move away. A block can only move into an empty cell, so only the blocks
    next to an empty cell are tried, each towards it; a block is a rectangle, found from its
    first cell."""
    tried = set()
    for empty in (i for i, ch in enumerate(cells) if ch == "0"):
        r, c = divmod(empty, cols)
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):  # the block sits at (r + dr, c + dc) and moves by -(dr, dc)
            if not (0 <= r + dr < rows and 0 <= c + dc < cols):
                continue
            label = cells[(r + dr) * cols + c + dc]
            if label == "0" or (label, dr, dc) in tried:
                continue
            tried.add((label, dr, dc))
            first = cells.index(label)
            top, left = divmod(first, cols)
            height = width = 1
            while left + width < cols and cells[first + width] == label:
                width += 1
            while top + height < rows and cells[first + height * cols] == label:
                height += 1
            top2, left2 = top - dr, left - dc
            if not (0 <= top2 and top2 + height <= rows and 0 <= left2 and left2 + width <= cols):
                continue
            new = {(top2 + y) * cols + left2 + x for y in range(height) for x in range(width)}
            old = {(top + y) * cols + left + x for y in range(height) for x in range(width)}
            if all(cells[i] == "0" for i in new - old):
                out = list(cells)
                for i in old - new:
                    out[i] = "0"
                for i in new - old:
                    out[i] = label
                yield "".join(out)


def solution_path(start: Board, end: Board) -> list[str]:
    """The grids (row-major strings) of a shortest solution; PuzzleError naming both grids if there is none."""
    path = shortest_path(start.cells, end.cells, lambda s: successors(s, start.rows, start.cols))
    if path is None:
        raise PuzzleError(
            f"wood_slide: the end position {_text(end.cells, end.cols)!r} cannot be reached from the start position "
            f"{_text(start.cells, start.cols)!r}"
        )
    return path


def _text(cells: str, cols: int) -> str:
    return "\n".join(cells[i : i + cols] for i in range(0, len(cells), cols))


def _number(word: str) -> int:
    """ "9" or "nine" -> 9; -1 for anything else."""
    return int(word) if word.isdigit() else NUMBERS.get(word, -1)


def _check_question(question: str, start: Board) -> None:
    """The question must ask for the minimum number of moves and, where it states them, agree with the
    grid size, the blocks and the empty cells of the state."""
    require_question(question, ASKS, "wood_slide")
    text = normalize(question)
    if (m := GRID_RE.search(text)) and (int(m.group(1)), int(m.group(2))) != (start.rows, start.cols):
        raise PuzzleError(
            f"wood_slide: the question's grid {m.group(0)!r} is not the state's {start.rows} x {start.cols}"
        )
    if m := BLOCKS_RE.search(text):
        stated = Counter({(int(h), int(w)): _number(n) for n, h, w in BLOCK_RE.findall(m.group(2))})
        if stated != Counter(start.shapes.values()) or _number(m.group(1)) != len(start.shapes):
            raise PuzzleError(f"wood_slide: the question's blocks ({m.group(2)!r}) are not the state's blocks")
    if (m := EMPTY_RE.search(text)) and _number(m.group(1)) != start.cells.count("0"):
        raise PuzzleError(f"wood_slide: the question's {m.group(0)!r} disagrees with the state's empty cells")


class WoodSlide(Puzzle):
    name = "wood_slide"
    claim_pattern = r"(?:start|end) row \d+: \d(?: \d)*"

    def solve(self, solution: dict, question: str) -> str:
        start, end = parse_boards(solution)
        _check_question(question, start)
        return str(len(solution_path(start, end)) - 1)

    def describe(self, solution: dict) -> str:
        start, _ = parse_boards(solution)
        return "\n".join([_HEADER.format(rows=start.rows, cols=start.cols), *self.facts(solution)])

    def facts(self, solution: dict) -> list[str]:
        out = []
        for which, board in zip(("start", "end"), parse_boards(solution)):
            for r in range(board.rows):
                out.append(f"{which} row {r + 1}: " + " ".join(board.cells[r * board.cols : (r + 1) * board.cols]))
        return out

    def start_state(self, solution: dict):
        start, end = parse_boards(solution)
        return [_text(start.cells, start.cols), _text(end.cells, end.cols)]

    def parse(self, text: str) -> dict | None:
        """Both grids from "start row i: d d d d" / "end row i: ..." lines; None unless both are
        complete (rows 1..n, one length, the same size for both) and a valid state."""
        if not isinstance(text, str):
            return None
        grids: dict[str, dict[int, str]] = {"start": {}, "end": {}}
        for which, row, digits in re.findall(r"\b(start|end) row (\d+): (\d(?: \d)*)\b", normalize(text)):
            digits = digits.replace(" ", "")
            if grids[which].setdefault(int(row), digits) != digits:
                return None  # one row stated two ways
        solution = {}
        for which, rows in grids.items():
            if not rows or sorted(rows) != list(range(1, len(rows) + 1)):
                return None
            solution[f"{which}_position"] = "\n".join(rows[r] for r in sorted(rows))
        try:
            parse_boards(solution)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """A random arrangement of the classic blocks, then a grid exactly d moves on (d uniform in 1..5)."""
        classic, shape_only = _classic()
        rows, cols = classic.rows, classic.cols
        neighbours = functools.partial(_successor_list, rows=rows, cols=cols)
        while True:
            start = rng.choice(classic_arrangements()).translate(_shuffled_labels(classic.shapes, rng))
            target = rng.randint(1, MAX_ANSWER)
            seen = bfs(start, neighbours, max_depth=target)
            # A grid reached in fewer moves up to swapping same-shape blocks would make the answer depend on
            # telling them apart: leave such ends out.
            nearer = {s.translate(shape_only) for s, (_, d) in seen.items() if d < target}
            layer = sorted(s for s, (_, d) in seen.items() if d == target and s.translate(shape_only) not in nearer)
            if layer:
                break
        end = rng.choice(layer)
        path = [end]
        while seen[path[-1]][0] is not None:
            path.append(seen[path[-1]][0])
        solution = {
            "start_position": _text(start, cols),
            "end_position": _text(end, cols),
            "moves": [_text(s, cols) for s in reversed(path)],
        }
        return solution, QUESTION

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 other move counts, uniform over the released options' range 1..6."""
        low, high = OPTION_RANGE[0], max(OPTION_RANGE[1], int(answer))
        others = rng.sample([v for v in range(low, high + 1) if str(v) != answer], 3)
        opts = [answer] + [str(v) for v in others]
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """The start grid (left) and end grid (right), each framed in black, blocks in shades of brown
        with white seams, captioned "Starting Configuration" and "Ending Configuration" below."""
        require_size(size, self.name)
        start, end = parse_boards(solution)
        rows, cols = start.rows, start.cols
        img, unit = _frames(size, rows, cols)
        img = img.copy()
        draw = ImageDraw.Draw(img)
        seam = max(1, round(unit * 0.03))
        for k, board in enumerate((start, end)):
            x0, y0 = (_PAD + k * (cols + _GAP)) * unit, _PAD * unit
            for label, (h, w) in board.shapes.items():
                r, c = divmod(board.cells.index(label), cols)
                draw.rectangle(
                    (x0 + c * unit, y0 + r * unit, x0 + (c + w) * unit, y0 + (r + h) * unit),
                    fill=WOOD.get(label, (150, 100, 60)),
                    outline="white",
                    width=seam,
                )
        return img


# Layout in grid cells, measured on the released images: two frames side by side, captions below.
_GAP, _PAD = 0.98, 0.4  # between the frames; around the drawing


@functools.lru_cache(maxsize=8)
def _frames(size: int, rows: int, cols: int) -> tuple[Image.Image, float]:
    """The empty frames and their captions (the same for every puzzle of a size), and the cell size."""
    width_u, height_u = 2 * cols + _GAP + 2 * _PAD, _PAD + rows + 1.15
    unit = size / max(width_u, height_u)
    img = Image.new("RGB", (round(width_u * unit), round(height_u * unit)), "white")
    draw = ImageDraw.Draw(img)
    caption_font = font(max(6, round(unit * 0.21)))
    for k, caption in enumerate(("Starting Configuration", "Ending Configuration")):
        x0, y0 = (_PAD + k * (cols + _GAP)) * unit, _PAD * unit
        frame = (x0 - 0.19 * unit, y0 - 0.15 * unit, x0 + (cols + 0.16) * unit, y0 + (rows + 0.2) * unit)
        draw.rectangle(frame, outline="black", width=max(1, round(unit * 0.02)))
        draw.text(
            (x0 + cols * unit / 2, y0 + (rows + 0.67) * unit), caption, fill="black", font=caption_font, anchor="mm"
        )
    return img, unit


@functools.lru_cache(maxsize=1)
def _classic() -> tuple[Board, dict[int, str]]:
    """The classic board and its same-shape translation table."""
    board = Board(CLASSIC, "classic")
    return board, same_shape_table(board.shapes)


def _successor_list(cells: str, rows: int, cols: int) -> list[str]:
    return list(successors(cells, rows, cols))


@functools.lru_cache(maxsize=1)
def classic_arrangements() -> tuple[str, ...]:
    """One grid for each arrangement of the classic blocks' shapes reachable from the classic start
    (1,398 of them): a breadth-first search over grids that counts two grids as one when they differ
    only by swapping same-shape blocks. About 0.1 s, once per process."""
    classic, table = _classic()
    found = {classic.cells.translate(table): classic.cells}
    queue = deque([classic.cells])
    while queue:
        for nxt in successors(queue.popleft(), classic.rows, classic.cols):
            if (key := nxt.translate(table)) not in found:
                found[key] = nxt
                queue.append(nxt)
    return tuple(found.values())


def _shuffled_labels(shapes: dict[str, tuple[int, int]], rng: random.Random) -> dict[int, str]:
    """A str.translate table that permutes the digits of same-shape blocks at random."""
    table = {}
    for shape in sorted(set(shapes.values())):
        labels = [k for k, v in shapes.items() if v == shape]
        table.update(zip(labels, rng.sample(labels, len(labels))))
    return str.maketrans(table)


def same_shape_table(shapes: dict[str, tuple[int, int]]) -> dict[int, str]:
    """A str.translate table giving every block the smallest digit of its shape: a grid translated
    with it is what a reader who does not tell same-shape blocks apart sees.

    >>> "1122113345006788".translate(same_shape_table(Board(CLASSIC, "classic").shapes))
    '1122112244006622'
    """
    return str.maketrans({label: min(k for k, v in shapes.items() if v == shape) for label, shape in shapes.items()})
