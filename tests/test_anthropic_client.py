"""The Claude backend against a real HTTP server on loopback that speaks the Messages API,
thinking mode included."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import require
from PIL import Image

from visreason import VisreasonError
from visreason.anthropic_client import AnthropicBackend, unavailable_reason
from visreason.generation import Generation, Request, Sampling

require(importlib.util.find_spec("anthropic") is not None, "needs the api extra: pip install 'visreason[api]'", True)

API_KEY = "sk-ant-test-0123456789-secret"


class MessagesServer(ThreadingHTTPServer):
    """POST /v1/messages -> a message whose text echoes the prompt; `script` holds
    (status, body) replies to send first, e.g. a 429."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), MessagesHandler)
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class MessagesHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        server: MessagesServer = self.server
        with server.lock:
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            scripted = server.script.pop(0) if server.script else None
        key = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
        if self.path != "/v1/messages" or key != API_KEY:
            scripted = (401, {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}})
        if scripted is None:
            content = body["messages"][0]["content"]
            has_image = any(c["type"] == "image" for c in content)
            text = f"<think>image={has_image}</think><answer>{len(content[-1]['text']) % 10}</answer>"
            blocks = [{"type": "text", "text": text}]
            if "thinking" in body:  # thinking mode: a thinking block (with its signature) before the text
                blocks.insert(0, {"type": "thinking", "thinking": "Let me look. " * 3, "signature": "sig-test"})
            scripted = (
                200,
                {
                    "id": "msg_test",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": blocks,
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 12, "output_tokens": 7 + 30 * ("thinking" in body)},
                },
            )
        status, payload = scripted
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if status == 429:
            self.send_header("retry-after", "0.05")
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(monkeypatch):
    srv = MessagesServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.url)
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "puzzle.png"
    Image.new("RGB", (8, 8), "red").save(path)
    return path


def backend(tmp_path, **kw):
    return AnthropicBackend(
        "claude-test", Sampling(max_new_tokens=32), cache_dir=tmp_path / "cache", backoff=0.01, **kw
    )


def test_image_and_text_requests_and_cache(server, tmp_path, image):
    b = backend(tmp_path)
    gens = b.generate([Request("What time is it?", image), Request("Time 3:15. What time is it?")], seed=0)
    assert [g.text.split("</think>")[0] for g in gens] == ["<think>image=True", "<think>image=False"]
    assert all(g.n_tokens == 7 and not g.truncated for g in gens)
    bodies = sorted((r["body"] for r in server.requests), key=lambda b: len(b["messages"][0]["content"]))
    assert [len(b["messages"][0]["content"]) for b in bodies] == [1, 2]  # text only; image + text
    assert all(b["model"] == "claude-test" and b["max_tokens"] == 32 and b["temperature"] == 0.0 for b in bodies)
    img = bodies[1]["messages"][0]["content"][0]
    assert img["type"] == "image" and img["source"]["media_type"] == "image/png"
    # A second backend on the same cache answers from disk: no new HTTP request.
    again = backend(tmp_path).generate([Request("What time is it?", image)], seed=5)
    assert again[0] == gens[0] and len(server.requests) == 2
    # A different image is a different key.
    Image.new("RGB", (8, 8), "blue").save(image)
    backend(tmp_path).generate([Request("What time is it?", image)], seed=0)
    assert len(server.requests) == 3
    # The key is never written to the cache.
    for f in (tmp_path / "cache").rglob("*"):
        if f.is_file():
            assert API_KEY not in f.read_text()


def test_retries_rate_limit_then_succeeds(server, tmp_path):
    server.script = [
        (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}),
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}}),
    ]
    gens = backend(tmp_path, concurrency=1).generate([Request("hello")], seed=0)
    assert gens[0].text.startswith("<think>image=False") and len(server.requests) == 3


def test_gives_up_after_max_retries_and_never_retries_client_errors(server, tmp_path):
    overloaded = (529, {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}})
    server.script = [overloaded] * 3
    with pytest.raises(VisreasonError, match="HTTP 529") as err:
        backend(tmp_path, max_retries=2).generate([Request("hello")], seed=0)
    assert len(server.requests) == 3 and API_KEY not in str(err.value)
    server.requests.clear()
    server.script = [(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}})]
    with pytest.raises(VisreasonError, match="HTTP 400"):
        backend(tmp_path).generate([Request("hello")], seed=0)
    assert len(server.requests) == 1


def test_truncation_from_stop_reason(server, tmp_path):
    server.script = [
        (
            200,
            {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "claude-test",
                "stop_sequence": None,
                "content": [{"type": "text", "text": "<think>long"}],
                "stop_reason": "max_tokens",
                "usage": {"input_tokens": 3, "output_tokens": 32},
            },
        )
    ]
    (gen,) = backend(tmp_path).generate([Request("hello")], seed=0)
    assert gen.truncated and gen.n_tokens == 32 and gen.text == "<think>long"


