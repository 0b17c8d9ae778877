"""Wheel of fortune: spin a prize wheel by a stated angle; the prize that stops in front of the arrow.

State (released keys). Angles are in degrees, counterclockwise from the 3 o'clock direction
(0 = right, 90 = top). Input: `angles` (each segment's width, summing to 360),
`original_boundaries` (where each segment starts, counterclockwise; each the previous one
plus its width, so they may pass 360), `original_colors`, `original_prizes` and `arrow_at`
(the direction of the brown arrow that points at the rim from outside). The spin is stated
in the question ("clockwise and it rotates 555 degrees", "... makes 2.55 full rotations");
the record repeats its `direction`. Derived and never read: `effective_rotation` (as
released: a counterclockwise spin modulo 360; for a clockwise one, minus the counterclockwise
turn it equals, e.g. -162 for 918 degrees clockwise) and the `rotated_*` lists (the segments
after the spin, from the smallest boundary on).

The solver turns the arrow back by the spin to find the point of the unspun wheel that
stops under it, computed exactly (fractions); an arrow that stops on a boundary has no
answer and is refused.

There is no released generator for this category: sampling follows the released records'
marginals. 6, 8 or 10 segments (30:40:30), equal widths half the time, else widths drawn
from the released unequal wheels' width frequencies with the last width taking up the rest
(redrawn unless it lies in the same range); the first boundary at 45; distinct colours
and prizes from the released 10 colours and 11 prizes; the arrow at a multiple of 45; the
direction and the wording (degrees or full rotations) at even odds (released: 58:42 and
55:45, within sampling noise of even); 90-1785 degrees in steps of 15, or 1.25-5.95
rotations in steps of 0.05 (the released ranges); spins that stop the arrow within 2
degrees of a boundary are redrawn (no released record comes closer).

>>> wheel = {"angles": [90, 90, 90, 90], "original_boundaries": [45, 135, 225, 315], "arrow_at": 0,
...          "original_prizes": ["Car", "Pizza", "Money", "Watch"]}
>>> WheelOfFortune().solve(wheel, "You spin the wheel counterclockwise and it rotates 100 degrees before stopping.")
'Money'
>>> # a net quarter turn clockwise brings the top segment (Car) to the arrow on the right
>>> WheelOfFortune().solve(wheel, "You spin the wheel clockwise and it makes 1.25 full rotations before stopping.")
'Car'
"""

from __future__ import annotations

import functools
import math
import random
import re
from fractions import Fraction

from PIL import Image, ImageColor, ImageDraw, ImageFont

from visreason.puzzles.base import Puzzle, PuzzleError, font, normalize, require_keys, require_size

QUESTION = (
    "A fortune wheel has {n} segments of different colour. The initial position of the wheel is shown in the figure. "
    "Each segment is associated with a prize as shown in the embedded text within the segment. The axis of rotation "
    "of the wheel passes through its center and is perpendicular to the surface of the wheel. You spin the wheel "
    "{direction} and it {spin} before stopping. You are going to win the prize for the segment that now falls in "
    "front of the brown arrow. What is your prize?"
)
SPIN_RE = re.compile(
    r"spin the wheel (clockwise|counterclockwise) and it "
    r"(?:rotates (\d+(?:\.\d+)?) degrees?|makes (\d+(?:\.\d+)?) full rotations?)"
)
PRIZES = ("Camera", "Car", "Chocolate", "Ice Cream", "Jewelry", "Laptop", "Money", "Pizza", "Vacation", "Watch",
          "Yacht")  # fmt: skip
COLOURS = ("blanchedalmond", "cyan", "darkorange", "forestgreen", "lime", "magenta", "orangered", "royalblue",
           "silver", "yellow")  # fmt: skip
SIZES, SIZE_WEIGHTS = (6, 8, 10), (30, 40, 30)
# How often each width occurs on the released wheels of unequal segments, by number of segments.
WIDTHS = {
    6: {30: 14, 45: 20, 60: 21, 75: 22, 90: 13},
    8: {30: 92, 45: 19, 60: 19, 75: 17, 90: 13},
    10: {20: 74, 30: 18, 45: 12, 60: 24, 75: 15},
}
FIRST_BOUNDARY = 45
MARGIN = 2  # degrees between the arrow and the nearest boundary after the spin, at least

