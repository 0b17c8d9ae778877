"""Training faults: a kill at a named point (VISREASON_FAULT, never a sleep), a damaged checkpoint,
a full disk, a second job on one OUTDIR, a killed job's MLflow run, too few steps. Each test
asserts the message or the resume, the exit status and what is left on disk; a resumed job's
weights are compared bit for bit with an uninterrupted run's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from test_train import Recorder, _weights, smoke_params

from visreason import VisreasonError
from visreason.cli import main
from visreason.files import read_json
from visreason.train import COMPLETE, LOCK, OutdirLock, run_train

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"max_steps": 4, "save_steps": 2, "learning_rate": 1e-2}  # checkpoints 2 and 4

# A job in its own process, so that a fault can kill it (SIGKILL) as the OOM killer or a scheduler would.
DRIVER = """
import json, sys
from test_train import Recorder, smoke_params
from visreason.train import run_train
a = json.loads(sys.argv[1])
run_train(smoke_params(**a["train"]), reward="vanilla", seed=0, data=a["data"], model=a["model"], out=a["out"],
          reward_fn=Recorder())
"""


def killed(out: Path, fault: str, data: Path, model: Path, **train) -> subprocess.CompletedProcess:
    """Run the job in a subprocess with VISREASON_FAULT set; it must die by SIGKILL at that point."""
    args = {"train": {**SETTINGS, **train}, "data": str(data), "model": str(model), "out": str(out)}
    env = {**os.environ, "VISREASON_FAULT": fault, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO / 'tests'}"}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(args)], env=env, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-3000:]
    return proc


def rerun(out: Path, data: Path, model: Path, **train) -> tuple[dict, Recorder]:
    recorder = Recorder()
    params = smoke_params(**{**SETTINGS, **train})
    summary = run_train(params, reward="vanilla", seed=0, data=data, model=model, out=out, reward_fn=recorder)
    return summary, recorder


def run_status(out: Path) -> tuple[str, str]:
    run_id = (out / "mlflow_run_id").read_text().strip()
    return run_id, mlflow.MlflowClient().get_run(run_id).info.status


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from test_train import write_dataset

    return write_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def reference(tiny_model, data, tmp_path_factory):
    """The uninterrupted job: its OUTDIR, the prompt ids of each rollout, and its final weights."""
    out = tmp_path_factory.mktemp("reference") / "out"
    summary, recorder = rerun(out, data, tiny_model)
    assert summary["steps"] == 4 and len(recorder.batches) == 4
    return {"out": out, "batches": recorder.batches, "weights": _weights(out / "final"), "summary": summary}


def _cli(out: Path, data: Path, model: Path, tmp_path: Path, **train) -> int:
    params = yaml.safe_load((REPO / "params.yaml").read_text()) | {"scale": "smoke"}  # lab overrides train
    params["train"].update({**SETTINGS, "max_completion_length": 8, **train})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    argv = ["train", "--reward", "vanilla", "--seed", "0", "--data", str(data), "--model", str(model)]
    return main([*argv, "--out", str(out), "--params", str(path)])


def _error_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("visreason: error:")]
    assert len(lines) == 1, lines
    return lines[0]


def _runs_since(started_ms: int) -> list:
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("visreason")
    return (
        client.search_runs([experiment.experiment_id], f"attributes.start_time >= {started_ms}") if experiment else []
    )


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".") and p.name != LOCK)


# ------------------------------------------------------------------ T1: a job at max_steps finishes without training


@pytest.mark.slow
def test_kill_during_the_final_save_finishes_from_the_checkpoint(reference, tiny_model, data, tmp_path, capsys):
    out = tmp_path / "out"
    killed(out, "kill:final", data, tiny_model)
    assert (out / "checkpoints" / "checkpoint-4" / COMPLETE).is_file()
    assert not (out / "final").exists() and not (out / "train_summary.json").exists()
    assert [n for n in _leftovers(out) if n.startswith(".final.") and n.endswith(".tmp")]  # the unrenamed final/
    run_id, status = run_status(out)
    assert status == "RUNNING"  # the kill left it so; the rerun continues it

    summary, recorder = rerun(out, data, tiny_model)
    assert recorder.batches == []  # no training: not one rollout
    assert summary["steps"] == 4 and summary["steps_this_run"] == 0
    assert _weights(out / "final") == reference["weights"]  # bit for bit the uninterrupted run's
    assert summary["final_rewards"] == reference["summary"]["final_rewards"]
    assert _leftovers(out) == []
    assert run_status(out) == (run_id, "FINISHED")
    printed = capsys.readouterr()
    assert "checkpoint-4 is at max_steps 4: writing final/ and the summary from it, without training" in printed.out
    assert "removed what an interrupted job left: .final." in printed.err


@pytest.mark.slow
def test_rerun_incomplete_after_a_kill_finishes_without_training(reference, tiny_model, data, tmp_path):
    out = tmp_path / "out"
    killed(out, "kill:summary", data, tiny_model)  # final/ in place, no summary yet
    assert (out / "final").is_dir() and not (out / "train_summary.json").exists()

    summary, recorder = rerun(out, data, tiny_model)  # a plain rerun
    assert recorder.batches == [] and summary["steps"] == 4
    assert _weights(out / "final") == reference["weights"]

    # Snakemake's --rerun-incomplete deletes the outputs of a job it saw die: final/ and the summary
    shutil.rmtree(out / "final")
    (out / "train_summary.json").unlink()
    summary, recorder = rerun(out, data, tiny_model)
    assert recorder.batches == [] and summary["steps"] == 4 and summary["steps_this_run"] == 0
    assert _weights(out / "final") == reference["weights"]
    assert [h["step"] for h in summary["log_history"]] == [1, 2, 3, 4]  # never a step 5
    assert run_status(out)[1] == "FINISHED"


# ------------------------------------------------------------------ T2: checkpoints are complete or absent


@pytest.mark.slow
def test_kill_during_a_checkpoint_save_resumes_from_the_newest_complete_one(
    reference, tiny_model, data, tmp_path, capsys
):
    out = tmp_path / "out"
    killed(out, "kill:checkpoint@4", data, tiny_model)
    half = out / "checkpoints" / "checkpoint-4"
    assert (half / "model.safetensors").is_file() and not (half / "optimizer.pt").exists()
    assert not (half / COMPLETE).exists() and (out / "checkpoints" / "checkpoint-2" / COMPLETE).is_file()

    summary, recorder = rerun(out, data, tiny_model)
    assert recorder.batches == reference["batches"][2:]  # resumed at step 2: nothing replayed, nothing skipped
    assert summary["steps"] == 4 and summary["steps_this_run"] == 2
    assert _weights(out / "final") == reference["weights"]
    printed = capsys.readouterr()
    assert "checkpoints/checkpoint-4 (no completeness record: its save was interrupted)" in printed.err
    assert "resuming from" in printed.out and "checkpoint-2" in printed.out


@pytest.mark.slow
def test_a_damaged_checkpoint_is_passed_over(reference, tiny_model, data, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(reference["out"], out)
    for name in ("final", "train_summary.json", "mlflow_run_id"):
        shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    optimizer = out / "checkpoints" / "checkpoint-4" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:1000])  # truncated after it was recorded complete

    summary, recorder = rerun(out, data, tiny_model)
    assert recorder.batches == reference["batches"][2:] and summary["steps"] == 4
    assert _weights(out / "final") == reference["weights"]
    assert "checkpoints/checkpoint-4 (optimizer.pt is missing or not the" in capsys.readouterr().err


# ------------------------------------------------------------------ T3: a full disk is one line


def test_disk_full_before_any_checkpoint_leaves_no_outdir(tiny_model, data, tmp_path, capsys, monkeypatch):
    out, started = tmp_path / "out", int(time.time() * 1000)
    monkeypatch.setenv("VISREASON_FAULT", "enospc:checkpoint@2")
    assert _cli(out, data, tiny_model, tmp_path) == 2
    line = _error_line(capsys)
    assert line == (
        f"visreason: error: disk full: no space left on the filesystem of {out} while training; "
        "free space and rerun to resume from step 0"
    )
    assert not out.exists()  # created by this job, nothing in it to resume from
    (run,) = _runs_since(started)
    assert run.info.status == "FAILED" and run.info.run_name == "vanilla-seed0"


@pytest.mark.slow
def test_disk_full_on_a_small_filesystem_keeps_the_last_complete_checkpoint(tiny_model, data, tmp_path, capsys):
    small = tmp_path / "small"
    small.mkdir()
    # 4.5 MB: checkpoint-2 (3 MB) fits, checkpoint-4 does not
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4500k", "tmpfs", str(small)], capture_output=True)
    if mount.returncode:
        pytest.skip(f"needs a small tmpfs (mount as root): {mount.stderr.decode().strip()}")
    try:
        out = small / "out"
        assert _cli(out, data, tiny_model, tmp_path) == 2
        assert _error_line(capsys) == (
            f"visreason: error: disk full: no space left on the filesystem of {out} while training; "
            "free space and rerun to resume from step 2"
        )
        assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.is_dir()) == ["checkpoint-2"]
        assert (out / "checkpoints" / "checkpoint-2" / COMPLETE).is_file()
        assert not (out / "final").exists() and not (out / "train_summary.json").exists() and _leftovers(out) == []
        assert run_status(out)[1] == "FAILED"
    finally:
        subprocess.run(["umount", str(small)], check=True)


# ------------------------------------------------------------------ T4: one job per OUTDIR


def test_a_second_job_on_the_same_outdir_stops(tiny_model, data, tmp_path, capsys):
    out = tmp_path / "out"
    holder = OutdirLock(out)  # another job, mid-run (a separate open of the lock file: flock refuses it)
    started = int(time.time() * 1000)
    try:
        assert _cli(out, data, tiny_model, tmp_path) == 2
    finally:
        holder.release()
    line = _error_line(capsys)
    assert line.startswith(f"visreason: error: {out} is in use by another training job (pid {os.getpid()} on ")
    assert line.endswith(f"; lock {out / LOCK})")
    assert sorted(p.name for p in out.iterdir()) == [LOCK]  # nothing else touched
    assert _runs_since(started) == []  # and no second MLflow run


# ------------------------------------------------------------------ a killed job's MLflow run never stays RUNNING


@pytest.mark.slow
def test_a_killed_jobs_run_is_continued_or_marked_killed(reference, tiny_model, data, tmp_path, capsys):
    out = tmp_path / "out"
    killed(out, "kill:step@3", data, tiny_model)  # after checkpoint-2, in step 3
    run_id, status = run_status(out)
    assert status == "RUNNING" and (out / LOCK).read_text().startswith("pid ")  # the dead job's stale lock
    summary, recorder = rerun(out, data, tiny_model)  # the lock is free: its holder died
    assert run_status(out) == (run_id, "FINISHED") and summary["mlflow_run_id"] == run_id
    assert recorder.batches == reference["batches"][2:]
    assert _weights(out / "final") == reference["weights"]  # exact resume through a real SIGKILL
    assert f"MLflow run {run_id} was left RUNNING by a killed job; continuing it" in capsys.readouterr().err

    other = tmp_path / "other"
    killed(other, "kill:step@3", data, tiny_model)
    stale, _ = run_status(other)
    summary, _ = rerun(other, data, tiny_model, learning_rate=2e-2)  # other settings: a new run
    assert mlflow.MlflowClient().get_run(stale).info.status == "KILLED"
    assert summary["mlflow_run_id"] != stale and run_status(other)[1] == "FINISHED"
    assert f"MLflow run {stale} of a killed job marked KILLED" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_ends_the_job_cleanly_and_marks_its_run_killed(reference, tiny_model, data, tmp_path):
    """SIGTERM (a scheduler's preemption or time limit) ends the job like Ctrl-C: exit 130, one line."""
    out = tmp_path / "out"
    params = yaml.safe_load((REPO / "params.yaml").read_text()) | {"scale": "smoke"}  # lab overrides train
    params["train"].update({**SETTINGS, "max_completion_length": 8})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    argv = ["train", "--reward", "vanilla", "--seed", "0", "--data", str(data), "--model", str(tiny_model)]
    env = {**os.environ, "VISREASON_FAULT": "term:step@3", "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "visreason", *argv, "--out", str(out), "--params", str(tmp_path / "params.yaml")]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == "visreason: interrupted"
    assert run_status(out)[1] == "KILLED"
    assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.is_dir()) == ["checkpoint-2"]
    assert not (out / "final").exists() and _leftovers(out) == []


# ------------------------------------------------------------------ fewer steps than already trained


@pytest.mark.slow
def test_lower_max_steps_uses_the_checkpoint_or_refuses(reference, tiny_model, data, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference["out"], out)
    (out / "mlflow_run_id").unlink()
    summary, recorder = rerun(out, data, tiny_model, max_steps=2)  # checkpoint-2 was kept
    assert recorder.batches == [] and summary["steps"] == 2
    assert _weights(out / "final") == _weights(out / "checkpoints" / "checkpoint-2")

    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    with pytest.raises(VisreasonError, match="train.max_steps 3 is below the 4 steps .* no checkpoint-3 was kept"):
        rerun(out, data, tiny_model, max_steps=3)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert read_json(out / "train_summary.json")["steps"] == 2
