"""GRPO training of one reward design with TRL's `GRPOTrainer`, without SFT.

    visreason train --reward mixture --seed 0 --data results/data/train \\
        --model results/model/tiny --out results/train/mixture/seed0

Settings: `train` in params.yaml, with `rewards.<name>` merged over it (same
keys). Keys named like `GRPOConfig` fields mean exactly what TRL means; the
comments in params.yaml say where EasyR1 (the study's framework) differs.
Batches: every rollout generates `prompts_per_rollout` (null: `prompts_per_step`) x
`num_generations` completions, which feed `prompts_per_rollout / prompts_per_step x
num_iterations` optimizer steps (TRL's `generation_batch_size` and `num_iterations`): one
step is strictly on-policy, more are off-policy and clipped (`epsilon`, `epsilon_high`).

Layout of OUTDIR (a rerun of the same command resumes; see `_plan`):
    .train.lock         held by the running job, naming it (one job per OUTDIR)
    superseded/         a previous run with other settings, moved aside (see `_supersede`)
    train_config.json   the resolved settings of the job, written at its start
    mlflow_run_id       the MLflow run, continued on resume
    checkpoints/        checkpoint-N every `save_steps` and at the end; each holds
                        `visreason_complete.json` (its files and sizes), written last
    final/              the model of the checkpoint at max_steps + processor, written atomically
    train_summary.json  written last: steps, final reward means, no-update flag, engine, commit

A checkpoint without its completeness record (a kill or a full disk while saving)
is removed by the next run, as are the temporary folders of an interrupted final
save. A job whose newest checkpoint is at `max_steps` writes final/ and the summary
from it without training. Recorded paths are relative to the repository root; the
data and model are compared by content (sha256), so a moved checkout resumes.

Fault injection for tests (`VISREASON_FAULT=<kind>:<point>[@<step>]`): kind `kill`
sends this process SIGKILL, `term` SIGTERM (a scheduler's preemption), `enospc` raises
"No space left on device"; points:
`checkpoint` (checkpoint-N has its model files, not its optimizer state), `step`
(optimizer step N done, before its logging and checkpoint), `final` (final/ complete
in its temporary folder, not renamed), `summary` (final/ in place, no summary yet).

Multi-GPU / multi-node: `accelerate launch --config_file configs/accelerate/zero3.yaml
-m visreason.cli train ...` (or fsdp.yaml); see configs/accelerate/README.md.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.util
import math
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import matplotlib
import matplotlib.pyplot as plt
import mlflow
import torch
from accelerate import PartialState
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from peft import LoraConfig, PeftModel
from transformers import AutoModelForImageTextToText, TrainerCallback
from trl import GRPOConfig, GRPOTrainer
from trl.generation import vllm_generation
from trl.trainer.utils import RepeatSampler

from visreason import VisreasonError, tracking
from visreason.config import REPO_ROOT, train_settings
from visreason.files import (
    atomic_dir,
    atomic_write_text,
    is_interactive,
    read_json,
    sha256_file,
    sha256_tree,
    write_json,
)
from visreason.models import (
    build_messages,
    image_resolution,
    load_processor,
    prompt_lengths,
    resolve_model_path,
    save_processor,
)
from visreason.records import load_records
from visreason.rewards import (
    build_reward,
    check_categories,
    completion_text,
    extract_answer,
    format_prompt,
    get_design,
)

# Settings passed to GRPOConfig unchanged (the rest are handled here).
GRPO_KEYS = """max_steps lr_scheduler_type warmup_steps weight_decay max_grad_norm per_device_train_batch_size
    num_generations num_iterations max_completion_length temperature top_p beta epsilon epsilon_high loss_type
    scale_rewards use_cpu bf16 gradient_checkpointing save_steps vllm_gpu_memory_utilization
    vllm_importance_sampling_correction""".split()
OWN_KEYS = """learning_rate prompts_per_step prompts_per_rollout max_prompt_length use_vllm torch_threads
    save_total_limit log_completions_steps lora""".split()
LORA_KEYS = "enabled r alpha dropout target_modules learning_rate".split()
# Settings a resumed job may change: more steps, how often it saves and logs, CPU threads.
RESUMABLE_KEYS = {"max_steps", "save_steps", "save_total_limit", "log_completions_steps", "torch_threads"}
COMPLETE = "visreason_complete.json"  # written last into every checkpoint
LOCK = ".train.lock"
FAULT_ENV = "VISREASON_FAULT"
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")


def derived_seed(*parts) -> int:
    """A 63-bit seed from a hash of `parts`: unrelated streams for neighbouring seeds and epochs.

    >>> derived_seed("epoch", 0, 1) == derived_seed("epoch", 1, 0)
    False
    """
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def portable(path: str | Path) -> str:
    """A path as recorded in outputs: relative to the repository root when inside it, else absolute;
    a Hugging Face id is kept as it is.

    >>> portable(REPO_ROOT / "results" / "data" / "train"), portable("Qwen/Qwen2.5-VL-7B-Instruct")
    ('results/data/train', 'Qwen/Qwen2.5-VL-7B-Instruct')
    """
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        return str(path)  # a Hugging Face id
    p = p.resolve()
    return p.relative_to(REPO_ROOT).as_posix() if p.is_relative_to(REPO_ROOT) else p.as_posix()


# ---------------------------------------------------------------- input checks


def _check_settings(cfg: dict, world_size: int) -> dict:
    """Check batch shapes, step counts and hardware before any compute; return the derived settings."""
    group = cfg["num_generations"]
    if group < 2:
        raise VisreasonError(
            f"train.num_generations: {group} cannot learn: a GRPO advantage is a reward minus its group's mean, "
            "always 0 in a group of one (use 2 or more)"
        )
    completions = cfg["prompts_per_step"] * group
    micro = cfg["per_device_train_batch_size"] * world_size
    if completions % micro:
        raise VisreasonError(
            f"train: the batch of {completions} completions (prompts_per_step {cfg['prompts_per_step']} x "
            f"num_generations {group}) is not divisible by per_device_train_batch_size "
            f"{cfg['per_device_train_batch_size']} x {world_size} processes"
        )
    rollout = cfg["prompts_per_rollout"] or cfg["prompts_per_step"]  # null: one rollout per step
    if rollout % cfg["prompts_per_step"]:
        raise VisreasonError(
            f"train.prompts_per_rollout {rollout} is not a multiple of prompts_per_step {cfg['prompts_per_step']}"
        )
    updates = rollout // cfg["prompts_per_step"] * cfg["num_iterations"]
    for key in ("max_steps", "save_steps"):
        if cfg[key] % updates:
            raise VisreasonError(
                f"train.{key} {cfg[key]} is not a multiple of the {updates} optimizer steps per rollout "
                f"(prompts_per_rollout / prompts_per_step x num_iterations): a checkpoint inside a rollout "
                "could not resume exactly"
            )
    if not torch.cuda.is_available():
        for key, bad in (("use_cpu", False), ("bf16", True)):
            if cfg[key] == bad:
                raise VisreasonError(f"train.{key}: {bad} needs a GPU, and none is available (use the smoke preset)")
    return {
        "gradient_accumulation_steps": completions // micro,
        "prompts_per_rollout": rollout,
        "generation_batch_size": rollout * group,
        "updates_per_rollout": updates,
    }


def _generation_engine(cfg: dict, seed: int) -> dict:
    """The rollout engine `train.use_vllm` resolves to, why, and its settings (for the summary and MLflow)."""
    gpu, installed = torch.cuda.is_available(), importlib.util.find_spec("vllm") is not None
    setting = cfg["use_vllm"]
    if setting is True and not (gpu and installed):
        raise VisreasonError(
            f"train.use_vllm: true needs a GPU and vLLM ({'no GPU' if not gpu else 'vLLM not installed'})"
        )
    if setting == "auto":
        use = gpu and installed
        why = "a GPU and vLLM are present" if use else ("no GPU" if not gpu else "vLLM is not installed")
    else:
        use, why = setting, f"train.use_vllm: {str(setting).lower()}"
    engine = {
        "engine": "vllm" if use else "transformers",
        "use_vllm": setting,
        "why": why,
        "temperature": cfg["temperature"],
        "top_p": cfg["top_p"],
        "max_completion_length": cfg["max_completion_length"],
    }
    if use:
        engine.update(
            vllm_mode="colocate",
            vllm_gpu_memory_utilization=cfg["vllm_gpu_memory_utilization"],
            vllm_importance_sampling_correction=cfg["vllm_importance_sampling_correction"],
            vllm_seed_process0=derived_seed("vllm", seed, 0) % 2**31,
        )
    return engine


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


def _cannot_learn(cfg: dict, reward: str, tokenizer) -> list[str]:
    """Settings under which the design's reward cannot be earned: completions too short to hold the tags
    its prompt asks for. Measured on the shortest output that puts one character in every tag."""
    tags = get_design(reward).tags
    shortest = "".join(f"<{tag}>1</{tag}>" for tag in tags)
    needed = len(tokenizer(shortest, add_special_tokens=False)["input_ids"])
    if cfg["max_completion_length"] >= needed:
        return []
    listed = ", ".join(f"<{t}>" for t in tags)
    return [
        f"train.max_completion_length {cfg['max_completion_length']} cannot hold the {reward} design's tags "
        f"({listed}): the shortest output with one character in each takes {needed} tokens"
    ]


# ---------------------------------------------------------------- faults, the lock, checkpoints


def _fault(point: str, step: int | None = None, path: Path | None = None) -> None:
    """The test hook of the module docstring: act when VISREASON_FAULT names this point (and step)."""
    want = os.environ.get(FAULT_ENV)
    if not want:
        return
    kind, _, where = want.partition(":")
    name, _, at = where.partition("@")
    if name != point or (at and step is not None and int(at) != step):
        return
    if kind in ("kill", "term"):
        os.kill(os.getpid(), signal.SIGKILL if kind == "kill" else signal.SIGTERM)
    if kind == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path or ""))


class OutdirLock:
    """One job per OUTDIR: an exclusive `flock` on OUTDIR/.train.lock for the job's lifetime. The file
    names the holder; the kernel releases the lock when the holder dies, however it dies (on NFS,
    flock works only where the filesystem supports it)."""

    def __init__(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / LOCK
        self.file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "a process that has not written its name yet"
            self.file.close()
            raise VisreasonError(f"{out} is in use by another training job ({holder}; lock {self.path})") from None
        job = f", SLURM job {os.environ['SLURM_JOB_ID']}" if os.environ.get("SLURM_JOB_ID") else ""
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"pid {os.getpid()} on {socket.gethostname()}{job}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        self.file.flush()

    def release(self) -> None:
        self.file.truncate(0)
        self.file.close()  # closing releases the flock


def _mark_complete(ckpt: Path, step: int) -> None:
    files = {p.relative_to(ckpt).as_posix(): p.stat().st_size for p in sorted(ckpt.rglob("*")) if p.is_file()}
    write_json(ckpt / COMPLETE, {"step": step, "files": files})


def _checkpoint_problem(ckpt: Path) -> str | None:
    """Why a checkpoint folder cannot be resumed from, or None when every recorded file is there, whole."""
    if not (ckpt / COMPLETE).is_file():
        return "no completeness record: its save was interrupted"
    try:
        files = read_json(ckpt / COMPLETE)["files"]
    except (ValueError, KeyError, TypeError):
        return f"{COMPLETE} is unreadable"
    for name, size in files.items():
        if not (ckpt / name).is_file() or (ckpt / name).stat().st_size != size:
            return f"{name} is missing or not the {size} bytes recorded"
    return None


def _checkpoints(ckpt_dir: Path) -> dict[int, Path]:
    found = [(int(m.group(1)), p) for p in ckpt_dir.glob("checkpoint-*") if (m := _CHECKPOINT.fullmatch(p.name))]
    return dict(sorted(found))


def _complete_checkpoints(ckpt_dir: Path) -> dict[int, Path]:
    return {step: p for step, p in _checkpoints(ckpt_dir).items() if _checkpoint_problem(p) is None}


def _remove_leftovers(out: Path) -> list[str]:
    """Remove what an interrupted job leaves: incomplete checkpoints, temporary and staging folders."""
    removed = []
    for ckpt in _checkpoints(out / "checkpoints").values():
        if problem := _checkpoint_problem(ckpt):
            shutil.rmtree(ckpt)
            removed.append(f"checkpoints/{ckpt.name} ({problem})")
    for path in sorted({*out.glob(".*.tmp"), *out.glob(".final.*")}):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path.name)
    return removed


def _disk_full(err: BaseException, out: Path) -> bool:
    """Whether a failure comes from a full disk. Writers report it differently (OSError ENOSPC,
    safetensors' "os error 28", torch.save's "unexpected pos"), so a failure also counts when
    OUTDIR's filesystem is left with under 1 MiB."""
    chain = []
    while err is not None and len(chain) < 10:
        chain.append(err)
        err = err.__cause__ or err.__context__
    if any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in chain):
        return True
    markers = ("no space left on device", "os error 28", "disk quota exceeded", "database or disk is full")
    if any(m in str(e).lower() for e in chain for m in markers):
        return True
    with contextlib.suppress(OSError):
        return shutil.disk_usage(out).free < 2**20
    return False


