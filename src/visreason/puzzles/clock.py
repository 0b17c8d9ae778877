"""Clock: read an analog clock, then add or subtract a duration.

State (released keys): `current_hour` (1-12), `current_minute` (0-59), and either
`add_hour`/`add_minute` ("event is going to start in ...") or
`subtract_hour`/`subtract_minute` ("came to an event ... ago").

The start state is the time the dial shows; the task is the direction and the duration,
which the question states (the first name in it changes nothing). The solver reads the
duration from the question; the `add_*`/`subtract_*` keys repeat it, so they are optional,
but where present they must agree with the question.

The answer is written `H:MM` on a 12-hour dial, where 12 o'clock is written `0:MM`:
that is how the released AlgoPuzzleVQA answers write it (13 of its 100 records), so we
match the data.

Sampling follows the AlgoPuzzleVQA generator (`generation/clock.py`): hour 1-12, minute
0-59, duration 0-3 hours and 1-59 minutes, "in" or "ago" and the first name, each
uniform. Options follow the released records: the answer and 3 distinct random times,
hour 1-11 and minute 0-59 (the released distractors are never near misses and never
hour 0 or 12). What differs: a seeded `random.Random` instead of the global one, and
duplicates are left to the caller (the generator skips repeated states itself).

>>> Clock().solve({"current_hour": 2, "current_minute": 43, "add_hour": 1, "add_minute": 40},
...     "Daniel's event is going to start in 1 hour 40 minutes. The current time is shown on the clock.")
'4:23'
>>> Clock().solve({"current_hour": 12, "current_minute": 24, "subtract_hour": 0, "subtract_minute": 30},
...     "Sarah came to an event 30 minutes ago. The current time is shown on the clock.")
'11:54'
>>> Clock().solve({"current_hour": 11, "current_minute": 30}, "Emily's event is going to start in 45 minutes.")
'0:15'
>>> Clock().parse("An analog clock without a seconds hand shows the time 2:43 (hour 2, minute 43).")
{'current_hour': 2, 'current_minute': 43}
"""

from __future__ import annotations

import functools
import math
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, font, normalize, require_keys, require_size

# The first names the released questions use.
NAMES = (
    "Alexis", "Andrew", "Ashley", "Chris", "Daniel", "Elizabeth", "Emily", "Hannah", "Jacob", "Jessica",
    "Joseph", "Joshua", "Madison", "Matthew", "Michael", "Nicholas", "Samantha", "Sarah", "Taylor", "Tyler",
)  # fmt: skip
_TAIL = "The current time is shown on the clock. The clock is a standard analog clock without the seconds hand."
FORWARD = "{name}'s event is going to start in {duration}. " + _TAIL + " What will be the time when the event starts?"
BACKWARD = "{name} came to an event {duration} ago. " + _TAIL + " What was the time when {name} came to the event?"

_DURATION = r"((?:\d+\s+hours?)?\s*(?:\d+\s+minutes?)?)"
_FORWARD_RE = re.compile(r"going to start in\s+" + _DURATION + r"\s*\.", re.IGNORECASE)
_BACKWARD_RE = re.compile(r"\bevent\s+" + _DURATION + r"\s+ago\b", re.IGNORECASE)
# A stated time, in normalised text: the fact "time H:MM", and describe's "(hour H, minute M)".
_TIME_RE = re.compile(r"(?<![\w:])time (\d{1,2}):(\d{2})(?![\w:])")
_HANDS_RE = re.compile(r"\(hour (\d+), minute (\d+)\)")

# Colours of the released images (a matplotlib dial).
_NUMERAL = (47, 79, 79)
_TICK = (128, 128, 128)
_HOUR_HAND = (139, 69, 19)
_MINUTE_HAND = (46, 139, 87)


def format_time(minutes: int) -> str:
    """Minutes after 12 o'clock (any integer) as `H:MM` on a 12-hour dial, 12 written as 0.

    >>> format_time(0), format_time(5 * 60 + 7), format_time(-1)
    ('0:00', '5:07', '11:59')
    """
    minutes %= 720
    return f"{minutes // 60}:{minutes % 60:02d}"


