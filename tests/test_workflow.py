"""The workflow machinery: Snakemake DAG, dvc.yaml generated from it, selective reruns.

The pipeline's own stages are exercised by their modules' tests and by `.ci/run`;
here every `visreason` command is replaced by a fast stand-in (below) that writes
the same files, so the DAG, rerun and DVC logic are tested in seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from visreason.config import REPO_ROOT
from visreason.params import load_params

# Stand-in for `python -m visreason`: writes each command's outputs, with content
# derived from its arguments and params.yaml (so a changed setting changes them).
FAKE_MAIN = """
import hashlib, os, sys
from pathlib import Path
args = sys.argv[1:]
out = Path(args[args.index("--out") + 1])
stamp = hashlib.sha256((" ".join(args) + Path("params.yaml").read_text()).encode()).hexdigest() + "\\n"
if os.environ.get("FAKE_FAIL") == args[0]:
    (out / "final").mkdir(parents=True, exist_ok=True)
    (out / "final" / "half-written").write_text(stamp)
    sys.exit("fake failure")
files = [""] if args[:2] in (["data", "preview"], ["rewards", "audit"]) else {
    "data": ["manifest.json"], "model": ["visreason_model.json"], "captions": ["captions.jsonl", "summary.json"],
    "train": ["final/model.safetensors", "train_summary.json", "checkpoints/checkpoint-1/state"],
    "evaluate": [], "report": ["report.md", "accuracy.csv", "reward_curves.csv"],
}[args[0]]
if args[0] == "evaluate":  # --mode M [M ...]: one folder per mode
    modes = args[args.index("--mode") + 1 :]
    modes = modes[: next((i for i, a in enumerate(modes) if a.startswith("--")), len(modes))]
    files = [f"{m}/{name}" for m in modes for name in ("samples.jsonl", "metrics.json")]
for name in files:
    path = out / name if name else out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(stamp)
"""


def run(cmd: list[str], cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def copy_workflow(dest: Path) -> Path:
    """The repository's workflow files (links as links, DVC's config and plot templates) in `dest`."""
    for name in ["Snakefile", "workflow", "envs", "params.yaml", "dvc.yaml", ".dvcignore", "profiles", "slurm"]:
        src = REPO_ROOT / name
        if src.is_symlink():
            os.symlink(os.readlink(src), dest / name)
        elif src.is_dir():
            shutil.copytree(src, dest / name, symlinks=True)
        else:
            shutil.copy(src, dest / name)
    (dest / ".dvc").mkdir()
    shutil.copy(REPO_ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    shutil.copytree(REPO_ROOT / ".dvc" / "plots", dest / ".dvc" / "plots")
    return dest


def git_init(root: Path) -> None:
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], root)


@pytest.fixture
def project(tmp_path) -> Path:
    """A git repository with the repository's workflow and the stand-in as its `visreason` package."""
    copy_workflow(tmp_path)
    pkg = tmp_path / "src" / "visreason"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(FAKE_MAIN)
    git_init(tmp_path)
    return tmp_path


def snakemake_jobs(cwd: Path, *args: str) -> dict[str, int]:
    """Job counts per rule of a dry run."""
    out = run(["snakemake", "-n", "--cores", "1", *args], cwd).stdout
    table = re.search(r"job\s+count\n[-\s]+\n(.*?)\ntotal", out, re.S)
    return {} if table is None else {m[0]: int(m[1]) for m in re.findall(r"(\w+)\s+(\d+)", table.group(1))}


def test_dag_covers_every_reward_seed_and_mode():
    params = load_params()
    n_trained = len(params["rewards"]) * len(params["seeds"])
    jobs = snakemake_jobs(REPO_ROOT, "--forceall")
    assert jobs["train_model"] == n_trained
    assert jobs["evaluate_model"] == 1 + n_trained  # one job per model runs every mode
    outputs = run(["snakemake", "--summary", "--cores", "1"], REPO_ROOT).stdout
    for mode in params["evaluate"]["modes"]:
        assert f"results/eval/base/{mode}/metrics.json" in outputs
    assert jobs["build_data"] == 2 and jobs["report_results"] == 1