# ---------------------------------------------------------------- reward wrapper


class RewardFunction:
    """The reward as TRL calls it: looks up each completion's puzzle record by id and scores it
    with the reward function, passing the record fields and TRL's `trainer_state` as keyword
    arguments (registry rewards report their per-term means, `rewards/<name>/<term>`, through
    TRL's `log_metric`). Keeps the latest batch for the completions table."""

    def __init__(self, name: str, fn: Callable, records: dict[str, dict], registry: bool):
        self.__name__ = name  # TRL logs `rewards/<name>/mean`
        self.fn, self.records, self.registry = fn, records, registry
        self.last_batch: dict[str, list] = {}

    def __call__(
        self, prompts, completions, id, completion_ids=None, log_metric=None, trainer_state=None, **_
    ) -> list[float]:
        recs = [self.records[i] for i in id]
        fields = {
            k: [r.get(k) for r in recs]
            for k in ("answer", "category", "question", "options", "solution", "description")
        }
        step = {"trainer_state": trainer_state} if trainer_state is not None else {}
        out = self.fn(completions, id=list(id), completion_ids=completion_ids, log_metric=log_metric, **step, **fields)
        rewards = [float(r) for r in out]
        self.last_batch = {"id": list(id), "completions": completions, "reward": rewards, **step, **fields}
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
        if self.registry:
            fields = {k: v for k, v in b.items() if k not in ("completions", "reward")}
            terms = self.fn.terms(texts, **fields)
            columns.update({f"term/{k}": v for k, v in terms.items() if k != "total"})
        return columns


