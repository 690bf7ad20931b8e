"""The OpenAI-compatible client against a stub chat-completions server on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from fmprog.backends.base import BackendError
from fmprog.backends.openai_http import OpenAIChatBackend, image_data_url

MAX_REQUESTS = 100  # the stub refuses more: a runaway retry loop fails instead of hanging


class Stub(BaseHTTPRequestHandler):
    """Answers by model name: "echo" repeats the text, "yes"/"no" say so, "slow" sleeps,
    "error" replies 500, "bad" replies non-JSON, "empty" replies without choices."""

    requests: list[dict] = []
    headers_seen: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if len(Stub.requests) >= MAX_REQUESTS:
            return self._send(429, b'{"error": "too many requests in this test"}')
        Stub.requests.append(body)
        Stub.headers_seen.append(dict(self.headers))
        if self.path != "/v1/chat/completions":
            return self._send(404, b'{"error": "not found"}')
        model = body["model"]
        if model == "slow":
            time.sleep(0.5)
        if model == "error":
            return self._send(500, b'{"error": "boom"}')
        if model == "bad":
            return self._send(200, b"not json")
        if model == "empty":
            return self._send(200, b'{"choices": []}')
        content = body["messages"][-1]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        answer = {"yes": "Yes.", "no": "No, it is not."}.get(model, f"  echo: {text}\n")
        reply = {"id": "x", "object": "chat.completion", "model": model,
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": answer}}]}
        self._send(200, json.dumps(reply).encode())

    def _send(self, code: int, data: bytes):
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
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


def client(url: str, model: str = "echo", kind: str = "llm", **kw) -> OpenAIChatBackend:
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


def test_timeout_is_a_backend_error(server):
    start = time.monotonic()
    with pytest.raises(BackendError, match="within 0.1 s"):
        client(server, "slow", timeout=0.1).complete("hi")
    assert time.monotonic() - start < 0.45


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
