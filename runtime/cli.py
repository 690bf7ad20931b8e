"""`fmprog run` (serve a program over an image stream) and `fmprog demo` (the main job)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

DEFAULT_DB = "runs/fmprog.sqlite"


def add_runtime_commands(sub) -> None:
    r = sub.add_parser(
        "run", help="serve a program over an image stream with learned routing",
        description="For each input: choose a backend per call site, execute, answer, take the label, "
                    "update the policy. Results and policy checkpoints go to an SQLite database.")
    r.add_argument("program", metavar="PROGRAM", help="a program (.py) or a compiled graph (.json)")
    r.add_argument("--images", required=True, metavar="DIR_OR_JSONL",
                   help="a directory of images, or a JSONL file of {\"image\", \"label\"?, \"query\"?}")
    r.add_argument("--labels", metavar="FILE", help="labels: JSONL {\"image\" or \"id\", \"label\"} or CSV name,label")
    r.add_argument("--policy", default="structured", help="routing policy (see --list-policies); default structured")
    r.add_argument("--cost-weight", type=float, default=0.0, metavar="L",
                   help="lambda: reward = task reward - L * cost (default 0)")
    r.add_argument("--reward", choices=("auto", "binary", "open-form"), default="auto",
                   help="task reward: binary (TP +1000, FN -100, TN +1, FP -100), open-form (+100 right, "
                        "-100 wrong), or auto: binary when the label is yes/no (default)")
    r.add_argument("--backends", metavar="CONFIG", help="backend configuration JSON (default: the embedded models)")
    r.add_argument("--resume", action="store_true", help="continue the last run of this program/policy/stream")
    r.add_argument("--db", default=DEFAULT_DB, help=f"run database (default {DEFAULT_DB})")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--limit", type=int, help="only the first N inputs")
    r.add_argument("--checkpoint-every", type=int, default=1, metavar="N",
                   help="checkpoint the policy every N inputs (default 1)")
    r.add_argument("--backend-timeout", type=float, default=60.0, metavar="S")
    r.add_argument("--format", choices=("text", "json"), default="text", help="summary format")
    r.add_argument("--plot", metavar="PNG", help="write a plot of accuracy and cost over the stream")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    d = sub.add_parser(
        "demo", help="the main job: generate a stream, serve a program on the embedded models",
        description="Generates a synthetic image stream, then serves examples/shapes/red_circle.py on it "
                    "with the embedded default models, under the learned policy and under the static "
                    "baselines, and prints a comparison.")
    d.add_argument("--n", type=int, default=600, help="stream length (default 600)")
    d.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    d.add_argument("--program", help="program file (default: examples/shapes/red_circle.py)")
    d.add_argument("--policies", default="structured,static-cheapest,static-largest")
    d.add_argument("--cost-weight", type=float, default=30.0,
                   help="lambda per M parameters (default 30: the embedded models are small)")
    d.add_argument("--reward", choices=("auto", "binary", "open-form"), default="open-form",
                   help="task reward (default open-form: the binary reward's +1000/+1 for right yes/no "
                        "answers buries the routing signal under label noise on short streams)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(func=cmd_demo)


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


def build_policy(name: str, sites, cost_weight: float, seed: int):
    """The policy `name` with its default settings but the run's cost weight (the reward's
    lambda and the policy's must agree: it learns the task part of the reward)."""
    import dataclasses

    from fmprog.runtime.policies import SETTINGS_CLASSES, make_policy

    cls = SETTINGS_CLASSES.get(name)
    settings = None
    if cls is not None and "cost_weight" in {f.name for f in dataclasses.fields(cls)}:
        settings = cls(cost_weight=cost_weight)
    return make_policy(name, sites, settings=settings, seed=seed)


def serve(graph, source_id: str, items, pools, args, db: str, progress: bool):
    """Run (or resume) one stream; returns (run id, rows of this run)."""
    from .routed import sites_of
    from .store import Store
    from .stream import Stream, StreamConfig

    sites = sites_of(graph, pools)
    policy = build_policy(args.policy, sites, args.cost_weight, args.seed)
    store = Store(db)
    settings = json.dumps({"cost_weight": args.cost_weight, "seed": args.seed, "reward": args.reward})
    inputs = hashlib.sha256("\n".join(f"{i.key}={i.label}" for i in items).encode()).hexdigest()
    run_id, start = None, 0
    if getattr(args, "resume", False):
        run_id = store.find_run(source_id, args.policy, settings, inputs)
        if run_id is not None:
            start, state = store.resume_point(run_id)
            if state is not None:
                policy.load_state_dict(state)
            print(f"resuming run {run_id} at input {start} of {len(items)}", file=sys.stderr)
    if run_id is None:
        run_id = store.new_run(program_sha256=source_id, graph=graph.to_json(), policy=args.policy,
                               settings=settings, cost_weight=args.cost_weight,
                               backends=[[b.name, b.kind, b.cost] for p in pools.by_kind.values() for b in p],
                               inputs=inputs)
    config = StreamConfig(cost_weight=args.cost_weight, checkpoint_every=getattr(args, "checkpoint_every", 1),
                          backend_timeout=getattr(args, "backend_timeout", 60.0), reward=args.reward)
    stream = Stream(graph, pools, policy, store, run_id, config)
    for _ in stream.run(items, start=start, progress=progress):
        pass
    store.finish(run_id)
    rows = store.items(run_id)
    store.close()
    return run_id, rows