def test_paper_scale_dag_asks_for_gpus():
    """`--config scale=paper` switches the whole DAG; GPU jobs request GPUs, CPU jobs none."""
    out = run(["snakemake", "-n", "--forceall", "--cores", "1", "--config", "scale=paper"], REPO_ROOT).stdout
    commands = run(["snakemake", "-n", "-p", "--forceall", "--cores", "1", "--config", "scale=paper"], REPO_ROOT).stdout
    assert "--scale paper" in commands
    # the study's full fine-tuning of the 7B model: one 8-GPU node through accelerate + ZeRO-3
    assert (
        "accelerate launch --num_processes 8 --config_file configs/accelerate/zero3.yaml -m visreason train" in commands
    )
    blocks = {b.split(":")[0].strip(): b for b in out.split("rule ")[1:]}
    assert "gpu=8" in blocks["train_model"] and "gpu=" not in blocks["build_data"]
    assert "build_model" not in blocks  # a Hugging Face model is not built locally
    default = run(["snakemake", "-n", "-p", "--forceall", "--cores", "1"], REPO_ROOT).stdout
    assert "gpu=" not in default and "accelerate launch" not in default


def test_dvc_yaml_is_generated_from_the_snakefile():
    proc = run([sys.executable, "workflow/dvc_from_snakemake.py", "--check"], REPO_ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    dvc = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
    params = load_params()
    train = dvc["stages"]["train_model-mixture-seed0"]
    assert train["params"] == ["scale", f"scales.{params['scale']}", "train", "model", "rewards.mixture"]
    assert {"results/train/mixture/seed0/checkpoints": {"persist": True, "cache": False}} in train["outs"]
    assert "results/train/mixture/seed0/final" in train["outs"]
    modes = sorted(params["evaluate"]["modes"])
    assert dvc["stages"]["evaluate_model-base"]["metrics"] == [f"results/eval/base/{m}/metrics.json" for m in modes]
    assert not any("mlflow.db" in str(s) for s in dvc["stages"].values())


@pytest.mark.slow
def test_snakemake_runs_all_then_nothing_and_drops_failed_outputs(project):
    proc = run(["snakemake"], project)  # the workflow profile gives the cores
    assert "workflow specific profile profiles/default" in proc.stderr
    assert (project / "results/report/report.md").is_file()
    assert (project / "results/train/vanilla/seed0/checkpoints/checkpoint-1/state").is_file()
    assert "Nothing to be done" in run(["snakemake", "-n", "--cores", "1"], project).stdout
    # dvc.lock records the run: DVC agrees that everything is up to date, with no manual command.
    n_stages = len(yaml.safe_load((project / "dvc.yaml").read_text())["stages"])
    assert f"dvc.lock: recorded {n_stages} up-to-date stages" in proc.stdout + proc.stderr
    assert "Data and pipelines are up to date." in run(["dvc", "status"], project).stdout
    assert stages_run(run(["dvc", "repro"], project).stdout) == []
    # A failing training job leaves nothing that looks complete, and stays to be run.
    target = "results/train/mixture/seed0/train_summary.json"
    proc = run(
        ["snakemake", target, "--cores", "1", "--forcerun", "train_model"], project, {"FAKE_FAIL": "train"}, check=False
    )
    assert proc.returncode != 0 and "Removing output files of failed job train_model" in proc.stderr
    assert not (project / target).exists() and not (project / "results/train/mixture/seed0/final").exists()
    # ... but keeps the checkpoints a retry resumes from.
    assert (project / "results/train/mixture/seed0/checkpoints/checkpoint-1/state").is_file()
    assert snakemake_jobs(project, target)["train_model"] == 1


def stages_run(output: str) -> list[str]:
    return sorted(re.findall(r"Running stage '([^']+)'", output))


@pytest.mark.slow
def test_dvc_repro_reruns_only_the_changed_reward(project):
    env = {"PYTHONPATH": str(project / "src")}
    first = run(["dvc", "repro"], project, env).stdout
    n_stages = len(yaml.safe_load((project / "dvc.yaml").read_text())["stages"])
    assert len(stages_run(first)) == n_stages
    assert stages_run(run(["dvc", "repro"], project, env).stdout) == []

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["rewards"]["mixture"] = {"max_steps": 3}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status"], project, env).stdout
    defaults = load_params()
    trainings = [f"train_model-mixture-seed{s}" for s in defaults["seeds"]]
    assert re.findall(r"^(\S+):", status, re.M) == trainings
    evaluations = [f"evaluate_model-mixture-seed{s}" for s in defaults["seeds"]]
    rerun = stages_run(run(["dvc", "repro"], project, env).stdout)
    assert rerun == sorted([*trainings, *evaluations, "report_results"])


def test_the_workflow_profile_applies_to_a_bare_run_and_under_slurm(monkeypatch):
    """From the repository root: `snakemake --cores all` and `snakemake --profile slurm` as typed."""
    from snakemake.cli import parse_args

    monkeypatch.chdir(REPO_ROOT)
    _, args = parse_args(["--cores", "all"])
    assert args.keep_going and args.rerun_incomplete and args.cores == os.cpu_count()
    _, args = parse_args(["--profile", "slurm"])
    assert args.executor == "slurm" and args.retries == 2 and args.jobs == 50
    assert args.keep_going and args.rerun_incomplete  # the workflow profile still applies
    assert {"slurm_partition", "slurm_account", "mem_mb", "runtime"} <= set(args.default_resources)


def test_a_placeholder_in_the_slurm_profile_stops_before_any_job(project):
    profile = project / "slurm" / "config.yaml"
    proc = run(["snakemake", "-n", "--profile", "slurm"], project, check=False)
    line = (
        "slurm/config.yaml: default-resources: 'slurm_partition' is still the placeholder CHANGE_ME_partition: "
        "set it to your cluster's value, or delete the line"
    )
    assert proc.returncode != 0 and f"\n{line}\n" in proc.stdout + proc.stderr
    # Filled in as a user does, one at a time: the next placeholder is named, then the run goes ahead.
    profile.write_text(profile.read_text().replace("CHANGE_ME_partition", "gpu"))
    proc = run(["snakemake", "-n", "--profile", "slurm"], project, check=False)
    assert proc.returncode != 0 and "'slurm_account' is still the placeholder CHANGE_ME_account" in proc.stdout
    profile.write_text(profile.read_text().replace("CHANGE_ME_account", "lab"))
    assert "This was a dry-run" in run(["snakemake", "-n", "--profile", "slurm"], project).stdout
    assert not (project / "results").exists()


@pytest.mark.parametrize(
    "edit, line",
    [
        (lambda p: p["data"].update(sede=0), "params.yaml: unknown key 'data.sede' (did you mean 'seed'?)"),
        (lambda p: p.update(seeds="zero"), "params.yaml: 'seeds': 'zero' is not of type 'array'"),
    ],
    ids=["typo", "wrong-type"],
)
def test_snakemake_dry_run_stops_on_the_params_error_visreason_gives(project, edit, line):
    params = yaml.safe_load((project / "params.yaml").read_text())
    edit(params)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run(["snakemake", "-n"], project, check=False)
    # Snakemake prints a WorkflowError on stdout: its message line, no traceback.
    assert proc.returncode != 0 and f"\n{line}\n" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr and not (project / "results").exists()
    build = ["data", "build", "--split", "eval", "--out", "x", "--params", "params.yaml"]
    cli = run([sys.executable, "-m", "visreason", *build], project, check=False)
    assert cli.returncode == 2 and line in cli.stderr  # the same line from the command itself


def real_project(dest: Path) -> Path:
    """A git checkout of the real package and workflow, at a one-design, two-step scale."""
    dest.mkdir(parents=True)
    copy_workflow(dest)
    shutil.copytree(REPO_ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "configs"):
        src = REPO_ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["scale"] = "smoke"  # no warm-up, and train's settings as edited here
    params["scales"]["smoke"] = {}
    params["rewards"] = {"vanilla": {}}
    params["train"].update(max_steps=2, save_steps=1)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([sys.executable, "workflow/dvc_from_snakemake.py"], dest)
    git_init(dest)
    return dest


@pytest.mark.slow
def test_a_moved_checkout_resumes_training_under_dvc_repro(tmp_path):
    first = real_project(tmp_path / "first" / "visreason")
    env = {"PYTHONPATH": str(first / "src"), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    target = "results/train/vanilla/seed0/train_summary.json"
    run(["snakemake", target], first, env)
    moved = tmp_path / "second" / "visreason"
    moved.parent.mkdir()
    first.rename(moved)
    env["PYTHONPATH"] = str(moved / "src")
    assert (
        "Data and pipelines are up to date." in run(["dvc", "status", "train_model-vanilla-seed0"], moved, env).stdout
    )
    params = yaml.safe_load((moved / "params.yaml").read_text())
    params["train"]["max_steps"] = 3  # a resumable change: more steps
    (moved / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro", "train_model-vanilla-seed0"], moved, env).stdout
    assert stages_run(out) == ["train_model-vanilla-seed0"]  # data and model are not rebuilt
    log = (moved / "logs/train_model/vanilla-seed0.log").read_text()
    assert "resuming from" in log and "checkpoint-2" in log and "superseded" not in log
    assert json.loads((moved / target).read_text())["steps"] == 3
