"""MLflow conventions in one place.

Every stage logs one run into one experiment, tagged so that a run leads back to
the exact code and data: `git_commit`, `stage`, `reward`, `seed`, `scale`, and
`input.<name>` = sha256 of each input file or folder.

Tracking URI, first that is set: $MLFLOW_TRACKING_URI, `tracking.uri` in
params.yaml, then `sqlite:///<repo>/mlflow.db` (mlflow 3.17 refuses a bare
./mlruns file store).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

from visreason.config import REPO_ROOT
from visreason.files import sha256_tree


def tracking_uri(params: dict | None = None) -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    configured = (params or {}).get("tracking", {}).get("uri")
    return configured or f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


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
) -> Iterator[Any]:
    """Open an MLflow run for one stage job, with the standard tags.

    `inputs` maps a name to a file or folder; each is hashed into `input.<name>`.
    `log_params` (default: the resolved params) is flattened into run params.
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(params))
    mlflow.set_experiment(params["tracking"]["experiment"])
    all_tags = {"git_commit": git_commit(), "stage": stage, "scale": params.get("scale", "")}
    for name, path in (inputs or {}).items():
        all_tags[f"input.{name}"] = sha256_tree(path) if Path(path).exists() else "missing"
    all_tags.update({k: str(v) for k, v in (tags or {}).items()})
    with mlflow.start_run(run_name=run_name or stage, tags=all_tags) as run:
        flat = flatten(log_params if log_params is not None else params)
        items = [(k, str(v)[:6000]) for k, v in flat.items()]
        for i in range(0, len(items), 100):
            mlflow.log_params(dict(items[i : i + 100]))
        yield run