# ---------------------------------------------------------------- MLflow


def metric_name(key: str, design: str) -> str | None:
    """TRL's metric names with the design taken out, so that every design logs the same names;
    None for TRL's copies of the total (one reward function: `reward` is `rewards/<design>/mean`).

    >>> [metric_name(k, "mixture") for k in ("rewards/mixture/mean", "rewards/mixture/think", "reward", "loss")]
    ['reward/total', 'reward/think', None, 'loss']
    """
    prefix = f"rewards/{design}/"
    if key.startswith(prefix):
        term = key[len(prefix) :]
        return {"mean": "reward/total", "std": "reward/total_std"}.get(term, f"reward/{term}")
    return None if key in ("reward", "reward_std") else key


class MlflowLogger(TrainerCallback):
    """Every logged metric, at its step, into the job's one MLflow run (named by `metric_name`); a
    completions table every `table_every` steps. MLflow writes (hundreds of ms with sqlite) run in
    one background thread: metrics go out every `flush_steps` steps or `flush_s` seconds, and all
    writes are finished at every checkpoint, so MLflow never lags behind the checkpoint a resumed
    run starts from."""

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
        for key, value in (logs or {}).items():
            name = metric_name(key, self.reward_fn.__name__)
            if name and isinstance(value, (int, float)) and math.isfinite(value):
                self.pending.append(mlflow.entities.Metric(name, float(value), ts, state.global_step))
        if state.global_step % self.flush_steps == 0 or time.monotonic() - self.last_flush > self.flush_s:
            self.flush()

    def on_step_end(self, args, state, control, **kwargs):
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


