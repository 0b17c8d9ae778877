"""Chain link: join chain segments into one closed necklace of all their pieces in the least time.

State (released keys): `steps`, whose first entry is the start, [open single pieces, closed
single pieces, segments of 2 pieces, of 3, of 4, of 5], the later entries the counts after each
cut of the released solution; `each_cut_time` and `each_join_time` (minutes, also stated in the
question); and the derived `cuts`, `joins` and `total_time`. Only the open pieces are open, and
they are always single pieces.

In the necklace every gap between two closed segments holds at least one open piece, so it can
be closed once the open pieces are at least as many as the closed segments. A cut opens one
closed piece: one more open piece, and one segment fewer when it takes the segment's last piece
(cutting inside a segment would split it, which never helps). Every open piece, cut or not, is
welded once. So time = cuts * cut time + (open + cuts) * welding time, and the fewest cuts come
from cutting the shortest segment first: after t cuts it has used up as many segments as any t
cuts can, so no order reaches "open >= closed" sooner. The solver reads only `steps[0]`.

>>> ChainLink().solve({"steps": [[3, 2, 1, 1, 3, 2]]}, question([3, 2, 1, 1, 3, 2], 5, 2))
'34'
>>> fewest_cuts([0, 0, 0, 0, 0, 1]), fewest_cuts([0, 0, 2, 0, 0, 0]), fewest_cuts([4, 0, 1, 0, 0, 0])
(1, 2, 0)

The category has no generator script in declare-lab/LLM-PuzzleTest, so sampling follows the
released records' marginals: open pieces uniform in 0-4, closed singles and segments of 2 and 3
pieces uniform in 0-4 each, of 4 pieces in 0-3 and of 5 pieces in 0-2, redrawn unless there are
8-16 segments (the released range: at most 4 rows of 4 in the image), and cut and welding times
uniform in 2-5 minutes.
"""

from __future__ import annotations

import math
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, require_keys, require_question, require_size

QUESTION = (
    "Alice has {segments} segments of chains of different lengths as shown in the image. The total length of all "
    "the segments combined is {pieces} pieces. She has a saw machine with which a closed piece can be cut opened. "
    "She also has a welding machine with which an open piece can be closed. Each cut takes {cut} minutes and each "
    "welding takes {join} minutes. Initially, {initially}She now wants to make the longest possible necklace using "
    "all the available {pieces} pieces. Each piece in the necklace would be connected to exactly two other pieces. "
    "This would require cutting open some pieces and then joining all the resulting segments together. What is the "
    "minimum time in which she can create the necklace?"
)
ASKS = "minimum time in which she can create the necklace"  # the phrase that identifies this category's question
_ASKED = re.compile(
    r"has (\d+) segments of chains.*? combined is (\d+) pieces\..*?each cut takes (\d+) minutes and each welding "
    r"takes (\d+) minutes\. initially, (?:she has (\d+) segments? (?:each )?with 1 open piece|(there are no) open)"
)
_FACTS = re.compile(r"\b(\d+) (chain segments?|open single pieces?|closed single pieces?|segments? of (\d+) pieces)\b")
GOLD = (240, 198, 35)
MAX_OPTION = 98  # the released options span 1-98
MAX_SEGMENTS = 1000  # far beyond the released 8-16; keeps the solver's loop bounded on garbage input

Counts = list[int]  # [open singles, closed singles, segments of 2, of 3, ...]


def question(counts: Counts, cut: int, join: int) -> str:
    """The released question for a start `counts` and the cut and welding times."""
    if counts[0] == 0:
        initially = "there are no open pieces in any of the segments. "
    else:
        held = "1 segment with" if counts[0] == 1 else f"{counts[0]} segments each with"
        initially = f"she has {held} 1 open piece as shown in the image. All the other pieces are closed. "
    return QUESTION.format(segments=sum(counts), pieces=pieces(counts), cut=cut, join=join, initially=initially)


def pieces(counts: Counts) -> int:
    return counts[0] + sum(length * n for length, n in enumerate(counts[1:], start=1))