def duration_text(hours: int, minutes: int) -> str:
    """The released wording: "1 hour 40 minutes", "2 hours 1 minutes", "45 minutes"."""
    if hours == 0:
        return f"{minutes} minutes"
    return f"{hours} {'hour' if hours == 1 else 'hours'} {minutes} minutes"


def parse_question(question: str) -> tuple[int, int, int]:
    """(sign, hours, minutes) asked by a question: sign +1 for "in ...", -1 for "... ago"."""
    if not isinstance(question, str):
        raise PuzzleError(f"clock: the question must be a string, got {type(question).__name__}")
    forward, backward = _FORWARD_RE.search(question), _BACKWARD_RE.search(question)
    if bool(forward) == bool(backward):
        raise PuzzleError(
            f"clock: cannot tell from the question whether to add ('going to start in ...') "
            f"or subtract ('... ago') a duration: {question[:120]!r}"
        )
    sign, text = (1, forward.group(1)) if forward else (-1, backward.group(1))
    hours = re.search(r"(\d+)\s+hour", text)
    minutes = re.search(r"(\d+)\s+minute", text)
    if not (hours or minutes):
        raise PuzzleError(f"clock: no duration in the question: {question[:120]!r}")
    return sign, int(hours.group(1)) if hours else 0, int(minutes.group(1)) if minutes else 0


def _shown_time(solution: dict) -> tuple[int, int]:
    """(hour, minute) the dial shows, validated: the start state."""
    require_keys(solution, ("current_hour", "current_minute"), "clock")
    hour, minute = solution["current_hour"], solution["current_minute"]
    if not (_is_int(hour) and 1 <= hour <= 12 and _is_int(minute) and 0 <= minute <= 59):
        raise PuzzleError(f"clock: current time must be hour 1-12 and minute 0-59, got {hour!r}:{minute!r}")
    return hour, minute


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_duration(solution: dict, sign: int, hours: int, minutes: int) -> None:
    """The solution's optional `add_*`/`subtract_*` keys must repeat the question's duration."""
    prefix, other = ("add", "subtract") if sign > 0 else ("subtract", "add")
    if f"{other}_hour" in solution or f"{other}_minute" in solution:
        raise PuzzleError(
            f"clock: the question {'adds' if sign > 0 else 'subtracts'} a duration but the solution holds "
            f"{other}_hour/{other}_minute, not {prefix}_hour/{prefix}_minute"
        )
    if f"{prefix}_hour" not in solution and f"{prefix}_minute" not in solution:
        return  # a parsed description: the question alone states the duration
    require_keys(solution, (f"{prefix}_hour", f"{prefix}_minute"), "clock")
    if (solution[f"{prefix}_hour"], solution[f"{prefix}_minute"]) != (hours, minutes):
        raise PuzzleError(
            f"clock: the question's duration {hours}h{minutes:02d} disagrees with the solution's "
            f"{prefix}_hour/{prefix}_minute = {solution[f'{prefix}_hour']}/{solution[f'{prefix}_minute']}"
        )


