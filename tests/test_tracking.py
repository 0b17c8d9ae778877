"""MLflow conventions, read back through MlflowClient from real stores (SQLite, server)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require
from mlflow.tracking import MlflowClient

from visreason.config import REPO_ROOT
from visreason.files import sha256_file, sha256_tree
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


# A stage job: `data` opens a run and ends it; `train` writes its run id to a
# file inside the run (a deterministic point to kill it at), then waits.
JOB = """
import sys, time
from pathlib import Path
from visreason import VisreasonError
from visreason.params import load_params
from visreason.tracking import start_run
start = time.monotonic()
try:
    with start_run(load_params(), sys.argv[1], run_name="job") as run:
        if sys.argv[1] == "train":
            Path(sys.argv[2]).write_text(run.info.run_id)
            time.sleep(600)
except VisreasonError as err:
    print(f"elapsed {time.monotonic() - start:.1f}")
    print(f"ONE LINE: {err}", file=sys.stderr)
    sys.exit(2)
except KeyboardInterrupt:  # as visreason.cli.main answers it
    print("visreason: interrupted", file=sys.stderr)
    sys.exit(130)
"""


def runs(uri: str, experiment: str = "visreason"):
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


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory) -> Iterator[str]:
    """A real `mlflow server` on loopback, as clusters run it; yields its URI."""
    root = tmp_path_factory.mktemp("server")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'server.db'}"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
        # The server's job runner (GenAI judges) is not needed here, and slow to start.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.mark.slow
def test_tracking_server_mode(mlflow_server):
    """The cluster setup: jobs log to `mlflow server` over HTTP (MLFLOW_TRACKING_URI)."""
    _parallel_jobs(mlflow_server, n=3, steps=10)
    client, found = runs(mlflow_server)
    assert sorted(r.data.tags["reward"] for r in found) == ["reward0", "reward1", "reward2"]
    assert all(len(client.get_metric_history(r.info.run_id, "reward")) == 10 for r in found)


def _job(uri: str, *args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", JOB, *args],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_an_unreachable_server_fails_within_the_timeout_with_one_line():
    """A server that accepts the connection and never answers: the worst case, a full timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        job = _job(uri, "data", env={"MLFLOW_HTTP_REQUEST_TIMEOUT": "3"})
        out, err = job.communicate(timeout=300)
    assert job.returncode == 2, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith(f"ONE LINE: MLflow tracking server {uri} did not answer within 3 s (timed out)")
    elapsed = float(out.split("elapsed ")[1])
    assert elapsed < 30  # measured from the first MLflow call: the timeout, not MLflow's minutes of retries


def test_a_refused_connection_is_one_line_at_once():
    uri = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    job = _job(uri, "data")
    out, err = job.communicate(timeout=300)
    assert job.returncode == 2
    assert f"ONE LINE: MLflow tracking server {uri} did not answer within 10 s (" in err
    assert float(out.split("elapsed ")[1]) < 5


def _read_only_mount(tmp_path: Path) -> Path | None:
    """A read-only view of a folder (a bind mount, as root); None where mounting is not allowed."""
    src, view = tmp_path / "store", tmp_path / "read-only"
    view.mkdir()
    done = subprocess.run(["mount", "--bind", str(src), str(view)], capture_output=True)
    if done.returncode != 0:
        return None
    if subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True).returncode != 0:
        subprocess.run(["umount", str(view)])
        return None
    return view


def test_a_read_only_store_is_one_line(tmp_path):
    store = tmp_path / "store" / "mlflow.db"
    uri = f"sqlite:///{store}"
    prepare_store_in(uri)
    view = _read_only_mount(tmp_path)
    require(view is not None, "a read-only bind mount (mount as root)")
    try:
        job = _job(f"sqlite:///{view / 'mlflow.db'}", "data")
        out, err = job.communicate(timeout=300)
    finally:
        subprocess.run(["umount", str(view)], check=True)
    assert job.returncode == 2
    assert err.strip().splitlines()[-1] == (
        f"ONE LINE: MLflow store sqlite:///{view / 'mlflow.db'}: [Errno 30] Read-only file system: "
        f"'{view / 'mlflow.db'}'"
    )
    _, found = runs(uri)
    assert found == []  # nothing was logged


def prepare_store_in(uri: str) -> str:
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        return prepare_store(load_params())
    finally:
        os.environ["MLFLOW_TRACKING_URI"] = old or ""


@pytest.mark.slow
def test_sigterm_ends_the_run_killed(mlflow_server, tmp_path):
    """scancel, preemption, a time limit: SIGTERM mid-run is Ctrl-C, and leaves the run KILLED, not RUNNING."""
    marker = tmp_path / "started"
    job = _job(mlflow_server, "train", str(marker))
    deadline = time.monotonic() + 300
    while not marker.exists():  # the job writes it inside its run: a deterministic point
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()[1][-2000:]
        time.sleep(0.2)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "visreason: interrupted"
    client, found = runs(mlflow_server)
    run = client.get_run(marker.read_text())
    assert run.info.status == "KILLED" and run.info.end_time


def test_a_failing_job_ends_its_run_failed(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(RuntimeError), start_run(load_params(), "evaluate", "base/image"):
        raise RuntimeError("the job failed")
    _, found = runs(uri)
    assert [r.info.status for r in found] == ["FAILED"]


def test_artifacts_and_datasets_are_recorded_relative_to_the_repository(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("VISREASON_PIPELINE", "20250101-000000-abcd")
    data = REPO_ROOT / "results" / "test-tracking-dataset"
    data.mkdir(parents=True, exist_ok=True)
    try:
        (data / "manifest.json").write_text('{"num_records": 3}\n')
        with start_run(load_params(), "train", "mixture-seed0", inputs={"data": data}) as run:
            pass
        manifest_digest = sha256_file(data / "manifest.json")
    finally:
        shutil.rmtree(data)
    client, (got,) = runs(uri)
    exp = client.get_experiment(got.info.experiment_id)
    assert exp.artifact_location == f"mlruns/{exp.experiment_id}"
    assert got.info.artifact_uri == f"mlruns/{exp.experiment_id}/{run.info.run_id}/artifacts"
    assert got.data.tags["pipeline"] == "20250101-000000-abcd"
    assert got.data.tags["mlflow.source.name"] == "visreason train"
    (dataset_input,) = got.inputs.dataset_inputs
    assert dataset_input.dataset.name == "test-tracking-dataset"
    assert dataset_input.dataset.digest == manifest_digest[:36]
    assert json.loads(dataset_input.dataset.source) == {"uri": "results/test-tracking-dataset"}
    assert [(t.key, t.value) for t in dataset_input.tags] == [("mlflow.data.context", "data")]
