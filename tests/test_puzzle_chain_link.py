"""chain_link: the fewest cuts on hand-checked states and against a breadth-first search over every
cut, bad input, the sampler's marginals against the 100 released records, options, images and
determinism."""

from __future__ import annotations

import json
import math
import random
import re
import statistics
from collections import Counter

import pytest
from PIL import Image

from visreason.puzzles import CATEGORIES
from visreason.puzzles.base import PuzzleError, bfs
from visreason.puzzles.chain_link import cut_sequence, fewest_cuts, pieces, question

CHAIN = CATEGORIES["chain_link"]
N = 1000  # sampled states for the marginals


@pytest.fixture(scope="module")
def released(shared_data):
    with open(shared_data / "data" / "chain_link.json") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def sampled():
    rng = random.Random(99)
    return [CHAIN.sample(rng) for _ in range(N)]


def close(p_gen: float, p_rel: float, n_rel: int = 100, n_gen: int = N) -> bool:
    """Two shares agree within 4 standard errors of their difference."""
    p = (p_gen * n_gen + p_rel * n_rel) / (n_gen + n_rel)
    return abs(p_gen - p_rel) <= 4 * math.sqrt(max(p * (1 - p), 0.01) * (1 / n_rel + 1 / n_gen))


def solve(counts, cut=3, join=2):
    return CHAIN.solve({"steps": [counts]}, question(counts, cut, join))


@pytest.mark.parametrize(
    "counts, cuts, answer",
    [
        ([4, 0, 0, 0, 0, 0], 0, "8"),  # only open pieces: weld the 4 into a ring (4 * 2)
        ([0, 0, 0, 0, 0, 1], 1, "5"),  # one segment of 5: open its end piece and weld it to the other end
        ([0, 3, 0, 0, 0, 0], 2, "10"),  # 3 closed singles: open 2 (2 open, 1 closed), weld 2
        ([0, 0, 2, 0, 0, 0], 2, "10"),  # two 2-segments: open one of them whole (2 open, 1 left)
        ([2, 0, 0, 0, 1, 1], 0, "4"),  # 2 open pieces fill the 2 gaps between the 2 segments
        ([1, 0, 0, 0, 0, 3], 2, "12"),  # 1 open, 3 closed: 2 cuts from one 5 -> 3 open, 3 closed
        ([3, 2, 1, 1, 3, 2], 4, "34"),  # the first released record, 5 and 2 minutes
    ],
)
def test_hand_checked_states(counts, cuts, answer):
    assert fewest_cuts(counts) == cuts
    cut, join = (5, 2) if counts == [3, 2, 1, 1, 3, 2] else (3, 2)
    assert solve(counts, cut, join) == answer


def cut_search(counts) -> int:
    """Fewest cuts by BFS over every cut: any piece of any closed segment, splitting it in two."""
    start = (counts[0], tuple(sorted(n for n, k in enumerate(counts[1:], 1) for _ in range(k))))

    def cuts(state):
        opened, closed = state
        for i, length in enumerate(closed):
            rest = closed[:i] + closed[i + 1 :]
            for left in range(length):
                parts = tuple(p for p in (left, length - 1 - left) if p)
                yield opened + 1, tuple(sorted(rest + parts))

    seen = bfs(start, cuts, max_depth=12)
    return min(d for (opened, closed), (_, d) in seen.items() if opened >= len(closed))


def test_greedy_cuts_are_fewest_by_search():
    rng = random.Random(5)
    for _ in range(150):
        counts = [rng.randint(0, 2) for _ in range(3)] + [rng.randint(0, 1) for _ in range(3)]
        if sum(counts):
            assert fewest_cuts(counts) == cut_search(counts), counts


def test_released_steps_are_the_cut_sequence(released):
    """The released `steps` list the same cuts: shortest segment first."""
    for rec in released:
        s = rec["solution"]
        assert cut_sequence(s["steps"][0]) == s["steps"]
        assert (s["cuts"], s["joins"]) == (len(s["steps"]) - 1, s["steps"][0][0] + len(s["steps"]) - 1)


def test_missing_and_mistyped_keys(released):
    rec = released[0]
    with pytest.raises(PuzzleError, match="chain_link: .*'steps'"):
        CHAIN.solve({k: v for k, v in rec["solution"].items() if k != "steps"}, rec["question"])
    for value in ([[3, 2, "1", 1, 3, 2]], [3, 2, 1, 1, 3, 2], [], [[3, -2, 1, 1, 3, 2]], "steps"):
        with pytest.raises(PuzzleError, match="chain_link: 'steps'"):
            CHAIN.solve({**rec["solution"], "steps": value}, rec["question"])
    with pytest.raises(PuzzleError, match="each_cut_time"):
        CHAIN.solve({**rec["solution"], "each_cut_time": 4}, rec["question"])  # the question says 5


