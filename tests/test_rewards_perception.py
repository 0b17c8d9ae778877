"""The perception-aware designs (fact_f1, sufficiency) and the random control arm.

Hand-written descriptions with hand-computed scores; the faithful description scored above the
listing attack and a wrong description for every category that can read descriptions; the refusal
of categories that cannot; the random arm's seeding; no completion raises or leaves the range.
"""

from __future__ import annotations

import json
import random
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visreason import VisreasonError, rewards
from visreason.config import deep_merge
from visreason.params import load_params
from visreason.perception import f1, fact_scores, state_facts, sufficiency_score
from visreason.puzzles import ALGOPUZZLEVQA, CATEGORIES
from visreason.puzzles.base import Puzzle, normalize
from visreason.rewards import (
    DESIGNS,
    build_reward,
    check_categories,
    example_form,
    fact_f1_reward,
    format_prompt,
    get_reward,
    parse,
    random_reward,
)

PERCEPTION = ("fact_f1", "sufficiency")
# Every AlgoPuzzleVQA category implements claims and parse.
WITH_INTERFACE = set(ALGOPUZZLEVQA)


def readable(design: str) -> list[str]:
    """The categories `design` can score, by its own check."""
    out = []
    for category in CATEGORIES:
        try:
            check_categories(design, [category])
        except VisreasonError:
            continue
        out.append(category)
    return out


FACT_CATEGORIES, PARSE_CATEGORIES = readable("fact_f1"), readable("sufficiency")

ALL_BLUE = {"start_state": [["blue"] * 3, ["blue"] * 2, ["blue"] * 3]}
# All blue, one ball through the left hole: the top-left disk (blue) sends it right to the middle-left
# disk (blue: left), then to the bottom-left disk; the three flip to yellow. Top row: yellow, blue, blue.
LEFT_BALL = "One ball is dropped through the left hole. How many blue faces can be seen in the top row now?"
DISKS = ["top-left", "top-center", "top-right", "middle-left", "middle-right", "bottom-left", "bottom-center"]
DISKS.append("bottom-right")


def disks(**colours: str) -> str:
    """A think_dot description in the facts' form: every disk blue unless given (`top_left="yellow"`)."""
    return "; ".join(f"{d} disk: {colours.get(d.replace('-', '_'), 'blue')}" for d in DISKS)


def completion(description: str, answer: str) -> str:
    return (
        f"<image description>{description}</image description>"
        "<think>I read the state. I apply the rule.</think><rethink>It holds.</rethink>"
        f"<answer>{answer}</answer>"
    )


def test_every_benchmark_category_can_be_read():
    assert WITH_INTERFACE <= set(FACT_CATEGORIES) and WITH_INTERFACE <= set(PARSE_CATEGORIES)


# -- fact_f1 ------------------------------------------------------------------------------------


def test_fact_scores_by_hand():
    # 7 distinct claims, 6 of them facts of the 8: P = 6/7, R = 6/8, F1 = 2 * 6 / (7 + 8) = 0.8
    text = disks(top_left="blue", bottom_right="yellow").replace("; bottom-center disk: blue", "")
    assert fact_scores(text, "think_dot", ALL_BLUE) == pytest.approx((6 / 7, 6 / 8))
    assert f1(6 / 7, 6 / 8) == pytest.approx(0.8)
    assert fact_scores(disks(), "think_dot", ALL_BLUE) == (1.0, 1.0)
    # repeats count once; case and spacing do not matter
    assert fact_scores(disks() + ". TOP-LEFT   disk: Blue. " + disks(), "think_dot", ALL_BLUE) == (1.0, 1.0)
    # the listing attack: both colours of every disk, P = 8/16, R = 1
    listing = disks() + "; " + disks(**{d.replace("-", "_"): "yellow" for d in DISKS})
    assert fact_scores(listing, "think_dot", ALL_BLUE) == (0.5, 1.0)
    for text in (None, "", "The disks are mostly blue.", 42):
        assert fact_scores(text, "think_dot", ALL_BLUE) == (0.0, 0.0)


