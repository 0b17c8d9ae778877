"""Claude models through the Anthropic Messages API: the perception table on frontier models.

`visreason evaluate --model claude:<model-id> --mode image|text ...` uses this backend.
It needs the optional `anthropic` package (`pip install 'visreason[api]'`) and
ANTHROPIC_API_KEY; when either is missing, the request fails before any work with
one line saying which. (A pipeline that should skip API models without a key asks
`unavailable_reason()` first.) ANTHROPIC_BASE_URL, read by the SDK, points it
elsewhere (the tests use a loopback server that speaks the Messages API).

- Every answer is cached on disk, keyed by model, prompt, image sha256 and decoding
  settings, so a rerun or a second evaluation of the same prompts costs nothing.
- Rate limits (429), overload (529, `overloaded_error`), server errors and dropped
  connections are retried with exponential backoff (honouring `retry-after`).
- The API key is read by the SDK from the environment and never written anywhere:
  not to the cache, the outputs, the logs or MLflow.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from visreason import VisreasonError
from visreason.files import atomic_write_text, sha256_file
from visreason.generation import Generation, Request, Sampling

RETRY_STATUS = {408, 429, 500, 502, 503, 504, 529}
MAX_DELAY = 60.0
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


def unavailable_reason() -> str | None:
    """Why Claude models cannot run here, or None when they can."""
    if importlib.util.find_spec("anthropic") is None:
        return "the anthropic package is not installed (pip install 'visreason[api]')"
    if not os.environ.get("ANTHROPIC_API_KEY"):
        return "ANTHROPIC_API_KEY is not set"
    return None


class AnthropicBackend:
    """`generate` for a Claude model; same interface as the local backends.

    `n_tokens` is the API's output token count; `truncated` means the response
    stopped at max_tokens.
    """

    name = "anthropic"

    def __init__(
        self,
        model: str,
        sampling: Sampling,
        *,
        cache_dir: str | Path,
        concurrency: int = 4,
        max_retries: int = 6,
        backoff: float = 1.0,
    ):
        reason = unavailable_reason()
        if reason:
            raise VisreasonError(f"model claude:{model} cannot run: {reason}")
        import anthropic  # the optional `api` extra: checked by unavailable_reason above

        self.model, self.sampling = model, sampling
        self.cache_dir = Path(cache_dir) / model
        self.concurrency, self.max_retries, self.backoff = concurrency, max_retries, backoff
        # The SDK's own retries are off: ours below are explicit and tested.
        self.client = anthropic.Anthropic(max_retries=0, timeout=600.0)

    def generate(self, requests: list[Request], seed: int) -> list[Generation]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda r: self._one(r, seed), requests))

    def cache_key(self, request: Request, seed: int) -> str:
        s = self.sampling
        key = {
            "model": self.model,
            "prompt": request.text,
            "image_sha256": sha256_file(request.image) if request.image else None,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": None if s.greedy else seed,  # sampled answers differ per seed, greedy ones do not
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    def _one(self, request: Request, seed: int) -> Generation:
        path = self.cache_dir / f"{self.cache_key(request, seed)}.json"
        if path.is_file():
            return Generation(**json.loads(path.read_text(encoding="utf-8")))
        message = self._create(request)
        text = "".join(block.text for block in message.content if block.type == "text")
        gen = Generation(text=text, n_tokens=message.usage.output_tokens, truncated=message.stop_reason == "max_tokens")
        atomic_write_text(path, json.dumps({"text": gen.text, "n_tokens": gen.n_tokens, "truncated": gen.truncated}))
        return gen

    def _create(self, request: Request):
        import anthropic  # the optional `api` extra

        content = []
        if request.image is not None:
            media = MEDIA_TYPES.get(request.image.suffix.lower())
            if media is None:
                raise VisreasonError(f"image {request.image}: unsupported type for the Anthropic API")
            data = base64.standard_b64encode(request.image.read_bytes()).decode()
            content.append({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})
        content.append({"type": "text", "text": request.text})
        s = self.sampling
        # anthropic>=2 has no temperature/top_p arguments; the API takes them in the body
        # (older models such as the study's Claude 3.5/3.7 honour them).
        sampling = {"temperature": s.temperature} | ({"top_p": s.top_p} if s.top_p < 1 else {})
        for attempt in range(self.max_retries + 1):
            try:
                return self.client.messages.create(
                    model=self.model,
                    max_tokens=s.max_new_tokens,
                    messages=[{"role": "user", "content": content}],
                    extra_body=sampling,
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