class StepControl(TrainerCallback):
    """On every process: a checkpoint at the last step (final/ is made from it, and a longer rerun
    extends the run from it), and the `step` fault point."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_save = True
        _fault("step", state.global_step)


def _existing_run(path: Path):
    """The MLflow run named in OUTDIR/mlflow_run_id, or None (no file, or another tracking store)."""
    if not path.is_file():
        return None
    try:
        return mlflow.MlflowClient().get_run(path.read_text().strip())
    except mlflow.exceptions.MlflowException:
        return None


def _end_stale_run(path: Path, status: str = "KILLED") -> None:
    """Mark the run of a killed job (still RUNNING) as ended, so no run stays RUNNING forever."""
    run = _existing_run(path)
    if run is not None and run.info.status == "RUNNING":
        mlflow.MlflowClient().set_terminated(run.info.run_id, status)
        print(f"visreason train: MLflow run {run.info.run_id} of a killed job marked {status}", file=sys.stderr)


@contextlib.contextmanager
def _mlflow_run(job: Job):
    """The job's one MLflow run (continued on resume); yields its id. Params are the job's resolved
    settings only; the training set is logged as an input, with its manifest's sha256 as digest."""
    previous = _existing_run(job.out / "mlflow_run_id")
    if previous is not None and previous.info.status == "RUNNING":
        print(
            f"visreason train: MLflow run {previous.info.run_id} was left RUNNING by a killed job; continuing it",
            file=sys.stderr,
        )
    settings = job.settings
    tags = {
        "reward": job.reward,
        "seed": job.seed,
        "model": settings["model"],
        "input.data": settings["data_sha256"],
        "input.model": settings["model_sha256"] or "hub",
        "dataset_manifest": settings["data_manifest_sha256"],
        "generation_engine": job.engine["engine"],
    }
    about = {"reward": job.reward, "seed": job.seed, "data": settings["data"], "model": settings["model"]}
    with tracking.start_run(
        job.params,
        "train",
        run_name=f"{job.reward}-seed{job.seed}",
        tags=tags,
        log_params={"train": job.cfg, "job": about, "derived": job.derived, "generation": job.engine},
        run_id=previous.info.run_id if previous is not None else None,
    ) as run:
        atomic_write_text(job.out / "mlflow_run_id", run.info.run_id + "\n")
        if previous is None:
            digest = settings["data_manifest_sha256"]
            with warnings.catch_warnings():  # MLflow registers its local source twice and says so
                warnings.simplefilter("ignore", UserWarning)
                source = resolve_dataset_source(settings["data"])
            dataset = MetaDataset(source, name=Path(settings["data"]).name, digest=digest[:36])  # MLflow's limit
            mlflow.log_input(dataset, context="training", tags={"manifest_sha256": digest})
        try:
            yield run.info.run_id
        except BaseException as err:
            if not isinstance(err, Exception):  # interrupted or terminated, not failed
                mlflow.end_run("KILLED")
            raise


