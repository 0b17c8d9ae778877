"""Batched vs one-sample-at-a-time generation, as `visreason evaluate` runs it.

Each setting runs in its own process (so peak memory is its own): load the model,
warm up once, then generate greedily for N evaluation puzzles (image mode, the
mixture prompt) in batches of B. Reports samples/s, generated tokens/s and peak
memory (process RSS on CPU; torch's peak allocation on a GPU), and the speed-up of
each batch size over batch 1.

    python benchmarks/bench_generation.py                       # tiny model, CPU, batch 16 vs 1
    python benchmarks/bench_generation.py --model PATH --backend vllm --batch-sizes 1 64 --scale paper  # a GPU

Target (issue 5): batch 16 >= 4x the samples/s of batch 1 on the tiny model on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(args) -> dict:
    """Time one batch size; runs in a fresh process."""
    import torch

    from visreason.backends import load_backend, measure_prompts
    from visreason.generation import Request, Sampling
    from visreason.params import load_params
    from visreason.records import load_records
    from visreason.rewards import format_prompt

    torch.manual_seed(0)
    data = Path(args.data)
    records = load_records(data)[: args.n]
    requests = [Request(format_prompt("mixture", r["question"]), data / r["image"]) for r in records]
    # params.yaml's image resolution (model.min_pixels/max_pixels), as `visreason evaluate` uses it
    params = load_params(scale=args.scale)
    longest = max(measure_prompts(args.model, requests, params))
    sampling = Sampling(max_new_tokens=args.max_new_tokens)
    backend = load_backend(args.model, sampling, params, args.backend, max_prompt_tokens=longest)
    backend.generate(requests[: args.batch_size], seed=0)  # warm-up (kernels, allocator, caches)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    tokens = 0
    for i in range(0, len(requests), args.batch_size):
        tokens += sum(g.n_tokens for g in backend.generate(requests[i : i + args.batch_size], seed=0))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {
        "batch_size": args.batch_size,
        "backend": backend.name,
        "samples": len(requests),
        "seconds": elapsed,
        "samples_per_s": len(requests) / elapsed,
        "tokens_per_s": tokens / elapsed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: build the tiny model)")
    parser.add_argument(
        "--backend", default="transformers", choices=["transformers", "vllm"], help="generation backend"
    )
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[1, 16], help="batch sizes; the first is the baseline"
    )
    parser.add_argument("--n", type=int, default=48, help="puzzles generated per setting")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="tokens generated per puzzle")
    parser.add_argument("--data", default=None, help="evaluation dataset folder (default: generate one)")
    parser.add_argument("--scale", default="smoke", help="params.yaml scale whose image resolution to use")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    from visreason.data import build_dataset
    from visreason.models import build_tiny_model
    from visreason.params import load_params

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_tiny_model(Path(tmp) / "tiny", seed=0))
        data = args.data
        if data is None:
            params = load_params()
            params["data"]["eval"] |= {"source": "generated", "per_category": -(-args.n // 9)}
            data = str(Path(tmp) / "data")
            build_dataset(params, "eval", data)
        results = []
        for bs in args.batch_sizes:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                "--model",
                model,
                "--data",
                data,
                "--backend",
                args.backend,
                "--batch-size",
                str(bs),
                "--n",
                str(args.n),
                "--max-new-tokens",
                str(args.max_new_tokens),
                "--scale",
                args.scale,
            ]
            out = subprocess.run(
                cmd, check=True, capture_output=True, text=True, env=os.environ | {"TOKENIZERS_PARALLELISM": "false"}
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = results[0]["samples_per_s"]
    print(
        f"{'batch':>5} {'backend':>12} {'samples/s':>10} {'tokens/s':>9} {'speed-up':>8}"
        f" {'peak RSS MiB':>12} {'peak GPU MiB':>12}"
    )
    for r in results:
        gpu = f"{r['peak_gpu_mib']:.0f}" if r["peak_gpu_mib"] is not None else "-"
        print(
            f"{r['batch_size']:>5} {r['backend']:>12} {r['samples_per_s']:>10.2f} {r['tokens_per_s']:>9.1f} "
            f"{r['samples_per_s'] / base:>7.2f}x {r['peak_rss_mib']:>12.0f} {gpu:>12}"
        )


if __name__ == "__main__":
    main()
