"""The `fmprog` command line. Exit codes: 0 ok, 1 some program has errors, 2 usage error."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

USAGE_ERROR, PROGRAM_ERRORS = 2, 1


class UsageError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return USAGE_ERROR
    try:
        return args.func(args)
    except UsageError as e:
        print(f"fmprog: error: {e}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("fmprog: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fmprog",
        description="Compile LLM-written foundation-model programs to a checked graph IR and run "
                    "them on image streams with learned per-call-site backend routing.")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    c = sub.add_parser("check", help="check program files or a JSONL corpus; print diagnostics",
                       description="Check programs: file:line:col: severity code: message. "
                                   "Exit 0 if every program is ok, 1 if some have errors, 2 on usage errors.")
    c.add_argument("files", nargs="*", metavar="FILE", help="program files (.py)")
    c.add_argument("--jsonl", metavar="CORPUS", help="check every row of a JSONL file instead")
    c.add_argument("--field", default="program", help="the JSONL field holding the program (default: program)")
    c.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    c.add_argument("--dry-run", action="store_true",
                   help="also run each program on enumerated fake model outcomes and report failing paths")
    c.add_argument("--max-paths", type=int, default=256, help="dry-run budget of paths per program")
    c.add_argument("--no-warnings", action="store_true", help="print errors only (text format)")
    c.set_defaults(func=cmd_check)

    k = sub.add_parser("compile", help="compile a program to graph IR JSON")
    k.add_argument("file", metavar="FILE")
    k.add_argument("-o", "--output", help="output file (default: stdout)")
    k.add_argument("--text", action="store_true", help="write the readable IR dump instead of JSON")
    k.set_defaults(func=cmd_compile)

    s = sub.add_parser("show", help="draw a program's graph (DOT, SVG or PNG by the output's extension)")
    s.add_argument("file", metavar="FILE", help="a program (.py) or a compiled graph (.json)")
    s.add_argument("-o", "--output", required=True, help="prog.svg, prog.png or prog.dot")
    s.set_defaults(func=cmd_show)

    from fmprog.backends.cli import add_backends_command

    add_backends_command(sub)

    d = sub.add_parser("dsl", help="print the DSL")
    d.add_argument("--prompt", action="store_true", help="print the API text an LLM is prompted with")
    d.set_defaults(func=cmd_dsl)

    from fmprog.backends.embedded.world_cli import add_world_command
    from fmprog.bench.cli import add_bench_command
    from fmprog.runtime.cli import add_runtime_commands

    add_runtime_commands(sub)
    add_bench_command(sub)
    add_world_command(sub)
    return p


# -- check -------------------------------------------------------------------------------------
def _programs(args) -> list[tuple[object, str, str]]:
    """(id, display name, source) for every program to check."""
    if args.jsonl and args.files:
        raise UsageError("give FILE arguments or --jsonl, not both")
    if args.jsonl:
        return list(_jsonl_rows(args.jsonl, args.field))
    if not args.files:
        raise UsageError("no programs given (FILE... or --jsonl CORPUS)")
    out = []
    for f in args.files:
        try:
            out.append((f, f, Path(f).read_text(encoding="utf-8", errors="replace")))
        except OSError as e:
            raise UsageError(f"cannot read {f}: {e.strerror}") from None
    return out


def _jsonl_rows(path: str, field: str):
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}:{i}: not JSON: {e.msg}") from None
        if not isinstance(row, dict) or not isinstance(row.get(field), str):
            raise UsageError(f"{path}:{i}: no string field '{field}'")
        rid = row.get("id", i)
        yield rid, f"{path}:{rid}", row[field]


def check_one(source: str, name: str, dry: bool, max_paths: int):
    from fmprog.compiler import compile_source
    from fmprog.compiler.diagnostics import Diagnostic

    c = compile_source(source, name)
    diagnostics = list(c.diagnostics)
    if dry and c.ok:
        from fmprog.runtime.dryrun import dry_run

        try:
            diagnostics += [f.to_diagnostic() for f in dry_run(c.graph, max_paths=max_paths).findings]
        except Exception as e:  # a bug of ours, reported like a compiler bug
            diagnostics.append(Diagnostic.make("internal", c.graph.nodes[0].range, detail=f"dry-run: {e}"))
    return c, diagnostics


def cmd_check(args) -> int:
    programs = _programs(args)
    start = time.perf_counter()
    n_ok = n_err = n_internal = 0
    out = sys.stdout
    for rid, name, source in programs:
        c, diagnostics = check_one(source, name, args.dry_run, args.max_paths)
        ok = not any(d.is_error for d in diagnostics)
        n_ok += ok
        n_err += not ok
        n_internal += any(d.code == "internal" for d in diagnostics)
        if args.format == "json":
            row = {"id": rid, "ok": ok, "neural_sites": c.neural_sites,
                   "diagnostics": [d.to_json() for d in diagnostics]}
            out.write(json.dumps(row) + "\n")
        else:
            for d in diagnostics:
                if not (args.no_warnings and not d.is_error):
                    out.write(d.format(name) + "\n")
    seconds = round(time.perf_counter() - start, 3)
    if args.format == "json":
        summary = {"programs": len(programs), "ok": n_ok, "with_errors": n_err,
                   "internal_errors": n_internal, "seconds": seconds}
        out.write(json.dumps({"summary": summary}) + "\n")
    elif len(programs) > 1:
        print(f"{len(programs)} programs: {n_ok} ok, {n_err} with errors, {n_internal} internal errors "
              f"({seconds} s)", file=sys.stderr)
    return 0 if n_err == 0 else PROGRAM_ERRORS


# -- compile / show / dsl ------------------------------------------------------------------------
def load_graph(path: str):
    """A graph from a program file (compiled) or a graph JSON file; None after diagnostics."""
    from fmprog.compiler import compile_source
    from fmprog.compiler.ir import Graph, IRError

    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    if path.endswith(".json"):
        try:
            return Graph.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError, IRError) as e:
            raise UsageError(f"{path}: not a valid fmprog graph: {e}") from None
    c = compile_source(text, path)
    for d in c.diagnostics:
        print(d.format(path), file=sys.stderr)
    return c.graph if c.ok else None


def cmd_compile(args) -> int:
    g = load_graph(args.file)
    if g is None:
        return PROGRAM_ERRORS
    text = g.dump() if args.text else json.dumps(g.to_json(), indent=1) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_show(args) -> int:
    from fmprog.compiler.draw import render, to_dot

    g = load_graph(args.file)
    if g is None:
        return PROGRAM_ERRORS
    suffix = Path(args.output).suffix.lower()
    if suffix in (".dot", ".gv"):
        Path(args.output).write_text(to_dot(g))
    elif suffix in (".svg", ".png", ".pdf"):
        render(g, args.output)
    else:
        raise UsageError(f"unknown drawing format {suffix!r}: use .svg, .png, .pdf or .dot")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_dsl(args) -> int:
    from fmprog.grammars import dsl

    d = dsl.load()
    if args.prompt:
        sys.stdout.write(d.prompt())
    else:
        print((Path(dsl.__file__).parent / "viper.pyi").read_text(), end="")
    return 0