def test_fact_f1_reward_by_hand():
    assert DESIGNS["fact_f1"].weights == {"fact_f1": 0.06, "think": 0.06, "rethink": 0.08, "accuracy": 0.8}
    think, rethink = 0.9640275800758169, 0.7615941559557649  # tanh(2), tanh(1)
    texts = [completion(disks(), "2"), completion(disks(top_right="yellow"), "2"), completion("Blue disks.", "3")]
    f1_wrong = 2 * 7 / (8 + 8)  # one of eight claims wrong
    terms = DESIGNS["fact_f1"].function.terms(texts, "2", "think_dot", solution=ALL_BLUE)
    assert terms["fact_f1"] == pytest.approx([1.0, f1_wrong, 0.0])
    assert terms["accuracy"] == [1.0, 1.0, 0.0]
    base = 0.06 * think + 0.08 * rethink
    assert terms["total"] == pytest.approx([0.06 + base + 0.8, 0.06 * f1_wrong + base + 0.8, base])
    heavy = fact_f1_reward(0.5)(texts, "2", "think_dot", solution=ALL_BLUE)
    assert heavy == pytest.approx([0.5 + base + 0.8, 0.5 * f1_wrong + base + 0.8, base])


def test_clock_claims_earn_hour_and_minute_credit(monkeypatch):
    # The clock's own claim pattern lands with its parse; this stand-in has its facts' shape ("time H:MM").
    monkeypatch.setattr(CATEGORIES["clock"], "claim_pattern", r"(?<!\w)time \d{1,2}:\d{2}(?!\d)")
    state = {"current_hour": 4, "current_minute": 23, "add_hour": 1, "add_minute": 40}
    assert fact_scores("The clock shows time 4:23.", "clock", state) == (1.0, 1.0)
    # dm = 1: 0.5 + 0.5 * (1 - 1/20); dh = 1: 0.5 * (1 - 1/5) + 0.5
    assert fact_scores("time 4:24", "clock", state) == pytest.approx((0.975, 0.975))
    assert fact_scores("time 5:23", "clock", state) == pytest.approx((0.9, 0.9))
    assert fact_scores("time 16:23", "clock", state) == (0.0, 0.0)  # off the dial: exact only
    assert fact_scores("time 9:50", "clock", state) == (0.0, 0.0)
    assert fact_scores("time 4:23, or time 4:24", "clock", state) == (0.5, 1.0)  # the best claim counts once
    every_minute = " ".join(f"time {h}:{m:02d}" for h in range(1, 13) for m in range(60))
    assert fact_scores(every_minute, "clock", state) == pytest.approx((1 / 720, 1.0))
    noon = {"current_hour": 12, "current_minute": 5, "add_hour": 0, "add_minute": 5}
    assert fact_scores("time 0:05", "clock", noon) == (1.0, 1.0)  # 12 o'clock is 0


# -- sufficiency -----------------------------------------------------------------------------------


def test_sufficiency_by_hand():
    assert DESIGNS["sufficiency"].weights == {"sufficiency": 0.06, "think": 0.06, "rethink": 0.08, "accuracy": 0.8}
    describe = CATEGORIES["think_dot"].describe
    assert sufficiency_score(describe(ALL_BLUE), "think_dot", LEFT_BALL, "2") == 1.0
    assert sufficiency_score(disks(), "think_dot", LEFT_BALL, "2") == 1.0  # the facts alone state the state
    assert sufficiency_score(disks(top_right="yellow"), "think_dot", LEFT_BALL, "2") == 0.0  # top row: 1 blue
    # wrong about a disk the ball and the question never touch: the solver still answers right
    assert sufficiency_score(disks(bottom_right="yellow"), "think_dot", LEFT_BALL, "2") == 1.0
    assert sufficiency_score(disks(), "think_dot", LEFT_BALL, "3") == 0.0
    listing = disks() + "; " + disks(**{d.replace("-", "_"): "yellow" for d in DISKS})
    for text in (disks()[:60], listing, "", None, "A toy with blue disks."):
        assert sufficiency_score(text, "think_dot", LEFT_BALL, "2") == 0.0
    terms = DESIGNS["sufficiency"].function.terms(
        [completion(disks(), "2"), completion(disks(top_right="yellow"), "2"), "<answer>2</answer>"],
        "2",
        "think_dot",
        question=LEFT_BALL,
    )
    assert terms["sufficiency"] == [1.0, 0.0, 0.0] and terms["accuracy"] == [1.0, 1.0, 1.0]
    with pytest.raises(VisreasonError, match="needs each completion's question"):
        sufficiency_score(disks(), "think_dot", None, "2")


# -- Faithful above the listing attack and a wrong description, in every readable category ----------


@pytest.fixture(scope="module")
def banks(shared_data):
    """category -> the released (solution, question, answer) triples; for a probe, which has no
    released records, 100 generated ones."""
    out = {}
    for category in set(FACT_CATEGORIES) | set(PARSE_CATEGORIES):
        if category not in ALGOPUZZLEVQA:
            puzzle, rng = CATEGORIES[category], random.Random(0)
            drawn = [puzzle.sample(rng) for _ in range(100)]
            out[category] = [(s, q, str(puzzle.solve(s, q))) for s, q in drawn]
            continue
        path = shared_data / "data" / f"{category}.json"
        with path.open() as f:
            out[category] = [(r["solution"], r["question"], str(r["answer"])) for r in map(json.loads, f)]
    return out


