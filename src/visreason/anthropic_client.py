"""Claude models through the Anthropic Messages API: the perception table on frontier models.

`visreason evaluate --model claude:<model-id> --mode image|text ...` uses this backend.
It needs the optional `anthropic` package (`pip install 'visreason[api]'`) and
ANTHROPIC_API_KEY; when either is missing, the request fails before any work with
one line saying which. (A pipeline that should skip API models without a key asks
`unavailable_reason()` first.) ANTHROPIC_BASE_URL, read by the SDK, points it
elsewhere (the tests use a loopback server that speaks the Messages API).

- Every answer is cached on disk, keyed by model, prompt, image sha256 and decoding
  settings, so a rerun or a second evaluation of the same prompts costs nothing.
- Thinking mode (`thinking_budget`, the study's Claude 3.7 row): the request carries
  `thinking: {type: enabled, budget_tokens: N}` and `max_tokens` = N + max_new_tokens,
  so the budget is always below max_tokens as the API requires. The API allows no
  other temperature than its default, 1, in thinking mode (nor top_p below 0.95): the
  request sends neither, and `decoding` records temperature 1. The completion is the
  text blocks only; the thinking blocks' tokens count in `n_tokens`.
- Rate limits (429), overload (529, `overloaded_error`), server errors and dropped
  connections are retried with exponential backoff (honouring `retry-after`).
- The API key is read by the SDK from the environment and never written anywhere:
  not to the cache, the outputs, the logs or MLflow.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from visreason import VisreasonError
from visreason.files import atomic_write_text, sha256_bytes
from visreason.generation import Generation, Request, Sampling, load_image

RETRY_STATUS = {408, 429, 500, 502, 503, 504, 529}
MAX_DELAY = 60.0
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
MIN_THINKING_BUDGET = 1024  # the API rejects smaller budgets
# The most tokens a request may ask for without streaming: the SDK refuses longer ones as
# likely to exceed its 10-minute limit (60 * 60 s * max_tokens / 128,000 > 600 s).
MAX_NONSTREAMING_TOKENS = 128_000 * 600 // 3600


def check_thinking_budget(budget: int | None, max_new_tokens: int, where: str = "thinking_budget") -> None:
    """Refuse, in one line, a thinking budget the API would reject (None: no thinking).

    >>> check_thinking_budget(512, 2048, "evaluate.claude.x.thinking_budget")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    visreason.VisreasonError: evaluate.claude.x.thinking_budget: 512 is below the Anthropic API's minimum ...
    """
    if budget is None:
        return
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise VisreasonError(f"{where}: the thinking budget must be a whole number of tokens, got {budget!r}")
    if budget < MIN_THINKING_BUDGET:
        raise VisreasonError(
            f"{where}: {budget} is below the Anthropic API's minimum thinking budget of {MIN_THINKING_BUDGET} tokens"
        )
    if budget + max_new_tokens > MAX_NONSTREAMING_TOKENS:
        raise VisreasonError(
            f"{where}: {budget} thinking + {max_new_tokens} answer tokens exceed the {MAX_NONSTREAMING_TOKENS} "
            "tokens of a non-streaming Anthropic request"
        )


def api_decoding(sampling: Sampling, thinking_budget: int | None) -> dict:
    """The decoding settings of a Messages API request, as the API names them.

    >>> api_decoding(Sampling(max_new_tokens=2048), None)
    {'max_tokens': 2048, 'temperature': 0.0}
    >>> api_decoding(Sampling(max_new_tokens=2048), 10000)
    {'max_tokens': 12048, 'temperature': 1.0, 'thinking': {'type': 'enabled', 'budget_tokens': 10000}}
    """
    if thinking_budget is not None:
        thinking = {"type": "enabled", "budget_tokens": thinking_budget}
        return {"max_tokens": thinking_budget + sampling.max_new_tokens, "temperature": 1.0, "thinking": thinking}
    return {"max_tokens": sampling.max_new_tokens, "temperature": sampling.temperature} | (
        {"top_p": sampling.top_p} if sampling.top_p < 1 else {}
    )


def unavailable_reason() -> str | None:
    """Why Claude models cannot run here, or None when they can."""
    if importlib.util.find_spec("anthropic") is None:
        return "the anthropic package is not installed (pip install 'visreason[api]')"
    if not os.environ.get("ANTHROPIC_API_KEY"):
        return "ANTHROPIC_API_KEY is not set"
    return None


class AnthropicBackend:
    """`generate` for a Claude model; same interface as the local backends.

    `n_tokens` is the API's output token count (thinking included); `truncated` means
    the response stopped at max_tokens. `thinking_budget` turns thinking mode on.
    """

    name = "anthropic"

    def __init__(
        self,
        model: str,
        sampling: Sampling,
        *,
        cache_dir: str | Path,
        thinking_budget: int | None = None,
        concurrency: int = 4,
        max_retries: int = 6,
        backoff: float = 1.0,
    ):
        reason = unavailable_reason()
        if reason:
            raise VisreasonError(f"model claude:{model} cannot run: {reason}")
        check_thinking_budget(thinking_budget, sampling.max_new_tokens)
        import anthropic  # the optional `api` extra: checked by unavailable_reason above

        self.model, self.sampling, self.thinking_budget = model, sampling, thinking_budget
        self.decoding = api_decoding(sampling, thinking_budget)
        self.cache_dir = Path(cache_dir) / model
        self.concurrency, self.max_retries, self.backoff = concurrency, max_retries, backoff
        # The SDK's own retries are off: ours below are explicit and tested.
        self.client = anthropic.Anthropic(max_retries=0, timeout=600.0)

    def generate(self, requests: list[Request], seed: int) -> list[Generation]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda r: self._one(r, seed), requests))

    def cache_key(self, request: Request, seed: int, image: bytes | None) -> str:
        s = self.sampling
        key = {
            "model": self.model,
            "prompt": request.text,
            "image_sha256": sha256_bytes(image) if image is not None else None,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": None if s.greedy and not self.thinking_budget else seed,  # sampled answers differ per seed
        }
        if self.thinking_budget is not None:  # keys without thinking stay as they were
            key["thinking_budget"] = self.thinking_budget
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    def _one(self, request: Request, seed: int) -> Generation:
        image = image_bytes(request) if request.image is not None else None
        path = self.cache_dir / f"{self.cache_key(request, seed, image)}.json"
        if path.is_file():
            return Generation(**json.loads(path.read_text(encoding="utf-8")))
        message = self._create(request, image)
        text = "".join(block.text for block in message.content if block.type == "text")
        gen = Generation(text=text, n_tokens=message.usage.output_tokens, truncated=message.stop_reason == "max_tokens")
        atomic_write_text(path, json.dumps({"text": gen.text, "n_tokens": gen.n_tokens, "truncated": gen.truncated}))
        return gen

    def _create(self, request: Request, image: bytes | None):
        import anthropic  # the optional `api` extra

        content = []
        if image is not None:
            media = "image/png" if request.blank else MEDIA_TYPES[request.image.suffix.lower()]
            data = base64.standard_b64encode(image).decode()
            content.append({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})
        content.append({"type": "text", "text": request.text})
        # anthropic>=2 has no temperature/top_p arguments; the API takes them in the body
        # (older models such as the study's Claude 3.5/3.7 honour them). In thinking mode
        # the API's default temperature, 1, is the only one it accepts: none is sent.
        d = self.decoding
        options = (
            {"thinking": d["thinking"]}
            if "thinking" in d
            else {"extra_body": {k: d[k] for k in d if k != "max_tokens"}}
        )
        for attempt in range(self.max_retries + 1):
            try:
                return self.client.messages.create(
                    model=self.model,
                    max_tokens=d["max_tokens"],
                    messages=[{"role": "user", "content": content}],
                    **options,
                )
            except anthropic.APIStatusError as err:
                if not retryable(err) or attempt == self.max_retries:
                    msg = f"Anthropic API, model {self.model}: HTTP {err.status_code}: {err.message}"
                    raise VisreasonError(msg) from None
                delay = retry_after(err) or self.backoff * 2**attempt
            except anthropic.APIConnectionError as err:
                if attempt == self.max_retries:
                    raise VisreasonError(f"Anthropic API, model {self.model}: {err}") from None
                delay = self.backoff * 2**attempt
            time.sleep(min(delay, MAX_DELAY))
        raise AssertionError("unreachable")


def image_bytes(request: Request) -> bytes:
    """The bytes of the request's image file, or of a blank PNG of its size (`Request.blank`)."""
    if request.blank:
        buffer = io.BytesIO()
        load_image(request).save(buffer, format="PNG")
        return buffer.getvalue()
    if request.image.suffix.lower() not in MEDIA_TYPES:
        raise VisreasonError(f"image {request.image}: unsupported type for the Anthropic API")
    try:
        return request.image.read_bytes()
    except OSError as err:
        raise VisreasonError(f"cannot read image {request.image}: {err.strerror}") from None


def retryable(err) -> bool:
    body = err.body if isinstance(err.body, dict) else {}
    kind = (body.get("error") or {}).get("type") if isinstance(body.get("error"), dict) else None
    return err.status_code in RETRY_STATUS or kind == "overloaded_error"


def retry_after(err) -> float | None:
    """Seconds from a `retry-after` header, when the server sent one."""
    try:
        return float(err.response.headers.get("retry-after"))
    except (TypeError, ValueError):
        return None