def start(solution: dict) -> Counts:
    """The validated start counts, `steps[0]`."""
    require_keys(solution, ["steps"], "chain_link")
    steps = solution["steps"]
    counts = steps[0] if isinstance(steps, list) and steps else None
    if not (isinstance(counts, list) and len(counts) >= 2 and all(type(n) is int and n >= 0 for n in counts)):
        raise PuzzleError(
            f"chain_link: 'steps' must start with [open, closed singles, segments of 2, ...], got {steps!r}"
        )
    if not 0 < sum(counts) <= MAX_SEGMENTS:
        raise PuzzleError(f"chain_link: 'steps' must start with 1-{MAX_SEGMENTS} segments, got {sum(counts)}")
    return list(counts)


def cut_sequence(counts: Counts) -> list[Counts]:
    """The counts before and after each cut, cutting a piece off the shortest closed segment until
    the open pieces can fill every gap between the closed segments."""
    counts, out = list(counts), [list(counts)]
    while counts[0] < sum(counts[1:]):
        length = next(i for i in range(1, len(counts)) if counts[i])
        counts[length] -= 1
        if length > 1:
            counts[length - 1] += 1
        counts[0] += 1
        out.append(list(counts))
    return out


def fewest_cuts(counts: Counts) -> int:
    return len(cut_sequence(counts)) - 1


