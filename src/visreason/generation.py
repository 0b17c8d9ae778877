"""Batched text generation with local models: the request and result types, and two backends.

- `TransformersBackend`: any local vision-language model through transformers,
  batched with left padding (a decoder-only model continues from the right end,
  so pad tokens must sit on the left).
- `VLLMBackend`: the same model through vLLM, for GPUs.

`visreason.anthropic_client` implements the same interface for Claude models, and
`visreason.backends` chooses among the three. Every backend takes a list of
`Request`s and returns one `Generation` per request, in order, with the number of
generated tokens and whether the token limit cut it.

Decoding is explicit: every setting a backend applies is in its `decoding` dict
(written to metrics.json), and nothing comes from the model's own
`generation_config.json` but its special token ids. Qwen2.5-VL-7B's, for one,
asks for a repetition penalty of 1.05 and top-k 1, which transformers would
otherwise apply to every setting that `generate` is not given, and vLLM to its
defaults. Both backends see images at the same resolution (`min_pixels`,
`max_pixels`: see `visreason.models.image_resolution`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from PIL import Image
from transformers import GenerationConfig

from visreason import VisreasonError
from visreason.models import build_messages, load_model_and_processor, load_processor

BLANK = "white"  # the colour of the blank image that replaces a puzzle image (`Request.blank`)


@dataclass(frozen=True)
class Request:
    """One prompt: the user instruction and, unless in text mode, an image file.

    `blank`: show a blank image of the image file's size instead of the image itself
    (the control that tells whether an answer depends on what the image shows).
    """

    text: str
    image: Path | None = None
    blank: bool = False


@dataclass(frozen=True)
class Generation:
    text: str
    n_tokens: int  # generated tokens, without the end-of-sequence token
    truncated: bool  # stopped by max_new_tokens, not by an end-of-sequence token


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. `temperature == 0` means greedy decoding (the default).

    Everything else is fixed and the same on every backend: no repetition, presence or
    frequency penalty, no top-k, no minimum length, one beam.
    """

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


def transformers_decoding(s: Sampling) -> dict:
    """Every `GenerationConfig` field that shapes the output, for `model.generate`.

    Greedy decoding takes no sampling fields (transformers ignores them, and warns).

    >>> greedy = transformers_decoding(Sampling(max_new_tokens=8))
    >>> greedy["do_sample"], greedy["repetition_penalty"], "temperature" in greedy
    (False, 1.0, False)
    >>> transformers_decoding(Sampling(8, temperature=0.7, top_p=0.9))["top_k"]  # 0: no top-k, as in vLLM
    0
    """
    settings = {
        "max_new_tokens": s.max_new_tokens,
        "min_new_tokens": 0,
        "do_sample": not s.greedy,
        "num_beams": 1,
        "repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0,
    }
    return settings if s.greedy else settings | {"temperature": s.temperature, "top_p": s.top_p, "top_k": 0}


def vllm_decoding(s: Sampling) -> dict:
    """Every `vllm.SamplingParams` field that shapes the output (the seed is set per call).

    >>> vllm_decoding(Sampling(max_new_tokens=8))["top_k"], vllm_decoding(Sampling(8))["temperature"]
    (-1, 0.0)
    """
    return {
        "max_tokens": s.max_new_tokens,
        "min_tokens": 0,
        "temperature": s.temperature,  # 0: greedy
        "top_p": 1.0 if s.greedy else s.top_p,
        "top_k": -1,  # off
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
    }


class Backend(Protocol):
    name: str
    decoding: dict  # every decoding setting this backend applies, as it names them

    def generate(self, requests: list[Request], seed: int) -> list[Generation]:
        """One generation per request, in order. `seed` fixes sampling for this call."""


def load_image(request: Request) -> Image.Image:
    """The request's image as RGB, or a blank (`BLANK`) image of its size; a bad file names itself."""
    path = request.image
    try:
        with Image.open(path) as im:
            return Image.new("RGB", im.size, BLANK) if request.blank else im.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise VisreasonError(f"cannot read image {path}: {str(err).strip() or type(err).__name__}") from None


