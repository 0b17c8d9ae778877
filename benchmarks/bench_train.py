"""Training step time: `visreason train` vs a bare TRL GRPOTrainer, same model, data and settings.

Our layer adds the record lookup around the reward, per-term reward logging, the MLflow
callback (metrics every step, a completions table every K steps), the epoch-seeded sampler,
checkpoint bookkeeping (completeness records, rotation, the OUTDIR lock) and the final
atomic save. The bare baseline is the GRPOTrainer a
TRL user would write: the registry reward as the reward function, dataset columns
`answer`/`category`, `report_to="none"`, no callbacks, the same GRPOConfig and checkpoint
interval. Each configuration runs in its own subprocess (so peak RSS is its own),
alternating ours/bare, and the median seconds per step is compared.

CPU smoke (tiny model, the smoke preset); `--together` runs each pair at once, so that the
load of a shared machine falls on both alike:
    python benchmarks/bench_train.py --steps 16 --repeats 3 [--together]

One GPU, the 7B architecture with random weights (no download: the config is built in
when the id is not in the Hugging Face cache), LoRA, the paper preset:
    python benchmarks/bench_train.py --model Qwen/Qwen2.5-VL-7B-Instruct --random-weights --lora --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from subprocess import PIPE

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

# Qwen2.5-VL-7B-Instruct's architecture (config.json of the Hub repo), for --random-weights offline.
QWEN25_VL_7B = {
    "text_config": {
        "vocab_size": 152064,
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "max_position_embeddings": 128000,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
        "rms_norm_eps": 1e-6,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
    },
    "vision_config": {
        "depth": 32,
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "out_hidden_size": 3584,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2,
    },
    "image_token_id": 151655,
    "video_token_id": 151656,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "tie_word_embeddings": False,
}


def random_weights_model(name: str, out: Path) -> Path:
    """A random-weight copy of `name`'s architecture (bf16) with a processor, in `out`."""
    import torch
    from transformers import AutoConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from visreason.models import build_tiny_model, load_processor, save_processor

    try:
        config = AutoConfig.from_pretrained(name)
        processor = load_processor(name)
    except Exception:  # not cached: the built-in 7B architecture, the tiny tokenizer with 14 px patches
        config = Qwen2_5_VLConfig(**QWEN25_VL_7B)
        tiny = build_tiny_model(out.parent / "tiny-tokenizer")
        processor = load_processor(tiny)
        processor.image_processor.patch_size = 14
        processor.image_processor.size = {"shortest_edge": 56 * 56, "longest_edge": 512 * 28 * 28}
        for key, token in (
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        ):
            setattr(config, key, processor.tokenizer.convert_tokens_to_ids(token))
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(out)
    save_processor(processor, out)
    return out


