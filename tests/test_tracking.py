"""MLflow conventions, read back through MlflowClient from real stores (SQLite, server)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from visreason.files import sha256_tree
from visreason.params import load_params
from visreason.tracking import flatten, git_commit, prepare_store, start_run, tracking_uri

# One training-like job: a run with the standard tags and a metric per step.
WORKER = """
import sys
import mlflow
from visreason.params import load_params
from visreason.tracking import start_run
params = load_params(scale="smoke")
reward, steps = sys.argv[1], int(sys.argv[2])
with start_run(params, "train", run_name=f"train-{reward}", tags={"reward": reward, "seed": 0}):
    for step in range(steps):
        mlflow.log_metric("reward", step / steps, step=step)
"""


def runs(uri: str, experiment: str = "visreason"):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return client, client.search_runs([exp.experiment_id], max_results=1000) if exp else []


def test_start_run_tags_params_and_inputs(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    data = tmp_path / "data"
    data.mkdir()
    (data / "records.jsonl").write_text('{"id": 1}\n')
    params = load_params(scale="smoke")
    with start_run(
        params,
        "evaluate",
        run_name="eval-base",
        inputs={"data": data, "gone": tmp_path / "x"},
        tags={"reward": "mixture", "seed": 3},
    ) as run:
        import mlflow

        mlflow.log_metric("accuracy", 0.25)
    client, found = runs(uri)
    assert [r.info.run_id for r in found] == [run.info.run_id]
    got = found[0]
    assert got.info.run_name == "eval-base" and got.info.status == "FINISHED"
    assert got.data.tags["stage"] == "evaluate" and got.data.tags["scale"] == params["scale"]
    assert got.data.tags["reward"] == "mixture" and got.data.tags["seed"] == "3"
    assert got.data.tags["git_commit"] == git_commit() != ""
    assert got.data.tags["input.data"] == sha256_tree(data)
    assert got.data.tags["input.gone"] == "missing"
    assert got.data.params["model.name"] == params["model"]["name"]
    assert got.data.params["categories.in_domain"] == str(params["categories"]["in_domain"])
    assert got.data.metrics["accuracy"] == 0.25


def test_tracking_uri_precedence(monkeypatch):
    params = load_params(scale="smoke")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking_uri(params).startswith("sqlite:///") and tracking_uri(params).endswith("/mlflow.db")
    params["tracking"]["uri"] = "http://tracking:5000"
    assert tracking_uri(params) == "http://tracking:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/x.db")
    assert tracking_uri(params) == "sqlite:////tmp/x.db"


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {}}, "d": [1]}) == {"a.b": 1, "a.c": {}, "d": [1]}


def _parallel_jobs(uri: str, n: int, steps: int) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, f"reward{i}", str(steps)], env=env, stderr=subprocess.PIPE, text=True
        )
        for i in range(n)
    ]
    errors = [p.communicate()[1] for p in procs if p.wait() != 0]
    assert not errors, errors[0][-2000:]


@pytest.mark.parametrize(
    "prepared", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["store-prepared", "fresh-store"]
)
def test_parallel_jobs_lose_no_runs_or_metrics(tmp_path, monkeypatch, prepared):
    """Six jobs log into one SQLite store at once, as six SLURM trainings do.

    Prepared up front (the Snakefile's onstart), or not at all: then the jobs
    race on creating the schema and the experiment, and retry.
    """
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    if prepared:
        prepare_store(load_params(scale="smoke"))
    _parallel_jobs(uri, n=6, steps=10)
    client, found = runs(uri)
    assert sorted(r.data.tags["reward"] for r in found) == [f"reward{i}" for i in range(6)]
    for r in found:
        assert r.info.status == "FINISHED"
        assert len(client.get_metric_history(r.info.run_id, "reward")) == 10


def test_prepare_store_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    params = load_params(scale="smoke")
    assert prepare_store(params) == prepare_store(params)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_tracking_server_mode(tmp_path):
    """The cluster setup: jobs log to `mlflow server` over HTTP (MLFLOW_TRACKING_URI)."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)
        _parallel_jobs(uri, n=3, steps=10)
        client, found = runs(uri)
        assert sorted(r.data.tags["reward"] for r in found) == ["reward0", "reward1", "reward2"]
        assert all(len(client.get_metric_history(r.info.run_id, "reward")) == 10 for r in found)
    finally:
        server.terminate()
        server.wait(timeout=30)
