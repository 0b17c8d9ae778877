"""Checker move: a row of green (G, move right) and red (R, move left) checkers and one empty
square (_); the minimum number of moves from the start to the end row, by BFS.

State (released keys): `start_position` and `end_position` (the two rows the image shows, left
to right), the derived `green_checkers` and `red_checkers` (checked when present) and `moves`
(one shortest sequence of rows, never read). A move slides a checker into the adjacent empty
square, or jumps it over one checker of the other colour into the empty square.

Sampling follows the AlgoPuzzleVQA generator (declare-lab/LLM-PuzzleTest,
`AlgoPuzzleVQA/generation/checker_move.py`): its 100 puzzles are the 24 classic swaps
G..G_R..R -> R..R_G..G (1-5 checkers of each colour, at least 3 in all, so 4-11 squares) and 76
drawn from the pairs of rows 1-5 moves apart on their solution paths (the first path its
breadth-first search finds; ours finds the same one, trying moves in its order). So a puzzle is
a classic swap with probability 24/100, else one of those 1,620 pairs, uniformly. What differs: a
seeded `random.Random`, and duplicates are left to the caller (there are only 1,642 distinct
puzzles). The generator writes no options; ours are drawn like the released ones: 3 distractors
uniformly from 0..5 for answers up to 5, 0..9 up to 9, else 0..49.

>>> CheckerMove().solve({"start_position": "G_RR", "end_position": "RR_G", "green_checkers": 1, "red_checkers": 2},
...     "How many moves are required to reach the ending configuration from the starting configuration?")
'5'
"""

from __future__ import annotations

import functools
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import (
    Puzzle,
    PuzzleError,
    font,
    normalize,
    require_keys,
    require_question,
    require_size,
    shortest_path,
    uniform_options,
)

QUESTION = (
    "A checker game is being played on a grid of {squares} squares with {g} green and {r} red checkers. Initially, "
    "the checkers are arranged as shown in the starting configuration with the {checkers} checkers occupying "
    "{checkers} squares and one unoccupied square. Green checkers only move rightward and red checkers only move "
    "leftward. Every move is either i) a slide to the adjacent empty square, or ii) a jump over one position to an "
    "empty square, provided the checker being jumped over is of a different colour. Each square can accommodate a "
    "maximum of one checker at any time. How many moves are required to reach the ending configuration from the "
    "starting configuration following the specified rules?"
)
ASKS = "how many moves are required"  # the phrase that identifies this category's question
LEGEND = "G = green checker (moves right only), R = red checker (moves left only), _ = empty square"
COLOURS = {"G": (0, 128, 0), "R": (255, 0, 0)}
# The generator's space: 1-5 checkers of each colour, at least 3; pairs at most 5 moves apart; 24 of 100 classic.
MAX_CHECKERS, MIN_CHECKERS, MAX_PAIR_MOVES, CLASSIC_SHARE = 5, 3, 5, 0.24
# The released options: distractors in 0..5 for answers up to 5, 0..9 up to 9, else 0..49.
OPTION_TOPS = (5, 9, 49)
CLAIM = r"(?<!\w)(start|end): ([gr_]+)"  # a fact: "start: G_RR" (normalised: "start: g_rr")


def parse_row(solution: dict, key: str) -> str:
    require_keys(solution, [key], "checker_move")
    row = solution[key]
    if not isinstance(row, str) or set(row) - set("GR_") or row.count("_") != 1:
        raise PuzzleError(f"checker_move: {key!r} must be a string of G, R and exactly one _, got {row!r}")
    for colour, count_key in (("G", "green_checkers"), ("R", "red_checkers")):
        if count_key in solution and row.count(colour) != solution[count_key]:
            raise PuzzleError(
                f"checker_move: {key!r} {row!r} does not hold {solution[count_key]} {colour} checkers ({count_key})"
            )
    return row


