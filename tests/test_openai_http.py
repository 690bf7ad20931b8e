"""The OpenAI-compatible client against a stub chat-completions server on 127.0.0.1."""

from __future__ import annotations

import base64
import email.utils
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from fmprog.backends.base import BackendError, BackendTimeout, Call, Result
from fmprog.backends.openai_http import OpenAIChatBackend, image_data_url, retry_after

MAX_REQUESTS = 100  # the stub refuses more: a runaway retry loop fails instead of hanging


class Stub(BaseHTTPRequestHandler):
    """Answers by model name: "echo" repeats the text, "yes"/"no" say so, "slow" sleeps,
    "error" replies 500, "bad" replies non-JSON, "empty" replies without choices, "busy"
    replies 429 or 503 with a Retry-After while `busy_left` > 0, "lines" answers in lines,
    "wait" sleeps 0.3 s (and counts how many requests are in flight at once)."""

    protocol_version = "HTTP/1.1"  # keep-alive: the client may reuse its connections
    requests: list[dict] = []
    headers_seen: list[dict] = []
    ports: list[int] = []
    busy_left = 0
    busy_reply: tuple[int, str] = (429, "0")
    in_flight = peak = 0
    lock = threading.Lock()
    models = ["echo", "/models/SmolLM2-135M-Instruct.Q4_1.gguf"]

    def do_GET(self):
        if self.path == "/v1/models":
            data = {"object": "list", "data": [{"id": m, "object": "model"} for m in Stub.models]}
            return self._send(200, json.dumps(data).encode())
        if self.path == "/v2/models":
            return self._send(500, b'{"error": "down"}')
        self._send(404, b'{"error": "not found"}')

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if len(Stub.requests) >= MAX_REQUESTS:
            return self._send(429, b'{"error": "too many requests in this test"}')
        Stub.requests.append(body)
        Stub.headers_seen.append(dict(self.headers))
        Stub.ports.append(self.client_address[1])
        if self.path != "/v1/chat/completions":
            return self._send(404, b'{"error": "not found"}')
        model = body["model"]
        if model == "slow":
            time.sleep(0.5)
        if model == "busy" and Stub.busy_left > 0:
            Stub.busy_left -= 1
            code, after = Stub.busy_reply
            return self._send(code, b'{"error": "busy"}', {"Retry-After": after})
        if model == "wait":
            with Stub.lock:
                Stub.in_flight += 1
                Stub.peak = max(Stub.peak, Stub.in_flight)
            time.sleep(0.3)
            with Stub.lock:
                Stub.in_flight -= 1
        if model == "error":
            return self._send(500, b'{"error": "boom"}')
        if model == "bad":
            return self._send(200, b"not json")
        if model == "empty":
            return self._send(200, b'{"choices": []}')
        content = body["messages"][-1]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        answer = {"yes": "Yes.", "no": "No, it is not.",
                  "lines": "\n  Paris.\nThe capital of France.\n"}.get(model, f"  echo: {text}\n")
        reply = {"id": "x", "object": "chat.completion", "model": model,
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": answer}}]}
        self._send(200, json.dumps(reply).encode())

    def _send(self, code: int, data: bytes, headers: dict | None = None):
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def clear():
    Stub.requests.clear()
    Stub.headers_seen.clear()
    Stub.ports.clear()
    Stub.busy_left, Stub.busy_reply = 0, (429, "0")
    Stub.in_flight = Stub.peak = 0


def client(url: str, model: str = "echo", kind: str = "llm", **kw) -> OpenAIChatBackend:
    kw.setdefault("retry_backoff", 0.01)
    return OpenAIChatBackend("remote", kind, base_url=url, model=model, cost=7000,
                             timeout=kw.pop("timeout", 5.0), **kw)


IMAGE = np.zeros((6, 9, 3), dtype=np.uint8)
IMAGE[:2] = (255, 0, 0)  # top rows red


def test_complete_sends_chat_completions(server):
    lm = client(server, max_tokens=99, max_tokens_short=3, api_key="k123")
    assert lm.kind == "llm" and lm.cost == 7000
    assert lm.complete("what is 2+2?") == "echo: what is 2+2?"
    lm.complete("short", long_answer=False)
    first, second = Stub.requests
    assert first["model"] == "echo" and first["temperature"] == 0.0
    assert first["messages"] == [{"role": "user", "content": "what is 2+2?"}]
    assert (first["max_tokens"], second["max_tokens"]) == (99, 3)
    assert Stub.headers_seen[0]["Authorization"] == "Bearer k123"


def test_api_key_from_environment_and_system_prompt(server, monkeypatch):
    monkeypatch.setenv("FMPROG_TEST_KEY", "secret")
    lm = client(server, api_key_env="FMPROG_TEST_KEY", system_prompt="be brief")
    lm.complete("hi")
    assert Stub.headers_seen[0]["Authorization"] == "Bearer secret"
    assert Stub.requests[0]["messages"][0] == {"role": "system", "content": "be brief"}
    client(server).complete("hi")
    assert "Authorization" not in Stub.headers_seen[1]


def test_query_sends_the_image_as_a_png_data_url(server):
    vqa = client(server, kind="vqa")
    assert vqa.query(IMAGE, "what color is the top?") == "echo: what color is the top?"
    text, image = Stub.requests[0]["messages"][0]["content"]
    assert text == {"type": "text", "text": "what color is the top?"}
    url = image["image_url"]["url"]
    assert image["type"] == "image_url" and url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    np.testing.assert_array_equal(decoded, IMAGE)
    assert url == image_data_url(IMAGE)


def test_verify_property_reads_yes_and_no(server):
    assert client(server, "yes", kind="vqa").verify_property(IMAGE, "car", "red") is True
    assert client(server, "no", kind="vqa").verify_property(IMAGE, "car", "red") is False
    question = Stub.requests[0]["messages"][0]["content"][0]["text"]
    assert question == "Is the car red? Answer yes or no."


def test_methods_of_the_other_kind_are_not_served(server):
    with pytest.raises(NotImplementedError):
        client(server, kind="llm").query(IMAGE, "q")
    with pytest.raises(NotImplementedError):
        client(server, kind="vqa").complete("q")
    with pytest.raises(NotImplementedError):
        client(server).detect(IMAGE, "cat")
    assert Stub.requests == []


def test_timeout_is_a_backend_timeout(server):
    start = time.monotonic()
    with pytest.raises(BackendTimeout, match="within 0.1 s") as info:
        client(server, "slow", timeout=0.1).complete("hi")
    assert time.monotonic() - start < 0.45
    assert info.value.kind == "backend-timeout"


def test_http_500_is_a_backend_error_after_retries(server):
    with pytest.raises(BackendError, match="HTTP 500.*boom"):
        client(server, "error").complete("hi")
    assert len(Stub.requests) == 1
    with pytest.raises(BackendError, match="HTTP 500"):
        client(server, "error", retries=1).complete("hi")
    assert len(Stub.requests) == 3


def test_http_404_is_not_retried(server):
    with pytest.raises(BackendError, match="HTTP 404"):
        client(server.removesuffix("/v1") + "/v2", retries=3).complete("hi")
    assert len(Stub.requests) == 1


@pytest.mark.parametrize("model, message", [("bad", "not JSON"), ("empty", "malformed")])
def test_malformed_replies_are_backend_errors(server, model, message):
    with pytest.raises(BackendError, match=message):
        client(server, model).complete("hi")


def test_unreachable_server_is_a_backend_error():
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendError, match="cannot reach"):
        client(f"http://127.0.0.1:{port}/v1", timeout=1.0).complete("hi")


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "detection"}, "serves 'vqa' or 'llm'"),
    ({"base_url": "localhost:8000"}, "http://"),
    ({"timeout": 0}, "positive"),
])
def test_invalid_settings(kwargs, message):
    settings = {"kind": "llm", "base_url": "http://127.0.0.1:1/v1", "model": "m", "cost": 1.0,
                **kwargs}
    with pytest.raises(ValueError, match=message):
        OpenAIChatBackend("remote", **settings)


