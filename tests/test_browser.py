"""What users see, in headless Chromium: the MLflow runs page and the offline `dvc plots` page.

Both drive `.ci/check_browser.py` (which CI also runs on the real pipeline's
outputs) against stores and tables written here, so they run in seconds to a
minute, offline.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from conftest import require

from visreason.config import REPO_ROOT
from visreason.files import sha256_file
from visreason.params import load_params
from visreason.tracking import start_run

CHECK = REPO_ROOT / ".ci" / "check_browser.py"
DESIGNS = ["vanilla", "only_accuracy", "mixture", "continuous", "visual_fusion", "no_accuracy"]


@pytest.fixture(autouse=True)
def _chromium():
    require(
        Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists(),
        "Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
    )


def check(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECK), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
        timeout=600,
    )


@pytest.mark.slow
def test_mlflow_runs_page_lists_six_trainings_with_their_dataset_and_a_shared_reward(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("VISREASON_PIPELINE", "test-pipeline")
    data = tmp_path / "train"
    data.mkdir()
    (data / "manifest.json").write_text('{"num_records": 1}\n')
    params = load_params()
    for design in DESIGNS:
        with start_run(params, "train", f"{design}-seed0", inputs={"data": data}, tags={"reward": design, "seed": 0}):
            for step in (1, 2):
                mlflow.log_metric("reward/total", step / 10, step=step)
                mlflow.log_metric(f"reward/{design}_term", step / 10, step=step)
    with start_run(params, "evaluate", "base/image", tags={"reward": "base"}):
        mlflow.log_metric("accuracy/mean", 12.5)
    shot = tmp_path / "runs.png"
    proc = check("mlflow", "--store", uri, "--screenshot", str(shot))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tags.pipeline%20%3D%20%22test-pipeline%22" in proc.stdout
    assert "rows on the page: 6; reward/total: continuous-seed0 0.2," in proc.stdout
    # the Dataset column shows each run's dataset with its digest (the manifest's sha256)
    assert proc.stdout.count(f"({sha256_file(data / 'manifest.json')[:36]})") == len(DESIGNS)
    assert shot.stat().st_size > 10_000


def test_mlflow_check_fails_when_a_design_has_no_training_run(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("VISREASON_PIPELINE", "test-pipeline")
    for design in DESIGNS[:-1]:  # the last design's training never logged a run
        with start_run(load_params(), "train", f"{design}-seed0", tags={"reward": design, "seed": 0}):
            mlflow.log_metric("reward/total", 0.1, step=1)
    proc = check("mlflow", "--store", uri, "--designs", ",".join(DESIGNS), "--screenshot", str(tmp_path / "s.png"))
    assert proc.returncode == 1
    assert f"problem: the pipeline's training runs are of the designs {sorted(DESIGNS[:-1])}" in proc.stderr


def write_curves(path: Path, designs: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["reward", "seed", "step", "metric", "value"])
        for i, design in enumerate(designs):
            for seed in (0, 1):
                for step in range(1, 5):
                    writer.writerow([design, seed, step, "reward", i / 10 + step / 100 + seed / 1000])
                    writer.writerow([design, seed, step, "completions/mean_length", 20 + i + step])


@pytest.fixture
def plots_project(tmp_path) -> Path:
    """dvc.yaml and .dvc/ of the repository (templates, offline page) in a fresh git repository."""
    shutil.copy(REPO_ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / ".dvc").mkdir()
    shutil.copy(REPO_ROOT / ".dvc" / "config", tmp_path / ".dvc" / "config")
    shutil.copytree(REPO_ROOT / ".dvc" / "plots", tmp_path / ".dvc" / "plots")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def dvc_plots_show(project: Path) -> Path:
    subprocess.run(["dvc", "plots", "show", "-q"], cwd=project, check=True, capture_output=True)
    return project / "dvc_plots" / "index.html"


def test_dvc_plots_draw_one_line_per_design_offline(plots_project, tmp_path):
    write_curves(plots_project / "results/report/reward_curves.csv", DESIGNS)
    html = dvc_plots_show(plots_project)
    assert "<script src=" not in html.read_text()  # nothing loads from the network
    proc = check("plots", "--html", str(html), "--designs", ",".join(DESIGNS), "--screenshot", str(tmp_path / "p.png"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reward_per_design: 6 lines" in proc.stdout and "length_per_design: 6 lines" in proc.stdout


def test_plots_check_fails_when_a_design_has_no_line(plots_project, tmp_path):
    write_curves(plots_project / "results/report/reward_curves.csv", DESIGNS[:5])
    html = dvc_plots_show(plots_project)
    proc = check("plots", "--html", str(html), "--designs", ",".join(DESIGNS), "--screenshot", str(tmp_path / "p.png"))
    assert proc.returncode == 1
    assert "reward_per_design draws 5 lines for 6 designs" in proc.stderr


def test_dvc_plots_before_any_run_say_what_to_run(plots_project, tmp_path):
    html = dvc_plots_show(plots_project)
    proc = subprocess.run(
        ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert '<div id="no-plots">No plots to draw yet' in proc.stdout  # shown: no `hidden` attribute left
    assert "Run <code>bash run.sh</code>" in proc.stdout
