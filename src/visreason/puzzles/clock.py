"""PLACEHOLDER: being implemented (see issue #2)."""

from visreason.puzzles.base import Puzzle


class Clock(Puzzle):
    name = "clock"

    def solve(self, solution, question):
        raise NotImplementedError

    def describe(self, solution):
        raise NotImplementedError

    def facts(self, solution):
        raise NotImplementedError

    def sample(self, rng):
        raise NotImplementedError

    def render(self, solution, size):
        raise NotImplementedError

    def options(self, answer, solution, rng):
        raise NotImplementedError
