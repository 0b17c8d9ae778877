"""Tower of Hanoi between two configurations: the minimum number of moves, by BFS.

State (released keys): `start_position` and `end_position`, each a list of rods that list their
disks bottom to top, disks numbered by size (1 the smallest): `[[4, 1], [3, 2], [6, 5]]`; and the
derived `moves` (the states of one shortest path), which the solver never reads. The image shows
both configurations, so the start state is the pair.

Sampling follows the AlgoPuzzleVQA generator (declare-lab/LLM-PuzzleTest,
`AlgoPuzzleVQA/generation/tower_of_hanoi.py`): 3..6 disks with p = .13/.21/.33/.33 and a move count
d in 1..6 with p = .18/.18/.17/.16/.16/.15; a path, half of the time the classic one (the full tower
from rod 1 to rod 3), else the optimal path from a random configuration (each disk on a random rod)
to the full tower on rod 3; the start a uniform state of that path and the end the state d moves
after or before it (a coin when both exist); when neither exists, everything is drawn again. So
start and end always lie on one optimal path to the full tower on rod 3, and the answer is d.
What differs: a seeded `random.Random` instead of the global RNGs, a coin per puzzle for classic
or random instead of the first and last 50 of 100, and duplicates are left to the caller. The
generator writes no options; ours are drawn like the released ones, uniformly from 1..6.

>>> TowerOfHanoi().solve({"start_position": [[3, 2, 1], [], []], "end_position": [[], [], [3, 2, 1]]},
...     "What is the minimum number of moves required to go from the starting to the ending configuration?")
'7'
"""

from __future__ import annotations

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
    "You are playing a Tower of Hanoi game with {rods} rods and {disks} disks of various diameters, which can slide "
    "onto any rod. You are given the starting and ending configuration of the game as shown in the top and the "
    "bottom of the image, respectively. The game has the following rules: i) Only one disk may be moved at a time; "
    "ii) Each move consists of taking the upper disk from one of the stacks and placing it on top of another stack "
    "or on an empty rod; and iii) No disk can be placed on top of a disk that is smaller than it. What is the minimum "
    "number of moves required to go from the starting to the ending configuration?"
)
ASKS = "minimum number of moves"  # the phrase that identifies this category's question
# The generator's weights (the released records: 11/18/33/38 disks, answers 1..6).
DISKS, DISK_WEIGHTS = (3, 4, 5, 6), (13, 21, 33, 33)
ANSWERS, ANSWER_WEIGHTS = (1, 2, 3, 4, 5, 6), (18, 18, 17, 16, 16, 15)
TARGET_ROD = 2  # every generated path ends in the full tower on the third rod
OPTION_VALUES = range(1, 7)  # the released options are all in 1..6
# A fact: "start rod 2: 3 2" or "end rod 1: empty"; the head: "... with 3 rods and 6 disks".
CLAIM = r"(?<!\w)(start|end) rod (\d+): (empty|\d+(?: \d+)*)"
HEAD = re.compile(r"with (\d+) rods and (\d+) disks")
# Disk colours from the smallest (pale peach) to the largest (red), like the released images.
DISK_COLOURS = [
    (253, 218, 180),
    (253, 180, 110),
    (250, 140, 30),
    (220, 110, 10),
    (160, 50, 10),
    (205, 10, 10),
    (130, 20, 20),
    (90, 10, 10),
]

State = tuple[tuple[int, ...], ...]


def parse_position(solution: dict, key: str) -> State:
    """A validated configuration: rods of disks 1..n, each rod decreasing from bottom to top."""
    require_keys(solution, [key], "tower_of_hanoi")
    rods = solution[key]
    if not isinstance(rods, list) or len(rods) < 3 or any(not isinstance(r, list) for r in rods):
        raise PuzzleError(f"tower_of_hanoi: {key!r} must be a list of at least 3 rods, got {rods!r}")
    disks = sorted(d for rod in rods for d in rod)
    if disks != list(range(1, len(disks) + 1)):
        raise PuzzleError(f"tower_of_hanoi: {key!r} must hold disks 1..n once each, got {rods!r}")
    if any(rod != sorted(rod, reverse=True) for rod in rods):
        raise PuzzleError(f"tower_of_hanoi: {key!r} has a larger disk on a smaller one, got {rods!r}")
    return tuple(tuple(rod) for rod in rods)