def step_timer():
    """Wall and CPU seconds of every optimizer step after the first (warm-up), callbacks included."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        wall: list[float] = []
        cpu: list[float] = []
        last = None

        def on_step_end(self, args, state, control, **kwargs):
            now = (time.perf_counter(), time.process_time())
            if self.last is not None:
                self.wall.append(now[0] - self.last[0])
                self.cpu.append(now[1] - self.last[1])
            self.last = now

    return StepTimer()


def instrument_our_layer() -> dict:
    """Time spent in our code around TRL (the reward wrapper minus the reward itself, the MLflow
    callback, completion tables), measured directly: robust to noise from other processes."""
    import functools

    import visreason.rewards as R
    import visreason.train as T

    spent = {"layer": 0.0, "reward": 0.0}

    def timed(fn, key, sign=1):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += sign * (time.perf_counter() - t)

        return wrapper

    R.Reward.__call__ = timed(timed(R.Reward.__call__, "reward"), "layer", sign=-1)  # the reward itself: not ours
    T.RewardFunction.__call__ = timed(T.RewardFunction.__call__, "layer")
    T.RewardFunction.table = timed(T.RewardFunction.table, "layer")
    for name in ("on_log", "on_step_end", "on_save", "on_train_end"):
        setattr(T.MlflowLogger, name, timed(getattr(T.MlflowLogger, name), "layer"))
    T.StepControl.on_step_end = timed(T.StepControl.on_step_end, "layer")
    T._mark_complete = timed(T._mark_complete, "layer")  # checkpoint completeness records
    return spent


def worker(args) -> dict:
    """One training run in this process; prints its measurements as JSON."""
    import torch

    from visreason.params import load_params

    params = load_params(scale=args.scale)
    train = params["train"]
    train.update({"max_steps": args.steps, "save_steps": max(1, args.steps // 2), "log_completions_steps": 4})
    if args.lora:
        train["lora"]["enabled"] = True
    if args.max_completion_length:
        train["max_completion_length"] = args.max_completion_length
    if train["torch_threads"]:
        torch.set_num_threads(train["torch_threads"])
    out = Path(args.out)
    start = time.perf_counter()
    timer = step_timer()
    spent = None
    if args.worker == "ours":
        from visreason.train import run_train

        spent = instrument_our_layer()
        run_train(params, reward=args.reward, seed=0, data=args.data, model=args.model, out=out, callbacks=[timer])
        state = json.loads(max((out / "checkpoints").glob("checkpoint-*/trainer_state.json"), key=_step).read_text())
    else:
        state = bare_trl(params, args, out, timer)
    logs = [h for h in state["log_history"] if "step_time" in h]
    completions = train["prompts_per_step"] * train["num_generations"]
    tokens = sum(h["completions/mean_length"] * completions for h in logs)
    result = {
        "worker": args.worker,
        "steps": len(logs),
        "s_per_step": statistics.median(timer.wall),
        "cpu_s_per_step": statistics.median(timer.cpu),  # robust to other processes on shared cores
        "trl_step_time": statistics.median(h["step_time"] for h in logs),
        "rollout_tokens_per_s": tokens / sum(h["step_time"] for h in logs),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_s": time.perf_counter() - start,
    }
    if spent is not None:
        result["our_layer_s_per_step"] = spent["layer"] / len(logs)
    if torch.cuda.is_available():
        result["peak_gpu_mem_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return result


def _step(path: Path) -> int:
    return int(path.parent.name.split("-")[1])


def bare_trl(params: dict, args, out: Path, timer) -> dict:
    """The GRPOTrainer a TRL user would write for the same job."""
    import torch
    from datasets import Dataset, Image
    from transformers import AutoModelForImageTextToText
    from trl import GRPOConfig, GRPOTrainer

    from visreason import rewards as R
    from visreason.config import train_settings
    from visreason.models import build_messages, load_processor
    from visreason.records import load_records
    from visreason.train import GRPO_KEYS, _check_settings, _generation_engine, _lora_config

    cfg = params["train"]
    records = load_records(args.data)
    dataset = Dataset.from_dict(
        {
            "prompt": [build_messages(R.format_prompt(args.reward, r["question"]), True) for r in records],
            "image": [str(Path(args.data) / r["image"]) for r in records],
            "answer": [r["answer"] for r in records],
            "category": [r["category"] for r in records],
        }
    ).cast_column("image", Image())
    derived = _check_settings(cfg, world_size=1)
    config = GRPOConfig(
        output_dir=str(out / "checkpoints"),
        seed=0,
        report_to="none",
        logging_steps=1,
        save_strategy="steps",
        save_total_limit=cfg["save_total_limit"],
        remove_unused_columns=False,
        use_vllm=_generation_engine(cfg, 0)["engine"] == "vllm",
        vllm_mode="colocate",
        learning_rate=cfg["lora"]["learning_rate"] if cfg["lora"]["enabled"] else cfg["learning_rate"],
        gradient_accumulation_steps=derived["gradient_accumulation_steps"],
        generation_batch_size=derived["generation_batch_size"],
        **{k: cfg[k] for k in GRPO_KEYS},
    )
    model = AutoModelForImageTextToText.from_pretrained(
        args.model, dtype=torch.bfloat16 if cfg["bf16"] else torch.float32
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=R.build_reward(args.reward, train_settings(params, args.reward), seed=0),
        args=config,
        train_dataset=dataset,
        processing_class=load_processor(args.model),
        peft_config=_lora_config(cfg["lora"]) if cfg["lora"]["enabled"] else None,
        callbacks=[timer],
    )
    trainer.train()
    return {"log_history": trainer.state.log_history}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="model folder or id (default: a freshly built tiny model)")
    p.add_argument("--random-weights", action="store_true", help="random weights with --model's architecture")
    p.add_argument("--lora", action="store_true", help="train LoRA adapters (train.lora)")
    p.add_argument("--scale", default=None, help="params scale (default: smoke on CPU, paper on a GPU)")
    p.add_argument("--reward", default="mixture")
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3, help="runs of each configuration, alternating")
    p.add_argument("--together", action="store_true", help="run each pair at the same time, not one after the other")
    p.add_argument("--max-completion-length", type=int, default=None)
    p.add_argument("--data", help="dataset folder (default: 8 generated records)")
    p.add_argument("--worker", choices=["ours", "bare"], help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return

    import torch

    tmp = Path(tempfile.mkdtemp(prefix="bench_train."))
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    scale = args.scale or ("paper" if torch.cuda.is_available() else "smoke")
    if args.data is None:
        from test_train import write_dataset

        args.data = str(write_dataset(tmp / "data", n=max(8, 256 if scale == "paper" else 8)))
    if args.model is None:
        from visreason.models import build_tiny_model

        args.model = str(build_tiny_model(tmp / "tiny"))
    elif args.random_weights:
        args.model = str(random_weights_model(args.model, tmp / "random"))
    results = {"ours": [], "bare": []}

    def command(kind: str, i: int) -> list[str]:
        cmd = [sys.executable, __file__, "--worker", kind, "--out", str(tmp / f"{kind}{i}"), "--model", args.model]
        cmd += ["--data", args.data, "--reward", args.reward, "--steps", str(args.steps), "--scale", scale]
        cmd += ["--lora"] * args.lora
        cmd += ["--max-completion-length", str(args.max_completion_length)] * bool(args.max_completion_length)
        return cmd

    def collect(kind: str, i: int, stdout: str, stderr: str) -> None:
        line = next((ln for ln in stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"{kind} run failed:\n{stderr[-3000:]}")
        results[kind].append(json.loads(line[7:]))
        print(f"{kind} run {i}: {results[kind][-1]}", flush=True)

    for i in range(args.repeats):
        if args.together:  # both at once: the machine's other load falls on both alike
            procs = {k: subprocess.Popen(command(k, i), stdout=PIPE, stderr=PIPE, text=True) for k in ("ours", "bare")}
            for kind, proc in procs.items():
                collect(kind, i, *proc.communicate())
        else:
            for kind in ("ours", "bare"):
                proc = subprocess.run(command(kind, i), capture_output=True, text=True)
                collect(kind, i, proc.stdout, proc.stderr)
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0] if m != "worker"} for k, v in results.items()}
    layer = med["ours"].pop("our_layer_s_per_step")
    overhead = {k: 100 * (med["ours"][k] / med["bare"][k] - 1) for k in ("s_per_step", "cpu_s_per_step")}
    print(
        f"\ndevice: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}; scale {scale}; "
        f"{args.steps} steps x {args.repeats} runs each{' (pairs at once)' if args.together else ''}; medians:"
    )
    for key in med["ours"]:
        print(f"  {key:22s} ours {med['ours'][key]:10.3f}   bare TRL {med['bare'][key]:10.3f}")
    print(
        f"  side by side, ours vs bare: {overhead['s_per_step']:+.1f}% wall s/step, "
        f"{overhead['cpu_s_per_step']:+.1f}% CPU s/step"
    )
    print(
        f"  time inside our layer: {layer * 1000:.1f} ms/step = {100 * layer / med['bare']['s_per_step']:.1f}% "
        f"of bare TRL's step (target <= 5%)"
    )


if __name__ == "__main__":
    main()