_DEFINE = (
    "A wheel of fortune with {n} segments, and a brown arrow outside its rim pointing at it. Angles are in degrees, "
    "counterclockwise from the 3 o'clock direction (0 = right, 90 = top, 180 = left, 270 = bottom); a segment spans "
    "counterclockwise from its first angle to its second."
)
_FACT_RE = re.compile(
    r"\barrow at (-?\d+(?:\.\d+)?) degrees"
    r"|\bsegment ([a-z]+(?: [a-z]+)?) (?:is ([a-z]+)[;.]|spans (-?\d+(?:\.\d+)?) to (-?\d+(?:\.\d+)?) degrees)",
    re.IGNORECASE,
)


class Wheel:
    """A validated wheel: widths, starts (exact fractions), prizes, colours (None if absent), arrow."""

    def __init__(self, solution: dict, need_colours: bool = False):
        keys = ["angles", "original_boundaries", "original_prizes", "arrow_at"]
        require_keys(solution, keys + ["original_colors"] * need_colours, "wheel_of_fortune")
        widths, starts, prizes = solution["angles"], solution["original_boundaries"], solution["original_prizes"]
        if not (isinstance(widths, list) and len(widths) >= 2 and all(_is_number(a) and a > 0 for a in widths)):
            raise PuzzleError(f"wheel_of_fortune: 'angles' must be 2 or more positive widths, got {widths!r}")
        self.widths = [Fraction(a) for a in widths]
        if abs(sum(self.widths) - 360) > 1e-6:
            raise PuzzleError(f"wheel_of_fortune: 'angles' {widths} do not add up to 360 degrees")
        n = len(widths)
        if not (isinstance(starts, list) and len(starts) == n and all(_is_number(b) for b in starts)):
            raise PuzzleError(f"wheel_of_fortune: 'original_boundaries' must be {n} angles, got {starts!r}")
        if any(abs(starts[i] + widths[i] - starts[i + 1]) > 1e-6 for i in range(n - 1)):
            raise PuzzleError(
                f"wheel_of_fortune: 'original_boundaries' {starts} do not each add the previous width of {widths}"
            )
        # Exact from here on: the last width closes the circle and each start adds the widths before it
        # (the input agrees to 1e-6), so the segments cover the circle without gap or overlap.
        self.widths[-1] = 360 - sum(self.widths[:-1])
        self.starts = [Fraction(starts[0]) + sum(self.widths[:i]) for i in range(n)]
        if not (isinstance(prizes, list) and len(prizes) == n and all(isinstance(p, str) and p for p in prizes)):
            raise PuzzleError(f"wheel_of_fortune: 'original_prizes' must be {n} names, got {prizes!r}")
        if len(set(prizes)) != n:
            raise PuzzleError(f"wheel_of_fortune: 'original_prizes' {prizes} name a prize twice")
        self.prizes = list(prizes)
        colours = solution.get("original_colors")
        if colours is not None and not (
            isinstance(colours, list) and len(colours) == n and all(map(_is_colour, colours))
        ):
            raise PuzzleError(f"wheel_of_fortune: 'original_colors' must be {n} colour names, got {colours!r}")
        self.colours = colours
        if not _is_number(solution["arrow_at"]):
            raise PuzzleError(f"wheel_of_fortune: 'arrow_at' must be an angle, got {solution['arrow_at']!r}")
        self.arrow = Fraction(solution["arrow_at"])

    def under_arrow(self, turn: Fraction) -> tuple[int, Fraction]:
        """(segment index, degrees to its nearest boundary) in front of the arrow after turning the wheel
        by `turn` degrees (positive counterclockwise)."""
        point = (self.arrow - turn) % 360  # the point of the unturned wheel that stops under the arrow
        for i, (start, width) in enumerate(zip(self.starts, self.widths)):
            offset = (point - start) % 360
            if offset < width or i == len(self.widths) - 1:  # the segments cover the circle: the last is left
                return i, min(offset, width - offset)