def test_unsolvable_or_inconsistent_states(released):
    rec = released[0]  # 12 segments, 32 pieces, 3 open
    with pytest.raises(PuzzleError, match="1-1000 segments, got 0"):
        CHAIN.solve({"steps": [[0, 0, 0, 0, 0, 0]]}, rec["question"])
    with pytest.raises(PuzzleError, match="not 'steps'"):
        CHAIN.solve({"steps": [[3, 2, 1, 1, 3, 1]]}, rec["question"])  # a 5-segment fewer than the question
    with pytest.raises(PuzzleError, match="not 'steps'"):
        CHAIN.solve(rec["solution"], rec["question"].replace("she has 3 segments each", "she has 2 segments each"))
    with pytest.raises(PuzzleError, match="question"):
        CHAIN.solve(rec["solution"], "How many links does the chain have?")


def test_sampler_marginals(released, sampled):
    rel = [r["solution"]["steps"][0] for r in released]
    gen = [s["steps"][0] for s, _ in sampled]
    segments = Counter(sum(c) for c in gen)
    assert set(segments) == set(range(8, 17))  # released: 8-16
    assert abs(statistics.mean(map(sum, gen)) - statistics.mean(map(sum, rel))) < 4 * 2.0 / math.sqrt(100)
    for slot, top in enumerate((4, 4, 4, 4, 3, 2)):  # open, closed singles, segments of 2, 3, 4, 5
        assert {c[slot] for c in gen} == set(range(top + 1)) == {c[slot] for c in rel}
    for key, support in (("each_cut_time", range(2, 6)), ("each_join_time", range(2, 6))):
        assert {s[key] for s, _ in sampled} == set(support) == {r["solution"][key] for r in released}
    for opened in range(5):
        share = lambda counts: sum(c[0] == opened for c in counts) / len(counts)  # noqa: E731,B023
        assert close(share(gen), share(rel)), opened
    gen_answers = [int(CHAIN.solve(s, q)) for s, q in sampled]
    rel_answers = [int(r["answer"]) for r in released]  # 8-72, mean 37, sd 13
    assert abs(statistics.mean(gen_answers) - statistics.mean(rel_answers)) < 4 * 13 / math.sqrt(100)
    assert min(gen_answers) <= 12 and 66 <= max(gen_answers) <= 120
    assert len(set(gen_answers)) > 40
    assert close(sum(pieces(c) > 30 for c in gen) / N, sum(pieces(c) > 30 for c in rel) / 100)


def test_questions_are_released_wording(released, sampled):
    mask = lambda q: re.sub(r"\d+", "N", q)  # noqa: E731
    assert {mask(q) for _, q in sampled} == {mask(r["question"]) for r in released}  # no, 1 and several open
    for rec in released:
        s = rec["solution"]
        assert question(s["steps"][0], s["each_cut_time"], s["each_join_time"]) == rec["question"]


def test_options_lie_where_the_released_ones_do(released, sampled):
    rng, below, total, places = random.Random(4), 0, 0, Counter()
    for s, q in sampled[:500]:
        answer = CHAIN.solve(s, q)
        opts = CHAIN.options(answer, s, rng)
        assert len(set(opts)) == 4 and answer in opts
        others = [int(o) for o in opts if o != answer]
        assert all(1 <= o <= max(98, int(answer) + 3) and o <= max(2 * int(answer), int(answer) + 3) for o in others)
        below += sum(o < int(answer) for o in others)
        total += 3
        places[opts.index(answer)] += 1
    rel_below = sum(int(o) < int(r["answer"]) for r in released for o in r["options"] if o != r["answer"]) / 300
    assert close(below / total, rel_below, 300, total)  # released: 210 of 300 below the answer
    assert min(places.values()) > 80
    assert CHAIN.options("8", {}, random.Random(0)) and len(set(CHAIN.options("2", {}, random.Random(0)))) == 4


def test_render_matches_released_layout(released, shared_data):
    for rec in released[:10]:
        image = CHAIN.render(rec["solution"], 512)
        with Image.open(shared_data / "data" / rec["image"]) as original:
            assert image.size[0] == original.size[0] == 512
            assert abs(image.size[1] - original.size[1]) <= 0.1 * original.size[1]
        assert image.mode == "RGB"
    assert max(CHAIN.render(released[0]["solution"], 32).size) == 32
    for size in (31, 0, 512.0, "512"):
        with pytest.raises(PuzzleError, match="size"):
            CHAIN.render(released[0]["solution"], size)


def test_determinism():
    def make(seed):
        rng = random.Random(seed)
        s, q = CHAIN.sample(rng)
        return s, q, CHAIN.options(CHAIN.solve(s, q), s, rng), CHAIN.render(s, 128).tobytes()

    assert make(3) == make(3)
    assert len({json.dumps(make(seed)[0]) for seed in range(20)}) == 20


def test_parse_needs_the_whole_list(released):
    text = CHAIN.describe(released[0]["solution"])
    assert CHAIN.parse(text) == {"steps": [[3, 2, 1, 1, 3, 2]]}
    assert CHAIN.parse(text.replace("2 segments of 5 pieces", "")) is None  # 10 listed, 12 stated
    assert CHAIN.parse(text.replace("12 chain segments", "13 chain segments")) is None
    assert CHAIN.parse(text + " 1 segment of 2 pieces.") is None  # a class stated twice
    assert CHAIN.parse("1 chain segment: 1 segment of 7 pieces") == {"steps": [[0, 0, 0, 0, 0, 0, 0, 1]]}