def test_short_answers_are_the_first_non_empty_line(server):
    lm = client(server, "lines")
    assert lm.complete("capital of France?", long_answer=False) == "Paris."
    assert lm.complete("capital of France?") == "Paris.\nThe capital of France."


def test_connections_are_reused(server):
    lm = client(server)
    for i in range(5):
        lm.complete(f"hi {i}")
    assert len(Stub.requests) == 5 and len(set(Stub.ports)) == 1


def test_a_batch_is_sent_concurrently_within_max_concurrency(server):
    lm = client(server, "wait", max_concurrency=3)
    calls = [Call("complete", (), {"prompt": f"p{i}", "long_answer": True}) for i in range(6)]
    start = time.monotonic()
    results = lm.serve(calls)
    elapsed = time.monotonic() - start
    assert [r.value for r in results] == [f"echo: p{i}" for i in range(6)]  # in order
    assert Stub.peak == 3 and elapsed < 6 * 0.3 * 0.75  # two rounds of three, not six
    Stub.peak = 0
    client(server, "wait", max_concurrency=1).serve(calls[:2])
    assert Stub.peak == 1


def test_failures_in_a_batch_stay_in_their_slots(server):
    lm = client(server)
    calls = [Call("complete", (), {"prompt": "ok", "long_answer": True}),
             Call("query", (IMAGE,), {"question": "q"}),
             Call("complete", (), {"prompt": "ok 2", "long_answer": False})]
    ok, wrong, ok2 = lm.serve(calls)
    assert isinstance(ok, Result) and ok.value == "echo: ok" and ok2.value == "echo: ok 2"
    assert isinstance(wrong, BackendError) and "does not serve the query operation" in str(wrong)
    Stub.busy_left, Stub.busy_reply = 1, (500, "0")
    busy = client(server, "busy", max_concurrency=2)
    results = busy.serve([Call("complete", (), {"prompt": f"p{i}", "long_answer": True})
                          for i in range(2)])
    assert sorted(type(r).__name__ for r in results) == ["BackendError", "Result"]


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_honoured(server, code):
    Stub.busy_left, Stub.busy_reply = 2, (code, "1")
    start = time.monotonic()
    assert client(server, "busy", retries=2).complete("hi") == "echo: hi"
    assert len(Stub.requests) == 3 and time.monotonic() - start >= 1.9  # waited 1 s twice
    Stub.busy_left = 1
    with pytest.raises(BackendError, match=f"HTTP {code}"):
        client(server, "busy").complete("hi")  # no retries left


