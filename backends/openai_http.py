"""A backend speaking the OpenAI chat-completions protocol over HTTP (httpx).

Works with any OpenAI-compatible server: vLLM (`vllm serve <model>`), llama.cpp's
`llama-server` or `python -m llama_cpp.server`, Ollama's `/v1`, or the OpenAI API. Serves
`vqa` (query, verify_property; the image goes as a base64 PNG data URL, so the model must
accept images) or `llm` (complete).

One `httpx.Client` per backend keeps connections open between calls; `serve_batch` sends
the calls of a batch concurrently, at most `max_concurrency` at a time. Each request may
take `timeout` seconds; a timeout, a refused connection, a 429 or a 5xx reply is retried
`retries` times, after the server's `Retry-After` (429, 503) or an exponential backoff.
Every failure is a `BackendError` (a timeout a `BackendTimeout`), which the runtime records
and goes on. `health()` asks `{base_url}/models` whether the model is served.
"""

from __future__ import annotations

import base64
import email.utils
import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, Sequence

import numpy as np

from .answers import YES_NO_SUFFIX, llm_answer, property_question, read_yes_no
from .base import Backend, BackendError, BackendTimeout, Call, Result
from .hf import check_image
from .options import Count, NonNegative, Positive, Retries, Seconds, Temperature

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUS = frozenset({429, 503})


