"""Batched text generation with local models: the request and result types, and two backends.

- `TransformersBackend`: any local vision-language model through transformers,
  batched with left padding (a decoder-only model continues from the right end,
  so pad tokens must sit on the left).
- `VLLMBackend`: the same model through vLLM, for GPUs.

`visreason.anthropic_client` implements the same interface for Claude models, and
`visreason.backends` chooses among the three. Every backend takes a list of
`Request`s and returns one `Generation` per request, in order, with the number of
generated tokens and whether the token limit cut it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from PIL import Image

from visreason import VisreasonError
from visreason.models import build_messages, load_model_and_processor, load_processor


@dataclass(frozen=True)
class Request:
    """One prompt: the user instruction and, unless in text mode, an image file."""

    text: str
    image: Path | None = None


@dataclass(frozen=True)
class Generation:
    text: str
    n_tokens: int  # generated tokens, without the end-of-sequence token
    truncated: bool  # stopped by max_new_tokens, not by an end-of-sequence token


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. `temperature == 0` means greedy decoding (the default)."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise VisreasonError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise VisreasonError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise VisreasonError(f"top_p must be in (0, 1], got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


class Backend(Protocol):
    name: str

    def generate(self, requests: list[Request], seed: int) -> list[Generation]:
        """One generation per request, in order. `seed` fixes sampling for this call."""


def load_image(path: Path):
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError) as err:
        raise VisreasonError(f"cannot read image {path}: {err}") from None


class TransformersBackend:
    """Batched `model.generate` with left padding; greedy unless temperature > 0."""

    name = "transformers"

    def __init__(self, model: str, sampling: Sampling):
        self.sampling = sampling
        self.model, self.processor = load_model_and_processor(model)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {int(e) for e in eos if e is not None} | {self.tokenizer.eos_token_id}
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self.eos_ids)

    def prompt_text(self, request: Request) -> str:
        messages = build_messages(request.text, with_image=request.image is not None)
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def generate(self, requests: list[Request], seed: int) -> list[Generation]:
        if not requests:
            return []
        texts = [self.prompt_text(r) for r in requests]
        images = [load_image(r.image) for r in requests if r.image is not None]
        inputs = self.processor(
            text=texts, images=images or None, padding=True, padding_side="left", return_tensors="pt"
        ).to(self.device)
        s = self.sampling
        kwargs = {"do_sample": not s.greedy} | ({} if s.greedy else {"temperature": s.temperature, "top_p": s.top_p})
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=s.max_new_tokens, pad_token_id=self.pad_id, **kwargs)
        new = out[:, inputs["input_ids"].shape[1] :].tolist()
        return [self._decode(row) for row in new]

    def _decode(self, row: list[int]) -> Generation:
        stop = next((i for i, t in enumerate(row) if t in self.eos_ids), None)
        tokens = row if stop is None else row[:stop]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return Generation(text=text, n_tokens=len(tokens), truncated=stop is None)


class VLLMBackend:
    """vLLM offline inference; continuous batching makes the batch size vLLM's business."""

    name = "vllm"

    def __init__(self, model: str, sampling: Sampling):
        from vllm import LLM  # optional, GPU only: not installed on CPU machines

        self.sampling = sampling
        self.processor = load_processor(model)
        self.llm = LLM(model=model, limit_mm_per_prompt={"image": 1}, max_model_len=8192)

    def generate(self, requests: list[Request], seed: int) -> list[Generation]:
        from vllm import SamplingParams  # optional, GPU only

        s = self.sampling
        params = SamplingParams(
            max_tokens=s.max_new_tokens, temperature=s.temperature, top_p=s.top_p if not s.greedy else 1.0, seed=seed
        )
        prompts = []
        for r in requests:
            messages = build_messages(r.text, with_image=r.image is not None)
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            prompt = {"prompt": text}
            if r.image is not None:
                prompt["multi_modal_data"] = {"image": load_image(r.image)}
            prompts.append(prompt)
        outs = self.llm.generate(prompts, params, use_tqdm=False)
        firsts = [o.outputs[0] for o in outs]
        return [Generation(c.text, n_tokens=len(c.token_ids), truncated=c.finish_reason == "length") for c in firsts]