def successors(row: str):
    """The rows one move away, in the generator's order (green slide, red slide, green jump, red
    jump), so that the breadth-first path found is the one it stores."""
    gap = row.index("_")
    cells = list(row)
    for src, colour, over in ((gap - 1, "G", None), (gap + 1, "R", None), (gap - 2, "G", "R"), (gap + 2, "R", "G")):
        if 0 <= src < len(row) and row[src] == colour and (over is None or row[(src + gap) // 2] == over):
            nxt = cells.copy()
            nxt[gap], nxt[src] = colour, "_"
            yield "".join(nxt)


def shortest_moves(start: str, goal: str) -> list[str]:
    path = shortest_path(start, goal, successors)
    if path is None:
        raise PuzzleError(f"checker_move: {goal!r} cannot be reached from {start!r}")
    return path


@functools.lru_cache(maxsize=1)
def generator_space() -> tuple[list[list[str]], list[list[str]]]:
    """(the 24 classic swaps' solution paths, every sub-path of 1-5 moves of them): the puzzles the
    generator draws from, as move lists from start to end.

    >>> classic, pairs = generator_space()
    >>> len(classic), len(pairs), classic[0]
    (24, 1620, ['G_RR', '_GRR', 'RG_R', 'R_GR', 'RRG_', 'RR_G'])
    """
    classic, pairs = [], []
    for g in range(1, MAX_CHECKERS + 1):
        for r in range(1, MAX_CHECKERS + 1):
            if g + r >= MIN_CHECKERS:
                path = shortest_moves("G" * g + "_" + "R" * r, "R" * r + "_" + "G" * g)
                classic.append(path)
                pairs += [path[i : i + d + 1] for d in range(1, MAX_PAIR_MOVES + 1) for i in range(len(path) - d)]
    return classic, pairs


class CheckerMove(Puzzle):
    name = "checker_move"

    def _rows(self, solution: dict) -> tuple[str, str]:
        start, end = parse_row(solution, "start_position"), parse_row(solution, "end_position")
        if sorted(start) != sorted(end):
            raise PuzzleError(f"checker_move: start {start!r} and end {end!r} hold different checkers")
        return start, end

    def solve(self, solution: dict, question: str) -> str:
        start, end = self._rows(solution)
        require_question(question, ASKS, self.name)
        return str(len(shortest_moves(start, end)) - 1)

    def describe(self, solution: dict) -> str:
        return "\n".join([f"Squares listed from left to right; {LEGEND}.", *self.facts(solution)])

    def facts(self, solution: dict) -> list[str]:
        return [f"start: {parse_row(solution, 'start_position')}", f"end: {parse_row(solution, 'end_position')}"]

    def start_state(self, solution: dict) -> dict:
        start, end = self._rows(solution)
        return {"start_position": start, "end_position": end}

    claim_pattern = CLAIM

    def parse(self, text: str) -> dict | None:
        """The start and end rows of "start: ..." and "end: ..." statements, or None unless both are
        stated (once, or the same each time), hold the same checkers, and the end can be reached.

        >>> CheckerMove().parse("Start: G_R, end: RG_")
        {'start_position': 'G_R', 'end_position': 'RG_', 'green_checkers': 1, 'red_checkers': 1}
        """
        rows: dict[str, str] = {}
        for label, row in re.findall(CLAIM, normalize(text)):
            if rows.setdefault(label, row.upper()) != row.upper():
                return None  # one row stated two ways
        if len(rows) < 2:
            return None
        start, end = rows["start"], rows["end"]
        solution = {"start_position": start, "end_position": end}
        solution |= {"green_checkers": start.count("G"), "red_checkers": start.count("R")}
        try:
            self._rows(solution)
            shortest_moves(start, end)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """A classic swap (24% of the time) or a pair of rows 1-5 moves apart on a classic solution
        path, as the generator draws them (see the module docstring)."""
        classic, pairs = generator_space()
        moves = rng.choice(classic if rng.random() < CLASSIC_SHARE else pairs)
        start, end = moves[0], moves[-1]
        g, r = start.count("G"), start.count("R")
        solution = {"start_position": start, "end_position": end, "green_checkers": g, "red_checkers": r}
        solution["moves"] = list(moves)
        return solution, QUESTION.format(squares=g + r + 1, g=g, r=r, checkers=g + r)

    def render(self, solution: dict, size: int) -> Image.Image:
        require_size(size, self.name)
        start, end = parse_row(solution, "start_position"), parse_row(solution, "end_position")
        n = len(start)
        cell, margin, title = 80, 10, 50
        width, height = n * cell + 2 * margin, 2 * (title + cell) + 60
        scale = size / max(width, height)
        img = Image.new("RGB", (round(width * scale), round(height * scale)), "white")
        draw = ImageDraw.Draw(img)
        s = lambda *v: tuple(x * scale for x in v)  # noqa: E731
        text_font = font(max(6, round(22 * scale)))
        draw.text(s(width / 2, title / 2), "Starting Configuration", fill="black", font=text_font, anchor="mm")
        draw.text(s(width / 2, height - title / 2), "Ending Configuration", fill="black", font=text_font, anchor="mm")
        mid = height / 2
        for x in range(margin, width - margin, 8):
            draw.line(s(x, mid, x + 3, mid), fill=(120, 120, 120), width=max(1, round(scale * 2)))
        for top, row in ((title, start), (height - title - cell, end)):
            for i, ch in enumerate(row):
                x0 = margin + i * cell
                draw.rectangle(
                    s(x0, top, x0 + cell, top + cell), outline=(128, 128, 128), width=max(1, round(2 * scale))
                )
                if ch in COLOURS:
                    draw.ellipse(s(x0 + 8, top + 8, x0 + cell - 8, top + cell - 8), fill=COLOURS[ch])
        return img

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distractors drawn uniformly from 0..5, 0..9 or 0..49, the smallest of
        these that holds the answer, like the released options."""
        gold = int(answer)
        return uniform_options(answer, rng, 0, next((t for t in OPTION_TOPS if gold <= t), gold))
