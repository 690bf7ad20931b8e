"""Throughput of a served stream with a window of K inputs in flight: K = 1 against
K = 16 and 64, measured side by side in one run (the rounds alternate, so machine drift
hits every K alike), with the check that every K gives the answers of K = 1.

By default on the embedded ONNX backends. `--latency-ms L` serves the same program on
fake backends that answer a whole batch after L ms (a model server on a GPU, reached
over the network: the case batching is for when the models themselves are compute-bound
on this CPU).

Usage: python benchmarks/batching.py [--n 256] [--rounds 3] [--windows 1 16 64]
           [--program examples/shapes/red_circle.py] [--policy static-largest] [--latency-ms L]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="images in the stream")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--windows", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--program", default=str(ROOT / "examples" / "shapes" / "red_circle.py"))
    ap.add_argument("--policy", default="static-largest")
    ap.add_argument("--latency-ms", type=float, help="fake backends answering each batch after this latency")
    args = ap.parse_args()

    from fmprog.backends.base import Pools
    from fmprog.backends.embedded import QUESTIONS, default_backends, generate_stream
    from fmprog.compiler import compile_file
    from fmprog.runtime.inputs import load_inputs
    from fmprog.runtime.service import serve
    from fmprog.runtime.settings import RunSettings

    graph = compile_file(args.program).graph
    question = next((q for q, s in QUESTIONS.items() if (ROOT / s.program).resolve() == Path(args.program).resolve()),
                    "red_circle")
    pools = Pools(default_backends() if args.latency_ms is None else _latency_pools(args.latency_ms / 1e3))
    with tempfile.TemporaryDirectory() as tmp:
        generate_stream(Path(tmp) / "s", args.n, seed=3, question=question)
        items = load_inputs(Path(tmp) / "s" / "labels.jsonl").items
        seconds = {k: [] for k in args.windows}
        answers = {}
        serve(graph, items[:8], pools, RunSettings(policy=args.policy), f"{tmp}/warm.sqlite")
        for r in range(args.rounds):
            for k in args.windows:
                settings = RunSettings(policy=args.policy, window=k)
                t0 = time.perf_counter()
                result = serve(graph, items, pools, settings, f"{tmp}/r{r}k{k}.sqlite")
                seconds[k].append(time.perf_counter() - t0)
                answers[k] = [(row["item"], row["answer"]) for row in result.rows]
    base = statistics.median(seconds[args.windows[0]])
    where = "embedded ONNX backends" if args.latency_ms is None else f"fake backends, {args.latency_ms:g} ms per batch"
    print(f"{Path(args.program).name}, {args.n} images, {where}, policy {args.policy}, {args.rounds} rounds "
          f"(median; rounds alternate K)")
    print(f"{'K':>4s} {'inputs/s':>9s} {'ms/input':>9s} {'speedup':>8s}  same answers as K={args.windows[0]}")
    for k in args.windows:
        t = statistics.median(seconds[k])
        same = answers[k] == answers[args.windows[0]]
        print(f"{k:4d} {args.n / t:9.1f} {1e3 * t / args.n:9.2f} {base / t:7.2f}x  {same}")
        if not same:
            sys.exit(f"K={k} changed the answers")


def _latency_pools(latency: float) -> list:
    import time

    from fmprog.backends.fake import FakeBackend

    class Remote(FakeBackend):
        """Answers a batch after one network-and-GPU latency."""

        def serve_batch(self, op, calls):
            time.sleep(latency)
            return super().serve_batch(op, calls)

    kinds = ("detection", "vqa", "image_text_matching", "llm")
    return [Remote(f"remote-{k}-{i}", c, k) for k in kinds for i, c in enumerate((1.0, 10.0))]


if __name__ == "__main__":
    main()
