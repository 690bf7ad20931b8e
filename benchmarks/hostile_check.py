"""Check-time cost of hostile programs: each one through `fmprog check` in its own process,
with its wall time and peak memory (the process's maximum resident set), against the target
of at most 2 s and 300 MB for any program of at most 1 MB; then all of them in one
`check --jsonl` batch, which must finish with its summary line.

The programs are the shapes that once crashed or stalled the checker (deep nesting, long
operator chains, huge numbers of statements) and the largest of each shape the guard still
lets through. Usage: python benchmarks/hostile_check.py [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRY = "def execute_command(image):\n"
MAX_SECONDS, MAX_MB = 2.0, 300


def ret(expr: str) -> str:
    return ENTRY + "    return " + expr + "\n"


def lines(stmt: str, n: int, tail: str = "    return x\n") -> str:
    return ENTRY + ("    " + stmt + "\n") * n + tail


def nested_ifs(n: int) -> str:
    return ENTRY + "".join("    " * (i + 1) + "if image:\n" for i in range(n)) + "    " * (n + 1) + "return 1\n"


def branches(n_vars: int, n_ifs: int) -> str:
    body = "".join(f"    v{i} = {i}\n" for i in range(n_vars))
    body += "".join(f"    if v{i % n_vars} > 3:\n        v{(i * 7) % n_vars} = {i}\n" for i in range(n_ifs))
    return ENTRY + body + "    return v0\n"


PROGRAMS = {
    # refused by the guard
    "brackets-1500": ret("[" * 1500 + "]" * 1500),
    "abs-1500": ret("abs(" * 1500 + "1" + ")" * 1500),
    "unary-minus-1500": ret("-" * 1500 + "1"),
    "sum-6000": ret("+".join(["1"] * 6000)),
    "sum-10000": ret("+".join(["1"] * 10000)),
    "statements-100000": lines("x=1", 100_000),
    "fstring-chain-6000": ret("f\"{'}' + " + "+".join(["1"] * 6000) + "}\""),
    "elif-3000": ENTRY + "    if image:\n        x = 0\n" + "    elif image:\n        x = 1\n" * 3000 + "    return x\n",
    "one-megabyte-plus": lines("x = 1", 130_000),
    # the largest of each shape that is let through
    "brackets-100": ret("[" * 99 + "]" * 99),
    "abs-99": ret("abs(" * 99 + "1" + ")" * 99),
    "abs-unary-66": ret("abs(-" * 66 + "1" + ")" * 66),
    "unary-minus-199": ret("-" * 198 + "1"),
    "sum-199": ret("+".join(["1"] * 199)),
    "attribute-chain-199": ret("image" + ".left" * 198),
    "calls-199": ret("abs" + "(1)" * 99),
    "ifexp-99": ret(" if image else ".join(["1"] * 99)),
    "lambdas-99": ret("lambda: " * 99 + "1"),
    "nested-ifs-90": nested_ifs(90),
    "statements-4900": lines("x = 1", 4900),
    "undefined-names-1000-of-2000": lines("x = 1", 0, "".join(f"    v{i} = {i}\n" for i in range(2000))
                                           + "".join(f"    y = u{i}\n" for i in range(1000)) + "    return y\n"),
    "comprehension-fors-99": ret("[0 " + " ".join(f"for x{i} in [1]" for i in range(99)) + "]"),
    "loops-1000": lines("for i in range(2):\n        x = i", 1000),
    "nested-loops-60": ENTRY + "".join("    " * (i + 1) + f"for i{i} in range(1):\n" for i in range(60))
                       + "    " * 61 + "x = 1\n    return 1\n",
    "lambdas-2000": lines("f = lambda a: a + 1", 2000, "    return f(1)\n"),
    "list-9900": ret("[" + ", ".join(["1"] * 9900) + "]"),
    "branches-2000-vars-1000-ifs": branches(2000, 1000),
    "fstrings-6000-fields": ret("f'" + "{image}" * 6000 + "'"),
    "string-999kB": ret("'" + "a" * 999_000 + "'"),
    "comment-999kB": ENTRY + "    # " + "x" * 999_000 + "\n    return 1\n",
}


def run_one(path: str) -> tuple[float, float, int]:
    """(seconds, peak MB, exit status) of `fmprog check path` in a fresh process."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "fmprog", "check", "--format", "json", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", help="run only the programs whose name contains this")
    args = ap.parse_args()
    programs = {k: v for k, v in PROGRAMS.items() if not args.only or args.only in k}
    worst_t = worst_m = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'program':32} {'chars':>9} {'seconds':>8} {'peak MB':>8}  exit")
        for name, src in programs.items():
            path = Path(tmp) / f"{name}.py"
            path.write_text(src)
            seconds, mb, code = run_one(str(path))
            within = len(src) <= 1_000_000
            if within:
                worst_t, worst_m = max(worst_t, seconds), max(worst_m, mb)
            print(f"{name:32} {len(src):9d} {seconds:8.2f} {mb:8.0f}  {code}{'' if within else '  (over 1 MB)'}")
        corpus = Path(tmp) / "batch.jsonl"
        corpus.write_text("".join(json.dumps({"id": k, "program": v}) + "\n" for k, v in programs.items()))
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "fmprog", "check", "--jsonl", str(corpus), "--format", "json"],
                             capture_output=True, text=True)
        last = out.stdout.splitlines()[-1] if out.stdout else ""
        summary = json.loads(last).get("summary") if last.startswith('{"summary"') else None
        print(f"\nbatch of {len(programs)}: exit {out.returncode}, {time.perf_counter() - t:.2f} s, summary: {summary}")
    print(f"worst program of at most 1 MB: {worst_t:.2f} s (target {MAX_SECONDS} s), "
          f"{worst_m:.0f} MB peak (target {MAX_MB} MB)")


if __name__ == "__main__":
    main()