def _is_colour(name) -> bool:
    try:
        return isinstance(name, str) and name == name.lower() and bool(ImageColor.getrgb(name))
    except ValueError:
        return False


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def parse_spin(question: str) -> tuple[str, Fraction, str]:
    """(direction, degrees turned, the spin as worded) from the question."""
    m = SPIN_RE.search(normalize(question)) if isinstance(question, str) else None
    if not m:
        raise PuzzleError(
            f"wheel_of_fortune: the question does not say which way and how far the wheel turns: {question!r:.120}"
        )
    degrees = Fraction(m.group(2)) if m.group(2) else Fraction(m.group(3)) * 360
    return m.group(1), degrees, m.group(0)


def _fmt(x) -> str:
    """An angle as the description writes it: 45, 22.5."""
    x = round(float(x), 4)
    return str(int(x)) if x == int(x) else f"{x:g}"


class WheelOfFortune(Puzzle):
    name = "wheel_of_fortune"
    claim_pattern = (
        r"arrow at -?\d+(?:\.\d+)? degrees"
        r"|segment [a-z]+(?: [a-z]+)? (?:is [a-z]+|spans -?\d+(?:\.\d+)? to -?\d+(?:\.\d+)? degrees)"
    )

    def solve(self, solution: dict, question: str) -> str:
        wheel = Wheel(solution)
        direction, degrees, _ = parse_spin(question)
        if solution.get("direction", direction) != direction:
            raise PuzzleError(
                f"wheel_of_fortune: 'direction' {solution['direction']!r} is not the question's {direction}"
            )
        if (m := re.search(r"has (\d+) segments", normalize(question))) and int(m.group(1)) != len(wheel.prizes):
            raise PuzzleError(
                f"wheel_of_fortune: the question's {m.group(1)} segments are not the state's {len(wheel.prizes)}"
            )
        index, gap = wheel.under_arrow(degrees if direction == "counterclockwise" else -degrees)
        if gap == 0:
            raise PuzzleError(
                f"wheel_of_fortune: after the spin the arrow at {_fmt(wheel.arrow)} degrees points at the boundary of "
                f"{wheel.prizes[index]!r}, so no prize is in front of it"
            )
        return wheel.prizes[index]

    def describe(self, solution: dict) -> str:
        facts = self.facts(solution)
        segments = [f"S{facts[k][1:]}; {facts[k + 1]}." for k in range(1, len(facts), 2)]
        head = _DEFINE.format(n=len(segments)) + f" The brown arrow: {facts[0]}. The segments, counterclockwise:"
        return "\n".join([head, *segments])

    def facts(self, solution: dict) -> list[str]:
        wheel = Wheel(solution, need_colours=True)
        out = [f"arrow at {_fmt(wheel.arrow % 360)} degrees"]
        for prize, colour, start, width in zip(wheel.prizes, wheel.colours, wheel.starts, wheel.widths):
            out.append(f"segment {prize} is {colour}")
            out.append(f"segment {prize} spans {_fmt(start % 360)} to {_fmt((start + width) % 360)} degrees")
        return out

    def start_state(self, solution: dict):
        wheel = Wheel(solution, need_colours=True)
        segments = zip(wheel.prizes, wheel.colours, wheel.starts, wheel.widths)
        return {
            "arrow_at": round(float(wheel.arrow % 360), 6),
            "segments": [[p, c, round(float(b % 360), 6), round(float(a), 6)] for p, c, b, a in segments],
        }

    def parse(self, text: str) -> dict | None:
        """The wheel from "arrow at A degrees", "segment P is C;" and "segment P spans S to E degrees"
        statements; None unless the arrow and every segment's colour and span are stated once, and the
        spans follow each other round the whole circle."""
        if not isinstance(text, str):
            return None
        arrow, colours, spans = None, {}, {}
        for m in _FACT_RE.finditer(re.sub(r"\s+", " ", text)):
            if m.group(1) is not None:
                if arrow is not None and arrow != Fraction(m.group(1)):
                    return None
                arrow = Fraction(m.group(1))
            elif m.group(3) is not None:
                if colours.setdefault(m.group(2), m.group(3).lower()) != m.group(3).lower():
                    return None
            else:
                span = (Fraction(m.group(4)), Fraction(m.group(5)))
                if spans.setdefault(m.group(2), span) != span:
                    return None
        if arrow is None or len(spans) < 2 or set(spans) != set(colours):
            return None
        prizes = list(spans)  # in the order stated
        widths = [(end - start) % 360 for start, end in spans.values()]
        starts = [spans[prizes[0]][0]]
        for i, width in enumerate(widths[:-1]):
            starts.append(starts[-1] + width)
            if (starts[-1] - spans[prizes[i + 1]][0]) % 360:
                return None  # a gap or an overlap between two segments
        solution = {
            "angles": [float(a) for a in widths],
            "original_boundaries": [float(b) for b in starts],
            "arrow_at": float(arrow),
            "original_colors": [colours[p] for p in prizes],
            "original_prizes": prizes,
        }
        try:
            Wheel(solution, need_colours=True)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        n = rng.choices(SIZES, SIZE_WEIGHTS)[0]
        widths = [360 / n] * n if rng.random() < 0.5 else _unequal_widths(n, rng)
        starts = [float(FIRST_BOUNDARY + sum(widths[:i])) for i in range(n)]
        colours, prizes = rng.sample(COLOURS, n), rng.sample(PRIZES, n)
        state = {"angles": widths, "original_boundaries": starts, "original_prizes": prizes, "arrow_at": 0}
        while True:
            state["arrow_at"] = rng.randrange(0, 360, 45)
            direction = rng.choice(("clockwise", "counterclockwise"))
            if rng.random() < 0.5:
                amount = 15 * rng.randint(6, 119)
                spin, degrees = f"rotates {amount} degrees", Fraction(amount)
            else:
                hundredths = 5 * rng.randint(25, 119)
                spin, degrees = f"makes {hundredths / 100} full rotations", Fraction(hundredths, 100) * 360
            turn = degrees if direction == "counterclockwise" else -degrees
            if Wheel(state).under_arrow(turn)[1] >= MARGIN:
                break
        rotated = [(b + turn) % 360 for b in map(Fraction, starts)]
        first = rotated.index(min(rotated))
        order = list(range(first, n)) + list(range(first))
        solution = {
            "angles": widths,
            "arrow_at": state["arrow_at"],
            "effective_rotation": (1 if direction == "counterclockwise" else -1) * int(turn % 360),
            "direction": direction,
            "original_colors": colours,
            "original_boundaries": starts,
            "original_prizes": prizes,
            "rotated_colors": [colours[i] for i in order],
            "rotated_boundaries": [float(rotated[i]) for i in order],
            "rotated_prizes": [prizes[i] for i in order],
        }
        return solution, QUESTION.format(n=n, direction=direction, spin=spin)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 other prizes of the wheel, as released (other prizes only for a wheel of
        fewer than 4)."""
        others = [p for p in Wheel(solution).prizes if p != answer]
        picks = rng.sample(others, min(3, len(others)))
        spare = [p for p in PRIZES if p != answer and p not in others]
        opts = [answer] + picks + rng.sample(spare, 3 - len(picks))
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """The wheel (coloured segments, prize names along their middle radius, a white hub, a white
        rim inside a thin grey circle) and the brown arrow outside it, cropped to both like the
        released images."""
        require_size(size, self.name)
        wheel = Wheel(solution, need_colours=True)
        arrow = math.radians(float(wheel.arrow))
        direction = (math.cos(arrow), -math.sin(arrow))  # y grows downwards in the image
        tail = [_ARROW_TAIL * d for d in direction]
        left, top = min(-1.0, tail[0]) - 0.02, min(-1.0, tail[1]) - 0.02
        width, height = max(1.0, tail[0]) + 0.02 - left, max(1.0, tail[1]) + 0.02 - top
        k = size / max(width, height)  # pixels per wheel radius
        img = Image.new("RGB", (round(width * k), round(height * k)), "white")
        draw = ImageDraw.Draw(img)
        cx, cy = -left * k, -top * k
        draw.ellipse((cx - k, cy - k, cx + k, cy + k), outline=(110, 110, 110), width=max(1, round(0.004 * k)))
        for start, span, colour in zip(wheel.starts, wheel.widths, wheel.colours):
            # A polygon through points of the arc: Pillow fills it several times faster than a pie slice.
            start, span = float(start), float(span)
            steps = max(2, math.ceil(span / 5))  # a chord of 5 degrees is within 0.25 px of the arc at 512 px
            arc = [math.radians(start + span * i / steps) for i in range(steps + 1)]
            points = [(cx, cy)] + [(cx + 0.952 * k * math.cos(a), cy - 0.952 * k * math.sin(a)) for a in arc]
            draw.polygon(points, fill=ImageColor.getrgb(colour))
        hub = 0.042 * k
        draw.ellipse((cx - hub, cy - hub, cx + hub, cy + hub), fill="white")
        label_font = font(max(6, round(0.085 * k)))
        for prize, start, span in zip(wheel.prizes, wheel.starts, wheel.widths):
            middle = float(start + span / 2)
            x = cx + 0.59 * k * math.cos(math.radians(middle))
            y = cy - 0.59 * k * math.sin(math.radians(middle))
            _paste_text(img, prize, label_font, middle, (x, y))
        _arrow(draw, (cx, cy), direction, k)
        return img


_ARROW_TIP, _ARROW_TAIL = 0.975, 1.14  # radii of the arrow's ends, in wheel radii


def _arrow(draw: ImageDraw.ImageDraw, centre, direction, k: float) -> None:
    """A block arrow along `direction` from outside the rim, its tip just inside the grey circle."""
    (cx, cy), (dx, dy) = centre, direction
    nx, ny = -dy, dx
    head, shaft, head_len = 0.045, 0.016, 0.07
    outline = [(_ARROW_TIP, 0), (_ARROW_TIP + head_len, head), (_ARROW_TIP + head_len, shaft), (_ARROW_TAIL, shaft),
               (_ARROW_TAIL, -shaft), (_ARROW_TIP + head_len, -shaft), (_ARROW_TIP + head_len, -head)]  # fmt: skip
    points = [(cx + k * (r * dx + w * nx), cy + k * (r * dy + w * ny)) for r, w in outline]
    draw.polygon(points, fill=(160, 45, 45), outline=(60, 10, 10), width=max(1, round(0.004 * k)))


def _paste_text(img: Image.Image, text: str, text_font: ImageFont.FreeTypeFont, angle: float, centre) -> None:
    """Black `text` centred at `centre`, turned `angle` degrees counterclockwise (reading outwards)."""
    tile = _text_tile(text, text_font, round(angle % 360, 2))
    img.paste((0, 0, 0), (round(centre[0] - tile.width / 2), round(centre[1] - tile.height / 2)), tile)


@functools.lru_cache(maxsize=2048)
def _text_tile(text: str, text_font: ImageFont.FreeTypeFont, angle: float) -> Image.Image:
    """The text as a turned mask. Cached: the same prize comes back at the same angle often (every
    wheel of equal segments puts its middles at the same angles), and turning it is the costliest
    step of drawing a wheel. At one image size the sampler's wheels make under 4,000 (prize, angle,
    font size) combinations; at 512 px a mask takes 4 kB on average, 10 kB at most (~10-20 MB in all)."""
    box = text_font.getbbox(text)
    tile = Image.new("L", (box[2] - box[0] + 4, box[3] - box[1] + 4), 0)
    ImageDraw.Draw(tile).text((2 - box[0], 2 - box[1]), text, fill=255, font=text_font)
    return tile.rotate(angle, resample=Image.BILINEAR, expand=True)


def _unequal_widths(n: int, rng: random.Random) -> list[int]:
    """n widths adding up to 360: n - 1 drawn from the released frequencies, the last the rest."""
    values, weights = list(WIDTHS[n]), list(WIDTHS[n].values())
    while True:
        widths = rng.choices(values, weights, k=n - 1)
        rest = 360 - sum(widths)
        if values[0] <= rest <= values[-1]:
            widths.append(rest)
            rng.shuffle(widths)
            return widths