def cmd_run(args) -> int:
    from fmprog.cli import load_graph

    from .stream import load_items, summarise

    graph = load_graph(args.program)
    if graph is None:
        return 1
    try:
        items = load_items(args.images, args.labels)
    except (OSError, ValueError, KeyError) as e:
        return _fail(f"cannot read the stream: {e}")
    if args.limit:
        items = items[: args.limit]
    if not items:
        return _fail(f"no images found in {args.images}")
    try:
        pools = load_pools(args.backends)
        run_id, rows = serve(graph, graph.meta.get("source_sha256", ""), items, pools, args, args.db,
                             progress=not args.no_progress and sys.stderr.isatty())
    except (ValueError, KeyError) as e:
        return _fail(str(e))
    summary = {"run": run_id, "db": args.db, "policy": args.policy, **summarise(rows)}
    if args.plot:
        from .plots import plot_runs

        plot_runs({args.policy: rows}, args.plot)
    print(json.dumps(summary, indent=1) if args.format == "json" else format_summary(summary))
    return 0


def format_summary(s: dict) -> str:
    lines = [f"run {s['run']} ({s['policy']}): {s['inputs']} inputs, {s['answered']} answered, {s['errors']} errors"]
    for key in ("accuracy", "precision", "recall", "f1", "avg_cost", "cost_vs_largest"):
        if s.get(key) is not None:
            lines.append(f"  {key:16s} {s[key]}")
    if s.get("error_kinds"):
        lines.append(f"  errors by kind   {s['error_kinds']}")
    for site, share in s.get("backend_share", {}).items():
        lines.append(f"  {site}: " + ", ".join(f"{b} {v:.0%}" for b, v in share.items()))
    return "\n".join(lines)


def cmd_demo(args) -> int:
    from fmprog.backends.embedded import generate_stream
    from fmprog.compiler import compile_file

    from .plots import plot_runs
    from .stream import load_items, summarise

    root = Path(__file__).resolve().parent.parent
    program = Path(args.program) if args.program else root / "examples" / "shapes" / "red_circle.py"
    out = Path(args.out)
    c = compile_file(str(program))
    for d in c.diagnostics:
        print(d.format(str(program)), file=sys.stderr)
    if not c.ok:
        return 1
    stream_dir = out / "stream"
    if not (stream_dir / "labels.jsonl").exists():
        print(f"generating {args.n} images into {stream_dir} ...", file=sys.stderr)
        generate_stream(stream_dir, args.n, seed=args.seed)
    items = load_items(str(stream_dir / "labels.jsonl"), None)[: args.n]
    pools = load_pools(None)
    results, summaries = {}, {}
    for name in args.policies.split(","):
        args.policy = name
        print(f"serving {program.name} with policy {name} ...", file=sys.stderr)
        _, rows = serve(c.graph, c.graph.meta["source_sha256"], items, pools, args, str(out / "runs.sqlite"),
                        progress=not args.no_progress and sys.stderr.isatty())
        results[name], summaries[name] = rows, summarise(rows)
    print(f"\n{program.name} on {len(items)} images (cost weight {args.cost_weight}, {args.reward} reward):")
    print(f"{'policy':18s} {'accuracy':>9s} {'avg cost':>9s} {'vs largest':>10s}")
    for name, s in summaries.items():
        print(f"{name:18s} {s['accuracy']!s:>9s} {s['avg_cost']!s:>9s} {s['cost_vs_largest']!s:>10s}")
    plot_runs(results, str(out / "demo.png"))
    (out / "summary.json").write_text(json.dumps(summaries, indent=1))
    print(f"\nplot: {out / 'demo.png'}   summary: {out / 'summary.json'}   database: {out / 'runs.sqlite'}")
    return 0