def image_data_url(image: np.ndarray) -> str:
    """An (H, W, 3) uint8 image as a `data:image/png;base64,...` URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(check_image(image)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class OpenAIChatBackend(Backend):
    """One model behind `{base_url}/chat/completions`, serving kind "vqa" or "llm".

    `cost` is required (no parameter count is visible through HTTP). The API key is
    `api_key`, or read from the environment variable named by `api_key_env`; none is sent
    when both are unset. Requests use temperature `temperature`, `max_tokens` for long
    answers and VQA, `max_tokens_short` for `complete(..., long_answer=False)`;
    `question_suffix` is added to every VQA question (the paper's per-model VQA prompt).
    Failed tries wait `Retry-After` (up to `max_retry_wait` seconds: a server asking for
    longer fails the call at once) or `retry_backoff` x 2^try seconds (at most 8).
    """

    def __init__(self, name: str, kind: Literal["vqa", "llm"], base_url: str, model: str,
                 cost: Positive, api_key: str | None = None, api_key_env: str | None = None,
                 timeout: Seconds = 60.0, retries: Retries = 0, max_concurrency: Count = 8,
                 max_tokens: Count = 256, max_tokens_short: Count = 16,
                 temperature: Temperature = 0.0, system_prompt: str | None = None,
                 question_suffix: str = "", extra_body: dict[str, Any] | None = None,
                 max_retry_wait: NonNegative = 30.0, retry_backoff: NonNegative = 0.5):
        if kind not in ("vqa", "llm"):
            raise ValueError(f"an OpenAI-compatible backend serves 'vqa' or 'llm', not {kind!r}")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {base_url!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        super().__init__(name, cost)
        self.kind = kind
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.api_key = api_key if api_key is not None else (
            os.environ.get(api_key_env) if api_key_env else None)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.max_concurrency = int(max_concurrency)
        self.max_tokens = int(max_tokens)
        self.max_tokens_short = int(max_tokens_short)
        self.temperature = float(temperature)
        self.system_prompt = system_prompt
        self.question_suffix = question_suffix
        self.extra_body = dict(extra_body or {})
        self.max_retry_wait = float(max_retry_wait)
        self.retry_backoff = float(retry_backoff)
        self._client: Any = None
        self._client_lock = threading.Lock()

    # -- the Backend methods -------------------------------------------------------------
    def serve_batch(self, op: str, calls: Sequence[Call]) -> list[Result | BackendError]:
        """The calls of a batch in parallel (at most `max_concurrency` requests at once)."""
        if len(calls) <= 1 or self.max_concurrency <= 1:
            return super().serve_batch(op, calls)
        with ThreadPoolExecutor(min(len(calls), self.max_concurrency),
                                thread_name_prefix=f"fmprog-{self.name}") as pool:
            return list(pool.map(self._serve_safely, calls))

    def _serve_safely(self, call: Call) -> Result | BackendError:
        try:
            return self.serve_one(call)
        except Exception as e:
            return self._error(e)

    def query(self, image: np.ndarray, question: str) -> str:
        self._require("vqa", "query")
        text = question + (" " + self.question_suffix if self.question_suffix else "")
        content = [{"type": "text", "text": text},
                   {"type": "image_url", "image_url": {"url": image_data_url(image)}}]
        return self.chat(content, self.max_tokens)

    def verify_property(self, image: np.ndarray, object_name: str, prop: str) -> bool:
        self._require("vqa", "verify_property")
        return read_yes_no(self.query(image, property_question(object_name, prop) + YES_NO_SUFFIX))

    def complete(self, prompt: str, long_answer: bool = True) -> str:
        self._require("llm", "llm_query")
        limit = self.max_tokens if long_answer else self.max_tokens_short
        return llm_answer(self.chat(prompt, limit), long_answer)

    def describe(self) -> dict[str, Any]:
        """Where it runs: a remote server (nothing is loaded here)."""
        return {"device": "remote", "provider": self.base_url, "loaded": True}

    def health(self) -> None:
        """BackendError unless the server answers `GET {base_url}/models` listing `model`
        (a server without that route passes)."""
        response = self._send("GET", self.base_url + "/models", None)
        if response.status_code in (404, 405):
            return
        if response.status_code >= 400:
            raise BackendError(f"{self.name}: HTTP {response.status_code} from "
                               f"{self.base_url}/models: {response.text[:200]}")
        ids = _model_ids(self._json(response))
        if self.model not in ids:
            raise BackendError(
                f"{self.name}: the server at {self.base_url} does not list model {self.model!r}; "
                f"it lists {ids} (llama.cpp lists the .gguf path it was started with): set "
                f"'model' to one of them")

    # -- the protocol --------------------------------------------------------------------
    def chat(self, content: str | list[dict[str, Any]], max_tokens: int) -> str:
        """Send one user message; return the assistant's text, stripped."""
        messages = [{"role": "user", "content": content}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                "temperature": self.temperature, **self.extra_body}
        reply = self._post(body)
        try:
            text = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"{self.name}: malformed reply {str(reply)[:200]!r}") from None
        if isinstance(text, list):  # content given as parts
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        if not isinstance(text, str):
            raise BackendError(f"{self.name}: reply content is {type(text).__name__}, not text")
        return text.strip()

    def _post(self, body: dict[str, Any]) -> Any:
        """POST with retries; the reply's JSON."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._send("POST", self.url, body)
            except BackendError:  # timeouts and transport errors
                if last:
                    raise
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code < 400:
                return self._json(response)
            error = BackendError(f"{self.name}: HTTP {response.status_code} from {self.url}: "
                                 f"{response.text[:300]}")
            if response.status_code not in RETRY_STATUS or last:
                raise error
            self._sleep(self._wait(response, attempt, error))
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, response, attempt: int, error: BackendError) -> float:
        """Seconds before the next try: the server's Retry-After, else the backoff."""
        asked = retry_after(response.headers.get("Retry-After")) \
            if response.status_code in RETRY_AFTER_STATUS else None
        if asked is None:
            return self._backoff(attempt)
        if asked > self.max_retry_wait:
            raise BackendError(f"{error} (the server asks to retry after {asked:g} s, more "
                               f"than max_retry_wait {self.max_retry_wait:g} s)")
        return asked

    def _backoff(self, attempt: int) -> float:
        return min(self.retry_backoff * 2 ** attempt, 8.0)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def _send(self, method: str, url: str, body: dict[str, Any] | None):
        """One request; timeouts and transport failures as BackendError."""
        import httpx

        try:
            return self.client.request(method, url, json=body)
        except httpx.TimeoutException:
            raise BackendTimeout(f"{self.name}: no reply from {url} within "
                                 f"{self.timeout:g} s") from None
        except httpx.TransportError as e:
            raise BackendError(f"{self.name}: cannot reach {url}: {type(e).__name__}: {e}") \
                from None

    def _json(self, response) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise BackendError(f"{self.name}: reply is not JSON: {response.content[:200]!r}") \
                from None

    @property
    def client(self):
        """The shared, connection-pooling `httpx.Client` (made on first use)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self):
        try:
            import httpx
        except ImportError as e:  # pragma: no cover - a dependency of fmprog
            raise BackendError(f"{self.name}: the openai backend needs httpx: {e}") from e
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        limits = httpx.Limits(max_connections=self.max_concurrency,
                              max_keepalive_connections=self.max_concurrency)
        return httpx.Client(headers=headers, timeout=httpx.Timeout(self.timeout),
                            limits=limits)

    def close(self) -> None:
        """Close the connections (a later call opens new ones)."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _require(self, kind: str, method: str) -> None:
        if self.kind != kind:
            raise NotImplementedError(f"{self.name} (kind {self.kind}) does not serve {method}")


def _model_ids(reply: Any) -> list[str]:
    data = reply.get("data") if isinstance(reply, dict) else reply
    if not isinstance(data, list):
        return []
    return [str(m.get("id")) for m in data if isinstance(m, dict) and "id" in m]
