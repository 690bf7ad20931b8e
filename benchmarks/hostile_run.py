"""Run-time cost of hostile programs (the resource bombs of tests/test_hostile.py): each one
run by the graph interpreter in its own process, with the time it took, the error that
stopped it, and its peak memory above the process's baseline before the run (target: under
1 GB whatever the program does); then `fmprog check --dry-run` on each (it must finish within
its time budget).

Usage: python benchmarks/hostile_run.py [--only NAME] [--limit-seconds S]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_MB = 1024

CHILD = r"""
import json, resource, sys, time
from fmprog.compiler import compile_source
from fmprog.runtime.errors import ProgramError
from fmprog.runtime.interpreter import FixedInterpreter
import numpy as np
src, limit = sys.argv[1], float(sys.argv[2])
graph = compile_source(src).graph
image = np.zeros((480, 640, 3), np.uint8)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
try:
    FixedInterpreter(graph, {}, time_limit=limit).run({"image": image})
    outcome = "no error"
except ProgramError as e:
    outcome = f"{e.kind} at line {e.range.line}"
seconds = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_mb": (after - before) / 1024}))
"""


def bombs() -> dict:
    spec = importlib.util.spec_from_file_location("test_hostile", HERE.parent / "tests" / "test_hostile.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HERE.parent / "tests"))
    spec.loader.exec_module(module)
    return {name: module.ENTRY + "    " + body + "\n" for name, (body, *_rest) in module.RUN_BOMBS.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", help="run only the programs whose name contains this")
    ap.add_argument("--limit-seconds", type=float, default=60.0, help="the interpreter's time limit (default 60)")
    args = ap.parse_args()
    programs = {k: v for k, v in bombs().items() if not args.only or args.only in k}
    worst_mb = worst_s = 0.0
    print(f"{'program':22} {'seconds':>8} {'peak MB':>8}  outcome")
    for name, src in programs.items():
        out = subprocess.run([sys.executable, "-c", CHILD, src, str(args.limit_seconds)], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name:22} {'-':>8} {'-':>8}  the process failed: {out.stderr.strip()[-200:]}")
            worst_mb = float("inf")
            continue
        r = json.loads(out.stdout)
        worst_mb, worst_s = max(worst_mb, r["peak_mb"]), max(worst_s, r["seconds"])
        print(f"{name:22} {r['seconds']:8.2f} {r['peak_mb']:8.0f}  {r['outcome']}")
    print(f"\nworst run: {worst_s:.2f} s, {worst_mb:.0f} MB above the baseline (target: under {TARGET_MB} MB)")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "bombs.jsonl"
        corpus.write_text("".join(json.dumps({"id": k, "program": v}) + "\n" for k, v in programs.items()))
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "fmprog", "check", "--dry-run", "--jsonl", str(corpus),
                              "--format", "json"], capture_output=True, text=True)
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        slowest = max((r.get("dry_run", {}).get("seconds", 0.0), r.get("id")) for r in rows[:-1])
        print(f"check --dry-run of all {len(programs)}: {time.perf_counter() - t:.1f} s, slowest dry run "
              f"{slowest[0]:.2f} s ({slowest[1]}), summary {rows[-1].get('summary')}")


if __name__ == "__main__":
    main()