def _full(description: str, answer: str) -> str:
    return completion(description, answer)


@pytest.mark.parametrize("category", FACT_CATEGORIES)
def test_fact_f1_faithful_above_listing_and_wrong(category, banks):
    puzzle = CATEGORIES[category]
    bank = banks[category]
    listing = "\n".join(sorted({fact for s, _, _ in bank for fact in puzzle.facts(s)}))
    reward = DESIGNS["fact_f1"].function
    for k, (solution, _, answer) in enumerate(bank):
        own = {normalize(f) for f in puzzle.facts(solution)}
        other = next(s for s, _, _ in bank[k + 1 :] + bank[:k] if {normalize(f) for f in puzzle.facts(s)} != own)
        texts = [
            _full(puzzle.describe(solution), answer),
            _full(listing, answer),
            _full(puzzle.describe(other), answer),
        ]
        assert fact_scores(puzzle.describe(solution), category, solution) == (1.0, 1.0)
        p, r = fact_scores(listing, category, solution)
        assert r == 1.0 and p < 1.0
        faithful, listed, wrong = reward(texts, answer, category, solution=solution)
        assert faithful > listed and faithful > wrong, (category, k, faithful, listed, wrong)


@pytest.mark.parametrize("category", PARSE_CATEGORIES)
def test_sufficiency_faithful_above_listing_and_wrong(category, banks):
    puzzle = CATEGORIES[category]
    bank = banks[category]
    listing = "\n".join(sorted({fact for s, _, _ in bank for fact in puzzle.facts(s)}))
    reward = DESIGNS["sufficiency"].function
    wrong_found = 0
    for solution, question, answer in bank:
        description = puzzle.describe(solution)
        assert sufficiency_score(description, category, question, answer) == 1.0
        assert sufficiency_score(listing, category, question, answer) == 0.0
        # a wrong description: one whose stated state answers the question otherwise
        for other, _, _ in bank:
            stated = puzzle.parse(puzzle.describe(other))
            try:
                differs = puzzle.solve(stated, question) != answer
            except ValueError:  # the stated state does not fit this question
                differs = True
            if differs:
                wrong_found += 1
                texts = [_full(description, answer), _full(listing, answer), _full(puzzle.describe(other), answer)]
                faithful, listed, wrong = reward(texts, answer, category, question=question)
                assert faithful > listed and faithful > wrong
                break
    assert wrong_found >= len(bank) // 2  # most puzzles have a state in the bank that answers otherwise


# -- Categories that cannot be read -----------------------------------------------------------------


class StandIn(Puzzle):
    """A category with the base interface only: no claim pattern, no parse."""

    name = "stand_in"

    def solve(self, solution, question):
        return "1"

    def describe(self, solution):
        return "fact one"

    def facts(self, solution):
        return ["fact one"]

    def sample(self, rng):
        return {}, "q"

    def render(self, solution, size):
        raise NotImplementedError

    def options(self, answer, solution, rng):
        return ["1", "2", "3", "4"]


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setitem(CATEGORIES, "stand_in", StandIn())
    return "stand_in"


def test_designs_refuse_categories_they_cannot_read(stand_in):
    check_categories("mixture", ["think_dot", stand_in])
    check_categories("random", [stand_in])
    with pytest.raises(VisreasonError, match=r"reward 'fact_f1' cannot score category stand_in \(no claims\)"):
        check_categories("fact_f1", ["think_dot", stand_in, stand_in])
    with pytest.raises(
        VisreasonError,
        match=r"^reward 'sufficiency' cannot score category stand_in \(no parse\): "
        r"it reads each description through the category's parse$",
    ):
        check_categories("sufficiency", [stand_in])
    # the reward itself refuses too: it never scores an unreadable category 0
    with pytest.raises(VisreasonError, match=r"cannot score category stand_in"):
        get_reward("fact_f1")(["<answer>1</answer>"], "1", stand_in, solution={})
    with pytest.raises(VisreasonError, match=r"cannot score category stand_in"):
        get_reward("sufficiency")(["<answer>1</answer>"], "1", [stand_in], question="q")
    with pytest.raises(VisreasonError, match="cannot score category stand_in"):
        fact_scores("fact one", stand_in, {})
    for bad in ("nonesuch", None, 3):
        with pytest.raises(VisreasonError, match=f"reward 'fact_f1': unknown category {bad!r}"):
            check_categories("fact_f1", [bad])


