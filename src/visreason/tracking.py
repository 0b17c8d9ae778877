"""MLflow conventions in one place.

Every stage job logs one run into one experiment (`tracking.experiment`), opened
by `start_run`. What a run carries, so that runs compare at a glance:
- tags: `stage` (data, captions, train, evaluate, report, rewards_audit), `scale`,
  `git_commit` (with `-dirty` when tracked files differ from it), `reward` and
  `seed` where they apply, `input.<name>` = the sha256 of each input file or
  folder, and `pipeline`: one id per Snakemake invocation (the Snakefile sets
  $VISREASON_PIPELINE; a command typed by hand or run by `dvc repro` has none).
  The training runs of every design are one filter away: `tags.stage = "train"`; one
  invocation's: `tags.pipeline = "<id>"`.
- datasets: every input folder holding a `manifest.json` (a `visreason data build`
  output) is logged with `mlflow.log_input`, so the UI's Dataset column names it,
  as training logs its training set: the folder's name (`train`, `eval`), its
  path relative to the repository as source, as digest the first 36 hex digits
  of the manifest's sha256 (MLflow's cap on a digest), as context the input's name.
- accuracy in percent (0-100), the unit of the study's tables: `percent`.
- paths relative to the repository root (`repo_relative`): the experiment's
  artifacts live in `mlruns/<experiment id>/` there (MLflow itself would record an
  absolute path, which a moved checkout loses), so jobs and `mlflow ui` run from
  the repository root, as the workflow does.

Tracking URI, first that is set: $MLFLOW_TRACKING_URI, `tracking.uri` in
params.yaml, then `sqlite:///<repo>/mlflow.db` (mlflow 3.17 refuses a bare
./mlruns file store).

Failures are one line (VisreasonError) before any work: a tracking server that
does not answer within $MLFLOW_HTTP_REQUEST_TIMEOUT seconds (10 unless set), a
read-only or unreadable store. Within a run SIGTERM (scancel, preemption, a
time limit) is Ctrl-C (`interrupt_on_sigterm`): the run ends KILLED and the CLI
exits 130. A job killed outright (SIGKILL, a lost node) cannot end its run; its
restart continues that run with `start_run(run_id=...)` or ends it (training
does both: see visreason.train).

Parallel jobs (every training at once under SLURM) share one store. With SQLite:
`prepare_store` creates the database and the experiment once, up front (the
Snakefile's `onstart` does it; every run also passes through it under a file
lock), because concurrent first connections race on the schema migration and
on creating the experiment; after that MLflow waits up to 20 s on a locked
database and `_retry` covers the rest. On a cluster whose shared filesystem does
not lock reliably (NFS), run a tracking server instead and point the jobs at it
(they inherit the environment through sbatch):

    mlflow server --backend-store-uri sqlite:///$PWD/mlflow.db --host 0.0.0.0 --port 5000
    export MLFLOW_TRACKING_URI=http://$(hostname):5000
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from mlflow.data.meta_dataset import MetaDataset
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.tracking import MlflowClient

from visreason import VisreasonError
from visreason.config import REPO_ROOT
from visreason.files import sha256_file, sha256_tree

T = TypeVar("T")
# Transient errors of a store shared by concurrent jobs (a lock held too long;
# two jobs creating the same experiment on a tracking server).
_TRANSIENT = ("database is locked", "already exists", "unique constraint failed")
PIPELINE_ENV = "VISREASON_PIPELINE"
MANIFEST = "manifest.json"
DIGEST_CHARS = 36  # MLflow's longest digest
# Seconds an HTTP request to a tracking server may take, and retries after a
# failed one (MLflow's own defaults, 120 s and 7 retries with doubling waits,
# leave a job silent for minutes when the server is gone). Set either variable
# to override.
HTTP_TIMEOUT_S = 10
HTTP_RETRIES = 3


def tracking_uri(params: dict | None = None) -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    configured = (params or {}).get("tracking", {}).get("uri")
    return configured or f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


def new_pipeline_id() -> str:
    """An id for one pipeline invocation: start time and a random suffix, e.g. 20250101-120000-3f9a."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def percent(fraction: float) -> float:
    """Accuracy as MLflow logs it: percent.

    >>> percent(0.1556)
    15.56
    """
    return round(100.0 * fraction, 6)


def repo_relative(path: str | Path) -> str:
    """A path as runs record it: relative to the repository root when inside it, else as given.

    >>> repo_relative(REPO_ROOT / "results" / "data" / "train")
    'results/data/train'
    >>> repo_relative("/elsewhere/model")
    '/elsewhere/model'
    """
    resolved = Path(path).resolve()
    if resolved.is_relative_to(REPO_ROOT):
        return resolved.relative_to(REPO_ROOT).as_posix()
    return str(path)


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


def _one_line(err: BaseException) -> str:
    """The informative line of a store error (SQLAlchemy and MLflow wrap the driver's message).

    >>> _one_line(RuntimeError("(sqlite3.OperationalError) attempt to write a readonly database\\n[SQL: ...]"))
    'attempt to write a readonly database'
    """
    line = next((s for s in str(err).splitlines() if s.strip()), type(err).__name__).strip()
    if line.startswith("(") and ") " in line:
        line = line.split(") ", 1)[1]
    return line


@contextlib.contextmanager
def _store_errors(uri: str) -> Iterator[None]:
    """Turn a failing store (read-only, unreadable, not a database) into one line naming it."""
    try:
        yield
    except VisreasonError:
        raise
    except Exception as err:
        raise VisreasonError(f"MLflow store {uri}: {_one_line(err)}") from None


