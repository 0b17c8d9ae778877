"""The interface every puzzle category implements.

A category turns a `solution` dict (the puzzle state, with exactly the keys of the
released AlgoPuzzleVQA records) into an answer, a text rendering and an image, and
samples new states from a seeded RNG. Released and generated records are
interchangeable: everything downstream sees only `solution` and `question`.
"""

from __future__ import annotations

import random
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class Generated:
    """One generated puzzle, before it is written to disk."""

    question: str
    options: list[str]
    answer: str
    solution: dict
    image: Image.Image


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

    def generate(self, rng: random.Random, size: int) -> Generated:
        solution, question = self.sample(rng)
        answer = self.solve(solution, question)
        return Generated(question, self.options(answer, solution, rng), answer, solution, self.render(solution, size))

    def fact_fidelity(self, caption: str, solution: dict) -> tuple[int, int]:
        """(facts stated correctly, facts in the state), comparing case- and space-insensitively."""
        text = normalize(caption)
        facts = self.facts(solution)
        return sum(normalize(f) in text for f in facts), len(facts)


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def integer_options(answer: str, rng: random.Random, low: int, high: int) -> list[str]:
    """The integer answer plus 3 distinct distractors drawn from [low, high], shuffled.

    Distractors are drawn near the answer first, so options stay plausible.
    """
    gold = int(answer)
    near = [v for v in range(gold - 3, gold + 4) if v != gold and low <= v <= high]
    far = [v for v in range(low, high + 1) if v != gold and v not in near]
    rng.shuffle(near)
    rng.shuffle(far)
    picks = (near + far)[:3]
    if len(picks) < 3:
        raise ValueError(f"range [{low}, {high}] too small for 4 distinct options")
    opts = [str(v) for v in picks] + [answer]
    rng.shuffle(opts)
    return opts
