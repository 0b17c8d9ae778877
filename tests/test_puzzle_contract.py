"""The contract every category keeps beyond solving: identity, claims and reading descriptions back.

- `identity` comes from the start state and the task only, so it survives a round trip
  through the text description (which carries no derived field).
- `claims(describe(s))` are exactly the facts of `s`, and every fact has the claim shape,
  so the oracle description has fact precision and recall 1.
- `parse(describe(s))` gives back the start state of `s`, which `solve` answers exactly
  as it answers `s`; a cut or garbled description never parses into another state.
"""

from __future__ import annotations

import json
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import normalize

NAMES = sorted(CATEGORIES)
N_GENERATED = 20


@pytest.fixture(scope="module")
def states(shared_data):
    """category -> (solution, question) pairs: the released records, then generated ones."""
    out = {}
    for name in NAMES:
        path = shared_data / "data" / f"{name}.json"
        pairs = []
        if path.is_file():
            with open(path) as f:
                pairs = [(r["solution"], r["question"]) for r in map(json.loads, filter(str.strip, f))]
        puzzle = CATEGORIES[name]
        pairs += [puzzle.sample(random.Random(seed)) for seed in range(N_GENERATED)]
        out[name] = [(json.loads(json.dumps(s)), q) for s, q in pairs]  # as a dataset stores them
    return out


@pytest.mark.parametrize("name", NAMES)
def test_description_parses_back_to_the_start_state(name, states):
    puzzle = CATEGORIES[name]
    for solution, question in states[name]:
        parsed = puzzle.parse(puzzle.describe(solution))
        assert parsed is not None, f"{name}: its own description does not parse: {puzzle.describe(solution)[:200]!r}"
        assert puzzle.start_state(parsed) == puzzle.start_state(solution)
        assert puzzle.solve(parsed, question) == puzzle.solve(solution, question)
        assert puzzle.identity(parsed, question) == puzzle.identity(solution, question)


@pytest.mark.parametrize("name", NAMES)
def test_claims_of_a_description_are_its_facts(name, states):
    puzzle = CATEGORIES[name]
    for solution, _ in states[name]:
        facts = [normalize(f) for f in puzzle.facts(solution)]
        assert facts, f"{name}: a state without facts"
        for fact in facts:
            assert re.fullmatch(puzzle.claim_pattern, fact), f"{name}: fact {fact!r} does not have the claim shape"
        assert sorted(puzzle.claims(puzzle.describe(solution))) == sorted(facts)


@pytest.mark.parametrize("name", NAMES)
def test_identity_ignores_derived_fields_and_separates_states(name, states):
    puzzle = CATEGORIES[name]
    pairs = states[name]
    identities = {puzzle.identity(s, q) for s, q in pairs}
    tasks = {json.dumps([puzzle.start_state(s), puzzle.asked(s, q)], sort_keys=True) for s, q in pairs}
    assert len(identities) == len(tasks)
    solution, question = pairs[0]
    assert puzzle.identity(solution, question) == puzzle.identity(json.loads(json.dumps(solution)), question)


@pytest.mark.parametrize("name", NAMES)
def test_cut_descriptions_never_parse_into_another_state(name, states):
    puzzle = CATEGORIES[name]
    for solution, _ in states[name][:10]:
        text = puzzle.describe(solution)
        for cut in (len(text) // 3, len(text) // 2, len(text) - 3):
            parsed = puzzle.parse(text[:cut])
            assert parsed is None or puzzle.start_state(parsed) == puzzle.start_state(solution)
    assert puzzle.parse("") is None
    assert puzzle.parse("The image shows a puzzle.") is None


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=300))
def test_parse_and_claims_never_raise(name, text):
    puzzle = CATEGORIES[name]
    parsed = puzzle.parse(text)
    assert parsed is None or isinstance(parsed, dict)
    assert isinstance(puzzle.claims(text), list)
