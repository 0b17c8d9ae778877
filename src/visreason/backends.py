"""Choosing a generation backend for a model name: a local model, or a Claude model by API.

    backend = load_backend("results/model/tiny", Sampling(max_new_tokens=64), params)
    backend.generate([Request("What time is it?", Path("clock.png"))], seed=0)
    # -> [Generation(text='<think>...</think><answer>3:15</answer>', n_tokens=23, truncated=False)]

A model is a local folder or Hugging Face id (transformers, or vLLM on a GPU), or
`claude:<name>`, where the name is a row of `evaluate.claude` in params.yaml (the
study's perception rows, with their pinned model ids and thinking budgets) or else
an Anthropic model id, run without thinking (`visreason.anthropic_client`).
`check_model` fails before any compute when a model cannot run; evaluation and
captions both come through here, at the image resolution of params `model`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from visreason import VisreasonError
from visreason.anthropic_client import AnthropicBackend, api_decoding, check_thinking_budget, unavailable_reason
from visreason.generation import (
    Backend,
    Request,
    Sampling,
    TransformersBackend,
    VLLMBackend,
    transformers_decoding,
    vllm_decoding,
)
from visreason.models import build_messages, image_resolution, load_processor, prompt_lengths, resolve_model_path
from visreason.params import BACKENDS

API_PREFIX = "claude:"


def vllm_available() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False
    return torch.cuda.is_available()


def is_api_model(model: str) -> bool:
    return model.startswith(API_PREFIX)


def api_model(model: str, params: dict) -> tuple[str, int | None]:
    """(Anthropic model id, thinking budget or None) for `claude:<name>`.

    >>> rows = {"claude-3.7-sonnet-thinking": {"model_id": "claude-3-7-sonnet-20250219", "thinking_budget": 10000}}
    >>> params = {"evaluate": {"claude": rows, "max_new_tokens": 2048}}
    >>> api_model("claude:claude-3.7-sonnet-thinking", params), api_model("claude:claude-test", params)
    (('claude-3-7-sonnet-20250219', 10000), ('claude-test', None))
    """
    name = model[len(API_PREFIX) :]
    if not name:
        raise VisreasonError(f"model '{model}': missing the model id after '{API_PREFIX}'")
    row = params["evaluate"]["claude"].get(name)
    if row is None:
        return name, None
    budget = row["thinking_budget"]
    check_thinking_budget(budget, params["evaluate"]["max_new_tokens"], f"evaluate.claude.{name}.thinking_budget")
    return row["model_id"], budget


def model_label(model: str, params: dict) -> str:
    """How the report names a model: a Claude model by its id, saying when it thinks.

    >>> rows = {"claude-3.7-sonnet-thinking": {"model_id": "claude-3-7-sonnet-20250219", "thinking_budget": 10000}}
    >>> model_label("claude:claude-3.7-sonnet-thinking", {"evaluate": {"claude": rows, "max_new_tokens": 64}})
    'claude-3-7-sonnet-20250219 (thinking, budget 10000 tokens)'
    """
    if not is_api_model(model):
        return str(model)
    model_id, budget = api_model(model, params)
    return model_id if budget is None else f"{model_id} (thinking, budget {budget} tokens)"


def check_model(model: str, params: dict) -> None:
    """Fail before any compute when the model cannot run: a missing or damaged folder, a bad id,
    a thinking budget the API would reject, the API's package or key missing."""
    if is_api_model(model):
        api_model(model, params)
        if reason := unavailable_reason():
            raise VisreasonError(f"model {model} cannot run: {reason}")
        return
    resolve_model_path(model)


def backend_kind(model: str, backend: str) -> str:
    """The backend that `load_backend` gives: anthropic, vllm or transformers."""
    if is_api_model(model):
        return AnthropicBackend.name
    if backend not in BACKENDS:
        raise VisreasonError(f"unknown generation backend '{backend}' (valid: {', '.join(BACKENDS)})")
    if backend == "vllm" or (backend == "auto" and vllm_available()):
        if not vllm_available():
            raise VisreasonError("backend 'vllm' needs the vllm package and a CUDA GPU")
        return VLLMBackend.name
    return TransformersBackend.name


def image_settings(model: str, params: dict) -> dict | None:
    """The image resolution a local model sees (`models.image_resolution`); None for an API model,
    which is sent the image file as it is."""
    return None if is_api_model(model) else image_resolution(params)


def backend_decoding(model: str, sampling: Sampling, params: dict, backend: str, max_prompt_tokens=None) -> dict:
    """The decoding settings the backend `load_backend` gives will apply (its `decoding`),
    known without loading it."""
    kind = backend_kind(model, backend)
    if kind == AnthropicBackend.name:
        return api_decoding(sampling, api_model(model, params)[1])
    if kind == VLLMBackend.name:
        return vllm_decoding(sampling) | {"max_model_len": max_prompt_tokens + sampling.max_new_tokens}
    return transformers_decoding(sampling)


def measure_prompts(model: str, requests: list[Request], params: dict) -> list[int] | None:
    """The prompt tokens of each request for a local model, at params' image resolution
    (None for an API model, whose tokenizer is not ours to run)."""
    if is_api_model(model):
        return None
    processor = load_processor(model, **image_resolution(params))
    messages = [build_messages(r.text, with_image=r.image is not None) for r in requests]
    return prompt_lengths(processor, messages, [r.image for r in requests])


def load_backend(
    model: str, sampling: Sampling, params: dict, backend: str = "auto", max_prompt_tokens: int | None = None
) -> Backend:
    """The backend for `model`: a local path (or Hugging Face id), or `claude:<name>`.

    `params` gives the image resolution (`model`), the Claude rows and API options
    (`evaluate`). vLLM needs `max_prompt_tokens`, the longest prompt it will be given.
    """
    check_model(model, params)
    kind = backend_kind(model, backend)
    if kind == AnthropicBackend.name:
        model_id, budget = api_model(model, params)
        return AnthropicBackend(model_id, sampling, thinking_budget=budget, **api_options(params))
    if kind == VLLMBackend.name:
        if max_prompt_tokens is None:
            raise VisreasonError("backend 'vllm' needs the longest prompt's length (max_prompt_tokens)")
        return VLLMBackend(model, sampling, max_prompt_tokens=max_prompt_tokens, **image_resolution(params))
    return TransformersBackend(model, sampling, **image_resolution(params))


def api_options(params: dict) -> dict:
    """`AnthropicBackend` options from params (evaluation and captions share them)."""
    cfg = params["evaluate"]
    return {
        "cache_dir": Path(cfg["api_cache"]),
        "concurrency": cfg["api_concurrency"],
        "max_retries": cfg["api_max_retries"],
    }
