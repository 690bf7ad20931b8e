"""Load time and generation speed of the offline LLM pool, side by side in one run.

For every installed offline LLM package (`fmprog.backends.gguf.OFFLINE_LLMS`), built from
the configuration entry `{"name": "*", "kind": "llm", "type": "gguf"}` exactly as a user's
file would: the load time (transformers dequantizing the GGUF), then `--runs` long answers
to the same prompts, timed per call, with tokens counted by the model's tokenizer. With
`--llama-server` (needs llama-cpp-python[server]) SmolLM2 is also served by llama.cpp and
asked the same prompts through the `openai` adapter, for comparison (tokens from the
server's usage counts).

    python benchmarks/offline_llm.py [--runs 3] [--max-new-tokens 64] [--models smollm2-135m]
                                     [--torch-threads 1,2] [--llama-server [--server-threads 2]]
"""

from __future__ import annotations

import argparse
import sys
import time

PROMPTS = ["Name three colours, one per line.",
           "Write two sentences about a red ball.",
           "What is the capital of France? Explain briefly."]


def bench_transformers(max_new_tokens: int, runs: int, only: list[str] | None,
                       threads: list[int]) -> list[dict]:
    """One row per model and torch thread count (the model is loaded once)."""
    import torch

    from fmprog.backends.config import build_backends

    rows = []
    for lm in build_backends([{"name": "*", "kind": "llm", "type": "gguf",
                               "max_new_tokens": max_new_tokens}]):
        if only and lm.name not in only:
            continue
        start = time.perf_counter()
        lm.load()
        load_s = time.perf_counter() - start
        for n in threads:
            torch.set_num_threads(n)
            lm.complete("Say hi.")  # warm-up
            tokens, seconds = 0, 0.0
            for _ in range(runs):
                for prompt in PROMPTS:
                    start = time.perf_counter()
                    answer = lm.complete(prompt)
                    seconds += time.perf_counter() - start
                    tokens += len(lm.processor(answer)["input_ids"])
            rows.append({"model": lm.name, "runner": f"transformers, {n} torch thread(s)",
                         "params_M": round(lm.cost, 1), "load_s": round(load_s, 1),
                         "s_per_call": round(seconds / (runs * len(PROMPTS)), 2),
                         "tok_per_s": round(tokens / seconds, 1)})
    return rows


def bench_llama_server(max_new_tokens: int, runs: int, threads: int) -> dict:
    import httpx

    sys.path.insert(0, "tests")
    from test_llama_server import _gguf, start_server, stop

    start = time.perf_counter()
    proc, url = start_server(threads)
    up_s = time.perf_counter() - start
    try:
        with httpx.Client(timeout=120) as client:
            def ask(prompt):
                body = {"model": _gguf(), "max_tokens": max_new_tokens, "temperature": 0,
                        "messages": [{"role": "user", "content": prompt}]}
                return client.post(url + "/chat/completions", json=body).json()

            ask("Say hi.")
            tokens, seconds = 0, 0.0
            for _ in range(runs):
                for prompt in PROMPTS:
                    start = time.perf_counter()
                    reply = ask(prompt)
                    seconds += time.perf_counter() - start
                    tokens += reply["usage"]["completion_tokens"]
    finally:
        stop(proc)
    return {"model": "smollm2-135m", "runner": f"llama.cpp server, {threads} thread(s)",
            "params_M": 134.5, "load_s": round(up_s, 1),
            "s_per_call": round(seconds / (runs * len(PROMPTS)), 2),
            "tok_per_s": round(tokens / seconds, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3, help="passes over the prompts (default 3)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--models", help="comma-separated backend names (default: every installed)")
    p.add_argument("--llama-server", action="store_true",
                   help="also time SmolLM2 on llama.cpp's server")
    p.add_argument("--server-threads", type=int, default=2, help="llama.cpp threads (default 2)")
    p.add_argument("--torch-threads", default="1,2",
                   help="torch intra-op thread counts to time, comma-separated (default 1,2)")
    args = p.parse_args()
    only = args.models.split(",") if args.models else None
    threads = [int(n) for n in args.torch_threads.split(",")]
    rows = bench_transformers(args.max_new_tokens, args.runs, only, threads)
    if args.llama_server:
        rows.append(bench_llama_server(args.max_new_tokens, args.runs, args.server_threads))
    if not rows:
        from fmprog.backends.config import llm_pool_hint

        print(f"no offline LLM installed. {llm_pool_hint(entry=False)}", file=sys.stderr)
        return 1
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths)))
    base = rows[0]["tok_per_s"]
    for r in rows[1:]:
        print(f"{r['model']} / {r['runner']}: {r['tok_per_s'] / base:.2f}x the tokens/s of "
              f"{rows[0]['model']} / {rows[0]['runner']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