class Clock(Puzzle):
    name = "clock"
    claim_pattern = _TIME_RE.pattern

    def solve(self, solution: dict, question: str) -> str:
        """The time after adding (or before subtracting) the asked duration, `H:MM`, 12 as 0."""
        sign, hours, minutes = parse_question(question)
        hour, minute = _shown_time(solution)
        _check_duration(solution, sign, hours, minutes)
        return format_time(hour * 60 + minute + sign * (hours * 60 + minutes))

    def start_state(self, solution: dict) -> dict:
        hour, minute = _shown_time(solution)
        return {"current_hour": hour, "current_minute": minute}

    def asked(self, solution: dict, question: str) -> list:
        """["add" or "subtract", hours, minutes]: the task without the first name.

        >>> q = "Tyler came to an event 2 hours 5 minutes ago. The current time is shown on the clock."
        >>> Clock().asked({}, q) == Clock().asked({}, q.replace("Tyler", "Emily"))
        True
        """
        sign, hours, minutes = parse_question(question)
        return ["add" if sign > 0 else "subtract", hours, minutes]

    def parse(self, text: str) -> dict | None:
        """The time stated as "time H:MM" (one time only; describe's "(hour H, minute M)", where
        complete, must agree), or None."""
        if not isinstance(text, str):
            return None
        text = normalize(text)
        times = {(int(h), int(m)) for h, m in _TIME_RE.findall(text)}
        times |= {(int(h), int(m)) for h, m in _HANDS_RE.findall(text)}
        if len(times) != 1:
            return None  # no time stated, or two different ones
        hour, minute = times.pop()
        if not (1 <= hour <= 12 and 0 <= minute <= 59):
            return None
        return {"current_hour": hour, "current_minute": minute}

    def describe(self, solution: dict) -> str:
        hour, minute = _shown_time(solution)
        return (
            f"An analog clock without a seconds hand shows the time {hour}:{minute:02d} (hour {hour}, minute {minute})."
        )

    def facts(self, solution: dict) -> list[str]:
        hour, minute = _shown_time(solution)
        return [f"time {hour}:{minute:02d}"]

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """Every part uniform, as the generator draws it."""
        hour, minute = rng.randint(1, 12), rng.randint(0, 59)
        dh, dm = rng.randint(0, 3), rng.randint(1, 59)
        prefix, template = ("subtract", BACKWARD) if rng.randint(1, 2) == 1 else ("add", FORWARD)
        name = rng.choice(NAMES)
        solution = {"current_hour": hour, "current_minute": minute, f"{prefix}_hour": dh, f"{prefix}_minute": dm}
        return solution, template.format(name=name, duration=duration_text(dh, dm))

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distinct random times, hour 1-11 and minute 0-59, as released."""
        opts = [answer]
        while len(opts) < 4:
            t = f"{rng.randint(1, 11)}:{rng.randint(0, 59):02d}"
            if t not in opts:
                opts.append(t)
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """A white analog dial with numerals, minute ticks, a brown hour hand and a green
        minute hand; hands drawn at 2x and downsampled for antialiasing."""
        require_size(size, self.name)
        hour, minute = _shown_time(solution)
        image = _face(size).copy()
        draw = ImageDraw.Draw(image)
        c, r = size, size * 0.88  # centre and dial radius at 2x
        hour_angle = math.radians((hour % 12 + minute / 60) * 30)
        minute_angle = math.radians(minute * 6)
        _hand(draw, c, hour_angle, 0.50 * r, max(2, round(size * 0.028)), _HOUR_HAND)
        _hand(draw, c, minute_angle, 0.80 * r, max(2, round(size * 0.016)), _MINUTE_HAND)
        dot = size * 0.045
        draw.ellipse((c - dot, c - dot, c + dot, c + dot), fill=(0, 0, 0))
        return image.reduce(2)


def _hand(draw: ImageDraw.ImageDraw, c: float, angle: float, length: float, width: int, colour) -> None:
    x, y = c + length * math.sin(angle), c - length * math.cos(angle)
    draw.line((c, c, x, y), fill=colour, width=width)
    half = width / 2
    draw.ellipse((x - half, y - half, x + half, y + half), fill=colour)  # round tip


@functools.lru_cache(maxsize=8)
def _face(size: int) -> Image.Image:
    """The dial without hands, at 2x `size` (cached: it is the same for every puzzle)."""
    s = 2 * size
    c, r = size, size * 0.88
    image = Image.new("RGB", (s, s), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((c - r, c - r, c + r, c + r), outline=(0, 0, 0), width=max(2, round(s * 0.004)))
    for tick in range(60):
        a = math.radians(tick * 6)
        inner = r * (0.93 if tick % 5 == 0 else 0.96)
        width = max(2, round(s * (0.005 if tick % 5 == 0 else 0.002)))
        draw.line(
            (c + inner * math.sin(a), c - inner * math.cos(a), c + r * math.sin(a), c - r * math.cos(a)),
            fill=_TICK,
            width=width,
        )
    numeral_font = font(max(8, round(s * 0.036)))
    for numeral in range(1, 13):
        a = math.radians(numeral * 30)
        x, y = c + 0.84 * r * math.sin(a), c - 0.84 * r * math.cos(a)
        draw.text((x, y), str(numeral), fill=_NUMERAL, font=numeral_font, anchor="mm")
    return image
