"""`fmprog backends`: the configured backends, where each really runs, and a check of each.

Exit codes: 0 ok, 1 some check failed, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import sys
from typing import Any

OK, CHECK_FAILED, USAGE_ERROR = 0, 1, 2


def add_backends_command(sub) -> None:
    """Register `fmprog backends` on the `fmprog` subparsers."""
    b = sub.add_parser(
        "backends", help="list the backends of a configuration: cost, device, load status; "
                         "--check calls each once",
        description="List the backends of a configuration file (default: the embedded "
                    "models): name, kind, cost, the device or execution provider that really "
                    "runs it, and whether it is loaded. --check loads each one, asks its "
                    "health and makes one real call. Exit 0 if all is well, 1 if a check "
                    "failed, 2 on a usage or configuration error.")
    b.add_argument("--backends", metavar="CONFIG",
                   help="backend configuration, YAML or JSON (default: the embedded models)")
    b.add_argument("--check", action="store_true",
                   help="load each backend, check its health and make one call of an "
                        "operation it serves on a small generated image")
    b.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    b.add_argument("--no-progress", action="store_true", help="no progress bar for --check")
    b.set_defaults(func=cmd_backends)


def cmd_backends(args) -> int:
    try:
        backends = load_backends(args.backends)
    except ValueError as e:  # ConfigError names the file, the entry and the field
        print(f"fmprog: error: {e}", file=sys.stderr)
        return USAGE_ERROR
    rows = list_backends(backends, args.check, progress=not args.no_progress)
    if args.format == "json":
        print(json.dumps(rows, indent=1))
    else:
        print(format_table(rows, args.check))
    failed = [r for r in rows if "check" in r and not r["check"]["ok"]]
    return CHECK_FAILED if failed else OK


def load_backends(config: str | None) -> list:
    """The backends of a configuration file, or the embedded default pool."""
    if config:
        from .config import load_config

        return load_config(config)
    from fmprog.backends.embedded import default_backends

    return list(default_backends())


def list_backends(backends: list, check: bool, progress: bool = False) -> list[dict[str, Any]]:
    """One row per backend (`checks.backend_row`), with its check when `check`."""
    from .checks import backend_row, check_backend

    rows = []
    for b in _progress(backends, check and progress):
        result = check_backend(b) if check else None
        row = backend_row(b)  # after the check: a lazy model is loaded by then
        if result is not None:
            row["check"] = result.to_json()
        rows.append(row)
    return rows


def _progress(items: list, show: bool):
    if not show or not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc="checking backends", unit="backend", file=sys.stderr)


COLUMNS = ("name", "kind", "cost", "device", "provider", "loaded")


def format_table(rows: list[dict[str, Any]], check: bool) -> str:
    """The rows as an aligned text table; failed checks are listed below it."""
    header = [c.upper() for c in COLUMNS] + (["CHECK"] if check else [])
    lines = [[_cell(r, c) for c in COLUMNS] + ([_check_cell(r["check"])] if check else [])
             for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    out = ["  ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip()
           for line in [header, *lines]]
    for r in rows:
        if check and not r["check"]["ok"]:
            error = r["check"]["error"]
            out.append(error if error.startswith(f"{r['name']}") else f"{r['name']}: {error}")
    return "\n".join(out)


def _cell(row: dict, column: str) -> str:
    value = row[column]
    if column == "cost":
        return f"{value:g}"
    if column == "loaded":
        return {True: "yes", False: "no (lazy)", None: "-"}.get(value, str(value))
    return "-" if value is None else str(value)


def _check_cell(check: dict) -> str:
    status = "ok" if check["ok"] else "FAILED"
    answer = f" {check['op']} -> {check['answer']}" if check["ok"] else ""
    return f"{status} {check['seconds']:.2f} s{answer}"
