"""Think dot: balls dropped through a toy of eight two-coloured disks; how many faces of a colour show after.

State (released keys): `start_state`, the disk colours ("blue" or "yellow") by row from the
top, each row from left to right: 3 disks on top, 2 in the middle, 3 at the bottom. The
holes the balls are dropped through are stated in the question; the record repeats them in
`moves`, and the derived `state_after_moves` (the disks after each ball) and `final_state`
are never read.

The rules, as the released images draw them (a lever on each disk shows the side it
deflects a ball to) and as the released answers follow: a ball hits the top disk below its
hole and is deflected by every disk it meets, which then flips its colour. The four corner
disks deflect to the left when yellow and to the right when blue; the other four (top and
bottom centre, both middle disks) to the left when blue and to the right when yellow. A
ball deflected outwards from a top corner disk falls straight down to the bottom corner
disk below it, skipping the middle row; a bottom disk lets the ball out.

Sampling follows the released generator: 1-4 balls with weights 3:6:5:3, the holes a
uniform multiset written in the order left, right, center, the colour asked blue or yellow
(even odds), and the row asked top, middle, bottom (0.2 each) or all rows (0.4). It differs
in two ways. The start is any of the 256 colourings (uniform), where the released generator
used the 6 of its template images (all one colour, or one colour with the other on the
corners, or on the middle row): datasets deduplicate on the solution, which does not hold
the question, so 6 starts would cap a build at 204 distinct puzzles (6 x 34 hole
multisets). And each puzzle is drawn independently, where the released generator drew each
start's hole sequences without replacement (a dataset build rejects duplicates instead).

>>> blue = [["blue"] * 3, ["blue"] * 2, ["blue"] * 3]
>>> ThinkDot().solve({"start_state": blue}, "One ball in dropped through the left hole. How many yellow faces "
...                  "can be seen in total in all the rows now?")
'3'
>>> drop(blue, "right")  # the top-right disk, blue, sends it right: straight down to the bottom-right disk
[['blue', 'blue', 'yellow'], ['blue', 'blue'], ['blue', 'blue', 'yellow']]
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, normalize, require_keys, require_size

CONTEXT = (
    "The toy shown in the figure has eight coloured disks on its front, and three holes on its top \u2013 left, "
    "right, and center \u2013 through which a ball bearing could be dropped. Each disk would display either a yellow "
    "or blue face. When a ball passes through a disc it tips the disk mechanism which flips the face color. The "
    "tipping of the disc mechanism determines whether the ball would be deflected to the left or to the right. The "
    "vertical walls between the discs would then determine the path of motion of the ball. A dropped ball always "
    "passes through exactly one disc in each of the top and the bottom row. Depending on the configuration of the top "
    "three discs it may or may not pass through the middle row. Finally, when the ball falls to the bottom it would "
    "exit either to a hole on the left or the right of the device."
)
# The released wording, typo ("One ball in dropped") included.
ONE_BALL = " One ball in dropped through the {hole} hole. Consider the toy configuration after the ball has "
MANY_BALLS = (
    " {count} balls are dropped in sequence through the following holes: {holes}. Consider the toy configuration "
    "after all the balls have "
)
AFTER = {
    True: "been dropped and it has exited from the bottom. ",
    False: "been dropped and they have exited from the bottom. ",
}
QUERY = {
    "top": "in the top row",
    "middle": "in the middle row",
    "bottom": "in the bottom row",
    "all": "in total in all the rows",
}
ASK = "How many {colour} faces can be seen {where} now?"
QUERY_WEIGHTS = {"top": 0.2, "middle": 0.2, "bottom": 0.2, "all": 0.4}  # the released generator's odds
NUMBERS = "zero one two three four five six seven eight nine ten".split()
HOLES = ("left", "center", "right")
COLOURS = ("blue", "yellow")
ROWS = ("top", "middle", "bottom")
SIDES = (("left", "center", "right"), ("left", "right"), ("left", "center", "right"))  # disk names by row
BALL_WEIGHTS = (3, 6, 5, 3)  # 1, 2, 3 or 4 balls: the released generator's draws per start
OPTION_RANGE = (0, 8)  # the released options span 0..8 whatever the row

_CORNERS = {(0, 0), (0, 2), (2, 0), (2, 2)}
# Where a ball deflected to each side of a disk goes next; a bottom disk lets it out.
_NEXT = {
    (0, 0): {"left": (2, 0), "right": (1, 0)},
    (0, 1): {"left": (1, 0), "right": (1, 1)},
    (0, 2): {"left": (1, 1), "right": (2, 2)},
    (1, 0): {"left": (2, 0), "right": (2, 1)},
    (1, 1): {"left": (2, 1), "right": (2, 2)},
}
_HOLES_RE = re.compile(r"through the following holes: ((?:left|center|right)(?:, (?:left|center|right))*)\.")
_ASK_RE = re.compile(
    r"how many (blue|yellow) faces can be seen (in the (top|middle|bottom) row|in total in all the rows)"
)


def deflects(row: int, index: int, colour: str) -> str:
    """The side a disk sends a ball to."""
    if ((row, index) in _CORNERS) == (colour == "yellow"):
        return "left"
    return "right"


def drop(disks: list[list[str]], hole: str) -> list[list[str]]:
    """The disks after one ball dropped through `hole`: each disk on its way deflects it, then flips."""
    out = [list(row) for row in disks]
    disk = (0, HOLES.index(hole))
    while True:
        row, index = disk
        colour = out[row][index]
        out[row][index] = "yellow" if colour == "blue" else "blue"
        if row == 2:
            return out
        disk = _NEXT[disk][deflects(row, index, colour)]


def parse_disks(solution: dict) -> list[list[str]]:
    require_keys(solution, ["start_state"], "think_dot")
    disks = solution["start_state"]
    if not (
        isinstance(disks, list)
        and [len(r) if isinstance(r, list) else None for r in disks] == [3, 2, 3]
        and all(c in COLOURS for r in disks for c in r)
    ):
        raise PuzzleError(f"think_dot: 'start_state' must be rows of 3, 2 and 3 'blue'/'yellow' disks, got {disks!r}")
    return [list(r) for r in disks]


def parse_question(question: str) -> tuple[list[str], str, str]:
    """(holes in order, colour asked, row asked: top|middle|bottom|all)."""
    text = normalize(question) if isinstance(question, str) else ""
    ask = _ASK_RE.search(text)
    if not ask:
        raise PuzzleError(f"think_dot: the question does not ask how many faces of a colour show: {question!r:.120}")
    if one := re.search(r"one ball (?:in|is) dropped through the (left|center|right) hole", text):
        holes = [one.group(1)]
    elif many := _HOLES_RE.search(text):
        holes = many.group(1).split(", ")
        count = re.search(r"(\w+) balls are dropped", text)
        if count and count.group(1) in NUMBERS and NUMBERS.index(count.group(1)) != len(holes):
            raise PuzzleError(f"think_dot: the question drops {count.group(1)} balls but lists {len(holes)} holes")
    else:
        raise PuzzleError(f"think_dot: the question does not say which holes the balls go through: {question!r:.120}")
    return holes, ask.group(1), ask.group(3) or "all"


def question_text(holes: list[str], colour: str, row: str) -> str:
    if len(holes) == 1:
        balls = ONE_BALL.format(hole=holes[0])
    else:
        balls = MANY_BALLS.format(count=NUMBERS[len(holes)].capitalize(), holes=", ".join(holes))
    return CONTEXT + balls + AFTER[len(holes) == 1] + ASK.format(colour=colour, where=QUERY[row])


class ThinkDot(Puzzle):
    name = "think_dot"
    claim_pattern = r"(?:top|middle|bottom)-(?:left|center|right) disk: [a-z]+"

    def solve(self, solution: dict, question: str) -> str:
        disks = parse_disks(solution)
        holes, colour, row = parse_question(question)
        if "moves" in solution and solution["moves"] != holes:
            raise PuzzleError(f"think_dot: 'moves' {solution['moves']!r} are not the question's holes {holes}")
        for hole in holes:
            disks = drop(disks, hole)
        shown = [c for r in disks for c in r] if row == "all" else disks[ROWS.index(row)]
        return str(shown.count(colour))

    def describe(self, solution: dict) -> str:
        return (
            "A Think-a-Dot toy: eight disks in three rows (3 on top, 2 in the middle, 3 at the bottom), each showing a "
            "blue or a yellow face, under three holes (left, center, right) that lead to the three top disks. "
            "The disks show: " + "; ".join(self.facts(solution)) + ".\n"
            "The lever on each disk shows where it sends a ball: the top-left, top-right, bottom-left and "
            "bottom-right disks send it to the left when yellow and to the right when blue; the top-center, "
            "middle-left, middle-right and bottom-center disks send it to the left when blue and to the right when "
            "yellow. A disk flips its colour as the ball passes. From the top-left disk a ball goes left straight "
            "down to the bottom-left disk or right to the middle-left disk; from the top-center disk left to the "
            "middle-left or right to the middle-right disk; from the top-right disk left to the middle-right disk "
            "or right straight down to the bottom-right disk; from the middle-left disk left to the bottom-left or "
            "right to the bottom-center disk; from the middle-right disk left to the bottom-center or right to the "
            "bottom-right disk; from a bottom disk it leaves the toy."
        )

    def facts(self, solution: dict) -> list[str]:
        disks = parse_disks(solution)
        return [f"{ROWS[r]}-{SIDES[r][i]} disk: {c}" for r, row in enumerate(disks) for i, c in enumerate(row)]

    def start_state(self, solution: dict):
        return parse_disks(solution)

    def parse(self, text: str) -> dict | None:
        """The disks from "top-left disk: blue"-style statements; None unless all eight are stated, once."""
        if not isinstance(text, str):
            return None
        stated = {}
        for row, side, colour in re.findall(
            r"\b(top|middle|bottom)-(left|center|right) disk: ([a-z]+)", normalize(text)
        ):
            r = ROWS.index(row)
            if side not in SIDES[r] or colour not in COLOURS or stated.setdefault((r, side), colour) != colour:
                return None
        if len(stated) != 8:
            return None
        return {"start_state": [[stated[r, side] for side in SIDES[r]] for r in range(3)]}

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        start = [[rng.choice(COLOURS) for _ in range(n)] for n in (3, 2, 3)]
        count = rng.choices(range(1, 5), BALL_WEIGHTS)[0]
        holes = list(rng.choice(_multisets(count)))
        colour = rng.choice(COLOURS)
        row = rng.choices(list(QUERY_WEIGHTS), list(QUERY_WEIGHTS.values()))[0]
        after = list(itertools.accumulate(holes, drop, initial=start))[1:]
        solution = {"start_state": start, "moves": holes, "state_after_moves": after, "final_state": after[-1]}
        return solution, question_text(holes, colour, row)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 other counts, uniform over the released options' range 0..8."""
        low, high = OPTION_RANGE
        opts = [answer] + [str(v) for v in rng.sample([v for v in range(low, high + 1) if str(v) != answer], 3)]
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """The toy as the released images draw it: a pink board, three holes with green arrows, red
        walls, eight disks (a lever, a dot of the face colour) and a ball at either exit."""
        require_size(size, self.name)
        disks = parse_disks(solution)
        image = _board(size).copy()
        s = size / 512  # the layout is measured on the released 493 x 512 images
        for r, row in enumerate(disks):
            for i, colour in enumerate(row):
                sprite = _disk(size, colour, deflects(r, i, colour))
                x, y = round(_DISK_X[r][i] * s - sprite.width / 2), round(_DISK_Y[r] * s - sprite.height / 2)
                image.paste(sprite, (x, y), sprite)
        return image