def _check_server(uri: str) -> None:
    """One request to a tracking server's /health: an answer within the timeout, or one line."""
    if not uri.startswith(("http://", "https://")):
        return
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(HTTP_TIMEOUT_S))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(HTTP_RETRIES))
    timeout = float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as err:
        if err.code in (401, 403):
            return  # a server behind authentication: MLflow's own requests carry the credentials
        raise VisreasonError(
            f"MLflow tracking server {uri} answered /health with HTTP {err.code}: is it an MLflow server?"
        ) from None
    except (OSError, ValueError) as err:  # refused, timed out, unknown host, malformed URL
        why = getattr(err, "reason", None) or err
        raise VisreasonError(
            f"MLflow tracking server {uri} did not answer within {timeout:g} s ({why}): start it, "
            "or point MLFLOW_TRACKING_URI elsewhere (MLFLOW_HTTP_REQUEST_TIMEOUT sets the wait)"
        ) from None


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :].split("?")[0]) if uri.startswith("sqlite:///") else None


def prepare_store(params: dict) -> str:
    """Create the tracking store and the experiment if missing; return the experiment id.

    Call once before starting parallel jobs. Idempotent, and safe to run
    concurrently (the losers of a creation race retry and find the winner's).
    A new experiment in a SQLite store keeps its artifacts in `mlruns/<id>`,
    relative to the repository root.
    """
    uri = tracking_uri(params)
    name = params["tracking"]["experiment"]
    _check_server(uri)

    def get_or_create() -> str:
        client = MlflowClient(uri)
        exp = client.get_experiment_by_name(name)
        if exp:
            return exp.experiment_id
        exp_id = client.create_experiment(name)
        db = _sqlite_path(uri)
        if db is not None:
            # MLflow resolves any local artifact location to an absolute path; a
            # relative one is stored by hand and resolved against the working directory.
            with contextlib.closing(sqlite3.connect(db, timeout=20)) as conn, conn:
                conn.execute(
                    "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                    (f"mlruns/{exp_id}", int(exp_id)),
                )
        return exp_id

    with _store_errors(uri), _sqlite_init_lock(uri):
        return _retry(get_or_create)


@contextlib.contextmanager
def _sqlite_init_lock(uri: str) -> Iterator[None]:
    """Serialise store creation: concurrent alembic migrations of one SQLite file corrupt it.

    An exclusive `flock` on the database file itself (SQLite locks with fcntl,
    which is independent of flock on Linux); a no-op for other stores.
    """
    path = _sqlite_path(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def git_commit() -> str:
    """The checked-out commit, with `-dirty` when tracked files differ from it.

    dvc.lock does not count: every pipeline run rewrites it (it records outputs, not code).
    """
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)dvc.lock"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
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


def dataset_input(name: str, path: str | Path) -> MetaDataset | None:
    """The MLflow dataset of a dataset folder (one holding a manifest.json), None for anything else."""
    manifest = Path(path) / MANIFEST
    if not manifest.is_file():
        return None
    source = LocalArtifactDatasetSource(repo_relative(path))
    return MetaDataset(source, name=Path(path).name, digest=sha256_file(manifest)[:DIGEST_CHARS])


def interrupt_on_sigterm(signum, frame):
    """A SIGTERM handler: SIGTERM ends a job as Ctrl-C does (its run KILLED, atomic writes cleaned up)."""
    raise KeyboardInterrupt("terminated (SIGTERM)")


@contextlib.contextmanager
def _killed_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (signals reach the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    """Open an MLflow run for one stage job, with the standard tags and datasets.

    `inputs` maps a name to a file or folder; each is hashed into `input.<name>`,
    and each dataset folder is logged as an MLflow dataset. `log_params`
    (default: the resolved params) is flattened into run params. `run_id`
    continues that run (a resumed job): tags are refreshed, params and datasets
    are not logged again (MLflow params are immutable). The run ends FINISHED,
    FAILED on an exception, KILLED on SIGTERM or Ctrl-C.
    """
    uri = tracking_uri(params)
    mlflow.set_tracking_uri(uri)
    experiment_id = prepare_store(params)
    all_tags = {
        "git_commit": git_commit(),
        "stage": stage,
        "scale": params.get("scale", ""),
        # MLflow would record the script's absolute path.
        "mlflow.source.name": f"visreason {stage}",
    }
    if os.environ.get(PIPELINE_ENV):
        all_tags["pipeline"] = os.environ[PIPELINE_ENV]
    for name, path in (inputs or {}).items():
        all_tags[f"input.{name}"] = sha256_tree(path) if Path(path).exists() else "missing"
    all_tags.update({k: str(v) for k, v in (tags or {}).items()})
    name = None if run_id else run_name or stage
    with _store_errors(uri):
        _retry(lambda: mlflow.set_experiment(experiment_id=experiment_id))
        run = _retry(lambda: mlflow.start_run(run_id=run_id, run_name=name, tags=all_tags))
    status = "FAILED"
    try:
        with _killed_on_sigterm():
            if not run_id:
                with _store_errors(uri):
                    _log_params(flatten(log_params if log_params is not None else params))
                    _log_datasets(inputs or {})
            yield run
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        mlflow.end_run(status)


def _log_params(flat: dict[str, Any]) -> None:
    items = [(k, str(v)[:6000]) for k, v in flat.items()]
    for i in range(0, len(items), 100):
        batch = dict(items[i : i + 100])
        _retry(lambda batch=batch: mlflow.log_params(batch))


def _log_datasets(inputs: dict[str, str | Path]) -> None:
    for name, path in inputs.items():
        dataset = dataset_input(name, path)
        if dataset is not None:
            _retry(lambda dataset=dataset, name=name: mlflow.log_input(dataset, context=name))
