"""How many programs that fail at run time `fmprog check --dry-run` flags beforehand.

Every compiling program of a corpus runs on deterministic fake backends (several seeds and
images); a program that fails on any of them is a failing program. Its dry run flags it when
it reports a finding; it pinpoints it when a finding has the same error kind at the same
line. Also prints how often dry-run findings replay: the share of programs with a finding
that fail on some fake run. Target: at least 99.5% of failing programs flagged.

Usage: python benchmarks/dry_run_coverage.py [CORPUS.jsonl] [--seeds N]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from fmprog.backends.base import KINDS
from fmprog.backends.fake import FakeBackend
from fmprog.compiler import compile_source
from fmprog.runtime.dryrun import dry_run
from fmprog.runtime.errors import ProgramError
from fmprog.runtime.interpreter import FixedInterpreter

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "llm-programs-dev.jsonl"


def images(n: int = 3) -> list[np.ndarray]:
    return [np.random.default_rng(s).integers(0, 255, (48 + 8 * s, 64, 3), dtype=np.uint8) for s in range(n)]


def failures(graph, seeds: int, query: str) -> set[tuple[str, int]]:
    found = set()
    for seed in range(seeds):
        backends = {k: FakeBackend(f"fake-{k}-{seed}", 1, k) for k in KINDS}
        for image in images():
            try:
                FixedInterpreter(graph, backends).run({"image": image, "query": query,
                                                       "possible_answers": ["yes", "no"]})
            except ProgramError as e:
                found.add((e.kind, e.range.line if e.range else 0))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT))
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args()
    rows = [json.loads(line) for line in Path(args.corpus).read_text().splitlines() if line.strip()]
    failing = flagged = pinpointed = with_findings = replayed = 0
    kinds: Counter = Counter()
    missed = []
    t = time.perf_counter()
    for row in rows:
        c = compile_source(row["program"])
        if not c.ok:
            continue
        real = failures(c.graph, args.seeds, row.get("query", ""))
        report = dry_run(c.graph)
        found = {(f.kind, f.range.line) for f in report.findings if f.kind != "NoAnswer"}
        kinds.update(k for k, _ in real)
        with_findings += bool(found)
        replayed += bool(found) and bool(real)
        if real:
            failing += 1
            flagged += bool(found)
            pinpointed += bool(real & found)
            if not found:
                missed.append((row["id"], sorted(real)))
    print(f"programs that fail at run time: {failing} ({dict(kinds)})")
    print(f"flagged by the dry run:         {flagged} ({100 * flagged / max(failing, 1):.2f}%; target 99.5%)")
    print(f"same kind at the same line:     {pinpointed} ({100 * pinpointed / max(failing, 1):.2f}%)")
    print(f"programs with dry-run findings that fail on a fake run: {replayed} of {with_findings} "
          f"({100 * replayed / max(with_findings, 1):.1f}%; the fakes try far fewer outcomes than the dry run)")
    for rid, real in missed[:20]:
        print(f"  missed: {rid}: {real}")
    print(f"({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