def test_thinking_mode_request_and_answer(server, tmp_path, image):
    b = backend(tmp_path, thinking_budget=2048)
    (gen,) = b.generate([Request("What time is it?", image)], seed=0)
    body = server.requests[0]["body"]
    # The budget and the answer's tokens make max_tokens; temperature is the API's default, 1 (not sent).
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048} and body["max_tokens"] == 2048 + 32
    assert "temperature" not in body and "top_p" not in body
    assert b.decoding == {"max_tokens": 2080, "temperature": 1.0, "thinking": body["thinking"]}
    # The completion is the text block alone; the thinking block's tokens count in n_tokens.
    assert gen == Generation("<think>image=True</think><answer>6</answer>", 37, False)
    # Thinking mode answers are cached under their own key: the plain request goes to the server.
    backend(tmp_path).generate([Request("What time is it?", image)], seed=0)
    assert len(server.requests) == 2 and "thinking" not in server.requests[1]["body"]
    assert server.requests[1]["body"]["temperature"] == 0.0
    again = backend(tmp_path, thinking_budget=2048).generate([Request("What time is it?", image)], seed=0)
    assert again == [gen] and len(server.requests) == 2


@pytest.mark.parametrize(
    "budget, message",
    [
        (512, "512 is below the Anthropic API's minimum thinking budget of 1024 tokens"),
        (30000, "30000 thinking + 32 answer tokens exceed the 21333 tokens of a non-streaming"),
        (2048.5, "must be a whole number of tokens"),
    ],
)
def test_a_thinking_budget_the_api_would_reject_is_refused(budget, message, server, tmp_path):
    with pytest.raises(VisreasonError, match=re.escape(message)) as err:
        backend(tmp_path, thinking_budget=budget)
    assert len(str(err.value).splitlines()) == 1 and not server.requests


def test_missing_key_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert unavailable_reason() == "ANTHROPIC_API_KEY is not set"
    with pytest.raises(VisreasonError, match="claude:claude-test cannot run: ANTHROPIC_API_KEY is not set"):
        backend(tmp_path)


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory):
    """A 9-puzzle evaluation set and a params file whose API cache lives in a temp folder."""
    from visreason.config import DEFAULT_PARAMS
    from visreason.data import build_dataset
    from visreason.params import load_params

    root = tmp_path_factory.mktemp("claude")
    params = load_params(scale="smoke")
    params["data"]["eval"]["per_category"] = 1
    build_dataset(params, "eval", root / "data")
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text())
    raw["evaluate"] |= {"api_cache": str(root / "cache"), "api_concurrency": 2}
    raw["evaluate"]["claude"]["test-thinking"] = {"model_id": "claude-test-thinking", "thinking_budget": 1024}
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    return root


@pytest.mark.parametrize("mode", ["image", "text"])
def test_evaluate_cli_with_claude_on_loopback(mode, server, cli_setup, tmp_path, _mlflow_store):
    from visreason.cli import main

    args = [
        "evaluate",
        "--model",
        "claude:claude-test",
        "--data",
        str(cli_setup / "data"),
        "--mode",
        mode,
        "--prompt",
        "vanilla",
        "--tag",
        "claude",
        "--params",
        str(cli_setup / "params.yaml"),
    ]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    samples = [json.loads(line) for line in (tmp_path / "out" / mode / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == len(server.requests) == 9
    assert all(s["completion"].startswith(f"<think>image={mode == 'image'}</think>") for s in samples)
    assert all(s["n_tokens"] == 7 and s["extracted"] is not None for s in samples)
    # A second evaluation of the same prompts is served from the disk cache.
    assert main([*args, "--out", str(tmp_path / "again")]) == 0 and len(server.requests) == 9
    # The key is in no output, cache file or MLflow record.
    files = [*tmp_path.rglob("*"), *cli_setup.rglob("*"), Path(_mlflow_store.removeprefix("sqlite:///"))]
    for path in files:
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


def test_evaluate_cli_with_a_thinking_row_on_loopback(server, cli_setup, tmp_path):
    """A row of `evaluate.claude` runs its pinned model id in thinking mode, and says so in metrics.json."""
    from visreason.cli import main

    args = ["evaluate", "--model", "claude:test-thinking", "--data", str(cli_setup / "data"), "--mode", "text"]
    args += ["--prompt", "vanilla", "--tag", "claude-thinking", "--params", str(cli_setup / "params.yaml")]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    bodies = [r["body"] for r in server.requests]
    assert len(bodies) == 9 and all(b["model"] == "claude-test-thinking" for b in bodies)
    assert all(b["thinking"] == {"type": "enabled", "budget_tokens": 1024} for b in bodies)
    metrics = json.loads((tmp_path / "out" / "text" / "metrics.json").read_text())
    assert metrics["model_label"] == "claude-test-thinking (thinking, budget 1024 tokens)"
    assert metrics["decoding"]["thinking"]["budget_tokens"] == 1024 and metrics["decoding"]["temperature"] == 1.0
    assert metrics["backend"] == "anthropic" and metrics["image_resolution"] is None


def test_a_thinking_budget_below_the_minimum_is_refused_by_the_schema(cli_setup, tmp_path, capsys):
    from visreason.cli import main

    raw = yaml.safe_load((cli_setup / "params.yaml").read_text())
    raw["evaluate"]["claude"]["test-thinking"]["thinking_budget"] = 512
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    args = ["evaluate", "--model", "claude:test-thinking", "--data", str(cli_setup / "data"), "--mode", "text"]
    args += [
        "--prompt",
        "vanilla",
        "--tag",
        "x",
        "--params",
        str(tmp_path / "params.yaml"),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "evaluate.claude.test-thinking.thinking_budget" in err and "1024" in err
    assert not (tmp_path / "o").exists()
