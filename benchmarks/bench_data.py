"""Dataset generation speed: puzzles/s per category, and Diverse-8k wall time on 1 vs 2 workers.

    python benchmarks/bench_data.py                 # full: 512 px, all 8,000 Diverse-8k puzzles
    python benchmarks/bench_data.py --scale 0.1     # quick look: 800 puzzles

Part 1 times (CPU seconds of this process, so other jobs on the machine do not count
against it) each category's full pipeline per puzzle at `--size` px: sample + solve +
options + describe + render (what a build does per puzzle), then the same plus PNG encoding
at the configured compress level with `visreason.data.encode_png` (what builds use)
and with Pillow's encoder (the baseline), in puzzles per CPU-second.

Part 2 builds the Diverse-8k preset with `visreason.data.build_dataset` (pilot,
balancing, dedupe, render, write, manifest) with 1 worker and with 2 workers, side by
side: wall time, the CPU seconds of the parent and of the workers, and the load
average (on a shared machine, other jobs' share), and checks that both give the same
manifest; then, from the manifest, how balancing changed each category's most common
answer. The target is Diverse-8k in at most 60 s on 2 cores.

With `--released-clock PATH` (AlgoPuzzleVQA/generation/clock.py from a checkout of
declare-lab/LLM-PuzzleTest; it needs matplotlib, numpy and tqdm), the released clock
generator runs side by side with ours, as shipped (its 100 puzzles, matplotlib, 8 x 8 in
at 500 dpi, JPEG), in a temporary folder: its puzzles per CPU-second, and ours over it.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from visreason.data import build_dataset, encode_png, train_counts
from visreason.params import load_params
from visreason.puzzles import CATEGORIES


def per_category(
    size: int, seconds: float, compress_level: int, names: list[str]
) -> list[tuple[str, float, float, float]]:
    """(category, puzzles/s: without PNG, with our PNG encoder, with Pillow's PNG encoder) on this core."""
    rows = []
    for name in names:
        puzzle = CATEGORIES[name]
        rng = random.Random(0)
        n, generate_s, png_s, pillow_s = 0, 0.0, 0.0, 0.0
        while generate_s + png_s < seconds:
            t0 = time.process_time()
            solution, question = puzzle.sample(rng)
            answer = puzzle.solve(solution, question)
            puzzle.options(answer, solution, rng)
            puzzle.describe(solution)
            image = puzzle.render(solution, size)
            t1 = time.process_time()
            encode_png(image, compress_level)
            t2 = time.process_time()
            image.convert("RGB").save(io.BytesIO(), format="PNG", compress_level=compress_level)
            pillow_s += time.process_time() - t2
            png_s += t2 - t1
            generate_s += t1 - t0
            n += 1
        rows.append((name, n / generate_s, n / (generate_s + png_s), n / (generate_s + pillow_s)))
    return rows


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used by this process, and by its finished children (the pool's workers)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return tuple(u.ru_utime + u.ru_stime for u in usage)


def released_clock_rate(script: Path, workdir: Path) -> tuple[int, float]:
    """(puzzles made, CPU seconds) of the released clock generator, run as shipped in `workdir`."""
    _, children = cpu_seconds()
    subprocess.run([sys.executable, str(script.resolve())], cwd=workdir, check=True, capture_output=True)
    made = len((workdir / "data" / "clock.json").read_text().splitlines())
    return made, cpu_seconds()[1] - children


def build_time(params: dict, workers: int, out: Path) -> tuple[float, float, float, dict]:
    """(wall seconds, CPU seconds of the parent, of its workers, manifest) of one build."""
    params = copy.deepcopy(params)
    params["data"]["workers"] = workers
    wall, (parent, children) = time.perf_counter(), cpu_seconds()
    manifest = build_dataset(params, "train", out)
    parent_now, children_now = cpu_seconds()
    return time.perf_counter() - wall, parent_now - parent, children_now - children, manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="image size, px (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per category (default: %(default)s)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of Diverse-8k to build (default: %(default)s)"
    )
    parser.add_argument(
        "--categories", nargs="+", choices=sorted(CATEGORIES), default=list(CATEGORIES), help="part 1 only these"
    )
    parser.add_argument("--no-build", action="store_true", help="part 1 only: skip the Diverse-8k build")
    parser.add_argument(
        "--released-clock",
        type=Path,
        metavar="PATH",
        help="the released generator's clock.py, to time side by side with ours (default: not run)",
    )
    parser.add_argument(
        "--workdir",
        default="results",
        help="where the builds go, on the disk the pipeline writes to (default: %(default)s)",
    )
    args = parser.parse_args()

    params = load_params(scale="paper")
    params["data"]["image_size"] = args.size
    params["data"]["train"]["preset"] = "diverse-8k"
    level = params["data"]["png_compress_level"]

    print(f"## Puzzles per CPU-second per category, one process, {args.size} px (PNG compress_level={level})\n")
    print("| category | generate | + PNG (encode_png, used) | + PNG (Pillow, baseline) |")
    print("|---|---:|---:|---:|")
    rates = {}
    for name, bare, ours, pillow in per_category(args.size, args.seconds, level, args.categories):
        rates[name] = ours
        print(f"| {name} | {bare:.0f} | {ours:.0f} | {pillow:.0f} |", flush=True)
    if args.released_clock:
        ours = rates.get("clock") or per_category(args.size, args.seconds, level, ["clock"])[0][2]
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            made, cpu = released_clock_rate(args.released_clock, Path(tmp))
        print(
            f"\nreleased clock generator: {made} puzzles in {cpu:.1f} CPU-s = {made / cpu:.2f}/s; "
            f"ours (with PNG): {ours:.0f}/s = {ours / (made / cpu):.0f}x",
            flush=True,
        )
    if args.no_build:
        return 0

    counts = {c: max(1, round(n * args.scale)) for c, n in train_counts(params).items()}
    params["data"]["train"]["presets"]["diverse-8k"] = counts
    total = sum(counts.values())
    print(f"\n## Diverse-8k build ({total} puzzles, {args.size} px), wall time\n")
    print("| workers | wall (s) | puzzles/s | CPU parent (s) | CPU workers (s) | load average after |")
    print("|---:|---:|---:|---:|---:|---:|")
    manifests = []
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for workers in (1, 2):
            wall, parent, children, manifest = build_time(params, workers, Path(tmp) / f"w{workers}")
            manifests.append(manifest)
            load = os.getloadavg()[0]
            print(
                f"| {workers} | {wall:.1f} | {total / wall:.0f} | {parent:.1f} | {children:.1f} | {load:.1f} |",
                flush=True,
            )
    same = manifests[0] == manifests[1]
    print(f"\nidentical manifests with 1 and 2 workers: {same}\n")
    print_balance(manifests[0])
    return 0 if same else 1


def print_balance(manifest: dict) -> None:
    """The most common answer's share before (the pilot: natural) and after balancing."""
    print("| category | distinct answers (built) | top answer, natural | top answer, built | fallbacks | redraws |")
    print("|---|---:|---|---|---:|---:|")
    for c, built in manifest["answer_histograms"].items():
        stats = manifest["balance"][c]
        natural = stats["pilot_answers"]

        def top(hist: dict) -> str:
            answer, n = max(hist.items(), key=lambda kv: kv[1])
            return f"{answer!r} {100 * n / sum(hist.values()):.1f}%"

        print(f"| {c} | {len(built)} | {top(natural)} | {top(built)} | {stats['fallbacks']} | {stats['redraws']} |")


if __name__ == "__main__":
    sys.exit(main())
