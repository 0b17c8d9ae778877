"""Throughput of the six reward designs on realistic 2,048-token completions (issue 3).

Measures completions per CPU-second, single process pinned to one core, for:
- shared:  `score_designs(all six)`: each completion parsed once, six weighted sums;
- naive:   the six reward functions called one after another (each re-parses), side by side;
- single:  one design alone (what a training run calls), for each design.
Target: >= 5,000 completions/s per core for the whole six-reward set.

    python benchmarks/bench_rewards.py [--n 512] [--repeats 5] [--chars 8200]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time

from visreason.rewards import DESIGNS, get_reward, score_designs

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


def best_rate(fn, n: int, repeats: int) -> float:
    """Completions per CPU-second of this process, best of `repeats` runs over the batch.

    CPU time (not wall time) so that other processes sharing the machine do not count.
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="distinct completions in the batch")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the best is reported")
    parser.add_argument("--chars", type=int, default=8200, help="characters per completion (~4 per token)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    rng = random.Random(0)
    batch = [completion(rng, args.chars) for _ in range(args.n)]
    texts, golds, cats = (list(column) for column in zip(*batch))
    names = list(DESIGNS)

    shared = best_rate(lambda: score_designs(names, texts, golds, cats), args.n, args.repeats)
    naive = best_rate(lambda: [get_reward(name)(texts, golds, cats) for name in names], args.n, args.repeats)
    functions = {name: get_reward(name) for name in names}
    single = {name: best_rate(lambda f=f: f(texts, golds, cats), args.n, args.repeats) for name, f in functions.items()}

    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"python {platform.python_version()} on {platform.processor() or platform.machine()}, 1 core, single process")
    print(f"{args.n} distinct completions, mean {mean_chars:,.0f} characters, best of {args.repeats} runs\n")
    print("| what | completions/s per core |")
    print("|---|---|")
    print(f"| all six, shared parse (`score_designs`) | {shared:,.0f} |")
    print(f"| all six, naive (six reward calls, six parses) | {naive:,.0f} |")
    for name, rate in single.items():
        print(f"| `{name}` alone | {rate:,.0f} |")
    verdict = "met" if shared >= 5000 else "NOT met"
    print(f"\nshared / naive = {shared / naive:.2f}x; target >= 5,000/s for all six: {verdict}")


if __name__ == "__main__":
    main()
