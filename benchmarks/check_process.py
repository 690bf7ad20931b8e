"""`fmprog check` as users run it, whole process, against a process that only parses.

Both processes read the same JSONL corpus (the dev corpus repeated to about 3,000 programs):
one runs `fmprog check --jsonl` (start-up, imports, guard, parse, check, lower, lint, output),
the other imports libcst and parses each program, nothing more. They run alternately, a few
rounds; each is timed by the CPU time of its process (user + system, which other load on
the machine disturbs far less than wall time). Each round gives a ratio of the two, run back
to back; the median ratio is printed, with the spread. Target: at most 1.5x.

Usage: python benchmarks/check_process.py [CORPUS.jsonl] [--programs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "llm-programs-dev.jsonl"
PARSE_ONLY = """
import json, sys
import libcst
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        libcst.parse_module(json.loads(line)["program"])
    except Exception:
        pass
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT))
    ap.add_argument("--programs", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    lines = [line for line in Path(args.corpus).read_text().splitlines() if line.strip()]
    rows = [json.loads(lines[i % len(lines)]) for i in range(args.programs)]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        corpus.write_text("".join(json.dumps({**r, "id": f"{i}:{r['id']}"}) + "\n" for i, r in enumerate(rows)))
        check_cmd = [sys.executable, "-m", "fmprog", "check", "--jsonl", str(corpus)]
        parse_cmd = [sys.executable, "-c", PARSE_ONLY, str(corpus)]
        timed(parse_cmd)  # warm the file cache and the bytecode
        checks, parses = [], []
        for _ in range(args.rounds):
            parses.append(timed(parse_cmd))
            checks.append(timed(check_cmd))
    check_s, parse_s = (statistics.median(c for c, _ in t) for t in (checks, parses))
    ratios = sorted(c[0] / p[0] for c, p in zip(checks, parses))
    walls = sorted(c[1] / p[1] for c, p in zip(checks, parses))
    print(f"programs:                  {len(rows)} (the corpus repeated)")
    print(f"libcst parse-only process: {parse_s:.2f} s CPU (median of {args.rounds})")
    print(f"fmprog check process:      {check_s:.2f} s CPU")
    print(f"check / parse, per round:  {', '.join(f'{r:.2f}' for r in ratios)} (CPU); wall median "
          f"{statistics.median(walls):.3f}x")
    print(f"check / parse:             {statistics.median(ratios):.3f}x CPU, median of rounds  (target: at most 1.5x)")


if __name__ == "__main__":
    main()
