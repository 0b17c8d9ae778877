"""The docstring examples run as tests (`--doctest-modules` in pyproject.toml). This checks that
the modules that document their behaviour by example still have examples, so that deleting them
cannot pass unnoticed."""

from __future__ import annotations

import doctest
import importlib

import pytest

from visreason.puzzles import CATEGORIES

# Modules whose functions are specified by their examples, and how many each has at least.
DOCUMENTED = {
    "visreason.rewards": 12,
    "visreason.params": 2,
    "visreason.stats": 2,
    "visreason.data": 2,
    "visreason.tracking": 1,
    "visreason.puzzles.base": 3,
}
# Every category module shows its solver at work on at least one hand-checked state.
DOCUMENTED |= {type(puzzle).__module__: 1 for puzzle in CATEGORIES.values()}


@pytest.mark.parametrize("module", sorted(DOCUMENTED))
def test_module_has_examples(module):
    tests = doctest.DocTestFinder().find(importlib.import_module(module))
    examples = sum(len(t.examples) for t in tests)
    assert examples >= DOCUMENTED[module], f"{module}: {examples} docstring examples, expected >= {DOCUMENTED[module]}"


def test_doctests_are_collected(pytestconfig):
    assert "--doctest-modules" in pytestconfig.getini("addopts")
