"""The interface every puzzle category implements.

A category turns a `solution` dict (the puzzle state, with exactly the keys of the
released AlgoPuzzleVQA records) into an answer, a text rendering and an image, and
samples new states from a seeded RNG. Released and generated records are
interchangeable: everything downstream sees only `solution` and `question`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import random
import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

from PIL import Image, ImageFont

from visreason import VisreasonError


class Puzzle(ABC):
    """One puzzle category. Subclasses are stateless; one instance lives in the registry."""

    name: str = ""

    @abstractmethod
    def solve(self, solution: dict, question: str) -> str:
        """The answer, computed from the state by an exact algorithm (never looked up).

        `question` is needed because several categories ask different things of
        the same state (maze: left turns, right turns, all turns or path length;
        number_slide: the moves and the quantity asked; clock: "in" or "ago").
        """

    @abstractmethod
    def describe(self, solution: dict) -> str:
        """A faithful text rendering of the state: with the question, enough to solve it."""

    @abstractmethod
    def facts(self, solution: dict) -> list[str]:
        """The atomic facts of the state, each a short canonical string that
        `describe` contains verbatim (e.g. clock: ["time 2:43"]). Caption fidelity is
        the share of these facts that a caption states."""

    @abstractmethod
    def sample(self, rng: random.Random) -> tuple[dict, str]:
        """A random state and its question. The solution dict carries exactly the
        released records' keys for this category."""

    @abstractmethod
    def render(self, solution: dict, size: int) -> Image.Image:
        """The puzzle image, `size` px on its long side, RGB."""

    @abstractmethod
    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """4 distinct options, one of them `answer`, in random order."""

    # -- identity: what makes two puzzles the same puzzle --------------------------------

    def start_state(self, solution: dict):
        """The state the image shows, as JSON-able data read from the input keys of `solution`
        only, never from derived ones (paths, intermediate states, counts computed from it):
        two solvers may derive different but equally good paths from one start."""
        raise NotImplementedError(f"{self.name}: start_state is not implemented")

    def asked(self, solution: dict, question: str):
        """What the question asks of the start state, as JSON-able data. By default the question
        itself, up to case and spacing; a category whose questions carry decoration that does not
        change the task (clock: a first name) returns the task alone."""
        return normalize(question)

    def identity(self, solution: dict, question: str) -> str:
        """The puzzle's identity: its category, start state and what is asked, as canonical JSON.

        Two puzzles with one identity are the same puzzle to a model: the same image and the same
        task. Datasets deduplicate on it, and a training set shares none with the set it excludes.
        """
        state = [self.start_state(solution), self.asked(solution, question)]
        return f"{self.name}:" + json.dumps(state, sort_keys=True, separators=(",", ":"))

    # -- reading descriptions back -------------------------------------------------------

    #: A regular expression matching, in `normalize`d text, every fact-shaped statement of this
    #: category, true or false: `normalize(f)` of every fact `f` of every state matches it whole.
    claim_pattern: str = ""

    def claims(self, text: str) -> list[str]:
        """The fact-shaped statements `text` makes (normalised, in order, repeats kept), right or wrong.

        A description's fact precision is the share of its claims that are facts of the state; for
        `describe(solution)` the claims are exactly `facts(solution)`.
        """
        if not self.claim_pattern:
            raise NotImplementedError(f"{self.name}: claim_pattern is not set")
        return [m.group(0) for m in re.finditer(self.claim_pattern, normalize(text))]

    def parse(self, text: str) -> dict | None:
        """The start state that `text` states in `describe`'s format, as a solution dict that `solve`
        accepts (derived keys may be missing), or None when `text` does not state one completely and
        validly. May be partial about wording it does not know, but never returns a state the text does
        not say: `parse(describe(s))` has the start state of `s`."""
        raise NotImplementedError(f"{self.name}: parse is not implemented")

    def fact_fidelity(self, caption: str, solution: dict) -> tuple[int, int]:
        """(facts stated correctly, facts in the state), comparing case- and space-insensitively.

        A fact counts only as a whole: "column 1" is not stated by "column 12".

        >>> from visreason.puzzles import CATEGORIES
        >>> state = {"rows": 8, "columns": 8, "given_queen_positions": [[0, 1]], "missing_queen_positions": []}
        >>> CATEGORIES["n_queens"].fact_fidelity("8 x 8 squares, queen at row 0, column 12", state)
        (1, 2)
        """
        text = normalize(caption)
        facts = self.facts(solution)
        stated = sum(re.search(rf"(?<!\w){re.escape(normalize(f))}(?!\w)", text) is not None for f in facts)
        return stated, len(facts)


class PuzzleError(VisreasonError, ValueError):
    """A solution dict, question or size a category cannot handle. The message names
    the category and the offending key or text. It is a ValueError for library
    callers and a VisreasonError for the CLI (one line, exit 2)."""


def require_keys(solution: dict, keys, category: str) -> None:
    """Raise PuzzleError naming every key of `keys` that `solution` lacks.

    >>> require_keys({"rows": 8}, ["rows", "columns"], "n_queens")
    Traceback (most recent call last):
    ...
    visreason.puzzles.base.PuzzleError: n_queens: solution is missing key(s) 'columns'
    """
    if not isinstance(solution, dict):
        raise PuzzleError(f"{category}: solution must be a dict, got {type(solution).__name__}")
    missing = [k for k in keys if k not in solution]
    if missing:
        raise PuzzleError(f"{category}: solution is missing key(s) {', '.join(map(repr, missing))}")