def _reward_curve_png(history: list[dict], reward: str, path: Path) -> Path:
    matplotlib.use("Agg")  # files only, never a window
    terms = {k for h in history for k in h if k.startswith(f"rewards/{reward}/")} - {
        f"rewards/{reward}/{x}" for x in ("mean", "std")
    }
    keys = ["reward", *sorted(terms)]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in keys:
        points = [(h["step"], h[key]) for h in history if key in h]
        if points:
            ax.plot(*zip(*points), label=metric_name(key, reward) or "reward/total", lw=2 if key == "reward" else 1)
    ax.set(xlabel="step", ylabel="mean reward", title=f"GRPO reward: {reward}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- resume


def _superseded_by(out: Path, settings: dict) -> str | None:
    """Why the folder's run was trained with other settings (anything but RESUMABLE_KEYS; data and
    model by content), or None. Such a run is never resumed: `_supersede` moves it aside."""
    config_path, ckpt_dir = out / "train_config.json", out / "checkpoints"
    if not config_path.is_file():
        if ckpt_dir.is_dir() and any(ckpt_dir.iterdir()):
            return f"{ckpt_dir} has no {config_path.name} to say what it was trained with"
        return None
    old = read_json(config_path)
    by_content = {k for k in ("data", "model") if settings.get(f"{k}_sha256")}  # a path may move
    keys = sorted(k for k in set(old) | set(settings) if k not in RESUMABLE_KEYS | by_content)
    changed = [k for k in keys if old.get(k) != settings.get(k)]
    return f"{changed[0]}: {old.get(changed[0])!r} -> {settings.get(changed[0])!r}" if changed else None


def _supersede(out: Path, why: str) -> Path:
    """Move a run trained with other settings to OUTDIR/superseded (replacing an older one), loudly.

    Training then starts at step 0: after `dvc repro` of a changed setting, say. Nothing
    is discarded silently; the previous run's checkpoints and settings stay inspectable.
    """
    _end_stale_run(out / "mlflow_run_id")
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


def _plan(out: Path, max_steps: int) -> tuple[str, Path | None]:
    """What this job does: ("done", None) when final/ and the summary are there at max_steps;
    ("finish", checkpoint) when a checkpoint at max_steps exists; else ("train", newest or None)."""
    summary = out / "train_summary.json"
    if summary.is_file() and (out / "final").is_dir() and read_json(summary).get("steps") == max_steps:
        return "done", None
    complete = _complete_checkpoints(out / "checkpoints")
    if max_steps in complete:
        return "finish", complete[max_steps]
    newest = max(complete, default=None)
    if newest is not None and newest > max_steps:
        raise VisreasonError(
            f"train.max_steps {max_steps} is below the {newest} steps that {out / 'checkpoints'} already holds, and "
            f"no checkpoint-{max_steps} was kept: raise max_steps to {newest} or more, or train into another --out"
        )
    return "train", complete.get(newest)


# ---------------------------------------------------------------- training


@dataclass
class Job:
    """A training job as `run_train` validated it, before it touches OUTDIR. `settings` (what
    train_config.json records, with the data and model hashes) is the main process's alone."""

    params: dict
    cfg: dict
    reward: str
    seed: int
    source: str
    data: Path
    out: Path
    derived: dict
    engine: dict
    processor: Any
    records: list[dict]
    messages: list
    cannot_learn: list[str]
    start: float
    settings: dict = field(default_factory=dict)


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
    get_design(reward)  # unknown name -> VisreasonError listing the valid ones
    job = _validate(params, reward, seed, Path(data), resolve_model_path(model), Path(out))
    fn = build_reward(reward, job.cfg, seed)
    state, out = PartialState(), job.out
    # ---- everything above is validation; OUTDIR is touched from here on, by one job at a time
    created = not out.exists()
    lock = OutdirLock(out) if state.is_main_process else None
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_sigterm = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        if state.is_main_process:
            mlflow.set_tracking_uri(tracking.tracking_uri(params))  # before reading the previous run
            if removed := _remove_leftovers(out):
                print(f"visreason train: removed what an interrupted job left: {', '.join(removed)}", file=sys.stderr)
            if why := _superseded_by(out, job.settings):
                _supersede(out, why)
        state.wait_for_everyone()
        action, ckpt = _plan(out, job.cfg["max_steps"])
        if action == "done":
            print(f"visreason train: {out} is already trained ({job.cfg['max_steps']} steps); nothing to do")
            return read_json(out / "train_summary.json")
        if not state.is_main_process:  # the other processes take part in training only
            if action == "train":
                _train(job, ckpt, reward_fn or fn, reward_fn is None, callbacks, run_id=None)
            return {}
        write_json(out / "train_config.json", job.settings)  # equal to the old one but for RESUMABLE_KEYS
        with _mlflow_run(job) as run_id:
            trained, runtime = 0, 0.0
            if action == "train":
                if ckpt is None and (out / "train_summary.json").is_file():  # e.g. filled by `dvc pull`
                    print(
                        f"visreason train: {out} holds a trained model but no checkpoint to resume from "
                        "(DVC never pushes checkpoints); training starts at step 0",
                        file=sys.stderr,
                    )
                trained, runtime = _train(job, ckpt, reward_fn or fn, reward_fn is None, callbacks, run_id)
                ckpt = _complete_checkpoints(out / "checkpoints")[job.cfg["max_steps"]]
            else:
                print(
                    f"visreason train: {ckpt.name} is at max_steps {job.cfg['max_steps']}: writing final/ and the "
                    "summary from it, without training"
                )
            return _finish(job, ckpt, run_id, trained, runtime)
    except BaseException as err:
        # before the clean-up, which frees space
        full = isinstance(err, Exception) and not isinstance(err, VisreasonError) and _disk_full(err, out)
        if state.is_main_process:
            _clean_after_failure(out, created, lock)
            lock = None
        if full:
            newest = max(_complete_checkpoints(out / "checkpoints"), default=0)
            raise VisreasonError(
                f"disk full: no space left on the filesystem of {out} while training; free space and rerun "
                f"to resume from step {newest}"
            ) from None
        if isinstance(err, torch.OutOfMemoryError):
            raise VisreasonError(
                f"out of GPU memory while training: lower train.per_device_train_batch_size "
                f"({job.cfg['per_device_train_batch_size']}; gradient accumulation keeps the batch)"
            ) from None
        raise
    finally:
        if lock is not None:
            lock.release()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)