def test_every_category_without_the_interface_is_named():
    lacking = sorted(set(CATEGORIES) - set(FACT_CATEGORIES))
    if lacking:  # on this branch the study's nine: they get their claims on other branches
        with pytest.raises(VisreasonError) as err:
            check_categories("fact_f1", sorted(CATEGORIES))
        assert all(f"{c} (no claims)" in str(err.value) for c in lacking)
    else:
        check_categories("fact_f1", sorted(CATEGORIES))


def test_perception_designs_need_their_columns():
    with pytest.raises(VisreasonError, match="reward 'fact_f1' needs the 'solution' column"):
        get_reward("fact_f1")(["x"], "2", "think_dot")
    with pytest.raises(VisreasonError, match="reward 'sufficiency' needs the 'question' column"):
        get_reward("sufficiency")(["x"], "2", "think_dot", solution=ALL_BLUE)
    with pytest.raises(VisreasonError, match="'solution' has 1 values for 2 completions"):
        get_reward("fact_f1")(["x", "y"], "2", "think_dot", solution=[ALL_BLUE])
    with pytest.raises(VisreasonError, match="think_dot"):  # a bad record's state names its category
        get_reward("fact_f1")(["x"], "2", "think_dot", solution={"start_state": "blue"})


# -- The random arm -------------------------------------------------------------------------------


def test_random_arm_is_seeded_by_position_never_content():
    assert DESIGNS["random"].weights == {"random": 1.0} and DESIGNS["random"].tags == DESIGNS["mixture"].tags
    batch = [completion(disks(), "2"), "", "<answer>5</answer>", None] * 8
    reward = build_reward("random", seed=7)
    run = [reward(batch, "2", "think_dot", step=s) for s in range(4)]
    assert run == [build_reward("random", seed=7)(batch, "2", "think_dot", step=s) for s in range(4)]  # a rerun
    state = types.SimpleNamespace(global_step=2)
    assert reward(batch, "2", "think_dot", trainer_state=state) == run[2]  # TRL's trainer_state gives the step
    other = [random.Random(i).choice(["x", "<answer>2</answer>", completion(disks(), "2")]) for i in range(32)]
    assert reward(other, "9", "maze", step=0) == run[0]  # the content never matters
    assert all(v in (0.0, 1.0) for r in run for v in r)
    assert len({tuple(r) for r in run}) == 4  # every step draws anew
    assert build_reward("random", seed=8)(batch, "2", "think_dot", step=0) != run[0]
    ids = reward(batch, "2", "think_dot", step=0, id=[f"p{i // 4}" for i in range(32)])
    assert ids != run[0]  # the prompt id is part of the position
    with pytest.raises(VisreasonError, match="'random' needs the training step"):
        reward(batch, "2", "think_dot")
    with pytest.raises(VisreasonError, match="the seed must be an integer"):
        random_reward("7")


def test_random_arm_is_a_fair_coin():
    n = 20_000
    values = random_reward(0)(["x"] * n, "1", "maze", step=0)
    # binomial: sd of the mean = 0.5 / sqrt(n) = 0.0035; 5 sd
    assert abs(sum(values) / n - 0.5) < 5 * 0.5 / n**0.5
    pairs = sum(a == b for a, b in zip(values, values[1:])) / (n - 1)  # neighbours independent
    assert abs(pairs - 0.5) < 5 * 0.5 / n**0.5


# -- Building a job's reward from params.yaml --------------------------------------------------------


def test_build_reward_from_the_params():
    params = load_params(scale="smoke")
    assert {"fact_f1", "sufficiency", "random"} <= set(params["rewards"])  # in the sweep
    settings = deep_merge(params["train"], params["rewards"]["fact_f1"])
    assert build_reward("fact_f1", settings).weights == DESIGNS["fact_f1"].weights
    assert build_reward("fact_f1", {**settings, "fact_weight": 0.3}).weights["fact_f1"] == 0.3
    assert build_reward("mixture", settings) is DESIGNS["mixture"].function
    with pytest.raises(VisreasonError, match=r"params: 'rewards.fact_f1.fact_weight' is not set"):
        build_reward("fact_f1", params["train"])
    for bad in (-0.1, float("nan"), float("inf"), True, "0.1"):
        with pytest.raises(VisreasonError, match="rewards.fact_f1.fact_weight: must be a finite number >= 0"):
            build_reward("fact_f1", {"fact_weight": bad})
    with pytest.raises(VisreasonError, match="unknown reward 'fact_f2'"):
        build_reward("fact_f2")


