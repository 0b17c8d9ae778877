"""Calendar: one month's calendar page is shown; on which day of the week falls a date of the same,
the previous or the next year?

State (released keys): `image_year` and `image_month` ([number, name]) draw the page; the
`query_year`, `query_month` ([number, name]) and `query_day` restate the date the question asks
about. The page shows the month's name and its dates under the weekdays Mon to Sun, never the
year: the question says whether that year and its neighbour are leap years instead.

The solver answers the puzzle as posed: the weekday of the 1st of the shown month (from
`image_year` and `image_month`), moved on by the days to the asked date, counted with the
question's leap years. Where the record carries `query_year` it must agree with the question,
the leap years of both years included, so a self-contradicting record is refused; a description
read back by `parse` states only the page, and the question supplies the rest.

>>> Calendar().solve({"image_year": 2024, "image_month": [1, "January"]}, question(True, "this", False, 3, 1))
'Friday'
>>> Calendar().solve({"image_year": 2025, "image_month": [3, "March"]}, question(False, "previous", True, 2, 29))
'Thursday'
>>> Calendar().solve({"image_year": 2023, "image_month": [12, "December"]}, question(False, "next", True, 1, 1))
'Monday'

The category has no generator script in declare-lab/LLM-PuzzleTest, so sampling follows the
released records' marginals: the year uniform in 1900-2900 (released: 1905-2892), the shown month
uniform, the asked year the same, the previous or the next one with equal chance (28/35/37
released), the asked month uniform among the other 11 (the released records never ask about the
shown month) and the day uniform over that month.
"""

from __future__ import annotations

import datetime
import functools
import importlib.util
import random
import re
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from visreason.puzzles.base import Puzzle, PuzzleError, find_each_once, require_keys, require_size

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # in a common year
YEARS = (1900, 2900)
OFFSETS = {"this": 0, "previous": -1, "next": 1}
QUESTION = (
    "The image shows the calendar of a month of a particular {leap} year. {neighbour}Which day of the week was on "
    "{month} {day} of {which}?"
)
NEIGHBOUR = "The {which} year was a {leap} year. "
WHICH = {"this": "that year", "previous": "the previous year", "next": "the next year"}
KEYS = ("image_year", "image_month")

_M, _W = "|".join(MONTHS).lower(), "|".join(WEEKDAYS).lower()
_QUESTION_RE = re.compile(
    r"calendar of a month of a particular (leap|non-leap) year\. (?:the (previous|next) year was a (leap|non-leap) "
    rf"year\. )?which day of the week was on ({_M}) (\d+) of (that year|the previous year|the next year)\?"
)
_FACTS = {
    "month": re.compile(rf"\bcalendar of ({_M})\b"),
    "first": re.compile(rf"\b({_M}) 1 is a ({_W})\b"),
    "days": re.compile(rf"\b({_M}) has (\d+) days\b"),
}


def question(leap: bool, which: str, neighbour_leap: bool, month: int, day: int) -> str:
    """The released question: the shown year is (not) `leap`; `which` is "this", "previous" or "next"."""
    words = {True: "leap", False: "non-leap"}
    neighbour = "" if which == "this" else NEIGHBOUR.format(which=which, leap=words[neighbour_leap])
    return QUESTION.format(leap=words[leap], neighbour=neighbour, month=MONTHS[month - 1], day=day, which=WHICH[which])


def month_days(month: int, leap: bool) -> int:
    return DAYS[month - 1] + (month == 2 and leap)


