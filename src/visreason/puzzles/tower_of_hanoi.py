"""Tower of Hanoi between two arbitrary configurations: the minimum number of moves, by BFS.

Disks are numbered by size (1 the smallest) and each rod lists its disks bottom to top,
as in the released records: `{"start_position": [[4, 1], [3, 2], [6, 5]], ...}`.

>>> TowerOfHanoi().solve({"start_position": [[3, 2, 1], [], []], "end_position": [[], [], [3, 2, 1]]},
...     "What is the minimum number of moves required to go from the starting to the ending configuration?")
'7'
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
    "You are playing a Tower of Hanoi game with {rods} rods and {disks} disks of various diameters, which can slide "
    "onto any rod. You are given the starting and ending configuration of the game as shown in the top and the "
    "bottom of the image, respectively. The game has the following rules: i) Only one disk may be moved at a time; "
    "ii) Each move consists of taking the upper disk from one of the stacks and placing it on top of another stack "
    "or on an empty rod; and iii) No disk can be placed on top of a disk that is smaller than it. What is the minimum "
    "number of moves required to go from the starting to the ending configuration?"
)
ASKS = "minimum number of moves"  # the phrase that identifies this category's question
MAX_ANSWER = 6  # the released answers span 1..6
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

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """A random start, and an end drawn uniformly among the states exactly d moves away, d uniform in 1..6."""
        n = rng.choices((3, 4, 5, 6), weights=(11, 18, 33, 38))[0]
        rods: list[list[int]] = [[], [], []]
        for disk in range(n, 0, -1):
            rods[rng.randrange(3)].append(disk)
        start = tuple(tuple(r) for r in rods)
        target = rng.randint(1, MAX_ANSWER)
        layer = sorted(s for s, (_, d) in bfs(start, neighbours, max_depth=target).items() if d == target)
        end = rng.choice(layer)
        path = moves_between(start, end)
        as_lists = lambda s: [list(rod) for rod in s]  # noqa: E731
        solution = {
            "start_position": as_lists(start),
            "end_position": as_lists(end),
            "moves": [{"position": as_lists(s), "num_moves": i} for i, s in enumerate(path)],
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
        return integer_options(answer, rng, 1, max(int(answer) + 4, MAX_ANSWER))
