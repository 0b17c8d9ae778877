"""Choosing a generation backend for a model name: a local model, or a Claude model by API.

    backend = load_backend("results/model/tiny", Sampling(max_new_tokens=64))
    backend.generate([Request("What time is it?", Path("clock.png"))], seed=0)
    # -> [Generation(text='<think>...</think><answer>3:15</answer>', n_tokens=23, truncated=False)]

A model is a local folder or Hugging Face id (transformers, or vLLM on a GPU), or
`claude:<model-id>` (`visreason.anthropic_client`). `check_model` fails before any
compute when a model cannot run; evaluation and captions both come through here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from visreason import VisreasonError
from visreason.anthropic_client import AnthropicBackend, unavailable_reason
from visreason.generation import Backend, Sampling, TransformersBackend, VLLMBackend
from visreason.models import resolve_model_path
from visreason.params import BACKENDS

API_PREFIX = "claude:"


def vllm_available() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False
    return torch.cuda.is_available()


def check_model(model: str) -> None:
    """Fail before any compute when the model cannot be found (a missing path, a bad id)."""
    if model.startswith(API_PREFIX):
        if not model[len(API_PREFIX) :]:
            raise VisreasonError(f"model '{model}': missing the model id after '{API_PREFIX}'")
        if reason := unavailable_reason():
            raise VisreasonError(f"model {model} cannot run: {reason}")
        return
    resolve_model_path(model)


def load_backend(model: str, sampling: Sampling, backend: str = "auto", **api_options) -> Backend:
    """The backend for `model`: a local path (or Hugging Face id), or `claude:<model-id>`.

    `api_options` go to `AnthropicBackend` (cache_dir, concurrency, max_retries).
    """
    check_model(model)
    if model.startswith(API_PREFIX):
        return AnthropicBackend(model[len(API_PREFIX) :], sampling, **api_options)
    if backend not in BACKENDS:
        raise VisreasonError(f"unknown generation backend '{backend}' (valid: {', '.join(BACKENDS)})")
    if backend == "vllm" or (backend == "auto" and vllm_available()):
        if not vllm_available():
            raise VisreasonError("backend 'vllm' needs the vllm package and a CUDA GPU")
        return VLLMBackend(model, sampling)
    return TransformersBackend(model, sampling)


def api_options(params: dict) -> dict:
    """`AnthropicBackend` options from params (evaluation and captions share them)."""
    cfg = params["evaluate"]
    return {
        "cache_dir": Path(cfg["api_cache"]),
        "concurrency": cfg["api_concurrency"],
        "max_retries": cfg["api_max_retries"],
    }