def day_of_year(month: int, day: int, leap: bool) -> int:
    """Days since January 1 (0 for January 1).

    >>> day_of_year(3, 1, False), day_of_year(3, 1, True), day_of_year(12, 31, True)
    (59, 60, 365)
    """
    return sum(month_days(m, leap) for m in range(1, month)) + day - 1


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def parse_question(text: str) -> tuple[bool, str, bool | None, int, int]:
    """(shown year is leap, "this"/"previous"/"next", that neighbour is leap or None, month, day)."""
    m = _QUESTION_RE.search(" ".join(text.lower().split())) if isinstance(text, str) else None
    if not m:
        raise PuzzleError(f"calendar: the question does not ask for the weekday of a date: {str(text)[:120]!r}")
    leap, stated, neighbour, month, day, which = m.groups()
    which = {"that year": "this", "the previous year": "previous", "the next year": "next"}[which]
    if (stated or "this") != which:
        raise PuzzleError(
            f"calendar: the question asks about {which!r} year but states whether the {stated or 'shown'} year is leap"
        )
    return (
        leap == "leap",
        which,
        None if neighbour is None else neighbour == "leap",
        MONTHS.index(month.title()) + 1,
        int(day),
    )


def _month(solution: dict, key: str) -> int:
    v = solution[key]
    if not (isinstance(v, list) and len(v) == 2 and type(v[0]) is int and 1 <= v[0] <= 12 and v[1] == MONTHS[v[0] - 1]):
        raise PuzzleError(f"calendar: {key!r} must be [number, name] of a month, e.g. [1, 'January'], got {v!r}")
    return v[0]


def _year(solution: dict, key: str) -> int:
    v = solution[key]
    if type(v) is not int or not 1 <= v <= 9999:
        raise PuzzleError(f"calendar: {key!r} must be a year in 1-9999, got {v!r}")
    return v


def page(solution: dict) -> tuple[int, int, int]:
    """What the image shows: (month, weekday of its 1st with Monday 0, number of days)."""
    require_keys(solution, KEYS, "calendar")
    year, month = _year(solution, "image_year"), _month(solution, "image_month")
    return month, datetime.date(year, month, 1).weekday(), month_days(month, is_leap(year))