def _validate(params: dict, reward: str, seed: int, data: Path, source: str, out: Path) -> Job:
    """Every check that needs no OUTDIR: settings, batch shapes, hardware, records, prompt lengths."""
    start = time.time()
    cfg = train_settings(params, reward)
    missing = [k for k in GRPO_KEYS + OWN_KEYS if k not in cfg]
    missing += [f"lora.{k}" for k in LORA_KEYS if "lora" in cfg and k not in cfg["lora"]]
    if missing:
        raise VisreasonError(f"params: 'train.{missing[0]}' is not set (for reward {reward})")
    state = PartialState()
    derived = _check_settings(cfg, state.num_processes)
    engine = _generation_engine(cfg, seed)
    records = _load_dataset_records(data)
    check_categories(reward, sorted({r["category"] for r in records}))
    if len(records) < (rollout := derived["prompts_per_rollout"]):
        raise VisreasonError(f"dataset {data} has {len(records)} records, fewer than prompts_per_rollout {rollout}")
    processor = load_processor(source, **image_resolution(params))
    # Open-ended, as in the study: the prompt holds the question, not the options.
    messages = [
        build_messages(format_prompt(reward, r["question"], category=r["category"], solution=r["solution"]), True)
        for r in records
    ]
    _check_prompt_lengths(records, messages, processor, cfg["max_prompt_length"], data)
    cannot_learn = _cannot_learn(cfg, reward, processor.tokenizer)
    job = Job(
        params, cfg, reward, seed, source, data, out, derived, engine, processor, records, messages, cannot_learn, start
    )
    if state.is_main_process:  # hashing a 7B model takes a while: once per job
        manifest = data / "manifest.json"
        job.settings = {
            **cfg,
            "prompts_per_rollout": derived["prompts_per_rollout"],  # null resolved: the same job either way
            "reward": reward,
            "seed": seed,
            "model": portable(source),
            "image_resolution": image_resolution(params),  # the processor's pixel bounds shape every prompt
            "model_sha256": sha256_tree(source) if Path(source).is_dir() else None,
            "data": portable(data),
            "data_sha256": sha256_tree(data),
            "data_manifest_sha256": sha256_file(manifest) if manifest.is_file() else "missing",
        }
        if cfg["use_vllm"] == "auto":
            print(f"visreason train: train.use_vllm: auto -> {engine['engine']} ({engine['why']})", file=sys.stderr)
        for line in cannot_learn:
            print(f"visreason train: WARNING: cannot learn: {line}", file=sys.stderr, flush=True)
    return job


def _terminate(signum, frame):
    """SIGTERM (a scheduler's preemption or time limit) ends the job like Ctrl-C: cleaned up, run KILLED."""
    raise KeyboardInterrupt("terminated (SIGTERM)")


def _clean_after_failure(out: Path, created: bool, lock: OutdirLock | None) -> None:
    """After a failure: no incomplete checkpoint or temporary folder, and no OUTDIR this job created
    that holds nothing to resume from. A complete checkpoint stays, for the rerun to resume from."""
    with contextlib.suppress(OSError):
        _remove_leftovers(out)
    resumable = bool(_complete_checkpoints(out / "checkpoints")) or (out / "final").is_dir()
    if lock is not None:
        lock.release()
    if created and not resumable:
        shutil.rmtree(out, ignore_errors=True)