def require_size(size: int, category: str, minimum: int = 32) -> None:
    """Raise PuzzleError unless `size` (the image's long side in px) is an int >= `minimum`."""
    if isinstance(size, bool) or not isinstance(size, int) or size < minimum:
        raise PuzzleError(f"{category}: image size must be an integer >= {minimum} px, got {size!r}")


def require_question(question: str, phrase: str, category: str) -> None:
    """Raise PuzzleError unless `question` asks what `category` answers, recognised by
    `phrase` (compared case- and space-insensitively), e.g. "minimum number of moves"."""
    if not isinstance(question, str) or normalize(phrase) not in normalize(question):
        raise PuzzleError(f"{category}: question does not ask for the {phrase}: {question!r}")


def require_grid(grid, name: str, category: str) -> None:
    """Raise PuzzleError unless `grid` is a non-empty rectangular list of row lists."""
    if not (isinstance(grid, list) and grid and isinstance(grid[0], list) and grid[0]):
        raise PuzzleError(f"{category}: {name!r} must be a non-empty list of rows")
    if any(not isinstance(row, list) or len(row) != len(grid[0]) for row in grid):
        raise PuzzleError(f"{category}: {name!r} must be rectangular (every row {len(grid[0])} cells long)")


@functools.lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    """A bold sans-serif font of `size` px: DejaVu Sans Bold shipped with matplotlib
    (a dependency; found without importing it), else Pillow's built-in font. The
    basic layout engine keeps glyph placement, hence image bytes, machine-independent."""
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        path = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    return ImageFont.load_default(size)


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def find_each_once(text, patterns: dict[str, re.Pattern]) -> dict[str, object] | None:
    """Each pattern's one match in `text` (lower-cased, whitespace collapsed), or None when the text
    is not a string or a pattern matches other than once: what a `parse` reads a stated fact by.

    >>> find_each_once("A RED  square.", {"colour": re.compile(r"a (\\w+) square")})
    {'colour': 'red'}
    >>> find_each_once("a red square, a blue square", {"colour": re.compile(r"a (\\w+) square")}) is None
    True
    """
    if not isinstance(text, str):
        return None
    text = normalize(text)
    found = {key: pattern.findall(text) for key, pattern in patterns.items()}
    if any(len(v) != 1 for v in found.values()):
        return None
    return {key: v[0] for key, v in found.items()}


def uniform_options(answer: str, rng: random.Random, low: int, high: int) -> list[str]:
    """The integer answer and 3 distinct distractors drawn uniformly from [low, high] (widened to
    hold the answer), shuffled: how the released options of the integer categories are drawn.

    >>> sorted(uniform_options("3", random.Random(0), 1, 6), key=int)
    ['1', '3', '5', '6']
    >>> "9" in uniform_options("9", random.Random(0), 1, 6)
    True
    """
    gold = int(answer)
    values = [v for v in range(min(low, gold), max(high, gold) + 1) if v != gold]
    if len(values) < 3:
        raise PuzzleError(f"options: [{low}, {high}] is too small for 3 distractors of {answer}")
    opts = [str(v) for v in rng.sample(values, 3)] + [answer]
    rng.shuffle(opts)
    return opts


# The released options of maze, move_box and number_slide keep their distractors in [1, 5] for answers
# up to 5, [1, 9] up to 10, [1, 49] up to 50 and [1, 99] up to 100; beyond, we use [1, 2 x answer].
OPTION_BANDS = ((5, 5), (10, 9), (50, 49), (100, 99))


def banded_options(answer: str, rng: random.Random) -> list[str]:
    """The answer and 3 distinct distractors drawn uniformly from the released band of the answer.

    >>> opts = banded_options("37", random.Random(0))
    >>> "37" in opts and len(set(opts)) == 4 and all(1 <= int(o) <= 49 for o in opts)
    True
    """
    gold = int(answer)
    return uniform_options(answer, rng, 1, next((h for limit, h in OPTION_BANDS if gold <= limit), 2 * gold))


def bfs(start, neighbours: Callable[[Hashable], Iterable[Hashable]], goal=None, max_depth: int | None = None) -> dict:
    """Breadth-first search: state -> (parent, distance) for every state reached from `start`,
    stopping once `goal` is reached or at `max_depth`.

    >>> bfs(0, lambda n: [n + 1, n + 2], goal=3)[3]
    (1, 2)
    """
    seen = {start: (None, 0)}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        depth = seen[state][1]
        if depth == max_depth:
            continue
        for nxt in neighbours(state):
            if nxt not in seen:
                seen[nxt] = (state, depth + 1)
                if nxt == goal:
                    return seen
                queue.append(nxt)
    return seen


def shortest_path(start, goal, neighbours: Callable[[Hashable], Iterable[Hashable]]) -> list | None:
    """The states of a shortest path from `start` to `goal` (both included), or None if unreachable.

    >>> shortest_path(0, 3, lambda n: [n + 1, n + 2])
    [0, 1, 3]
    """
    seen = bfs(start, neighbours, goal)
    if goal not in seen:
        return None
    path = [goal]
    while seen[path[-1]][0] is not None:
        path.append(seen[path[-1]][0])
    return path[::-1]