class Calendar(Puzzle):
    name = "calendar"
    claim_pattern = "|".join(p.pattern for p in _FACTS.values())

    def solve(self, solution: dict, question: str) -> str:
        month, first, days = page(solution)
        leap, which, neighbour_leap, q_month, q_day = parse_question(question)
        q_leap = leap if which == "this" else neighbour_leap
        if month == 2 and days != month_days(2, leap):
            raise PuzzleError(
                f"calendar: the page shows February with {days} days, the question a {'non-' * (not leap)}leap year"
            )
        if not 1 <= q_day <= month_days(q_month, q_leap):
            raise PuzzleError(f"calendar: {MONTHS[q_month - 1]} {q_day} does not exist in the asked year")
        self._check_query(solution, leap, which, q_leap, q_month, q_day)
        # Days from the 1st of the shown month to the asked date, across the year boundary if asked.
        delta = day_of_year(q_month, q_day, q_leap) - day_of_year(month, 1, leap)
        if which == "previous":
            delta -= 365 + q_leap
        elif which == "next":
            delta += 365 + leap
        return WEEKDAYS[(first + delta) % 7]

    @staticmethod
    def _check_query(solution: dict, leap: bool, which: str, q_leap: bool, q_month: int, q_day: int) -> None:
        """The record's own restatement of the asked date, where present, must be the question's."""
        if "query_month" in solution and _month(solution, "query_month") != q_month:
            raise PuzzleError(
                f"calendar: 'query_month' {solution['query_month']} is not the asked {MONTHS[q_month - 1]}"
            )
        if "query_day" in solution and solution["query_day"] != q_day:
            raise PuzzleError(f"calendar: 'query_day' {solution['query_day']!r} is not the asked day {q_day}")
        if "query_year" in solution:
            year, q_year = _year(solution, "image_year"), _year(solution, "query_year")
            if q_year - year != OFFSETS[which]:
                raise PuzzleError(f"calendar: 'query_year' {q_year} is not {which!r} of 'image_year' {year}")
            if (is_leap(year), is_leap(q_year)) != (leap, q_leap):
                raise PuzzleError(
                    f"calendar: the question's leap years disagree with 'image_year' {year}/'query_year' {q_year}"
                )

    def describe(self, solution: dict) -> str:
        month, first, days = page(solution)
        name = MONTHS[month - 1]
        rows = -(-(first + days) // 7)
        return (
            f"The image shows the calendar of {name} (the year is not shown): the month's name on top, the days of the "
            f"week as columns from Mon to Sun, and the dates in {rows} weekly rows. {name} 1 is a {WEEKDAYS[first]} "
            f"and {name} has {days} days, the last of them a {WEEKDAYS[(first + days - 1) % 7]}."
        )

    def facts(self, solution: dict) -> list[str]:
        month, first, days = page(solution)
        name = MONTHS[month - 1]
        return [f"calendar of {name}", f"{name} 1 is a {WEEKDAYS[first]}", f"{name} has {days} days"]

    def start_state(self, solution: dict):
        """The page: month, weekday of the 1st and length. The year is not shown, so two records of
        different years with the same page and question are the same puzzle."""
        month, first, days = page(solution)
        return {"month": month, "first_weekday": WEEKDAYS[first], "days": days}

    def parse(self, text: str) -> dict | None:
        """The page a `describe` text states, as the first year from 2001 whose month looks like it
        (the year is not shown; every page occurs within one 400-year Gregorian cycle)."""
        found = find_each_once(text, _FACTS)
        if found is None:
            return None
        name, (first_name, weekday), (days_name, days) = found["month"], found["first"], found["days"]
        if not name == first_name == days_name:
            return None
        month, first = MONTHS.index(name.title()) + 1, WEEKDAYS.index(weekday.title())
        for year in range(2001, 2401):
            if datetime.date(year, month, 1).weekday() == first and month_days(month, is_leap(year)) == int(days):
                return {"image_year": year, "image_month": [month, MONTHS[month - 1]]}
        return None  # no month has that many days

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        year, month = rng.randint(*YEARS), rng.randint(1, 12)
        which = rng.choice(tuple(OFFSETS))
        q_year = year + OFFSETS[which]
        q_month = rng.choice([m for m in range(1, 13) if m != month])
        q_day = rng.randint(1, month_days(q_month, is_leap(q_year)))
        solution = {
            "image_year": year,
            "image_month": [month, MONTHS[month - 1]],
            "query_year": q_year,
            "query_month": [q_month, MONTHS[q_month - 1]],
            "query_day": q_day,
        }
        return solution, question(is_leap(year), which, is_leap(q_year), q_month, q_day)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 other weekdays, in random order."""
        if answer not in WEEKDAYS:
            raise PuzzleError(f"calendar: the answer must be a weekday, got {answer!r}")
        opts = rng.sample([w for w in WEEKDAYS if w != answer], 3) + [answer]
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """A text calendar in a monospaced font, black on white, 4:3: the month's name centred on top,
        the weekday heads Mon-Sun, the dates right-aligned under them, as the released images."""
        require_size(size, self.name)
        month, first, days = page(solution)
        image = Image.new("RGB", (size, round(size * 3 / 4)), "white")
        draw = ImageDraw.Draw(image)
        text_font = _mono(max(6, round(size * 0.04)))
        right = [size * (0.152 + i / 8) for i in range(7)]  # right edges of the 7 columns
        baseline = [size * (0.1055 + 0.0834 * line) for line in range(8)]  # name, heads, up to 6 weeks
        draw.text((size * 0.52, baseline[0]), MONTHS[month - 1], fill="black", font=text_font, anchor="ms")
        for i, head in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")):
            draw.text((right[i], baseline[1]), head, fill="black", font=text_font, anchor="rs")
        for day in range(1, days + 1):
            week, column = divmod(first + day - 1, 7)
            draw.text((right[column], baseline[week + 2]), str(day), fill="black", font=text_font, anchor="rs")
        return image


@functools.lru_cache(maxsize=16)
def _mono(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans Mono of `size` px as matplotlib ships it, else Pillow's built-in font (as base.font)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        path = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSansMono.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    return ImageFont.load_default(size)
