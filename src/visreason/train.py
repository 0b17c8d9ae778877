"""GRPO training of one reward design with TRL's `GRPOTrainer`, without SFT.

    visreason train --reward mixture --seed 0 --data results/data/train \\
        --model results/model/tiny --out results/train/mixture/seed0

Settings: `train` in params.yaml, with `rewards.<name>` merged over it (same
keys). Keys named like `GRPOConfig` fields mean exactly what TRL means; the
comments in params.yaml say where EasyR1 (the study's framework) differs.

Layout of OUTDIR (a rerun of the same command resumes; see `_resume_point`):
    superseded/         a previous run with other settings, moved aside (see `_supersede`)
    train_config.json   the resolved settings of the job, written at its start
    mlflow_run_id       the MLflow run, continued on resume
    checkpoints/        TRL/Trainer checkpoints every `save_steps` and at the end
    final/              the trained model + processor, written atomically
    train_summary.json  written last: steps, final reward means, wall time, commit

Multi-GPU / multi-node: `accelerate launch --config_file configs/accelerate/zero3.yaml
-m visreason.cli train ...` (or fsdp.yaml); see configs/accelerate/README.md.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import datasets
import matplotlib
import matplotlib.pyplot as plt
import mlflow
import torch
from accelerate import PartialState
from peft import LoraConfig, PeftModel
from transformers import AutoModelForImageTextToText, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import RepeatSampler

from visreason import VisreasonError, tracking
from visreason.config import deep_merge
from visreason.files import atomic_dir, atomic_write_text, is_interactive, read_json, sha256_file, write_json
from visreason.models import (
    build_messages,
    image_resolution,
    load_processor,
    prompt_lengths,
    resolve_model_path,
    save_processor,
)
from visreason.records import load_records
from visreason.rewards import completion_text, extract_answer, format_prompt, get_reward, reward_terms

# Settings passed to GRPOConfig unchanged (the rest are handled here).
GRPO_KEYS = [
    "max_steps",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "weight_decay",
    "max_grad_norm",
    "per_device_train_batch_size",
    "num_generations",
    "max_completion_length",
    "temperature",
    "top_p",
    "beta",
    "epsilon",
    "epsilon_high",
    "loss_type",
    "scale_rewards",
    "use_cpu",
    "bf16",
    "gradient_checkpointing",
    "save_steps",
    "save_total_limit",
    "vllm_gpu_memory_utilization",
]
OWN_KEYS = ["prompts_per_step", "max_prompt_length", "use_vllm", "torch_threads", "log_completions_steps", "lora"]
# Settings a resumed job may change: more steps, how often it saves and logs, CPU threads.
RESUMABLE_KEYS = {"max_steps", "save_steps", "save_total_limit", "log_completions_steps", "torch_threads"}


def train_settings(params: dict, reward: str) -> dict:
    """`train` with `rewards.<reward>` merged over it; every setting must be present."""
    cfg = deep_merge(params["train"], params.get("rewards", {}).get(reward) or {})
    missing = [k for k in GRPO_KEYS + OWN_KEYS if k not in cfg]
    if missing:
        raise VisreasonError(f"params: 'train.{missing[0]}' is not set (for reward {reward})")
    return cfg


# ---------------------------------------------------------------- input checks


def _check_settings(cfg: dict, world_size: int) -> dict:
    """Check batch shapes and hardware before any compute; return derived settings
    (`gradient_accumulation_steps`, `use_vllm` resolved)."""
    completions = cfg["prompts_per_step"] * cfg["num_generations"]
    micro = cfg["per_device_train_batch_size"] * world_size
    if completions % micro:
        raise VisreasonError(
            f"train: the batch of {completions} completions (prompts_per_step {cfg['prompts_per_step']} x "
            f"num_generations {cfg['num_generations']}) is not divisible by per_device_train_batch_size "
            f"{cfg['per_device_train_batch_size']} x {world_size} processes"
        )
    gpu = torch.cuda.is_available()
    if not gpu:
        for key, bad in (("use_cpu", False), ("bf16", True)):
            if cfg[key] == bad:
                raise VisreasonError(f"train.{key}: {bad} needs a GPU, and none is available (use the smoke preset)")
    vllm = cfg["use_vllm"]
    installed = importlib.util.find_spec("vllm") is not None
    if vllm is True and not (gpu and installed):
        raise VisreasonError(
            f"train.use_vllm: true needs a GPU and vLLM ({'no GPU' if not gpu else 'vLLM not installed'})"
        )
    return {
        "gradient_accumulation_steps": completions // micro,
        "use_vllm": bool(gpu and installed) if vllm == "auto" else bool(vllm),
    }


def _load_dataset_records(data: Path) -> list[dict]:
    records = load_records(data)  # validates every record and image, naming the record
    if not records:
        raise VisreasonError(f"dataset is empty: {data}")
    return records


def _check_prompt_lengths(records, prompts, processor, max_len: int, data: Path) -> None:
    """TRL 1.16 does not truncate prompts: reject any longer than max_prompt_length (text + image
    tokens, at the processor's image resolution: params `model.min_pixels`/`model.max_pixels`)."""
    lengths = prompt_lengths(processor, prompts, [data / r["image"] for r in records])
    for rec, n in zip(records, lengths):
        if n > max_len:
            raise VisreasonError(
                f"dataset record {rec['id']}: prompt of {n} tokens exceeds train.max_prompt_length {max_len} "
                f"(images at most model.max_pixels {processor.image_processor.size['longest_edge']} pixels)"
            )


# ---------------------------------------------------------------- reward wrapper


class RewardFunction:
    """The reward as TRL calls it: looks up each completion's puzzle record by id and scores it
    with the reward function, passing the record fields as keyword arguments (registry rewards
    report their per-term means, `rewards/<name>/<term>`, through TRL's `log_metric`). Keeps
    the latest batch for the completions table."""

    def __init__(self, name: str, fn: Callable, records: dict[str, dict], terms: Callable | None = None):
        self.__name__ = name  # TRL logs `rewards/<name>/mean`
        self.fn, self.records, self.terms = fn, records, terms
        self.last_batch: dict[str, list] = {}

    def __call__(self, prompts, completions, id, completion_ids=None, log_metric=None, **_) -> list[float]:
        recs = [self.records[i] for i in id]
        fields = {
            k: [r.get(k) for r in recs]
            for k in ("answer", "category", "question", "options", "solution", "description")
        }
        out = self.fn(completions, id=list(id), completion_ids=completion_ids, log_metric=log_metric, **fields)
        rewards = [float(r) for r in out]
        self.last_batch = {"id": list(id), "completions": completions, "reward": rewards, **fields}
        return rewards

    def table(self, step: int) -> dict[str, list]:
        """The latest batch as table columns: completion, extracted answer, reward and its terms."""
        b = self.last_batch
        texts = [completion_text(c) for c in b["completions"]]
        columns = {
            "step": [step] * len(texts),
            "id": b["id"],
            "category": b["category"],
            "answer": b["answer"],
            "predicted": [extract_answer(t) for t in texts],
            "completion": texts,
            "reward": b["reward"],
        }
        if self.terms:
            terms = self.terms(self.__name__, texts, b["answer"], b["category"])
            columns.update({f"term/{k}": v for k, v in terms.items() if k != "total"})
        return columns


# ---------------------------------------------------------------- MLflow


class MlflowLogger(TrainerCallback):
    """Every logged metric, at its step, into the job's one MLflow run; a completions table every
    `table_every` steps. MLflow writes (hundreds of ms with sqlite) run in one background thread:
    metrics go out every `flush_steps` steps or `flush_s` seconds, and all writes are finished at
    every checkpoint, so MLflow never lags behind the checkpoint a resumed run starts from."""

    def __init__(self, run_id: str, reward_fn: RewardFunction, table_every: int, flush_steps=10, flush_s=30.0):
        self.client = mlflow.MlflowClient()
        self.run_id, self.reward_fn, self.table_every = run_id, reward_fn, table_every
        self.flush_steps, self.flush_s = flush_steps, flush_s
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlflow-logger")
        self.jobs: list = []
        self.pending: list = []
        self.last_flush = time.monotonic()

    def flush(self):
        batch, self.pending, self.last_flush = self.pending, [], time.monotonic()
        for i in range(0, len(batch), 1000):  # MLflow's batch limit
            self.jobs.append(self.pool.submit(self.client.log_batch, self.run_id, metrics=batch[i : i + 1000]))

    def wait(self):
        self.flush()
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            job.result()  # re-raises a failed write

    def on_log(self, args, state, control, logs=None, **kwargs):
        ts = int(time.time() * 1000)
        self.pending += [
            mlflow.entities.Metric(k, float(v), ts, state.global_step)
            for k, v in (logs or {}).items()
            if isinstance(v, (int, float)) and math.isfinite(v)
        ]
        if state.global_step % self.flush_steps == 0 or time.monotonic() - self.last_flush > self.flush_s:
            self.flush()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_save = True  # a checkpoint at the end, so a longer rerun can extend the run
        last = state.global_step >= state.max_steps
        if self.reward_fn.last_batch and (state.global_step % self.table_every == 0 or last):
            table = self.reward_fn.table(state.global_step)
            file = f"completions/step_{state.global_step:06d}.json"
            self.jobs.append(self.pool.submit(self.client.log_table, self.run_id, data=table, artifact_file=file))

    def on_save(self, args, state, control, **kwargs):
        self.wait()

    def on_train_end(self, args, state, control, **kwargs):
        self.wait()
        self.pool.shutdown()


def _reward_curve_png(history: list[dict], reward: str, path: Path) -> Path:
    matplotlib.use("Agg")  # files only, never a window
    keys = ["reward"] + sorted(
        {k for h in history for k in h if k.startswith(f"rewards/{reward}/") and not k.endswith("/std")}
    )
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in keys:
        points = [(h["step"], h[key]) for h in history if key in h]
        if points:
            ax.plot(*zip(*points), label=key, lw=2 if key == "reward" else 1)
    ax.set(xlabel="step", ylabel="mean reward", title=f"GRPO reward: {reward}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- resume


def _resume_point(out: Path, settings: dict) -> tuple[str | None, dict | None, str | None]:
    """(newest checkpoint, previous summary, why the folder's run is superseded).

    A run trained with other settings (anything but RESUMABLE_KEYS) is never resumed:
    the third item then says what changed, and `_supersede` moves that run aside.
    """
    config_path = out / "train_config.json"
    ckpt_dir = out / "checkpoints"
    if config_path.is_file():
        old = read_json(config_path)
        changed = sorted(
            k for k in set(old) | set(settings) if k not in RESUMABLE_KEYS and old.get(k) != settings.get(k)
        )
        if changed:
            k = changed[0]
            return None, None, f"{k}: {old.get(k)!r} -> {settings.get(k)!r}"
    elif ckpt_dir.is_dir() and any(ckpt_dir.iterdir()):
        return None, None, f"{ckpt_dir} has no {config_path.name} to say what it was trained with"
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    summary_path = out / "train_summary.json"
    return last, (read_json(summary_path) if summary_path.is_file() else None), None


def _supersede(out: Path, why: str) -> Path:
    """Move a run trained with other settings to OUTDIR/superseded (replacing an older one), loudly.

    Training then starts at step 0: after `dvc repro` of a changed setting, say. Nothing
    is discarded silently; the previous run's checkpoints and settings stay inspectable.
    """
    aside = out / "superseded"
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir(parents=True)
    for name in ("checkpoints", "train_config.json", "train_summary.json", "mlflow_run_id"):
        if (out / name).exists():
            os.replace(out / name, aside / name)
    print(
        f"visreason train: settings changed ({why}); the previous run is moved to {aside}; training starts at step 0",
        file=sys.stderr,
        flush=True,
    )
    return aside


# ---------------------------------------------------------------- training


def run_train(
    params: dict,
    *,
    reward: str,
    seed: int,
    data: str | Path,
    model: str | Path,
    out: str | Path,
    reward_fn: Callable | None = None,
    callbacks: list | None = None,
) -> dict:
    """Train one (reward, seed) job; return the summary written to OUTDIR/train_summary.json.

    `reward_fn` replaces the registry reward's scoring (tests use a trivially learnable one);
    the prompt format still comes from `reward`. `callbacks`: extra TrainerCallbacks.
    """
    start = time.time()
    fn = get_reward(reward)  # unknown name -> VisreasonError listing the valid ones
    source = resolve_model_path(model)
    data, out = Path(data), Path(out)
    cfg = train_settings(params, reward)
    settings = {**cfg, "reward": reward, "seed": seed, "model": source, "data": str(data.resolve())}

    world = PartialState().num_processes
    derived = _check_settings(cfg, world)
    records = _load_dataset_records(data)
    if len(records) < cfg["prompts_per_step"]:
        raise VisreasonError(
            f"dataset {data} has {len(records)} records, fewer than prompts_per_step {cfg['prompts_per_step']}"
        )
    last_ckpt, previous, superseded = _resume_point(out, settings)
    if previous and previous["steps"] >= cfg["max_steps"] and (out / "final").is_dir():
        print(f"visreason train: {out} is already trained ({previous['steps']} steps); nothing to do")
        return previous

    processor = load_processor(source, **image_resolution(params))
    # Open-ended, as in the study: the prompt holds the question, not the options.
    messages = [
        build_messages(format_prompt(reward, r["question"], category=r["category"], solution=r["solution"]), True)
        for r in records
    ]
    _check_prompt_lengths(records, messages, processor, cfg["max_prompt_length"], data)

    # ---- everything above is validation; compute starts here
    if cfg["torch_threads"]:
        torch.set_num_threads(cfg["torch_threads"])
    dataset = datasets.Dataset.from_dict(
        {"id": [r["id"] for r in records], "prompt": messages, "image": [str(data / r["image"]) for r in records]}
    ).cast_column("image", datasets.Image())
    by_id = {r["id"]: r for r in records}
    scorer = RewardFunction(reward, reward_fn or fn, by_id, terms=None if reward_fn else reward_terms)

    config = _grpo_config(cfg, out, seed, **derived)
    policy = AutoModelForImageTextToText.from_pretrained(source, dtype=torch.bfloat16 if cfg["bf16"] else torch.float32)
    peft_config = _lora_config(cfg["lora"]) if cfg["lora"]["enabled"] else None

    main_process = PartialState().is_main_process
    if main_process:
        if superseded:
            _supersede(out, superseded)
        if last_ckpt:
            print(f"visreason train: resuming from {last_ckpt}")
        write_json(out / "train_config.json", settings)  # equal to the old one but for RESUMABLE_KEYS
    manifest = data / "manifest.json"
    # One MLflow run per job, opened by the main process only (continued on resume)
    tracking_run = (
        tracking.start_run(
            params,
            "train",
            run_name=f"{reward}-seed{seed}",
            inputs={"data": data, "model": source} if Path(source).exists() else {"data": data},
            tags={
                "reward": reward,
                "seed": seed,
                "model": source,
                "dataset_manifest": sha256_file(manifest) if manifest.is_file() else "missing",
            },
            log_params={
                **params,
                "train": cfg,
                "job": {"reward": reward, "seed": seed, "data": str(data), "model": source},
            },
            run_id=_existing_run(out / "mlflow_run_id"),
        )
        if main_process
        else contextlib.nullcontext()
    )
    with tracking_run as mlrun:
        run_id = mlrun.info.run_id if main_process else None
        if main_process:
            atomic_write_text(out / "mlflow_run_id", run_id + "\n")
        trainer = VisreasonGRPOTrainer(
            model=policy,
            reward_funcs=[scorer],
            args=config,
            train_dataset=dataset,
            processing_class=processor,
            peft_config=peft_config,
            callbacks=[
                *([MlflowLogger(run_id, scorer, cfg["log_completions_steps"])] if main_process else []),
                *(callbacks or []),
            ],
        )
        result = trainer.train(resume_from_checkpoint=last_ckpt)
        _save_final(trainer, processor, out / "final", source, lora=peft_config is not None)
        if not main_process:
            return {}
        history = [h for h in trainer.state.log_history if "reward" in h]
        mlflow.log_artifact(str(_reward_curve_png(history, reward, out / "reward_curve.png")))
        summary = _summary(trainer, history, reward, seed, source, data, settings, run_id, start, result)
        mlflow.log_metrics({f"final/{k}": v for k, v in summary["final_rewards"].items()}, step=summary["steps"])
        write_json(out / "train_summary.json", summary)  # last: the workflow depends on it
        return summary


def _existing_run(path: Path) -> str | None:
    if not path.is_file():
        return None
    run_id = path.read_text().strip()
    try:
        mlflow.MlflowClient().get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return None  # another tracking store: start a new run
    return run_id


def _grpo_config(cfg: dict, out: Path, seed: int, gradient_accumulation_steps: int, use_vllm: bool):
    return GRPOConfig(
        output_dir=str(out / "checkpoints"),
        seed=seed,
        data_seed=seed,
        report_to="none",  # one MLflow run per job, logged by our callback
        logging_steps=1,
        disable_tqdm=not is_interactive(),  # plain log lines in SLURM/CI logs
        save_strategy="steps",
        remove_unused_columns=False,
        shuffle_dataset=True,
        use_vllm=use_vllm,
        vllm_mode="colocate",
        dataloader_num_workers=0,
        gradient_accumulation_steps=gradient_accumulation_steps,
        **{k: cfg[k] for k in GRPO_KEYS},
    )


def _lora_config(lora: dict):
    return LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
        task_type="CAUSAL_LM",
    )


class EpochSeededSampler(RepeatSampler):
    """TRL's RepeatSampler draws each epoch's order from one generator seeded once, so a run
    resumed in epoch e > 0 would replay epoch 0's order. Here epoch e's order depends on
    (seed, e) only; the Trainer calls `set_epoch` before every epoch, resumed or not."""

    def set_epoch(self, epoch: int) -> None:
        if self.shuffle:
            self.generator.manual_seed((self.seed or 0) + epoch)


class VisreasonGRPOTrainer(GRPOTrainer):
    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        """Trainer (transformers 5.23) loads a checkpoint's state dict without the checkpoint
        key conversion that `from_pretrained` applies, so for Qwen2.5-VL every key misses and the
        weights silently stay as they were. Load plain models through `from_pretrained`."""
        model = model if model is not None else self.model
        if self.is_deepspeed_enabled or self.is_fsdp_enabled or isinstance(model, PeftModel):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        dtype = next(model.parameters()).dtype
        saved = type(model).from_pretrained(resume_from_checkpoint, dtype=dtype)
        result = model.load_state_dict(saved.state_dict(), strict=True)
        del saved
        return result

    def _get_train_sampler(self, dataset=None):
        return EpochSeededSampler(
            data_source=dataset if dataset is not None else self.train_dataset,
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            shuffle=self.shuffle_dataset,
            seed=self.args.seed,
        )


def _save_final(trainer, processor, final: Path, source: str, lora: bool) -> None:
    """The trained model and its processor in one atomic folder; with LoRA, the merged model
    plus the adapter in final/adapter. Called on every process (ZeRO-3/FSDP gather the weights)."""

    staging = final.with_name(f".{final.name}.staging")
    if trainer.is_world_process_zero():
        shutil.rmtree(staging, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(staging))  # collective; writes on the main process
    if not trainer.is_world_process_zero():
        return
    with atomic_dir(final) as tmp:
        if lora:
            base = AutoModelForImageTextToText.from_pretrained(source, dtype=trainer.model.get_base_model().dtype)
            PeftModel.from_pretrained(base, staging).merge_and_unload().save_pretrained(tmp)
            shutil.move(staging, tmp / "adapter")
        else:
            for path in staging.iterdir():
                shutil.move(path, tmp / path.name)
        save_processor(processor, tmp)
    shutil.rmtree(staging, ignore_errors=True)


def _summary(trainer, history, reward, seed, source, data, settings, run_id, start, result) -> dict:
    tail = history[-max(1, len(history) // 10) :]  # the last tenth of the logged steps
    keys = sorted(
        {k for h in tail for k in h if k == "reward" or (k.startswith(f"rewards/{reward}/") and not k.endswith("/std"))}
    )
    final = {k: sum(h[k] for h in tail if k in h) / sum(1 for h in tail if k in h) for k in keys}
    manifest = Path(data) / "manifest.json"
    return {
        "reward": reward,
        "seed": seed,
        "model": source,
        "data": str(data),
        "steps": trainer.state.global_step,
        "final_rewards": final,
        "final_rewards_window": len(tail),
        "wall_time_s": round(time.time() - start, 1),
        "train_runtime_s": round(result.metrics.get("train_runtime", 0.0), 3),
        "git_commit": tracking.git_commit(),
        "dataset_manifest_sha256": sha256_file(manifest) if manifest.is_file() else None,
        "mlflow_run_id": run_id,
        "settings": settings,
        "log_history": history,  # per-step metrics: the report's training curves
    }