def _train(job: Job, ckpt: Path | None, fn: Callable, registry: bool, callbacks, run_id) -> tuple[int, float]:
    """GRPO from `ckpt` (or step 0) to max_steps, on every process; (steps trained, TRL's runtime)."""
    cfg, data = job.cfg, job.data
    if cfg["torch_threads"]:
        torch.set_num_threads(cfg["torch_threads"])
    dataset = datasets.Dataset.from_dict(
        {
            "id": [r["id"] for r in job.records],
            "prompt": job.messages,
            "image": [str(data / r["image"]) for r in job.records],
        }
    ).cast_column("image", datasets.Image())
    scorer = RewardFunction(job.reward, fn, {r["id"]: r for r in job.records}, registry)
    config = _grpo_config(cfg, job.out, job.seed, job.derived, job.engine["engine"] == "vllm")
    policy = AutoModelForImageTextToText.from_pretrained(
        job.source, dtype=torch.bfloat16 if cfg["bf16"] else torch.float32
    )
    logger = [MlflowLogger(run_id, scorer, cfg["log_completions_steps"])] if run_id else []
    with _vllm_seeded(job.seed) if config.use_vllm else contextlib.nullcontext():
        trainer = VisreasonGRPOTrainer(
            model=policy,
            reward_funcs=[scorer],
            args=config,
            train_dataset=dataset,
            processing_class=job.processor,
            peft_config=_lora_config(cfg["lora"]) if cfg["lora"]["enabled"] else None,
            callbacks=[StepControl(), *logger, *(callbacks or [])],
        )
    trainer.keep_checkpoints = cfg["save_total_limit"]
    if ckpt is not None and run_id:
        print(f"visreason train: resuming from {ckpt}")
    begin = int(_CHECKPOINT.fullmatch(ckpt.name).group(1)) if ckpt else 0
    result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    return trainer.state.global_step - begin, result.metrics.get("train_runtime", 0.0)


def _finish(job: Job, ckpt: Path, run_id: str, trained: int, runtime: float) -> dict:
    """final/ and the summary from the checkpoint at max_steps, the same whether this job trained or not."""
    _write_final(ckpt, job.out / "final", job.processor, job.source, job.cfg)
    _fault("summary")
    summary = _summary(job, ckpt, run_id, trained, runtime)
    mlflow.log_artifact(str(_reward_curve_png(summary["log_history"], job.reward, job.out / "reward_curve.png")))
    mlflow.log_metrics({f"final/{k}": v for k, v in summary["final_rewards"].items()}, step=summary["steps"])
    mlflow.set_tags(
        {"no_update": str(summary["no_update"]).lower(), "no_update_reason": summary["no_update_reason"] or ""}
    )
    if job.cannot_learn:
        mlflow.set_tag("cannot_learn", "; ".join(job.cannot_learn))
    write_json(job.out / "train_summary.json", summary)  # last: the workflow depends on it
    return summary


