"""Throughput of the reward designs on realistic 2,048-token completions.

Measures completions per CPU-second, single process pinned to one core, for:
- shared:  `score_designs(the study's six)`: each completion parsed once, six weighted sums;
- naive:   the six reward functions called one after another (each re-parses), side by side;
- single:  one design alone (what a training run calls), for each of the six;
- perception: Mixture, fact_f1, sufficiency and random side by side on one batch of puzzle
  completions whose description is the puzzle's own (half), another state's (a quarter) or
  plain sentences (a quarter), in groups of `--group` completions per puzzle as GRPO scores
  them; per category too. The memo of solved states is emptied before every timed run.
Targets: >= 5,000 completions/s per core for the six; >= 2,000/s for fact_f1 and sufficiency.
`--baseline FILE` (another revision's rewards.py) times the six's shared parse of both, in turn
in this process on one batch, and checks that they score alike.

    python benchmarks/bench_rewards.py [--n 512] [--repeats 5] [--chars 8200] [--group 5]
    git show REV:src/visreason/rewards.py > /tmp/rewards_rev.py
    python benchmarks/bench_rewards.py --baseline /tmp/rewards_rev.py --repeats 10
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import random
import sys
import time

from visreason import perception, rewards
from visreason.puzzles import CATEGORIES
from visreason.rewards import check_categories, get_reward, score_designs

SIX = ["vanilla", "only_accuracy", "mixture", "continuous", "visual_fusion", "no_accuracy"]
PERCEPTION = ["mixture", "fact_f1", "sufficiency", "random"]

WORDS = (
    "the hour hand minute clock points between four five so we add one forty minutes box wall floor flag "
    "path cell row column queen board move tile slide empty jug litre pour disk rod kiwi rotten fresh grid "
    "left right up down first then check again count each step state target because therefore"
).split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words)), f"{rng.randint(0, 12)}:{rng.randint(0, 59):02d}")
    return " ".join(words).capitalize() + rng.choice(".....?!")


def _text(rng: random.Random, chars: int, repeat: float = 0.1) -> str:
    """About `chars` characters of sentences, a few repeated (as models do), some line breaks."""
    out: list[str] = []
    size = 0
    while True:
        s = rng.choice(out) if out and rng.random() < repeat else _sentence(rng)
        if size + len(s) + 1 > chars:
            break
        out.append(s)
        size += len(s) + 1
    return "".join(s + ("\n" if rng.random() < 0.15 else " ") for s in out)


def completion(rng: random.Random, chars: int) -> tuple[str, str, str]:
    """(completion, gold, category): every tag, ~`chars` characters in all, right or wrong answer."""
    clock = rng.random() < 0.5
    draw = (lambda: f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}") if clock else (lambda: str(rng.randint(0, 30)))
    gold = draw()
    pred = gold if rng.random() < 0.5 else draw()
    visual = "".join(f"<visual>{_text(rng, chars // 20)}</visual> {_text(rng, chars // 10)}" for _ in range(2))
    text = (
        f"<image description>{_text(rng, chars * 15 // 100)}</image description>\n"
        f"<think>{_text(rng, chars * 25 // 100)}{visual}</think>\n"
        f"<rethink>{_text(rng, chars * 30 // 100)}</rethink>\n"
        f"<answer>{pred}</answer>"
    )
    return text, gold, "clock" if clock else "maze"


def readable() -> list[str]:
    """The categories both perception designs can read (their claims and parse exist)."""
    out = []
    for category in CATEGORIES:
        try:
            check_categories("fact_f1", [category])
            check_categories("sufficiency", [category])
        except rewards.VisreasonError:
            continue
        out.append(category)
    return out


def puzzle_batch(rng: random.Random, n: int, chars: int, group: int, categories: list[str]) -> dict[str, list]:
    """n completions of puzzles drawn round-robin from `categories`, `group` per puzzle (one solution
    object per group, as a training batch holds its records); the description block is padded with
    sentences to its share of `chars`."""
    columns: dict[str, list] = {"texts": [], "answer": [], "category": [], "solution": [], "question": []}
    for k in range((n + group - 1) // group):
        category = categories[k % len(categories)]
        puzzle = CATEGORIES[category]
        solution, question = puzzle.sample(rng)
        other, _ = puzzle.sample(rng)
        gold = puzzle.solve(solution, question)
        for _ in range(group):
            draw = rng.random()
            stated = puzzle.describe(solution) if draw < 0.5 else puzzle.describe(other) if draw < 0.75 else ""
            description = stated + " " + _text(rng, max(0, chars * 15 // 100 - len(stated)))
            visual = "".join(f"<visual>{_text(rng, chars // 20)}</visual> {_text(rng, chars // 10)}" for _ in range(2))
            columns["texts"].append(
                f"<image description>{description}</image description>\n"
                f"<think>{_text(rng, chars * 25 // 100)}{visual}</think>\n"
                f"<rethink>{_text(rng, chars * 30 // 100)}</rethink>\n"
                f"<answer>{gold if rng.random() < 0.5 else 'no'}</answer>"
            )
            columns["answer"].append(gold)
            columns["category"].append(category)
            columns["solution"].append(solution)
            columns["question"].append(question)
    return {key: values[:n] for key, values in columns.items()}


def best_rate(fn, n: int, repeats: int) -> float:
    """Completions per CPU-second of this process, best of `repeats` runs over the batch.

    CPU time (not wall time) so that other processes sharing the machine do not count. The memo of
    solved states starts empty in every run, so that no run profits from the one before.
    """
    best = float("inf")
    for _ in range(repeats):
        perception._SOLVED.clear()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return n / best


def perception_rates(batch: dict[str, list], repeats: int) -> dict[str, float]:
    texts = batch["texts"]
    columns = {k: batch[k] for k in ("answer", "category", "solution", "question")}

    def run(name: str) -> None:
        get_reward(name)(texts, **columns, step=0)

    return {name: best_rate(lambda name=name: run(name), len(texts), repeats) for name in PERCEPTION}


def against(path: str, n: int, chars: int, repeats: int) -> None:
    """The six's shared parse of this tree and of the rewards module at `path`, timed in turn."""
    spec = importlib.util.spec_from_file_location("baseline_rewards", path)
    baseline = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = baseline  # dataclasses look their module up
    spec.loader.exec_module(baseline)
    rng = random.Random(0)
    texts, golds, cats = (list(column) for column in zip(*(completion(rng, chars) for _ in range(n))))
    rates: dict[str, list[float]] = {"this tree": [], path: []}
    for _ in range(repeats):
        for name, module in (("this tree", rewards), (path, baseline)):
            start = time.process_time()
            module.score_designs(SIX, texts, golds, cats)
            rates[name].append(n / (time.process_time() - start))
    same = rewards.score_designs(SIX, texts, golds, cats) == baseline.score_designs(SIX, texts, golds, cats)
    print("| the six, shared parse | best | median |\n|---|---|---|")
    for name, values in rates.items():
        values.sort()
        print(f"| {name} | {values[-1]:,.0f} | {values[len(values) // 2]:,.0f} |")
    print(f"\nidentical scores: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="distinct completions in the batch")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the best is reported")
    parser.add_argument("--chars", type=int, default=8200, help="characters per completion (~4 per token)")
    parser.add_argument("--group", type=int, default=5, help="completions per puzzle (GRPO's group size)")
    parser.add_argument("--baseline", help="another revision's rewards.py: time the six's shared parse of both")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    if args.baseline:
        against(args.baseline, args.n, args.chars, args.repeats)
        return

    rng = random.Random(0)
    batch = [completion(rng, args.chars) for _ in range(args.n)]
    texts, golds, cats = (list(column) for column in zip(*batch))

    shared = best_rate(lambda: score_designs(SIX, texts, golds, cats), args.n, args.repeats)
    naive = best_rate(lambda: [get_reward(name)(texts, golds, cats) for name in SIX], args.n, args.repeats)
    functions = {name: get_reward(name) for name in SIX}
    single = {name: best_rate(lambda f=f: f(texts, golds, cats), args.n, args.repeats) for name, f in functions.items()}

    categories = readable()
    mixed = puzzle_batch(random.Random(1), args.n, args.chars, args.group, categories)
    side_by_side = perception_rates(mixed, args.repeats)
    per_category = {
        c: perception_rates(puzzle_batch(random.Random(2), args.n, args.chars, args.group, [c]), args.repeats)
        for c in categories
    }

    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"python {platform.python_version()} on {platform.processor() or platform.machine()}, 1 core, single process")
    print(f"{args.n} distinct completions, mean {mean_chars:,.0f} characters, best of {args.repeats} runs\n")
    print("| what | completions/s per core |")
    print("|---|---|")
    print(f"| the six, shared parse (`score_designs`) | {shared:,.0f} |")
    print(f"| the six, naive (six reward calls, six parses) | {naive:,.0f} |")
    for name, rate in single.items():
        print(f"| `{name}` alone | {rate:,.0f} |")
    verdict = "met" if shared >= 5000 else "NOT met"
    print(f"\nshared / naive = {shared / naive:.2f}x; target >= 5,000/s for the six: {verdict}")

    mean_chars = sum(map(len, mixed["texts"])) / len(mixed["texts"])
    print(f"\nPuzzle completions, groups of {args.group}, mean {mean_chars:,.0f} characters: {', '.join(categories)}\n")
    print("| categories | " + " | ".join(f"`{name}`" for name in PERCEPTION) + " |")
    print("|---|" + "---|" * len(PERCEPTION))
    print("| all, mixed | " + " | ".join(f"{side_by_side[name]:,.0f}" for name in PERCEPTION) + " |")
    for category, rates in per_category.items():
        print(f"| {category} | " + " | ".join(f"{rates[name]:,.0f}" for name in PERCEPTION) + " |")
    low = min(side_by_side["fact_f1"], side_by_side["sufficiency"])
    print(f"\ntarget >= 2,000/s for fact_f1 and sufficiency (mixed): {'met' if low >= 2000 else 'NOT met'}")


if __name__ == "__main__":
    main()
