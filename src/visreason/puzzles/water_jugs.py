"""Water jugs: the minimum number of pours from the start amounts to the target amounts, by BFS.

State (released keys): `capacities` (litres, largest first), `start` (the litres in each jug,
left to right, as the image shows them) and `end` (the target amounts, which the question
states), plus the derived `num_jugs`, `total_water`, `steps` (one shortest pouring sequence)
and `num_steps`. A pour empties the source jug or fills the destination, whichever comes
first; water is never added or thrown away. The solver reads the targets from the question
(from `end` when the question states none) and checks that the two agree.

Sampling follows the AlgoPuzzleVQA generator (declare-lab/LLM-PuzzleTest,
`AlgoPuzzleVQA/generation/water_jugs.py`) in the limit of many capacity draws: 3, 4 or 5 jugs
(a third each, as its pools of 34/33/33 give), distinct capacities from 1..14, a total from the
largest capacity to the sum of all (so there is always at least as much water as the largest
jug holds), and a start and a target drawn uniformly and independently among all the ways
to hold that total, kept when they differ and are at most 4 pours apart. The generator pairs
at most 20 starts with 20 targets per capacity draw, so a draw whose total can be held in m
ways weighs (min(m, 20) / m)^2 per pair in its pool; a draw is kept with probability
min(m, 20)^2 / 400 to weigh the same. What differs: a seeded `random.Random`, no finite pool
of 20 capacity draws, and duplicates are left to the caller. The generator writes no options;
ours are drawn like the released ones, uniformly from 1..6.

>>> WaterJugs().solve({"num_jugs": 3, "capacities": [8, 5, 3], "total_water": 8, "start": [8, 0, 0], "end": [4, 4, 0]},
...                   "What is the minimum number of water pouring steps required to achieve the objective?")
'7'
"""

from __future__ import annotations

import random
import re

from PIL import Image, ImageDraw, ImageFont

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
    uniform_options,
)

QUESTION = (
    "You are given {n} jugs of capacities {caps} litres. Initially, the amount of water that is contained in each "
    "jar is shown in the image. A single step of water pouring from one jug to another is constrained by the "
    "following rules: i) take a non-empty jug and pour water from it to another non-full jug until the first one "
    "becomes empty or the second one becomes full; and ii) no water can be split while pouring. The objective is to "
    "reach the amounts of {end} litres of water in the jugs from left to right, respectively. What is the minimum "
    "number of water pouring steps required to achieve the objective?"
)
ASKS = "minimum number of water pouring steps"  # the phrase that identifies this category's question
TARGET_RE = re.compile(r"reach the amounts of ([\d, ]+) litres")  # in the normalised question
# The generator's draws: jug counts, distinct capacities, answers up to 4 pours, 20 x 20 pairs per draw.
JUG_COUNTS, CAPACITIES, MAX_ANSWER, PAIRS = (3, 4, 5), range(1, 15), 4, 20
OPTION_VALUES = range(1, 7)  # the released options are all in 1..6
WATER = (166, 166, 255)
CLAIM = r"(?<!\w)jug \d+: \d+ litres"  # a fact: "jug 2: 5 litres"
JUG_LINE = re.compile(r"(?<!\w)jug (\d+): (\d+) litres \(capacity (\d+) litres\)")
HEAD = re.compile(r"(?<!\w)(\d+) jugs(?!\w)")

State = tuple[int, ...]


def _amounts(value, key: str, n: int) -> State:
    if not isinstance(value, list) or len(value) != n or any(type(x) is not int or x < 0 for x in value):
        raise PuzzleError(f"water_jugs: {key!r} must be {n} non-negative integers, got {value!r}")
    return tuple(value)


def parse_state(solution: dict) -> tuple[State, State]:
    """Validated (capacities, start): what the image shows."""
    require_keys(solution, ["capacities", "start"], "water_jugs")
    caps = solution["capacities"]
    if not isinstance(caps, list):
        raise PuzzleError(f"water_jugs: 'capacities' must be a list of non-negative integers, got {caps!r}")
    n = solution.get("num_jugs", len(caps))
    caps, start = _amounts(caps, "capacities", n), _amounts(solution["start"], "start", n)
    if any(a > c for a, c in zip(start, caps)):
        raise PuzzleError(f"water_jugs: 'start' {list(start)} overflows the capacities {list(caps)}")
    if sum(start) != solution.get("total_water", sum(start)):
        raise PuzzleError(f"water_jugs: 'start' {list(start)} does not hold 'total_water' {solution['total_water']}")
    return caps, start