def _summary(job: Job, ckpt: Path, run_id: str, trained: int, runtime: float) -> dict:
    state = read_json(ckpt / "trainer_state.json")
    history = [h for h in state["log_history"] if "loss" in h]  # one per optimizer step
    rollouts = [h for h in history if "reward" in h]  # the first step of each rollout holds its rewards
    tail = rollouts[-max(1, len(rollouts) // 10) :]  # the last tenth of the rollouts
    names = {k: metric_name(k, job.reward) for h in tail for k in h}
    keys = sorted(k for k, n in names.items() if n and n.startswith("reward/") and not n.endswith("_std"))
    final = {names[k]: sum(h[k] for h in tail if k in h) / sum(1 for h in tail if k in h) for k in keys}
    why = _no_update(history)
    if why:
        print(f"visreason train: WARNING: this job made no update: {why}", file=sys.stderr, flush=True)
    return {
        "reward": job.reward,
        "seed": job.seed,
        "model": job.settings["model"],
        "data": job.settings["data"],
        "steps": state["global_step"],
        "steps_this_run": trained,
        "final_rewards": final,
        "final_rewards_window": len(tail),
        "no_update": why is not None,
        "no_update_reason": why,
        "cannot_learn": job.cannot_learn,
        "generation": job.engine,
        "batches": job.derived,
        "wall_time_s": round(time.time() - job.start, 1),
        "train_runtime_s": round(runtime, 3),
        "git_commit": tracking.git_commit(),
        "dataset_manifest_sha256": job.settings["data_manifest_sha256"],
        "mlflow_run_id": run_id,
        "settings": job.settings,
        "log_history": history,  # per-step metrics: the report's training curves
    }


def _no_update(history: list[dict]) -> str | None:
    """Why a job made no update, or None: grad_norm 0 at every step, or no reward spread in any group.

    >>> for reason in _no_update([{"grad_norm": 0.0, "frac_reward_zero_std": 1.0}] * 3).split("; "):
    ...     print(reason)
    grad_norm was 0 at all 3 steps
    every group had zero reward spread (frac_reward_zero_std 1) in all 3 rollouts, so every advantage was 0
    >>> _no_update([{"grad_norm": 0.0, "frac_reward_zero_std": 1.0}, {"grad_norm": 0.2, "frac_reward_zero_std": 0.5}])
    """
    reasons = []
    grads = [h["grad_norm"] for h in history if "grad_norm" in h]
    if grads and all(g == 0 for g in grads):
        reasons.append(f"grad_norm was 0 at all {len(grads)} steps")
    spread = [h["frac_reward_zero_std"] for h in history if "frac_reward_zero_std" in h]
    if spread and all(f == 1 for f in spread):
        reasons.append(
            f"every group had zero reward spread (frac_reward_zero_std 1) in all {len(spread)} rollouts, "
            "so every advantage was 0"
        )
    return "; ".join(reasons) or None


def _grpo_config(cfg: dict, out: Path, seed: int, derived: dict, use_vllm: bool) -> GRPOConfig:
    lora = cfg["lora"]
    return GRPOConfig(
        output_dir=str(out / "checkpoints"),
        seed=seed,
        data_seed=seed,
        report_to="none",  # one MLflow run per job, logged by our callback
        logging_steps=1,
        disable_tqdm=not is_interactive(),  # plain log lines in SLURM/CI logs
        save_strategy="steps",
        save_total_limit=None,  # VisreasonGRPOTrainer keeps the newest complete ones
        remove_unused_columns=False,
        shuffle_dataset=True,
        use_vllm=use_vllm,
        vllm_mode="colocate",
        dataloader_num_workers=0,
        learning_rate=lora["learning_rate"] if lora["enabled"] else cfg["learning_rate"],
        gradient_accumulation_steps=derived["gradient_accumulation_steps"],
        generation_batch_size=derived["generation_batch_size"],
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


@contextlib.contextmanager
def _vllm_seeded(training_seed: int):
    """vLLM's sampling seed from the training seed: TRL 1.16 seeds its colocated engine with the
    process's tensor-parallel group alone, so every training seed would sample the same completions.
    Below 2**31: vLLM also seeds numpy, which takes 32 bits."""
    engine = vllm_generation.LLM

    def seeded(*args, seed: int = 0, **kwargs):  # `seed`: what TRL passes
        return engine(*args, seed=derived_seed("vllm", training_seed, seed) % 2**31, **kwargs)

    vllm_generation.LLM = seeded
    try:
        yield
    finally:
        vllm_generation.LLM = engine


class EpochSeededSampler(RepeatSampler):
    """TRL's RepeatSampler draws each epoch's order from one generator seeded once, so a run
    resumed in epoch e > 0 would replay epoch 0's order. Here epoch e's order comes from a hash
    of (seed, e), so neighbouring seeds share no order (with `seed + e`, seed s in epoch e would
    replay seed s+1's epoch e-1); the Trainer calls `set_epoch` before every epoch, resumed or not."""

    def set_epoch(self, epoch: int) -> None:
        if self.shuffle:
            self.generator.manual_seed(derived_seed("epoch", self.seed or 0, epoch))


class VisreasonGRPOTrainer(GRPOTrainer):
    keep_checkpoints = 2  # complete checkpoints kept (train.save_total_limit)

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

    def _save_optimizer_and_scheduler(self, output_dir):
        _fault("checkpoint", self.state.global_step, Path(output_dir))  # the model files are written by now
        super()._save_optimizer_and_scheduler(output_dir)

    def _save_checkpoint(self, model, trial):
        """Trainer's checkpoint, then (once every process has written its part) the completeness
        record, then the rotation: older complete checkpoints beyond `keep_checkpoints` go."""
        super()._save_checkpoint(model, trial)
        self.accelerator.wait_for_everyone()
        if self.is_world_process_zero():
            ckpt_dir = Path(self.args.output_dir)
            _mark_complete(ckpt_dir / f"checkpoint-{self.state.global_step}", self.state.global_step)
            complete = _complete_checkpoints(ckpt_dir)
            for step in list(complete)[: -self.keep_checkpoints]:
                shutil.rmtree(complete[step])


# What final/ takes from a checkpoint: the model (or the LoRA adapter), not the trainer's state.
_MODEL_FILES = re.compile(r"(model.*\.safetensors(\.index\.json)?|config\.json|generation_config\.json|adapter_.*)")


def _write_final(ckpt: Path, final: Path, processor, source: str, cfg: dict) -> None:
    """final/ from a complete checkpoint, atomically: its model and the processor; with LoRA, the
    merged model plus the adapter in final/adapter. The same files whether this job trained or not."""
    with atomic_dir(final) as tmp:
        files = [p for p in ckpt.iterdir() if p.is_file() and _MODEL_FILES.fullmatch(p.name)]
        if cfg["lora"]["enabled"]:
            (tmp / "adapter").mkdir()
            for path in files:
                shutil.copy2(path, tmp / "adapter" / path.name)
            dtype = torch.bfloat16 if cfg["bf16"] else torch.float32
            base = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype)
            PeftModel.from_pretrained(base, tmp / "adapter").merge_and_unload().save_pretrained(tmp)
        else:
            for path in files:
                shutil.copy2(path, tmp / path.name)
        save_processor(processor, tmp)
        _fault("final", path=tmp)
