"""Shared fixtures. Tests never touch the network: Hugging Face is offline and
MLflow writes to a throwaway sqlite store per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "algopuzzlevqa"

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _mlflow_store(tmp_path_factory):
    """Every test session logs to its own sqlite store, never the repository's mlflow.db."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    yield uri
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


def require(available: bool, reason: str, module: bool = False) -> None:
    """Skip a test (or, with `module`, a whole test file) whose dependency is genuinely absent,
    saying which. In CI (`CI` set) every dependency but a GPU is installed, so there a missing one
    fails instead of hiding behind a skip."""
    if available:
        return
    if os.environ.get("CI") and "GPU" not in reason:
        pytest.fail(f"{reason} (CI installs it, so this is a broken setup, not a skip)", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    require((SHARED_DATA / "data").is_dir(), f"needs the released AlgoPuzzleVQA records at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny offline Qwen2.5-VL, built once per test session."""
    from visreason.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny", seed=0)


@pytest.fixture(scope="session")
def small_eval_dataset(tmp_path_factory) -> Path:
    """A generated evaluation set of one puzzle per category (default params), built once."""
    from visreason.data import build_dataset
    from visreason.params import load_params

    params = load_params(scale="smoke")
    params["data"]["eval"]["per_category"] = 1
    out = tmp_path_factory.mktemp("eval-data") / "data"
    build_dataset(params, "eval", out)
    return out
