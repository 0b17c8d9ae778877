"""Checker move: a row of green (G, move right) and red (R, move left) checkers and one empty
square (_); the minimum number of moves from the start to the end row, by BFS.

A move slides a checker into the adjacent empty square, or jumps it over one checker of
the other colour into the empty square.

>>> CheckerMove().solve({"start_position": "G_RR", "end_position": "RR_G", "green_checkers": 1, "red_checkers": 2},
...     "How many moves are required to reach the ending configuration from the starting configuration?")
'5'
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from visreason.puzzles.base import (
    Puzzle,
    PuzzleError,
    bfs,
    font,
    integer_options,
    require_keys,
    require_question,
    require_size,
    shortest_path,
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
MAX_RANDOM_ANSWER = 5  # released non-classic puzzles need 1..5 moves


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
    gap = row.index("_")
    cells = list(row)
    for src, colour, over in ((gap - 1, "G", None), (gap - 2, "G", "R"), (gap + 1, "R", None), (gap + 2, "R", "G")):
        if 0 <= src < len(row) and row[src] == colour and (over is None or row[(src + gap) // 2] == over):
            nxt = cells.copy()
            nxt[gap], nxt[src] = colour, "_"
            yield "".join(nxt)


def shortest_moves(start: str, goal: str) -> list[str]:
    path = shortest_path(start, goal, successors)
    if path is None:
        raise PuzzleError(f"checker_move: {goal!r} cannot be reached from {start!r}")
    return path


class CheckerMove(Puzzle):
    name = "checker_move"

    def solve(self, solution: dict, question: str) -> str:
        start, end = parse_row(solution, "start_position"), parse_row(solution, "end_position")
        require_question(question, ASKS, self.name)
        if sorted(start) != sorted(end):
            raise PuzzleError(f"checker_move: start {start!r} and end {end!r} hold different checkers")
        return str(len(shortest_moves(start, end)) - 1)

    def describe(self, solution: dict) -> str:
        return "\n".join([f"Squares listed from left to right; {LEGEND}.", *self.facts(solution)])

    def facts(self, solution: dict) -> list[str]:
        return [f"start: {parse_row(solution, 'start_position')}", f"end: {parse_row(solution, 'end_position')}"]

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """A classic swap (G..G_R..R to R..R_G..G) 30% of the time, else a random row and a row 1..5 moves on."""
        g, r = rng.randint(1, 5), rng.randint(1, 5)
        if rng.random() < 0.3:
            start, end = "G" * g + "_" + "R" * r, "R" * r + "_" + "G" * g
        else:
            while True:
                cells = list("G" * g + "R" * r + "_")
                rng.shuffle(cells)
                start = "".join(cells)
                target = rng.randint(1, MAX_RANDOM_ANSWER)
                layer = sorted(row for row, (_, d) in bfs(start, successors).items() if d == target)
                if layer:
                    end = rng.choice(layer)
                    break
        solution = {
            "start_position": start,
            "end_position": end,
            "green_checkers": g,
            "red_checkers": r,
            "moves": shortest_moves(start, end),
        }
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
        return integer_options(answer, rng, 1, max(int(answer) + 6, 8))