def target(solution: dict, question: str) -> State:
    """The validated target amounts: the question's, which must agree with `end` if both are there."""
    caps, start = parse_state(solution)
    m = TARGET_RE.search(normalize(question))
    stated = tuple(int(x) for x in m.group(1).replace(",", " ").split()) if m else None
    if "end" in solution:
        end = _amounts(solution["end"], "end", len(caps))
        if stated is not None and stated != end:
            raise PuzzleError(f"water_jugs: question targets {list(stated)} but 'end' is {list(end)}")
    elif stated is None:
        raise PuzzleError("water_jugs: solution is missing key 'end' and the question states no target amounts")
    else:
        end = _amounts(list(stated), "the question's target amounts", len(caps))
    if any(a > c for a, c in zip(end, caps)):
        raise PuzzleError(f"water_jugs: 'end' {list(end)} overflows the capacities {list(caps)}")
    if sum(end) != sum(start):
        raise PuzzleError(f"water_jugs: start {list(start)} and end {list(end)} hold different total water")
    return end


def pours(caps: State, state: State):
    """Every state one pour away, in the generator's order (source, then destination, left to right),
    so that the breadth-first path found is the one it stores."""
    for i, a in enumerate(state):
        for j, b in enumerate(state):
            if i != j and a > 0 and b < caps[j]:
                amount = min(a, caps[j] - b)
                nxt = list(state)
                nxt[i] -= amount
                nxt[j] += amount
                yield tuple(nxt)


def shortest_steps(caps: State, start: State, goal: State) -> list[State]:
    path = shortest_path(start, goal, lambda state: pours(caps, state))
    if path is None:
        raise PuzzleError(f"water_jugs: {list(goal)} cannot be reached from {list(start)} with capacities {list(caps)}")
    return path


def fill_counts(caps: State, total: int) -> list[list[int]]:
    """`ways[i][w]`: in how many ways jugs i, i+1, ... can hold w litres (0 <= w <= total).

    >>> fill_counts((2, 1), 2)[0]  # 2 litres in jugs of 2 and 1: (2, 0) or (1, 1)
    [1, 2, 2]
    """
    ways = [[0] * (total + 1) for _ in range(len(caps))] + [[1] + [0] * total]
    for i in range(len(caps) - 1, -1, -1):
        for w in range(total + 1):
            ways[i][w] = sum(ways[i + 1][w - a] for a in range(min(caps[i], w) + 1))
    return ways


def random_fill(rng: random.Random, caps: State, total: int, ways: list[list[int]]) -> State:
    """One of the `ways[0][total]` ways to hold `total` litres, uniformly: jug by jug, each amount
    weighted by the number of ways the jugs after it can hold the rest."""
    amounts, left = [], total
    for i, cap in enumerate(caps):
        pick = rng.randrange(ways[i][left])
        for a in range(min(cap, left) + 1):
            pick -= ways[i + 1][left - a]
            if pick < 0:
                break
        amounts.append(a)
        left -= a
    return tuple(amounts)