def neighbours(state: State):
    for i, src in enumerate(state):
        if not src:
            continue
        disk = src[-1]
        for j, dst in enumerate(state):
            if j != i and (not dst or dst[-1] > disk):
                rods = list(state)
                rods[i], rods[j] = src[:-1], dst + (disk,)
                yield tuple(rods)


def path_to_tower(state: State, rod: int = TARGET_ROD) -> list[State]:
    """The states of the optimal path from `state` (3 rods) to the full tower on `rod`.

    The largest disk not yet on `rod` must move there once: first the smaller disks go to the
    third rod, out of its way, then they follow it; the path is unique.

    >>> [s[2] for s in path_to_tower(((2, 1), (), ()))]
    [(), (), (2,), (2, 1)]
    """
    rods = [list(r) for r in state]
    where = {disk: i for i, r in enumerate(rods) for disk in r}
    path = [state]

    def gather(largest: int, target: int) -> None:  # disks 1..largest onto `target`
        for disk in range(largest, 0, -1):
            source = where[disk]
            if source != target:
                gather(disk - 1, 3 - source - target)
                rods[source].pop()
                rods[target].append(disk)
                where[disk] = target
                path.append(tuple(tuple(r) for r in rods))
                gather(disk - 1, target)
                return

    gather(len(where), rod)
    return path


def moves_between(start: State, goal: State) -> list[State]:
    path = shortest_path(start, goal, neighbours)
    if path is None:
        raise PuzzleError("tower_of_hanoi: start and end configurations hold different disks or rod counts")
    return path