def test_retry_after_longer_than_max_retry_wait_fails_at_once(server):
    Stub.busy_left, Stub.busy_reply = 1, (429, "120")
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"HTTP 429 .*retry after 120 s, more than "
                                           r"max_retry_wait 5 s"):
        client(server, "busy", retries=3, max_retry_wait=5).complete("hi")
    assert len(Stub.requests) == 1 and time.monotonic() - start < 1


def test_retry_after_as_an_http_date():
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after(date, now=now) == pytest.approx(7)
    assert retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0
    assert retry_after("3") == 3 and retry_after(None) is None and retry_after("soon") is None


def test_health_lists_the_model(server):
    client(server).health()
    client(server, "/models/SmolLM2-135M-Instruct.Q4_1.gguf").health()
    with pytest.raises(BackendError, match=(
            r"remote: the server at http://127.0.0.1:\d+/v1 does not list model 'smollm2'; it "
            r"lists \['echo', '/models/SmolLM2-135M-Instruct.Q4_1.gguf'\] \(llama.cpp lists "
            r"the .gguf path it was started with\): set 'model' to one of them")):
        client(server, "smollm2").health()
    with pytest.raises(BackendError, match="HTTP 500 from .*/v2/models"):
        client(server.removesuffix("/v1") + "/v2").health()
    client(server.removesuffix("/v1") + "/v3").health()  # no model list there: nothing to check


def test_health_of_an_unreachable_server():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendError, match="cannot reach"):
        client(f"http://127.0.0.1:{port}/v1", timeout=1.0).health()


def test_describe(server):
    assert client(server).describe() == {"device": "remote", "provider": server, "loaded": True}


def test_timeouts_are_retried(server):
    with pytest.raises(BackendTimeout):
        client(server, "slow", timeout=0.1, retries=1).complete("hi")
    assert len(Stub.requests) == 2