class WaterJugs(Puzzle):
    name = "water_jugs"

    def solve(self, solution: dict, question: str) -> str:
        caps, start = parse_state(solution)
        require_question(question, ASKS, self.name)
        return str(len(shortest_steps(caps, start, target(solution, question))) - 1)

    def describe(self, solution: dict) -> str:
        caps, _ = parse_state(solution)
        head = f"{len(caps)} jugs, listed from left to right, with the water each holds now:"
        return "\n".join([head] + [f"{fact} (capacity {c} litres)" for fact, c in zip(self.facts(solution), caps)])

    def facts(self, solution: dict) -> list[str]:
        _, start = parse_state(solution)
        return [f"jug {i + 1}: {a} litres" for i, a in enumerate(start)]

    def start_state(self, solution: dict) -> dict:
        """The capacities and the start amounts (the targets are in the question)."""
        caps, start = parse_state(solution)
        return {"capacities": list(caps), "start": list(start)}

    claim_pattern = CLAIM

    def parse(self, text: str) -> dict | None:
        """Capacities and start amounts from "jug i: a litres (capacity c litres)" lines, or None unless
        they state jugs 1..n once each, within capacity (and agree with "n jugs" if stated).

        >>> WaterJugs().parse("Jug 1: 3 litres (capacity 5 litres), jug 2: 0 litres (capacity 2 litres)")
        {'num_jugs': 2, 'capacities': [5, 2], 'total_water': 3, 'start': [3, 0]}
        """
        text = normalize(text)
        jugs: dict[int, tuple[int, int]] = {}
        for i, amount, cap in JUG_LINE.findall(text):
            if jugs.setdefault(int(i), (int(amount), int(cap))) != (int(amount), int(cap)):
                return None  # one jug stated two ways
        n = len(jugs)
        head = HEAD.search(text)
        if n == 0 or sorted(jugs) != list(range(1, n + 1)) or (head and int(head[1]) != n):
            return None
        start, caps = ([jugs[i][k] for i in range(1, n + 1)] for k in (0, 1))
        solution = {"num_jugs": n, "capacities": caps, "total_water": sum(start), "start": start}
        try:
            parse_state(solution)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """Capacities, a total and a (start, target) pair 1..4 pours apart, drawn as the generator
        draws them (see the module docstring)."""
        n = rng.choice(JUG_COUNTS)
        while True:
            caps = tuple(sorted(rng.sample(CAPACITIES, n), reverse=True))
            total = rng.randint(caps[0], sum(caps))
            ways = fill_counts(caps, total)
            kept = min(ways[0][total], PAIRS)
            if rng.randrange(PAIRS * PAIRS) >= kept * kept:
                continue  # the weight of this capacity draw's pairs in the generator's pool
            start, end = random_fill(rng, caps, total, ways), random_fill(rng, caps, total, ways)
            if start == end:
                continue
            seen = bfs(start, lambda state, caps=caps: pours(caps, state), goal=end, max_depth=MAX_ANSWER)
            if end in seen:
                break
        steps = [end]
        while seen[steps[-1]][0] is not None:
            steps.append(seen[steps[-1]][0])
        steps.reverse()
        solution = {
            "num_jugs": n,
            "capacities": list(caps),
            "total_water": total,
            "start": list(start),
            "end": list(end),
            "steps": [list(s) for s in steps],
            "num_steps": len(steps) - 1,
        }
        question = QUESTION.format(n=n, caps=", ".join(map(str, caps)), end=", ".join(map(str, end)))
        return solution, question

    def render(self, solution: dict, size: int) -> Image.Image:
        require_size(size, self.name)
        caps, start = parse_state(solution)
        n, top = len(caps), max(caps) + 1
        img = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(img)
        left, right, ax_top, bottom = size * 0.11, size * 0.98, size * 0.02, size * 0.97
        y = lambda v: bottom - (bottom - ax_top) * v / top  # noqa: E731
        text_font = font(max(6, round(size * 0.022)))
        for v in range(top):
            draw.line((left, y(v), right, y(v)), fill=(235, 235, 235))
            draw.line((left - size * 0.008, y(v), left, y(v)), fill="black")
            draw.text((left - size * 0.012, y(v)), str(v), fill="black", font=text_font, anchor="rm")
        draw.rectangle((left, ax_top, right, bottom), outline="black", width=1)
        label_font = font(max(6, round(size * 0.028)))
        _vertical_text(img, "Quantity (litres)", label_font, (round(size * 0.03), round((ax_top + bottom) / 2)))
        slot = (right - left) / n
        line_w = max(1, round(size * 0.005))
        for i, (cap, amount) in enumerate(zip(caps, start)):
            x0, x1 = left + slot * (i + 0.05), left + slot * (i + 0.95)
            if amount:
                draw.rectangle((x0, y(amount), x1, bottom), fill=WATER, outline=(120, 120, 220))
            for x in (x0, x1):
                draw.line((x, y(cap), x, bottom), fill="black", width=line_w)
            draw.line((x0, bottom - line_w / 2, x1, bottom - line_w / 2), fill="black", width=line_w)
            draw.text(((x0 + x1) / 2, ax_top + size * 0.03), f"Jug {i + 1}", fill="black", font=label_font, anchor="mm")
        return img

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distractors drawn uniformly from 1..6, like the released options (the
        range widens only to hold an answer outside it)."""
        return uniform_options(answer, rng, OPTION_VALUES[0], OPTION_VALUES[-1])


def _vertical_text(img: Image.Image, text: str, font: ImageFont.FreeTypeFont, centre: tuple[int, int]) -> None:
    box = font.getbbox(text)
    tile = Image.new("L", (box[2] + 2, box[3] + 2), 0)
    ImageDraw.Draw(tile).text((1, 1), text, fill=255, font=font)
    tile = tile.rotate(90, expand=True)
    img.paste((0, 0, 0), (centre[0] - tile.width // 2, centre[1] - tile.height // 2), tile)
