"""Compile speed over the dev corpus: programs/s, and full compile vs libcst parse alone.

Both are measured in the same run, interleaved program by program, so machine noise hits
both alike. Usage: python benchmarks/compile_speed.py [CORPUS.jsonl] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import libcst as cst

from fmprog.compiler import compile_source

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "llm-programs-dev.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sources = [json.loads(line)["program"] for line in Path(args.corpus).read_text().splitlines() if line.strip()]
    for s in sources:  # warm caches (DSL tables, imports)
        compile_source(s)
    parse_t = compile_t = 0.0
    gc.disable()
    for _ in range(args.repeat):
        for s in sources:
            t0 = time.perf_counter()
            try:
                cst.parse_module(s)
            except cst.ParserSyntaxError:
                pass
            t1 = time.perf_counter()
            compile_source(s)
            t2 = time.perf_counter()
            parse_t += t1 - t0
            compile_t += t2 - t1
    gc.enable()
    n = len(sources) * args.repeat
    print(f"programs:             {len(sources)} x {args.repeat} repeats")
    print(f"libcst parse only:    {parse_t / n * 1e3:.3f} ms/program")
    print(f"full compile:         {compile_t / n * 1e3:.3f} ms/program  (parse, positions, check+lower, lint)")
    print(f"throughput:           {n / compile_t:.0f} programs/s on one core")
    print(f"compile / parse:      {compile_t / parse_t:.3f}x  (target: at most 1.5x)")


if __name__ == "__main__":
    main()