# -- Prompts --------------------------------------------------------------------------------------


def test_perception_prompts_show_another_state_in_the_form_they_read():
    prompt = format_prompt("fact_f1", "How many?", category="think_dot", solution=ALL_BLUE)
    form = example_form("fact_f1", "think_dot", ALL_BLUE)
    assert f"kind:\n{form}\nThen think" in prompt and "<image description>" in prompt and "{form}" not in prompt
    assert form.split("; ") != CATEGORIES["think_dot"].facts(ALL_BLUE)  # never the puzzle's own state
    for design in PERCEPTION:
        assert DESIGNS[design].tags == DESIGNS["mixture"].tags
        with pytest.raises(VisreasonError, match=f"reward '{design}' shows an example description"):
            format_prompt(design, "How many?")
    assert format_prompt("random", "How many?") == format_prompt("mixture", "How many?")


@pytest.mark.parametrize("category", sorted(WITH_INTERFACE))
def test_the_example_is_another_state_in_a_form_its_design_reads(category):
    puzzle = CATEGORIES[category]
    for seed in range(10):
        solution, _ = puzzle.sample(random.Random(1000 + seed))
        own = {normalize(f) for f in puzzle.facts(solution)}
        facts = example_form("fact_f1", category, solution)
        claimed = set(puzzle.claims(facts))
        assert claimed != own and len(claimed & own) < len(own)
        assert sorted(claimed) == sorted(normalize(f) for f in facts.split("; "))  # every fact reads as a claim
        stated = puzzle.parse(example_form("sufficiency", category, solution))
        assert stated is not None and {normalize(f) for f in puzzle.facts(stated)} == claimed


# -- Properties -----------------------------------------------------------------------------------


def fragments(category: str) -> list[str]:
    """Pieces a description of `category` is made of: its facts and its description's words."""
    puzzle = CATEGORIES[category]
    solution, _ = puzzle.sample(random.Random(0))
    return [*puzzle.facts(solution), *puzzle.describe(solution).split(" ")[:40]]


TOKENS = ["<image description>", "</image description>", "<think>", "</think>", "<rethink>", "</rethink>"]
TOKENS += ["<answer>", "</answer>", ". ", "; ", "\n", " ", "2", "4:23", "\x00", "İ", "\u2028"]


@st.composite
def perception_batches(draw):
    category = draw(st.sampled_from(sorted(WITH_INTERFACE)))
    puzzle = CATEGORIES[category]
    solution, question = puzzle.sample(random.Random(draw(st.integers(0, 5))))
    pieces = st.one_of(st.sampled_from(TOKENS + fragments(category)), st.text(max_size=6))
    texts = draw(st.lists(st.lists(pieces, max_size=40).map("".join), min_size=1, max_size=4))
    texts.append(completion(puzzle.describe(solution), puzzle.solve(solution, question)))
    gold = draw(st.one_of(st.just(puzzle.solve(solution, question)), st.text(max_size=4)))
    return texts, gold, category, solution, question


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perception_batches(), st.integers(0, 10**6))
def test_no_completion_makes_the_new_rewards_raise_or_leave_their_range(batch, step):
    texts, gold, category, solution, question = batch
    chat = [[{"role": "assistant", "content": t}] for t in texts]
    for name in (*PERCEPTION, "random"):
        reward = DESIGNS[name].function
        terms = reward.terms(texts + chat, gold, category, solution=solution, question=question, step=step)
        low, high = reward.bounds
        assert all(low <= v <= high for v in terms["total"]), (name, terms)
        for term in ("fact_f1", "sufficiency", "random"):
            assert all(0.0 <= v <= 1.0 for v in terms.get(term, []))
    precision, recall = fact_scores(parse(texts[0]).description, category, solution)
    assert 0.0 <= precision <= 1.0 and 0.0 <= recall <= 1.0
    row = rewards.Row(gold, category, solution, question, state_facts(category, solution))
    for term in PERCEPTION:  # each reads only its fields of the parse
        for text in texts:
            partial = parse(text, rewards.TERM_FIELDS[term])
            assert rewards.TERMS[term](partial, row) == rewards.TERMS[term](parse(text), row)


def test_bounds_of_the_new_designs():
    assert DESIGNS["fact_f1"].function.bounds == pytest.approx((-0.14, 1.0))
    assert DESIGNS["sufficiency"].function.bounds == pytest.approx((-0.14, 1.0))
    assert DESIGNS["random"].function.bounds == (0.0, 1.0)
    assert fact_f1_reward(0.5).bounds == pytest.approx((-0.14, 1.44))
