"""A backend speaking the OpenAI chat-completions protocol over HTTP (stdlib only).

Works with any OpenAI-compatible server: vLLM (`vllm serve <model>`), llama.cpp's
`llama-server`, Ollama's `/v1`, or the OpenAI API. Serves `vqa` (query, verify_property;
the image goes as a base64 PNG data URL, so the model must accept images) or `llm`
(complete). Failures (HTTP errors, timeouts, refused connections, malformed replies) raise
`BackendError`, which the runtime records and goes on.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np

from .base import Backend, BackendError
from .hf import check_image, property_question, read_yes_no

YES_NO_SUFFIX = " Answer yes or no."


def image_data_url(image: np.ndarray) -> str:
    """An (H, W, 3) uint8 image as a `data:image/png;base64,...` URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(check_image(image)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIChatBackend(Backend):
    """One model behind `{base_url}/chat/completions`, serving kind "vqa" or "llm".

    `cost` is required (no parameter count is visible through HTTP). The API key is
    `api_key`, or read from the environment variable named by `api_key_env`; none is sent
    when both are unset. Requests use temperature `temperature`, `max_tokens` for long
    answers and VQA, `max_tokens_short` for `complete(..., long_answer=False)`, and are
    retried `retries` times on connection errors, timeouts and 429/5xx replies.
    """

    def __init__(self, name: str, kind: str, base_url: str, model: str, cost: float,
                 api_key: str | None = None, api_key_env: str | None = None,
                 timeout: float = 60.0, max_tokens: int = 256, max_tokens_short: int = 16,
                 temperature: float = 0.0, system_prompt: str | None = None,
                 retries: int = 0, extra_body: dict[str, Any] | None = None):
        if kind not in ("vqa", "llm"):
            raise ValueError(f"an OpenAI-compatible backend serves 'vqa' or 'llm', not {kind!r}")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        super().__init__(name, cost)
        self.kind = kind
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key if api_key is not None else (
            os.environ.get(api_key_env) if api_key_env else None)
        self.timeout = float(timeout)
        self.max_tokens = int(max_tokens)
        self.max_tokens_short = int(max_tokens_short)
        self.temperature = float(temperature)
        self.system_prompt = system_prompt
        self.retries = int(retries)
        self.extra_body = dict(extra_body or {})

    # the Backend methods

    def query(self, image: np.ndarray, question: str) -> str:
        self._require("vqa", "query")
        content = [{"type": "text", "text": question},
                   {"type": "image_url", "image_url": {"url": image_data_url(image)}}]
        return self.chat(content, self.max_tokens)

    def verify_property(self, image: np.ndarray, object_name: str, prop: str) -> bool:
        self._require("vqa", "verify_property")
        return read_yes_no(self.query(image, property_question(object_name, prop) + YES_NO_SUFFIX))

    def complete(self, prompt: str, long_answer: bool = True) -> str:
        self._require("llm", "llm_query")
        return self.chat(prompt, self.max_tokens if long_answer else self.max_tokens_short)

    # the protocol

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
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    raw = response.read()
                break
            except urllib.error.HTTPError as e:
                detail = e.read()[:300].decode("utf-8", "replace")
                error = BackendError(f"{self.name}: HTTP {e.code} from {self.url}: {detail}")
                if e.code != 429 and e.code < 500:
                    raise error from None
            except (TimeoutError, socket.timeout):
                error = BackendError(f"{self.name}: no reply from {self.url} "
                                     f"within {self.timeout:g} s")
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                if isinstance(reason, (TimeoutError, socket.timeout)):
                    error = BackendError(f"{self.name}: no reply from {self.url} "
                                         f"within {self.timeout:g} s")
                else:
                    error = BackendError(f"{self.name}: cannot reach {self.url}: {reason}")
            if attempt == self.retries:
                raise error
            time.sleep(min(0.5 * 2**attempt, 8.0))
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BackendError(f"{self.name}: reply is not JSON: {raw[:200]!r}") from None

    def _require(self, kind: str, method: str) -> None:
        if self.kind != kind:
            raise NotImplementedError(f"{self.name} (kind {self.kind}) does not serve {method}")
