"""Throughput of `--ray` with 1 and 2 workers, measured side by side in one run on one
local Ray cluster (the rounds alternate, so machine drift hits every configuration alike):

- fake backends of 50 ms per call (`FakeBackend(delay=0.05)`): an I/O-bound service, each
  replica serving `--concurrency` batches at once, so workers can overlap their waits
  even on a 2-core machine;
- the embedded ONNX backends, CPU-bound on this machine's cores.

Every configuration must give the rows of the local run (same window and seed). Also
printed: the time to start the local cluster and the backend actors, and what crosses
the network per input (pickled sizes of what the driver, the workers and the backend
actors send each other, measured on the same stream).

Usage: python benchmarks/scale.py [--n 96] [--window 16] [--rounds 3] [--delay 0.05]
           [--concurrency 4] [--policies static-largest structured] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "examples" / "shapes" / "red_circle.py"


def fake_entries(delay: float) -> list[dict]:
    return [{"name": f"{k[:3]}-{size}", "kind": k, "type": "fake", "cost": cost, "delay": delay}
            for k in ("detection", "vqa") for size, cost in (("small", 1.0), ("large", 5.0))]


def rows(result) -> list[tuple]:
    return [(r["item"], r["answer"], r["correct"], r["cost"], r["error_kind"],
             tuple(c["backend"] for c in (r["trace"] or {}).get("calls", []))) for r in result.rows]


def measure(name, backends, args, graph, items, tmp, dep_settings):
    """({(policy, config): [seconds per round]}, seconds to start the backend actors, their
    number, median seconds to start a stream's workers): the local run and each worker
    count, for each policy, on one set of backend actors."""
    from fmprog.backends.base import Pools
    from fmprog.backends.config import build_backends
    from fmprog.backends.embedded import default_backends
    from fmprog.runtime import distributed as D
    from fmprog.runtime.service import local_stream, serve
    from fmprog.runtime.settings import RunSettings

    local_pools = Pools(build_backends(backends) if backends is not None else default_backends())
    t0 = time.perf_counter()
    pools = D.deploy(backends, dep_settings)
    started = time.perf_counter() - t0
    configs = ["local"] + [f"ray-{w}" for w in args.workers]
    seconds = {(p, c): [] for p in args.policies for c in configs}
    starts: list[float] = []
    expected: dict[str, list] = {}
    try:
        warm = RunSettings(policy="static-largest", window=args.window)
        serve(graph, items[:args.window], pools, warm, f"{tmp}/{name}-warm.sqlite", streams=pools.streams)
        for r in range(args.rounds):
            for policy, c in seconds:
                settings = RunSettings(policy=policy, cost_weight=args.cost_weight, window=args.window,
                                       backend_timeout=600.0)
                db = f"{tmp}/{name}-{policy}-{c}-{r}.sqlite"
                ready: list[float] = []
                if c == "local":
                    result = serve(graph, items, local_pools, settings, db, streams=timed(local_stream, ready))
                else:
                    pools.deployment.configure(workers=int(c.split("-")[1]))
                    result = serve(graph, items, pools, settings, db, streams=timed(pools.streams, ready))
                    starts.append(ready[0] - ready[1])
                seconds[policy, c].append(time.perf_counter() - ready[0])
                expected.setdefault(policy, rows(result))
                if rows(result) != expected[policy]:
                    sys.exit(f"{name}, {policy}: {c} changed the rows of the local run")
    finally:
        pools.close()
    return seconds, started, len(pools.deployment.backends), statistics.median(starts)


def timed(factory, marks: list[float]):
    """`factory`, noting when the stream is ready to serve (its workers started) and when
    it was asked for: throughput is measured from the first window on."""
    def streams(*a):
        asked = time.perf_counter()
        out = factory(*a)
        marks[:] = [time.perf_counter(), asked]
        return out
    return streams


def report(title: str, seconds: dict, n: int, first: str) -> None:
    print(f"\n{title}")
    print(f"{'policy':15s} {'configuration':18s} {'inputs/s':>9s} {'s/run':>7s} {'vs 1 worker':>12s}")
    for (policy, c), s in seconds.items():
        t, base = statistics.median(s), statistics.median(seconds[policy, first])
        label = "local, no Ray" if c == "local" else f"Ray, {c.split('-')[1]} worker(s)"
        print(f"{policy:15s} {label:18s} {n / t:9.1f} {t:7.2f} {base / t:11.2f}x")


def payloads(graph, items, args) -> dict[str, float]:
    """Mean pickled bytes per input of each message of a distributed run (on a local run
    of the same stream: the same episodes, calls, answers and policy states)."""
    from fmprog.backends.base import Pools
    from fmprog.backends.embedded import default_backends
    from fmprog.runtime.distributed.hosts import Outcome, Work, _comparable
    from fmprog.runtime.distributed.remote import to_wire
    from fmprog.runtime.executor import DirectExecutor, Executor
    from fmprog.runtime.routed import sites_of
    from fmprog.runtime.service import build_policy
    from fmprog.runtime.serving import Stream
    from fmprog.runtime.settings import RunSettings

    size = lambda obj: len(pickle.dumps(obj, protocol=5))  # noqa: E731
    sent = {"calls": 0, "answers": 0}

    class Counting(Executor):
        def __init__(self):
            self.inner = DirectExecutor(None)

        def run(self, jobs):
            served = self.inner.run(jobs)
            sent["calls"] += sum(size(j.call) for j in jobs)
            sent["answers"] += sum(size(to_wire([s.result if s.error is None else s.error])) for s in served)
            return served

    out = {k: 0.0 for k in ("driver -> worker", "worker -> driver", "worker -> backends",
                            "backends -> worker", "policy state, per input", "image bytes (--ray-images bytes)")}

    class Capture(Stream):
        def _prepare_window(self, batch):
            window = super()._prepare_window(batch)
            for w in window:
                if w.episode is not None:
                    out["driver -> worker"] += size(Work(w.seq, w.item)) + size(Work(w.seq, w.item, None, w.episode))
                    out["worker -> driver"] += size(("ok", w.episode.features))
                    out["image bytes (--ray-images bytes)"] += w.item.path.stat().st_size
            return window

        def _execute(self, window):
            super()._execute(window)
            for w in window:
                if w.interp is not None:
                    ep = copy.copy(w.episode)
                    ep.features = None
                    row = {k: w.row[k] for k in ("answer", "error_kind", "error") if k in w.row}
                    out["worker -> driver"] += size(Outcome(w.seq, row, w.trace, _comparable(w.answer), w.failed, ep))
            # put once per window in the object store, fetched by each worker (the most here)
            out["policy state, per input"] += size(self.policy.state_dict()) * max(args.workers)

    pools = Pools(default_backends())
    s = RunSettings(policy=args.policies[-1], cost_weight=args.cost_weight, window=args.window)
    policy = build_policy(s.policy, sites_of(graph, pools), s.cost_weight, s.seed)
    for _ in Capture(graph, pools, policy, Counting(), s).run(items):
        pass
    out["worker -> backends"], out["backends -> worker"] = sent["calls"], sent["answers"]
    return {k: v / len(items) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=96, help="images in the stream")
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--delay", type=float, default=0.05, help="seconds per call of the fake backends")
    ap.add_argument("--concurrency", type=int, default=4,
                    help="batches a fake backend replica serves at once (an I/O-bound service)")
    ap.add_argument("--policies", nargs="+", default=["static-largest", "structured"],
                    help="routing policies, each measured in every configuration")
    ap.add_argument("--cost-weight", type=float, default=30.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--skip-embedded", action="store_true")
    args = ap.parse_args()

    import ray

    from fmprog.backends.embedded import generate_stream
    from fmprog.compiler import compile_file
    from fmprog.runtime.distributed import RaySettings
    from fmprog.runtime.distributed.cluster import connect
    from fmprog.runtime.inputs import load_inputs

    graph = compile_file(str(PROGRAM)).graph
    with tempfile.TemporaryDirectory() as tmp:
        generate_stream(Path(tmp) / "s", args.n, seed=3, question="red_circle")
        items = load_inputs(Path(tmp) / "s" / "labels.jsonl").items
        _, cluster = connect(RaySettings())
        print(f"{PROGRAM.name}, {args.n} images, window {args.window}; median of {args.rounds} rounds, "
              f"configurations alternating; every one gives the rows of the local run")
        print(f"local Ray cluster started in {cluster:.1f} s (ray.init, {os.cpu_count()} CPUs)")
        try:
            fake, t_fake, n_fake, w_fake = measure("fake", fake_entries(args.delay), args, graph, items,
                                                   tmp, RaySettings(concurrency=args.concurrency))
            embedded = None
            if not args.skip_embedded:
                embedded, t_emb, n_emb, w_emb = measure("embedded", None, args, graph, items, tmp, RaySettings())
        finally:
            ray.shutdown()
        print(f"backend actors started in {t_fake:.1f} s ({n_fake} fake backends)"
              + (f", {t_emb:.1f} s ({n_emb} embedded backends)" if embedded else "")
              + f"; a stream's workers in {w_fake:.1f} s (median; not in the throughput below)")
        first = f"ray-{args.workers[0]}"
        report(f"fake backends, {args.delay * 1e3:g} ms per call, 1 replica each serving "
               f"{args.concurrency} batches at once", fake, args.n, first)
        if embedded:
            report("embedded ONNX backends, 1 replica each, one batch at a time", embedded, args.n, first)
        print(f"\nwhat crosses the network per input (pickled bytes, mean; policy {args.policies[-1]}, "
              f"embedded backends, {max(args.workers)} workers):")
        for k, v in payloads(graph, items, args).items():
            print(f"  {k:34s} {v:10.0f}")
        print("  (no image crosses it with --ray-images path: each worker reads its inputs' files)")


if __name__ == "__main__":
    main()