@functools.lru_cache(maxsize=4)
def _multisets(count: int) -> tuple[tuple[str, ...], ...]:
    """Every multiset of `count` holes, written in the released order (left, right, center)."""
    return tuple(itertools.combinations_with_replacement(("left", "right", "center"), count))


_PINK, _RED, _BROWN, _GREEN = (247, 183, 182), (192, 38, 30), (114, 52, 51), (64, 151, 47)
_PURPLE, _ORANGE = (153, 131, 177), (243, 158, 92)
_FACE = {"blue": (82, 144, 221), "yellow": (248, 206, 70)}
_DISK_X = ((133, 246, 359), (190, 303), (133, 246, 359))
_DISK_Y = (149, 262, 375)


@functools.lru_cache(maxsize=32)
def _disk(size: int, colour: str, side: str) -> Image.Image:
    """One disk (RGBA, drawn once per size, colour and side): a half fan split by the lever; the upper
    quarter holds a dot of the face colour and is purple for blue, orange for yellow; the lever leans
    so that a ball falling on it runs off to `side`."""
    s = size / 512
    half = math.ceil(54 * s)
    image = Image.new("RGBA", (2 * half, 2 * half), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    x = y = half
    radius = 51 * s
    box = (x - radius, y - radius, x + radius, y + radius)
    upper, other = (_PURPLE, _ORANGE) if colour == "blue" else (_ORANGE, _PURPLE)
    edge = max(1, round(s))
    draw.pieslice(box, -135, -45, fill=upper, outline=_BROWN, width=edge)  # Pillow angles run clockwise
    if side == "right":
        draw.pieslice(box, 135, 225, fill=other, outline=_BROWN, width=edge)
    else:
        draw.pieslice(box, -45, 45, fill=other, outline=_BROWN, width=edge)
    dot = 17 * s
    draw.ellipse((x - dot, y - 35 * s - dot, x + dot, y - 35 * s + dot), fill=_FACE[colour])
    lean = 1 if side == "right" else -1  # a lever like \ sends a ball to the right, like / to the left
    arm = 48 * s
    draw.line((x - lean * arm, y - arm, x + lean * arm, y + arm), fill=_BROWN, width=max(1, round(6 * s)))
    ring, core = 10 * s, 5 * s
    pivot = (x - ring, y - ring, x + ring, y + ring)
    draw.ellipse(pivot, fill=(254, 196, 196), outline=_BROWN, width=max(1, round(2.5 * s)))
    draw.ellipse((x - core, y - core, x + core, y + core), fill=_BROWN)
    return image


@functools.lru_cache(maxsize=8)
def _board(size: int) -> Image.Image:
    """Everything but the disks (the same for every puzzle, so drawn once per size)."""
    s = size / 512
    image = Image.new("RGB", (round(493 * s), size), "white")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((64 * s, 77 * s, 429 * s, 499 * s), radius=30 * s, fill=_PINK)
    draw.rectangle((64 * s, 300 * s, 429 * s, 499 * s), fill=_PINK)  # square at the bottom
    wall = max(1, round(4 * s))
    for xs, y0, y1 in (((76, 189, 303, 416), 96, 194), ((133, 246, 359), 210, 308), ((76, 189, 303, 416), 323, 421)):
        for x in xs:
            draw.line((x * s, y0 * s, x * s, y1 * s), fill=_RED, width=wall)
    floor = [(18 * s, 488 * s), (18 * s, 498 * s), (246 * s, 471 * s), (475 * s, 498 * s), (475 * s, 488 * s)]
    draw.line(floor, fill=_RED, width=max(1, round(5 * s)), joint="curve")
    for x in _DISK_X[0]:  # the holes: a pale sphere with a green arrow pointing down
        _sphere(draw, x * s, 37 * s, 36 * s, (255, 255, 255), (205, 205, 205))
        shaft, arm = max(1, round(10 * s)), 10 * s
        draw.line((x * s, 7 * s, x * s, 66 * s), fill=_GREEN, width=shaft)
        draw.line(
            ((x - 30) * s, 39 * s, x * s, 69 * s, (x + 30) * s, 39 * s), fill=_GREEN, width=round(arm), joint="curve"
        )
    for x, y in ((41, 472), (452, 472)):  # the balls at the exits
        _sphere(draw, x * s, y * s, 21 * s, (190, 190, 190), (70, 70, 70))
    return image


def _sphere(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, light, dark) -> None:
    """A shaded sphere: concentric discs from the dark rim to a light spot above the centre."""
    steps = 8
    for k in range(steps):
        t = k / (steps - 1)
        rr = r * (1 - 0.55 * t)
        cx, cy = x - 0.15 * r * t, y - 0.25 * r * t
        fill = tuple(round(lo + (hi - lo) * math.sqrt(t)) for hi, lo in zip(light, dark))
        draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=fill)
