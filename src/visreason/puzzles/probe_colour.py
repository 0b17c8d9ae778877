"""Probe colour: which of four colours is the one square on a white canvas? A lab category.

Not part of AlgoPuzzleVQA (it has no released records): the lab preset trains and
evaluates on it because a model of a few hundred thousand parameters can learn it in
seconds on a CPU, so every reward design can visibly move what it pays for, which the
real categories cannot show at that size. The answer comes from the image alone: on a
blank image a model can do no better than chance (0.25).

State: `colour` (one of COLOURS), `side` (the square's side) and `left`, `top` (its
top-left corner), in units of a GRID x GRID canvas; the square lies inside the canvas.

>>> ProbeColour().solve({"colour": "blue", "side": 24, "left": 2, "top": 5}, QUESTION)
'blue'
>>> ProbeColour().facts({"colour": "blue", "side": 24, "left": 2, "top": 5})
['blue square', '24 units wide', 'column 2, row 5']
"""

from __future__ import annotations

import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, find_each_once, require_keys, require_question, require_size

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 200, 30)}
GRID = 32  # canvas units per side
# Large squares (from 5/8 of the canvas up): the colour then fills most image tokens, so the tiny model
# learns to see it in a warm-up of seconds. With the positions and colours: 3,156 distinct states.
SIDES = tuple(range(20, 29))
QUESTION = "What is the colour of the square in the image?"
KEYS = ("colour", "side", "left", "top")

_C = "|".join(COLOURS)
_FACTS = {
    "colour": re.compile(rf"\b({_C}) square\b"),
    "side": re.compile(r"\b(\d+) units wide\b"),
    "corner": re.compile(r"\bcolumn (\d+), row (\d+)\b"),
}


def square(solution: dict) -> tuple[str, int, int, int]:
    """(colour, side, left, top) of a valid state, else PuzzleError naming the key."""
    require_keys(solution, KEYS, "probe_colour")
    colour, side, left, top = (solution[k] for k in KEYS)
    if colour not in COLOURS:
        raise PuzzleError(f"probe_colour: 'colour' must be one of {', '.join(COLOURS)}, got {colour!r}")
    if type(side) is not int or side not in SIDES:
        raise PuzzleError(f"probe_colour: 'side' must be one of {SIDES}, got {side!r}")
    for key, value in (("left", left), ("top", top)):
        if type(value) is not int or not 0 <= value <= GRID - side:
            raise PuzzleError(
                f"probe_colour: {key!r} must be an integer in 0-{GRID - side} for side {side}, got {value!r}"
            )
    return colour, side, left, top


class ProbeColour(Puzzle):
    name = "probe_colour"
    claim_pattern = "|".join(p.pattern for p in _FACTS.values())

    def solve(self, solution: dict, question: str) -> str:
        require_question(question, "colour of the square", self.name)
        return square(solution)[0]

    def describe(self, solution: dict) -> str:
        colour, side, left, top = square(solution)
        return (
            f"The image shows one {colour} square on a white canvas of {GRID} x {GRID} units: it is {side} units wide, "
            f"its top-left corner at column {left}, row {top}."
        )

    def facts(self, solution: dict) -> list[str]:
        colour, side, left, top = square(solution)
        return [f"{colour} square", f"{side} units wide", f"column {left}, row {top}"]

    def start_state(self, solution: dict) -> dict:
        return dict(zip(KEYS, square(solution)))

    def parse(self, text: str) -> dict | None:
        """The state a `describe` text states: each fact exactly once and a square inside the canvas."""
        found = find_each_once(text, _FACTS)
        if found is None:
            return None
        state = {
            "colour": found["colour"],
            "side": int(found["side"]),
            "left": int(found["corner"][0]),
            "top": int(found["corner"][1]),
        }
        try:
            square(state)
        except PuzzleError:
            return None
        return state

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        colour, side = rng.choice(list(COLOURS)), rng.choice(SIDES)
        left, top = rng.randint(0, GRID - side), rng.randint(0, GRID - side)
        return {"colour": colour, "side": side, "left": left, "top": top}, QUESTION

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The four colours, in random order."""
        if answer not in COLOURS:
            raise PuzzleError(f"probe_colour: the answer must be a colour ({', '.join(COLOURS)}), got {answer!r}")
        opts = list(COLOURS)
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """A white `size` x `size` canvas with the square filled in its colour."""
        require_size(size, self.name)
        colour, side, left, top = square(solution)
        image = Image.new("RGB", (size, size), "white")
        unit = size / GRID
        box = (round(left * unit), round(top * unit), round((left + side) * unit) - 1, round((top + side) * unit) - 1)
        ImageDraw.Draw(image).rectangle(box, fill=COLOURS[colour])
        return image
