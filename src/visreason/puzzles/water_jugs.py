"""Water jugs: the minimum number of pours from the start amounts to the target amounts, by BFS.

A pour empties the source jug or fills the destination, whichever comes first; water
is never added or thrown away. The targets are stated in the question; the solver
reads them from `end` and checks the question agrees.

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
    integer_options,
    require_keys,
    require_question,
    require_size,
    shortest_path,
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
TARGET_RE = re.compile(r"reach the amounts of ([\d, ]+) litres")
MAX_ANSWER = 4  # the released answers span 1..4
WATER = (166, 166, 255)

State = tuple[int, ...]


def parse_state(solution: dict) -> tuple[State, State, State]:
    """Validated (capacities, start, end)."""
    require_keys(solution, ["capacities", "start", "end"], "water_jugs")
    caps, start, end = (solution[k] for k in ("capacities", "start", "end"))
    n = solution.get("num_jugs", len(caps))
    for key, v in (("capacities", caps), ("start", start), ("end", end)):
        if not isinstance(v, list) or len(v) != n or any(not isinstance(x, int) or x < 0 for x in v):
            raise PuzzleError(f"water_jugs: {key!r} must be {n} non-negative integers, got {v!r}")
    for key, v in (("start", start), ("end", end)):
        if any(a > c for a, c in zip(v, caps)):
            raise PuzzleError(f"water_jugs: {key!r} {v} overflows the capacities {caps}")
    if sum(start) != sum(end) or sum(start) != solution.get("total_water", sum(start)):
        raise PuzzleError(f"water_jugs: start {start} and end {end} hold different total water")
    return tuple(caps), tuple(start), tuple(end)


def pours(caps: State, state: State):
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


class WaterJugs(Puzzle):
    name = "water_jugs"

    def solve(self, solution: dict, question: str) -> str:
        caps, start, end = parse_state(solution)
        require_question(question, ASKS, self.name)
        if m := TARGET_RE.search(question):
            stated = tuple(int(x) for x in m.group(1).split(","))
            if stated != end:
                raise PuzzleError(f"water_jugs: question targets {list(stated)} but 'end' is {list(end)}")
        return str(len(shortest_steps(caps, start, end)) - 1)

    def describe(self, solution: dict) -> str:
        caps, _, _ = parse_state(solution)
        head = f"{len(caps)} jugs, listed from left to right, with the water each holds now:"
        return "\n".join([head] + [f"{fact} (capacity {c} litres)" for fact, c in zip(self.facts(solution), caps)])

    def facts(self, solution: dict) -> list[str]:
        _, start, _ = parse_state(solution)
        return [f"jug {i + 1}: {a} litres" for i, a in enumerate(start)]

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """Distinct capacities, a random fill, and a target exactly d pours away (d uniform in 1..4)."""
        while True:
            n = rng.randint(3, 5)
            caps = tuple(sorted(rng.sample(range(1, 15), n), reverse=True))
            total = rng.randint(max(caps[0] // 2, 2), sum(caps) - 1)
            start = _random_fill(rng, caps, total)
            target = rng.randint(1, MAX_ANSWER)
            layer = sorted(
                s
                for s, (_, d) in bfs(start, lambda state, caps=caps: pours(caps, state), max_depth=target).items()
                if d == target
            )
            if layer:
                break
        end = rng.choice(layer)
        steps = shortest_steps(caps, start, end)
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
        caps, start, _ = parse_state(solution)
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
        return integer_options(answer, rng, 1, max(int(answer) + 3, 6))


def _random_fill(rng: random.Random, caps: State, total: int) -> State:
    """`total` litres poured one litre at a time into random non-full jugs."""
    amounts = [0] * len(caps)
    for _ in range(total):
        amounts[rng.choice([i for i, c in enumerate(caps) if amounts[i] < c])] += 1
    return tuple(amounts)


def _vertical_text(img: Image.Image, text: str, font: ImageFont.FreeTypeFont, centre: tuple[int, int]) -> None:
    box = font.getbbox(text)
    tile = Image.new("L", (box[2] + 2, box[3] + 2), 0)
    ImageDraw.Draw(tile).text((1, 1), text, fill=255, font=font)
    tile = tile.rotate(90, expand=True)
    img.paste((0, 0, 0), (centre[0] - tile.width // 2, centre[1] - tile.height // 2), tile)
