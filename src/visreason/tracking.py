"""MLflow conventions in one place.

Every stage logs one run into one experiment, tagged so that a run leads back to
the exact code and data: `git_commit`, `stage`, `reward`, `seed`, `scale`, and
`input.<name>` = sha256 of each input file or folder.

Tracking URI, first that is set: $MLFLOW_TRACKING_URI, `tracking.uri` in
params.yaml, then `sqlite:///<repo>/mlflow.db` (mlflow 3.17 refuses a bare
./mlruns file store).

Parallel jobs (six trainings at once under SLURM) share one store. With SQLite:
`prepare_store` creates the database and the experiment once, up front (the
Snakefile's `onstart` does it; every run also passes through it under a file
lock), because concurrent first connections race on the schema migration and
on creating the experiment; after that MLflow waits up to 20 s on a locked
database and `_retry` covers the rest. On a cluster whose
shared filesystem does not lock reliably (NFS), run a tracking server instead
and point the jobs at it (they inherit the environment through sbatch):

    mlflow server --backend-store-uri sqlite:///$PWD/mlflow.db --host 0.0.0.0 --port 5000
    export MLFLOW_TRACKING_URI=http://$(hostname):5000
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from mlflow.tracking import MlflowClient

from visreason.config import REPO_ROOT
from visreason.files import sha256_tree

T = TypeVar("T")
# Transient errors of a store shared by concurrent jobs (a lock held too long;
# two jobs creating the same experiment on a tracking server).
_TRANSIENT = ("database is locked", "already exists", "unique constraint failed")


def tracking_uri(params: dict | None = None) -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    configured = (params or {}).get("tracking", {}).get("uri")
    return configured or f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


def _retry(fn: Callable[[], T], attempts: int = 8, base_delay: float = 0.2) -> T:
    """Call `fn`, retrying with jittered exponential backoff on transient store errors.

    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise RuntimeError("(sqlite3.OperationalError) database is locked")
    ...     return "ok"
    >>> _retry(flaky, base_delay=0), len(calls)
    ('ok', 3)
    """
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as err:  # MlflowException, sqlalchemy OperationalError, IntegrityError
            if attempt == attempts - 1 or not any(t in str(err).lower() for t in _TRANSIENT):
                raise
            time.sleep(base_delay * 2**attempt * (0.5 + random.random()))
    raise AssertionError("unreachable")


def prepare_store(params: dict) -> str:
    """Create the tracking store and the experiment if missing; return the experiment id.

    Call once before starting parallel jobs. Idempotent, and safe to run
    concurrently (the losers of a creation race retry and find the winner's).
    """
    uri = tracking_uri(params)
    name = params["tracking"]["experiment"]

    def get_or_create() -> str:
        client = MlflowClient(uri)
        exp = client.get_experiment_by_name(name)
        return exp.experiment_id if exp else client.create_experiment(name)

    with _sqlite_init_lock(uri):
        return _retry(get_or_create)


@contextlib.contextmanager
def _sqlite_init_lock(uri: str) -> Iterator[None]:
    """Serialise store creation: concurrent alembic migrations of one SQLite file corrupt it.

    An exclusive `flock` on the database file itself (SQLite locks with fcntl,
    which is independent of flock on Linux); a no-op for other stores.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    path = Path(uri[len("sqlite:///") :].split("?")[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def git_commit() -> str:
    """The checked-out commit, with `-dirty` when tracked files differ from it."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """{'train': {'lr': 1}} -> {'train.lr': 1}: nested params as MLflow param keys."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


@contextlib.contextmanager
def start_run(
    params: dict,
    stage: str,
    run_name: str | None = None,
    inputs: dict[str, str | Path] | None = None,
    tags: dict[str, Any] | None = None,
    log_params: dict | None = None,
    run_id: str | None = None,
) -> Iterator[Any]:
    """Open an MLflow run for one stage job, with the standard tags.

    `inputs` maps a name to a file or folder; each is hashed into `input.<name>`.
    `log_params` (default: the resolved params) is flattened into run params.
    `run_id` continues that run (a resumed job): tags are refreshed, params are
    not logged again (MLflow params are immutable).
    """
    mlflow.set_tracking_uri(tracking_uri(params))
    _retry(lambda: mlflow.set_experiment(experiment_id=prepare_store(params)))
    all_tags = {"git_commit": git_commit(), "stage": stage, "scale": params.get("scale", "")}
    for name, path in (inputs or {}).items():
        all_tags[f"input.{name}"] = sha256_tree(path) if Path(path).exists() else "missing"
    all_tags.update({k: str(v) for k, v in (tags or {}).items()})
    name = None if run_id else run_name or stage
    with _retry(lambda: mlflow.start_run(run_id=run_id, run_name=name, tags=all_tags)) as run:
        if run_id:
            yield run
            return
        flat = flatten(log_params if log_params is not None else params)
        items = [(k, str(v)[:6000]) for k, v in flat.items()]
        for i in range(0, len(items), 100):
            batch = dict(items[i : i + 100])
            _retry(lambda batch=batch: mlflow.log_params(batch))
        yield run