class ChainLink(Puzzle):
    name = "chain_link"
    claim_pattern = _FACTS.pattern

    def solve(self, solution: dict, question: str) -> str:
        counts = start(solution)
        cut, join = self._times(solution, question, counts)
        cuts = fewest_cuts(counts)
        return str(cuts * cut + (counts[0] + cuts) * join)

    @staticmethod
    def _times(solution: dict, question: str, counts: Counts) -> tuple[int, int]:
        """The cut and welding times the question states, after checking it describes these segments."""
        require_question(question, ASKS, "chain_link")
        m = _ASKED.search(" ".join(question.lower().split()))
        if not m:
            raise PuzzleError(f"chain_link: the question does not state the segments and the times: {question[:160]!r}")
        segments, total, cut, join = (int(v) for v in m.groups()[:4])
        opened = 0 if m.group(6) else int(m.group(5))
        if (segments, total, opened) != (sum(counts), pieces(counts), counts[0]):
            raise PuzzleError(
                f"chain_link: the question's {segments} segments, {total} pieces and {opened} open ones are not "
                f"'steps'[0] = {counts}"
            )
        for key, v in (("each_cut_time", cut), ("each_join_time", join)):
            if key in solution and solution[key] != v:
                raise PuzzleError(f"chain_link: {key!r} is {solution[key]!r} but the question says {v} minutes")
        return cut, join

    def describe(self, solution: dict) -> str:
        counts = start(solution)
        facts = self.facts(solution)
        listed = ", ".join(facts[1:-1]) + (" and " if len(facts) > 2 else "") + facts[-1]
        return (
            f"The image shows {facts[0]}, laid out in rows: {listed}. The pieces of a segment are linked in a "
            f"diagonal line; every piece is closed except the open single pieces, {pieces(counts)} pieces in all."
        )

    def facts(self, solution: dict) -> list[str]:
        counts = start(solution)
        total = sum(counts)
        facts = [f"{total} chain {'segment' if total == 1 else 'segments'}"]
        for kind, n in zip(("open", "closed"), counts[:2]):
            if n:
                facts.append(f"{n} {kind} single {'piece' if n == 1 else 'pieces'}")
        for length, n in enumerate(counts[2:], start=2):
            if n:
                facts.append(f"{n} {'segment' if n == 1 else 'segments'} of {length} pieces")
        return facts

    def start_state(self, solution: dict):
        counts = start(solution)
        return {"open": counts[0], "closed": [length for length, n in enumerate(counts[1:], 1) for _ in range(n)]}

    def parse(self, text: str) -> dict | None:
        """The start counts a `describe` text states; None unless the stated classes add up to its
        stated number of segments, each class stated once."""
        if not isinstance(text, str):
            return None
        total, found = None, {}
        for n, kind, length in _FACTS.findall(" ".join(text.lower().split())):
            if kind.startswith("chain"):
                if total is not None:
                    return None
                total = int(n)
                continue
            slot = 0 if kind.startswith("open") else 1 if kind.startswith("closed") else int(length)
            if slot in found or (length and slot < 2) or slot > 50:
                return None
            found[slot] = int(n)
        if not total or sum(found.values()) != total:
            return None
        solution = {"steps": [[found.get(slot, 0) for slot in range(max(6, max(found) + 1))]]}
        try:
            start(solution)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        while True:
            counts = [rng.randint(0, 4) for _ in range(4)] + [rng.randint(0, 3), rng.randint(0, 2)]
            if 8 <= sum(counts) <= 16:
                break
        cut, join = rng.randint(2, 5), rng.randint(2, 5)
        steps = cut_sequence(counts)
        cuts = len(steps) - 1
        joins = counts[0] + cuts
        solution = {"steps": steps, "cuts": cuts, "joins": joins, "each_cut_time": cut, "each_join_time": join,
                    "total_time": cuts * cut + joins * join}  # fmt: skip
        return solution, question(counts, cut, join)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 other times: 70% below it, the rest up to twice it, as the released
        distractors lie (210 of 300 below the answer, all within 1-98)."""
        gold = int(answer)
        below = range(1, gold)
        above = range(gold + 1, max(min(2 * gold, MAX_OPTION), gold + 3) + 1)
        picks: set[int] = set()
        while len(picks) < 3:
            side = below if below and (rng.random() < 0.7 or len(set(above) - picks) == 0) else above
            picks.add(rng.choice(side))
        opts = [str(v) for v in sorted(picks)] + [answer]
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """Gold chain links on white, as the released images: one segment per cell of a grid with
        ceil(sqrt(segments)) columns, shortest first (open pieces, with a gap on their left, lead);
        a segment's links step down and right, each overlapping the last."""
        require_size(size, self.name)
        counts = start(solution)
        chains = [(1, True)] * counts[0] + [(n, False) for n, k in enumerate(counts[1:], 1) for _ in range(k)]
        ncols = math.ceil(math.sqrt(len(chains)))
        grid = [chains[i : i + ncols] for i in range(0, len(chains), ncols)]
        col_w = [max(_extent(row[c][0])[0] for row in grid if c < len(row)) for c in range(ncols)]
        row_h = [max(_extent(n)[1] for n, _ in row) for row in grid]
        width = _LEFT + sum(col_w) + _GAP_X * (ncols - 1) + _RIGHT
        height = _TOP + sum(row_h) + _GAP_Y * (len(grid) - 1) + _BOTTOM
        scale = 2 * size / max(width, height)  # drawn at 2x, then halved for smooth lines
        image = Image.new("RGB", (2 * round(width * scale / 2), 2 * round(height * scale / 2)), "white")
        draw = ImageDraw.Draw(image)
        line = max(2, round(scale / 26))
        y = _TOP
        for row, h in zip(grid, row_h):
            x = _LEFT
            for (n, opened), w in zip(row, col_w):
                for i in range(n):
                    _link(draw, (x + i * _DX) * scale, (y + i * _DY) * scale, scale, line, opened)
                x += w + _GAP_X
            y += h + _GAP_Y
        return image.reduce(2)


# Layout in units of one link's width, measured on the released images.
_H, _DX, _DY = 0.59, 0.44, 0.28  # link height; step from one link of a segment to the next
_GAP_X, _GAP_Y = 0.45, 0.5
_LEFT, _TOP, _RIGHT, _BOTTOM = 0.5, 0.26, 1.2, 1.25


def _extent(n: int) -> tuple[float, float]:
    return 1 + (n - 1) * _DX, _H + (n - 1) * _DY


def _link(draw: ImageDraw.ImageDraw, x: float, y: float, scale: float, line: int, opened: bool) -> None:
    box = (x, y, x + scale, y + _H * scale)
    draw.rounded_rectangle(box, radius=0.42 * _H * scale, outline=GOLD, width=line)
    if opened:  # a gap in the middle of the left end
        mid = y + _H * scale / 2
        draw.rectangle((x - line, mid - 0.13 * _H * scale, x + 0.12 * scale, mid + 0.13 * _H * scale), fill="white")
