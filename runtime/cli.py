"""`fmprog run`, `fmprog record` and `fmprog demo`: argument parsing only; the work is in
`service.py` (serve, record), which takes a `RunSettings`.

Exit codes of `run`: 0 served; 1 the program has errors; 2 a usage, configuration,
database or preflight error (every problem printed); 3 more than --max-error-rate of the
inputs failed for backend reasons.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .distributed import ClusterError  # no Ray import: only --ray imports Ray

DEFAULT_DB = "runs/fmprog.sqlite"
BACKEND_FAILURES = 3


def _stream_args(p) -> None:
    p.add_argument("program", metavar="PROGRAM", help="a program (.py) or a compiled graph (.json)")
    p.add_argument("--images", required=True, metavar="DIR_OR_JSONL",
                   help="a directory of images (searched recursively), or a JSONL file of "
                        "{\"image\", \"label\"?, \"query\"?, \"possible_answers\"?, \"id\"?} rows")
    p.add_argument("--labels", metavar="FILE",
                   help="labels: JSONL {\"image\" or \"id\", \"label\"} or CSV name,label; keys are "
                        "paths relative to the image folder")
    p.add_argument("--backends", metavar="CONFIG",
                   help="backend configuration, YAML or JSON (default: the embedded models; see "
                        "docs/backends.md and `fmprog backends`)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N inputs")
    p.add_argument("--window", type=int, default=1, metavar="K",
                   help="inputs in flight at once; their calls are batched per site and backend "
                        "(default 1). Learned policies learn between windows")
    p.add_argument("--backend-timeout", type=float, default=60.0, metavar="S",
                   help="outer bound in seconds on any backend batch, over each backend's own "
                        "timeout and retries (default 60)")
    p.add_argument("--time-limit", type=float, default=60.0, metavar="S",
                   help="the program's own time limit per input, model calls excluded (default 60)")
    p.add_argument("--max-iterations", type=int, default=10_000, metavar="N",
                   help="loop iterations allowed per input (default 10000)")
    p.add_argument("--max-pixels", type=int, default=25_000_000, metavar="N",
                   help="refuse images of more pixels, before decoding them (default 25000000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_ray_args(p)


def add_ray_args(p) -> None:
    """--ray and its options (run, record and bench): see runtime/distributed/cli.py."""
    from .distributed.cli import add_ray_args as add

    add(p)


def add_feedback_args(p) -> None:
    """--feedback-delay and --feedback-rate (run and bench)."""
    p.add_argument("--feedback-delay", type=int, default=0, metavar="K",
                   help="the label of input t reaches the policy after input t+K (default 0)")
    p.add_argument("--feedback-rate", type=float, default=1.0, metavar="P",
                   help="only this fraction of the inputs is labelled for learning (default 1)")


def add_runtime_commands(sub) -> None:
    r = sub.add_parser(
        "run", help="serve a program over an image stream with learned routing",
        description="For each input: choose a backend per call site, execute, answer, take the label, "
                    "update the policy. Results, call logs and policy checkpoints go to an SQLite "
                    "database. Exit 0 ok, 1 program errors, 2 usage/config/preflight errors, 3 more "
                    "than --max-error-rate of the inputs failed for backend reasons.")
    _stream_args(r)
    r.add_argument("--policy", default="structured", help="routing policy (see --list-policies); default structured")
    r.add_argument("--list-policies", action=_ListPolicies, nargs=0, help="list the routing policies and exit")
    r.add_argument("--cost-weight", type=float, default=0.0, metavar="L",
                   help="lambda: reward = task reward - L * cost (default 0)")
    r.add_argument("--budget", type=float, metavar="C",
                   help="a target average cost per input instead of a fixed price: the policy's cost "
                        "weight adapts online so the running average cost tracks C (starting from "
                        "--cost-weight); the summary reports the achieved cost")
    add_feedback_args(r)
    r.add_argument("--reward", choices=("auto", "binary", "open-form"), default="auto",
                   help="task reward: binary (TP +1000, FN -100, TN +1, FP -100), open-form (+100 right, "
                        "-100 wrong), or auto: binary when the label is yes/no (default)")
    r.add_argument("--resume", action="store_true",
                   help="continue the last run of this program, policy, settings and stream")
    r.add_argument("--db", default=DEFAULT_DB, help=f"run database (default {DEFAULT_DB})")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--checkpoint-every", type=int, default=1, metavar="N",
                   help="checkpoint the policy every N inputs, at window ends (default 1)")
    cache = r.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="FILE",
                       help="a call cache read through: a hit makes no model call (logged as cached, "
                            "with the recorded cost); a miss calls the model and is stored")
    cache.add_argument("--replay", metavar="FILE",
                       help="serve only from this call cache: a miss is a recorded error, never a model call")
    r.add_argument("--max-error-rate", type=float, default=0.5, metavar="R",
                   help="exit 3 when more than this fraction of inputs failed for backend reasons (default 0.5)")
    r.add_argument("--breaker-failures", type=int, default=5, metavar="N",
                   help="a backend failing N calls in a row cools down (default 5)")
    r.add_argument("--breaker-cooldown", type=float, default=30.0, metavar="S",
                   help="seconds a tripped backend cools down; its sites fall back to another pool "
                        "member meanwhile (default 30)")
    r.add_argument("--format", choices=("text", "json"), default="text", help="summary format")
    r.add_argument("--plot", metavar="PNG", help="write a plot of accuracy and cost over the stream")
    r.set_defaults(func=cmd_run)

    rec = sub.add_parser(
        "record", help="record every backend's answers on a stream into a call cache",
        description="Runs the program on every input under every choice of pool member at every "
                    "call site that fires, storing each backend call once in the cache, so that any "
                    "policy (the oracle, every policy of a benchmark) replays from it with --replay "
                    "and no model call.")
    _stream_args(rec)
    rec.add_argument("--cache", required=True, metavar="FILE", help="the call cache to fill")
    rec.add_argument("--max-assignments", type=int, default=4096, metavar="N",
                     help="assignments explored per input at most (default 4096)")
    rec.add_argument("--format", choices=("text", "json"), default="text")
    rec.set_defaults(func=cmd_record, window=16)

    d = sub.add_parser(
        "demo", help="the main job: generate a stream, serve a program on the embedded models",
        description="Generates a synthetic image stream, then serves examples/shapes/red_circle.py (or "
                    "--program, one of examples/shapes/) on it with the embedded default models, "
                    "under the learned policy and under the static baselines, and prints a comparison.")
    d.add_argument("--n", type=int, default=600, help="stream length (default 600)")
    d.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    d.add_argument("--program", help="program file (default: examples/shapes/red_circle.py)")
    d.add_argument("--policies", default="structured,static-cheapest,static-largest")
    d.add_argument("--cost-weight", type=float, default=0.05,
                   help="lambda per million multiply-accumulates of the embedded models (default "
                        "0.05: the largest stack then costs about 40 of the +-100 open-form reward)")
    d.add_argument("--reward", choices=("auto", "binary", "open-form"), default="open-form",
                   help="task reward (default open-form: the binary reward's +1000/+1 for right yes/no "
                        "answers buries the routing signal under label noise on short streams)")
    d.add_argument("--window", type=int, default=16, metavar="K", help="inputs in flight (default 16)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(func=cmd_demo)


class _ListPolicies(argparse.Action):
    """`--list-policies`: print the policy table and exit."""

    def __call__(self, parser, namespace, values, option_string=None):
        from fmprog.runtime.policies import describe_policies

        print(describe_policies())
        parser.exit(0)


def _fail(message: str) -> int:
    print(f"fmprog: error: {message}", file=sys.stderr)
    return 2


def load_pools(config: str | None):
    from fmprog.backends.base import Pools

    if config:
        from fmprog.backends.config import load_config

        return Pools(load_config(config))
    from fmprog.backends.embedded import default_backends

    return Pools(default_backends())


def _settings(args, **extra):
    from .settings import RunSettings

    return RunSettings(
        policy=getattr(args, "policy", "static-cheapest"), cost_weight=getattr(args, "cost_weight", 0.0),
        reward=getattr(args, "reward", "auto"), seed=getattr(args, "seed", 0), window=args.window,
        checkpoint_every=getattr(args, "checkpoint_every", 1), backend_timeout=args.backend_timeout,
        time_limit=args.time_limit, max_iterations=args.max_iterations, max_pixels=args.max_pixels,
        max_error_rate=getattr(args, "max_error_rate", 0.5),
        breaker_failures=getattr(args, "breaker_failures", 5),
        breaker_cooldown=getattr(args, "breaker_cooldown", 30.0), budget=getattr(args, "budget", None),
        feedback_delay=getattr(args, "feedback_delay", 0), feedback_rate=getattr(args, "feedback_rate", 1.0),
        **extra)


def _load(args):
    """(graph, items, pools) for a stream command, or an exit code."""
    from fmprog.cli import load_graph

    from .inputs import load_inputs

    graph = load_graph(args.program)
    if graph is None:
        return 1
    try:
        inputs = load_inputs(args.images, args.labels)
    except (OSError, ValueError) as e:
        return _fail(f"cannot read the stream: {e}")
    for w in inputs.warnings:
        print(f"fmprog: warning: {w}", file=sys.stderr)
    items = inputs.items[: args.limit] if args.limit else inputs.items
    if not items:
        return _fail(f"no images found in {args.images}")
    try:
        pools = pools_for(args)
    except (ValueError, OSError, ImportError, ClusterError) as e:
        return _fail(str(e))
    return graph, items, pools


def pools_for(args):
    """`load_pools(args.backends)`, or with --ray the pools of the backend actors."""
    from .distributed.cli import pools_for as ray_or_local

    return ray_or_local(args, load_pools)


def _progress(args) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def _guarded(fn):
    """Run `fn()`; known failures become `fmprog: error:` lines and exit 2."""
    from .cache import CacheError
    from .preflight import PreflightError
    from .store import StoreError

    try:
        return fn()
    except PreflightError as e:
        for p in e.problems:
            print(f"fmprog: error: {p}", file=sys.stderr)
        return 2
    except (StoreError, CacheError, ValueError, TypeError, ClusterError) as e:
        return _fail(str(e))


def cmd_run(args) -> int:
    from .service import serve

    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    graph, items, pools = loaded

    def go():
        settings = _settings(args, cache=args.replay or args.cache, replay=bool(args.replay))
        return serve(graph, items, pools, settings, args.db, resume=args.resume, progress=_progress(args),
                     streams=pools.streams if args.ray else None)

    try:
        result = _guarded(go)
    finally:
        pools.close()
    if isinstance(result, int):
        return result
    summary = result.summary
    if args.plot:
        from .plots import plot_runs

        plot_runs({args.policy: result.rows}, args.plot)
    print(json.dumps(summary, indent=1) if args.format == "json" else format_summary(summary))
    if summary["backend_error_rate"] > args.max_error_rate:
        print(f"fmprog: error: {summary['backend_error_rate']:.0%} of the inputs failed for backend "
              f"reasons, more than --max-error-rate {args.max_error_rate:g}", file=sys.stderr)
        return BACKEND_FAILURES
    return 0


def cmd_record(args) -> int:
    from .recording import record

    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    graph, items, pools = loaded
    try:
        s = _guarded(lambda: record(graph, items, pools, args.cache, window=args.window,
                                    backend_timeout=args.backend_timeout,
                                    max_assignments=args.max_assignments, progress=_progress(args),
                                    time_limit=args.time_limit, max_iterations=args.max_iterations,
                                    max_pixels=args.max_pixels))
    finally:
        pools.close()
    if isinstance(s, int):
        return s
    if args.format == "json":
        print(json.dumps(vars(s), indent=1))
    else:
        print(f"recorded {s.inputs} inputs into {args.cache}: {s.assignments} assignments explored, "
              f"{s.calls} model calls, {s.cached} answered from the cache, {s.seconds} s"
              + (f"; {s.truncated} inputs over --max-assignments" if s.truncated else ""))
    return 0


def format_summary(s: dict) -> str:
    lines = [f"run {s['run']} ({s['policy']}): {s['inputs']} inputs, {s['answered']} answered, {s['errors']} errors"]
    for key in ("accuracy", "precision", "recall", "f1", "avg_cost", "cost_vs_largest", "budget",
                "achieved_cost", "final_cost_weight"):
        if s.get(key) is not None:
            lines.append(f"  {key:16s} {s[key]}")
    if s.get("error_kinds"):
        lines.append(f"  errors by kind   {s['error_kinds']}")
    for e in s.get("top_errors", []):
        lines.append(f"    {e['count']:5d} x {e['kind']}: {e['message'][:160]}")
    for site, share in s.get("backend_share", {}).items():
        lines.append(f"  {site}: " + ", ".join(f"{b} {v:.0%}" for b, v in share.items()))
    return "\n".join(lines)


def cmd_demo(args) -> int:
    from fmprog.backends.embedded import QUESTIONS, generate_stream
    from fmprog.compiler import compile_file

    from .inputs import load_inputs
    from .metrics import summarise
    from .plots import plot_runs
    from .service import serve
    from .settings import RunSettings

    root = Path(__file__).resolve().parent.parent
    program = Path(args.program) if args.program else root / "examples" / "shapes" / "red_circle.py"
    question = next((q for q, spec in QUESTIONS.items()
                     if (root / spec.program).resolve() == program.resolve()), None)
    if question is None:
        return _fail(f"{program}: the demo has streams for {', '.join(q.program for q in QUESTIONS.values())}; "
                     f"serve other programs with `fmprog run`")
    c = compile_file(str(program))
    for d in c.diagnostics:
        print(d.format(str(program)), file=sys.stderr)
    if not c.ok:
        return 1
    out = Path(args.out)
    stream_dir = out / f"stream-{question}"
    if not (stream_dir / "labels.jsonl").exists():
        print(f"generating {args.n} images into {stream_dir} ...", file=sys.stderr)
        generate_stream(stream_dir, args.n, seed=args.seed, question=question)
    items = load_inputs(stream_dir / "labels.jsonl").items[: args.n]
    pools = load_pools(None)
    results, summaries = {}, {}
    for name in args.policies.split(","):
        print(f"serving {program.name} with policy {name} ...", file=sys.stderr)
        settings = RunSettings(policy=name, cost_weight=args.cost_weight, reward=args.reward,
                               seed=args.seed, window=args.window)
        result = _guarded(lambda: serve(c.graph, items, pools, settings, str(out / "runs.sqlite"),
                                        progress=not args.no_progress and sys.stderr.isatty()))
        if isinstance(result, int):
            return result
        results[name], summaries[name] = result.rows, summarise(result.rows)
    print(f"\n{program.name} on {len(items)} images (cost weight {args.cost_weight}, {args.reward} reward):")
    print(f"{'policy':18s} {'accuracy':>9s} {'avg cost':>9s} {'vs largest':>10s}")
    for name, s in summaries.items():
        print(f"{name:18s} {s['accuracy']!s:>9s} {s['avg_cost']!s:>9s} {s['cost_vs_largest']!s:>10s}")
    plot_runs(results, str(out / "demo.png"))
    (out / "summary.json").write_text(json.dumps(summaries, indent=1))
    print(f"\nplot: {out / 'demo.png'}   summary: {out / 'summary.json'}   database: {out / 'runs.sqlite'}")
    return 0