class TransformersBackend:
    """Batched `model.generate` with left padding; greedy unless temperature > 0."""

    name = "transformers"

    def __init__(self, model: str, sampling: Sampling, *, min_pixels: int | None = None, max_pixels: int | None = None):
        self.sampling = sampling
        self.model, self.processor = load_model_and_processor(model, min_pixels=min_pixels, max_pixels=max_pixels)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        own = self.model.generation_config
        eos = own.eos_token_id if isinstance(own.eos_token_id, list) else [own.eos_token_id]
        self.eos_ids = {int(e) for e in eos if e is not None} | {self.tokenizer.eos_token_id}
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self.eos_ids)
        # `generate` fills every field it is not given from the model's generation_config:
        # keep only its token ids, so that the model's decoding preferences never apply.
        self.model.generation_config = GenerationConfig(
            bos_token_id=own.bos_token_id, eos_token_id=sorted(self.eos_ids), pad_token_id=self.pad_id
        )

    @property
    def decoding(self) -> dict:
        return transformers_decoding(self.sampling)

    def prompt_text(self, request: Request) -> str:
        messages = build_messages(request.text, with_image=request.image is not None)
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def generate(self, requests: list[Request], seed: int) -> list[Generation]:
        if not requests:
            return []
        texts = [self.prompt_text(r) for r in requests]
        images = [load_image(r) for r in requests if r.image is not None]
        inputs = self.processor(
            text=texts, images=images or None, padding=True, padding_side="left", return_tensors="pt"
        ).to(self.device)
        config = GenerationConfig(**self.decoding, eos_token_id=sorted(self.eos_ids), pad_token_id=self.pad_id)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(**inputs, generation_config=config)
        new = out[:, inputs["input_ids"].shape[1] :].tolist()
        return [self._decode(row) for row in new]

    def _decode(self, row: list[int]) -> Generation:
        stop = next((i for i, t in enumerate(row) if t in self.eos_ids), None)
        tokens = row if stop is None else row[:stop]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return Generation(text=text, n_tokens=len(tokens), truncated=stop is None)


class VLLMBackend:
    """vLLM offline inference; continuous batching makes the batch size vLLM's business.

    Its context (`max_model_len`) is the longest prompt it will see plus `max_new_tokens`,
    so that no prompt is rejected; `generation_config="vllm"` keeps the model's own
    generation_config out of the defaults.
    """

    name = "vllm"

    def __init__(
        self,
        model: str,
        sampling: Sampling,
        *,
        max_prompt_tokens: int,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
    ):
        from vllm import LLM  # optional, GPU only: not installed on CPU machines

        self.sampling = sampling
        self.processor = load_processor(model, min_pixels=min_pixels, max_pixels=max_pixels)
        ip = self.processor.image_processor
        self.max_model_len = max_prompt_tokens + sampling.max_new_tokens
        self.llm = LLM(
            model=model,
            limit_mm_per_prompt={"image": 1},
            max_model_len=self.max_model_len,
            mm_processor_kwargs={"min_pixels": ip.size["shortest_edge"], "max_pixels": ip.size["longest_edge"]},
            generation_config="vllm",
        )

    @property
    def decoding(self) -> dict:
        return vllm_decoding(self.sampling) | {"max_model_len": self.max_model_len}

    def generate(self, requests: list[Request], seed: int) -> list[Generation]:
        from vllm import SamplingParams  # optional, GPU only

        settings = {k: v for k, v in self.decoding.items() if k != "max_model_len"}
        params = SamplingParams(**settings, seed=seed)
        prompts = []
        for r in requests:
            messages = build_messages(r.text, with_image=r.image is not None)
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            prompt = {"prompt": text}
            if r.image is not None:
                prompt["multi_modal_data"] = {"image": load_image(r)}
            prompts.append(prompt)
        outs = self.llm.generate(prompts, params, use_tqdm=False)
        firsts = [o.outputs[0] for o in outs]
        return [Generation(c.text, n_tokens=len(c.token_ids), truncated=c.finish_reason == "length") for c in firsts]