class TowerOfHanoi(Puzzle):
    name = "tower_of_hanoi"

    def _states(self, solution: dict) -> tuple[State, State]:
        start, end = parse_position(solution, "start_position"), parse_position(solution, "end_position")
        if len(start) != len(end) or sum(map(len, start)) != sum(map(len, end)):
            raise PuzzleError("tower_of_hanoi: start and end configurations differ in rods or disks")
        return start, end

    def solve(self, solution: dict, question: str) -> str:
        require_question(question, ASKS, self.name)
        return str(len(moves_between(*self._states(solution))) - 1)

    def describe(self, solution: dict) -> str:
        start, _ = self._states(solution)
        n = sum(map(len, start))
        head = (
            f"Tower of Hanoi with {len(start)} rods and {n} disks. Disks are numbered by size, 1 the smallest "
            f"and {n} the largest; each rod lists its disks from bottom to top."
        )
        facts = self.facts(solution)
        return "\n".join(
            [head, "Starting configuration:", *facts[: len(start)], "Ending configuration:", *facts[len(start) :]]
        )

    def facts(self, solution: dict) -> list[str]:
        out = []
        for label, state in zip(("start", "end"), self._states(solution)):
            out += [f"{label} rod {i + 1}: " + (" ".join(map(str, rod)) or "empty") for i, rod in enumerate(state)]
        return out

    def start_state(self, solution: dict) -> dict:
        start, end = self._states(solution)
        return {"start_position": [list(r) for r in start], "end_position": [list(r) for r in end]}

    claim_pattern = CLAIM

    def parse(self, text: str) -> dict | None:
        """The two configurations of a description, or None unless it lists every rod of both,
        once, with the same disks 1..n (and agrees with its "with R rods and N disks" if stated).

        >>> TowerOfHanoi().parse("Start rod 1: 2 1, start rod 2: empty, start rod 3: empty; "
        ...                      "end rod 1: 2, end rod 2: 1, end rod 3: empty")
        {'start_position': [[2, 1], [], []], 'end_position': [[2], [1], []]}
        """
        text = normalize(text)
        rods: dict[str, dict[int, list[int]]] = {"start": {}, "end": {}}
        for label, rod, disks in re.findall(CLAIM, text):
            value = [] if disks == "empty" else [int(d) for d in disks.split()]
            if rods[label].setdefault(int(rod), value) != value:
                return None  # one rod stated two ways
        count = len(rods["start"])
        if any(sorted(r) != list(range(1, count + 1)) for r in rods.values()):
            return None
        solution = {f"{label}_position": [r[i] for i in range(1, count + 1)] for label, r in rods.items()}
        head = HEAD.search(text)
        if head and (int(head[1]), int(head[2])) != (count, sum(map(len, solution["start_position"]))):
            return None
        try:
            self._states(solution)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """Start and end d moves apart on one optimal path to the full tower, as the generator draws them
        (see the module docstring)."""
        classic = rng.random() < 0.5
        while True:
            n = rng.choices(DISKS, DISK_WEIGHTS)[0]
            moves = rng.choices(ANSWERS, ANSWER_WEIGHTS)[0]
            rods: list[list[int]] = [list(range(n, 0, -1)), [], []] if classic else [[], [], []]
            if not classic:
                for disk in range(n, 0, -1):
                    rods[rng.randrange(3)].append(disk)
            path = path_to_tower(tuple(tuple(r) for r in rods))
            i = rng.randrange(len(path))
            ends = [j for j in (i + moves, i - moves) if 0 <= j < len(path)]
            if ends:  # else the path is too short on both sides: the generator draws again
                break
        j = rng.choice(ends)
        segment = path[min(i, j) : max(i, j) + 1]
        segment = segment if j > i else segment[::-1]
        as_lists = lambda s: [list(rod) for rod in s]  # noqa: E731
        solution = {
            "start_position": as_lists(path[i]),
            "end_position": as_lists(path[j]),
            "moves": [{"position": as_lists(s), "num_moves": k} for k, s in enumerate(segment)],
        }
        return solution, QUESTION.format(rods=3, disks=n)

    def render(self, solution: dict, size: int) -> Image.Image:
        require_size(size, self.name)
        start, end = self._states(solution)
        n = sum(map(len, start))
        width = 512
        disk_h, panel_h, title_h = 16, 150, 36
        height = 2 * (title_h + panel_h) + 20
        scale = size / width
        img = Image.new("RGB", (size, round(height * scale)), "white")
        draw = ImageDraw.Draw(img)
        s = lambda *v: tuple(round(x * scale) for x in v)  # noqa: E731
        text_font = font(max(6, round(15 * scale)))
        draw.text(s(width / 2, title_h / 2), "Starting Configuration", fill="black", font=text_font, anchor="mm")
        draw.text(s(width / 2, height - title_h / 2), "Ending Configuration", fill="black", font=text_font, anchor="mm")
        sep = title_h + panel_h + 10
        draw.line(s(5, sep, width - 5, sep), fill=(200, 200, 200), width=1)
        rod_x = [width * (2 * i + 1) / (2 * len(start)) for i in range(len(start))]
        max_w = width / len(start) - 20
        for base_y, state in ((title_h + panel_h, start), (height - title_h - 10, end)):
            draw.rectangle(s(5, base_y, width - 5, base_y + 5), fill=(100, 65, 35))
            for x, rod in zip(rod_x, state):
                draw.rectangle(s(x - 4, base_y - panel_h + 15, x + 4, base_y), fill=(100, 65, 35))
                for k, disk in enumerate(rod):
                    w = max_w * (0.35 + 0.65 * disk / max(n, 1)) / 2
                    y1 = base_y - k * disk_h
                    draw.rectangle(s(x - w, y1 - disk_h, x + w, y1), fill=DISK_COLOURS[(disk - 1) % len(DISK_COLOURS)])
        return img

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distractors drawn uniformly from 1..6, like the released options (the
        range widens only to hold an answer outside it)."""
        return uniform_options(answer, rng, OPTION_VALUES[0], OPTION_VALUES[-1])
