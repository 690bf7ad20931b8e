"""`fmprog bench`: parse the command line, run a benchmark or a user's stream, report.

    fmprog bench binary-vqa|open-vqa [--queries Q ...] [--quick] [--policies P,...]
                 [--cost-weights L,...] [--seeds N] [--format json] [--out DIR]
    fmprog bench --program P --images DIR_OR_JSONL --labels FILE [...]

Exit codes: 0 done, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def add_bench_command(sub) -> None:
    from fmprog.runtime.cli import add_feedback_args, add_ray_args

    b = sub.add_parser(
        "bench", help="run every routing policy side by side on recorded streams",
        description="Records every backend's answers on each stream once (reused by later runs), "
                    "then replays every policy, cost weight and seed from the recording: static tiers, "
                    "best-fixed (the best fixed backend per site, chosen in hindsight), random, "
                    "query-level, joint, structured and the oracle. Prints a table, writes "
                    "OUT/bench.json, OUT/pareto.png and OUT/learning.png.")
    b.add_argument("benchmark", nargs="?", metavar="BENCHMARK",
                   help="binary-vqa or open-vqa (or give --program/--images/--labels)")
    b.add_argument("--queries", nargs="+", metavar="Q", help="only these query ids (default: all)")
    b.add_argument("--quick", action="store_true",
                   help="every query with a shorter stream and one seed (under 5 minutes here)")
    b.add_argument("--policies", metavar="P,...",
                   help="comma-separated policies; 'static' is every static tier (default: all)")
    b.add_argument("--cost-weights", metavar="L,...", help="comma-separated cost weights "
                   "(default: the benchmark's)")
    b.add_argument("--budget", metavar="C",
                   help="instead of cost weights: an average cost per input each learned policy must "
                        "track (its cost weight adapts online), or a share of always-largest's cost "
                        "on each stream, e.g. 25%%; best-fixed is then the best fixed assignment within it")
    add_feedback_args(b)
    b.add_argument("--seeds", type=int, metavar="N", help="runs of each random or learned policy "
                   "(default 3; 1 with --quick)")
    b.add_argument("--program", metavar="P", help="your own program (.py)")
    b.add_argument("--images", metavar="DIR_OR_JSONL", help="your own stream (with --program)")
    b.add_argument("--labels", metavar="FILE", help="its labels (with --program)")
    b.add_argument("--reward", choices=("binary", "open-form"),
                   help="task reward for --program streams (default: binary for yes/no labels)")
    b.add_argument("--backends", metavar="CONFIG", help="backend configuration (default: the embedded models)")
    b.add_argument("--window", type=int, default=16, metavar="K", help="batching window (default 16)")
    b.add_argument("--out", default="runs/bench", metavar="DIR", help="output folder (default runs/bench)")
    b.add_argument("--format", choices=("text", "json"), default="text")
    b.add_argument("--no-progress", action="store_true")
    add_ray_args(b)  # the recording's model calls go to backend actors
    b.set_defaults(func=cmd_bench)


def _fail(msg: str) -> int:
    print(f"fmprog: error: {msg}", file=sys.stderr)
    return 2


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def cmd_bench(args) -> int:
    from fmprog.runtime.cache import CacheError
    from fmprog.runtime.distributed import ClusterError
    from fmprog.runtime.preflight import PreflightError

    from . import report

    t0 = time.perf_counter()
    try:
        name, queries, scores, metric = _run(args)
    except PreflightError as e:
        for p in e.problems:
            print(f"fmprog: error: {p}", file=sys.stderr)
        return 2
    except (ValueError, OSError, CacheError, ImportError, ClusterError) as e:
        return _fail(str(e))
    out = Path(args.out)
    seeds = max(s.seed for s in scores) + 1 if scores else 1
    doc = report.document(name, queries, seeds, scores)
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    path = report.write(doc, out)
    pictures = report.plots(doc, scores, metric, out)
    if args.format == "json":
        print(json.dumps(doc, indent=1))
    else:
        print(report.table(doc, metric))
        print(f"\n{doc['seconds']} s; {path}  " + "  ".join(str(p) for p in pictures))
    return 0


def _run(args):
    from fmprog.runtime.cli import pools_for

    from .harness import DEFAULT_POLICIES

    progress = not args.no_progress and sys.stderr.isatty()
    policies = tuple(p for p in args.policies.split(",") if p) if args.policies else DEFAULT_POLICIES
    seeds = args.seeds or (1 if args.quick else 3)
    if not args.program and args.benchmark:
        from .suites import load_suite

        load_suite(args.benchmark)  # a wrong name is told before any model is loaded
    pools = pools_for(args)
    try:
        return _run_with(args, pools, policies, seeds, progress)
    finally:
        pools.close()


def _run_with(args, pools, policies, seeds, progress):
    from .harness import BenchSettings, bench_stream

    out = Path(args.out)
    if args.program:
        if args.benchmark or not (args.images and args.labels):
            raise ValueError("give a BENCHMARK, or --program with --images and --labels")
        return _user_stream(args, pools, policies, seeds, progress, out, BenchSettings, bench_stream)
    if not args.benchmark:
        raise ValueError("give a BENCHMARK (binary-vqa, open-vqa) or --program/--images/--labels")
    from .suites import load_suite, run_suite

    suite = load_suite(args.benchmark)
    weights = _floats(args.cost_weights, "--cost-weights") if args.cost_weights else suite.cost_weights
    settings = BenchSettings(policies=policies, cost_weights=weights, seeds=seeds, reward=suite.reward,
                             metric=suite.metric, window=args.window, out=out, progress=progress,
                             **_learning(args))
    queries, scores = run_suite(suite, pools, settings, args.queries, quick=args.quick)
    return suite.name, queries, scores, suite.metric


def _learning(args) -> dict:
    budget = args.budget
    if budget is not None:
        try:
            float(budget[:-1] if budget.endswith("%") else budget)
        except ValueError:
            raise ValueError(f"--budget takes a number or a percentage such as 25%, got {budget!r}") from None
    return {"budget": budget, "feedback_delay": args.feedback_delay, "feedback_rate": args.feedback_rate}


def _user_stream(args, pools, policies, seeds, progress, out, BenchSettings, bench_stream):
    from fmprog.cli import load_graph
    from fmprog.runtime.feedback import YES_NO, normalise
    from fmprog.runtime.inputs import load_inputs

    graph = load_graph(args.program)
    if graph is None:
        raise ValueError(f"{args.program} does not compile (see the diagnostics above)")
    inputs = load_inputs(args.images, args.labels)
    for w in inputs.warnings:
        print(f"fmprog: warning: {w}", file=sys.stderr)
    items = [it for it in inputs.items if it.label is not None]
    if not items:
        raise ValueError(f"no labelled inputs in {args.images} with {args.labels}")
    binary = all(normalise(it.label) in YES_NO for it in items)
    reward = args.reward or ("binary" if binary else "open-form")
    weights = _floats(args.cost_weights, "--cost-weights") if args.cost_weights else (0.0, 1.0, 10.0)
    settings = BenchSettings(policies=policies, cost_weights=weights, seeds=seeds, reward=reward,
                             metric="f1" if binary else "accuracy", window=args.window, out=out,
                             progress=progress, **_learning(args))
    name = Path(args.program).stem
    scores = bench_stream(name, graph, items, pools, settings, out / "recording.sqlite")
    return name, [name], scores, settings.metric
