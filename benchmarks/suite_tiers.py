"""Static-tier quality of every benchmark query: is the query worth asking, and do the tiers
differ where the routing signal should be (hard scenes)?

For each query, the first N images of its stream are recorded once on the pools (the same
recording `fmprog bench` uses and reuses), then each static tier (every site on the
cheapest, middle, largest pool member) is scored on them, on their hard scenes (difficulty
>= 0.5) and on their easy ones, side by side: accuracy, cost per input, task reward.

Binary queries have 1 positive in 20 to 100 images, too few in N images for an F1. Their
F1 is therefore estimated at the stream's rate r = 1/one_in from the true-positive rate
on *every* positive of the full definition (the first `n` images of the query, 10 to 50
positives) and the false-positive rate on the negatives among the first N:
F1 = 2 r TPR / (2 r TPR + (1 - r) FPR + r (1 - TPR)); the expected binary reward per image
comes from the same rates. `lambda*` is the cost weight at which always-largest and
always-cheapest earn the same reward, (R_largest - R_cheapest) / (C_largest - C_cheapest):
the benchmarks' cost weights are chosen around its median (docs/benchmarks.md).

Usage: python benchmarks/suite_tiers.py [binary-vqa open-vqa] [--n 100] [--queries Q ...]
           [--backends CONFIG] [--out runs/suite-tiers] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HARD_FROM = 0.5
TIERS = ("static-cheapest", "static-tier1", "static-largest")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("benchmarks", nargs="*", default=["binary-vqa", "open-vqa"])
    ap.add_argument("--n", type=int, default=100, help="images per query (the stream's first N)")
    ap.add_argument("--queries", nargs="+", help="only these query ids")
    ap.add_argument("--backends", help="backend configuration (default: the embedded models)")
    ap.add_argument("--out", default="runs/suite-tiers", help="streams and recording go here")
    ap.add_argument("--json", help="also write the measurements to this file")
    args = ap.parse_args()

    from fmprog.bench.suites import load_suite
    from fmprog.runtime.cli import load_pools

    pools = load_pools(args.backends)
    out = {}
    for name in args.benchmarks:
        suite = load_suite(name)
        ids = [q.id for q in suite.queries if not args.queries or q.id in args.queries]
        rows = [measure(suite, suite.query(i), pools, args.n, Path(args.out) / name) for i in ids]
        out[name] = rows
        print(table(suite, rows))
        print(f"lambda* median {statistics.median([r['lambda_star'] for r in rows]):.3g} "
              f"(quartiles {quartiles([r['lambda_star'] for r in rows])})\n")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


def measure(suite, q, pools, n: int, out: Path) -> dict:
    """The static tiers of one query: its first n images (all, hard, easy) and, for a
    binary query, every positive of the full definition."""
    from fmprog.bench.harness import BenchSettings, bench_stream
    from fmprog.bench.suites import compile_query, stream_for
    from fmprog.runtime.inputs import load_inputs

    t0 = time.perf_counter()
    full = q.n if suite.binary else n
    folder = stream_for(suite, q, max(n, full), out)
    items = load_inputs(folder / "labels.jsonl").items[:max(n, full)]
    hard_of = {json.loads(x)["image"]: json.loads(x)["difficulty"] >= HARD_FROM
               for x in (folder / "scenes.jsonl").read_text().splitlines()}
    settings = BenchSettings(policies=("static",), cost_weights=(0.0,), seeds=1, reward=suite.reward,
                             metric=suite.metric, out=out)
    graph = compile_query(q)
    rec = out / "recording.sqlite"

    def tiers(subset):
        return {s.policy: s for s in bench_stream(q.id, graph, subset, pools, settings, rec)} if subset else {}

    head = items[:n]
    row = {"query": q.id, "kind": q.kind, "n": len(head)}
    for part, subset in (("all", head), ("hard", [i for i in head if hard_of[i.key]]),
                         ("easy", [i for i in head if not hard_of[i.key]])):
        scores = tiers(subset)
        row[part] = {t: {"accuracy": scores[t].accuracy if scores else None,
                         "cost": scores[t].avg_cost if scores else None,
                         "reward": scores[t].mean_reward if scores else None,
                         "metric": _metric(scores[t], suite.metric) if scores else None} for t in TIERS}
    if suite.binary:
        _estimate_f1(row, q, tiers([i for i in items if i.label == "yes"]),
                     tiers([i for i in head if i.label != "yes"]))
    row["seconds"] = round(time.perf_counter() - t0, 1)
    lo, hi = row["all"][TIERS[0]], row["all"][TIERS[-1]]
    row["lambda_star"] = (hi["reward"] - lo["reward"]) / max(1e-9, hi["cost"] - lo["cost"])
    row["majority"] = _majority(head)
    print(f"{suite.name} {q.id}: {row['seconds']} s", file=sys.stderr, flush=True)
    return row


def _estimate_f1(row: dict, q, pos: dict, neg: dict) -> None:
    """F1 and the expected binary reward at the stream's rate, from TPR and FPR."""
    r = 1.0 / q.one_in
    row["positives"] = len(next(iter(pos.values())).correct) if pos else 0
    for t in TIERS:
        tpr = pos[t].accuracy if pos else 0.0
        fpr = 1.0 - neg[t].accuracy if neg else 0.0
        denom = 2 * r * tpr + (1 - r) * fpr + r * (1 - tpr)
        cell = row["all"][t]
        cell.update(tpr=tpr, fpr=fpr, metric=2 * r * tpr / denom if denom else 0.0,
                    reward=r * (1000 * tpr - 100 * (1 - tpr)) + (1 - r) * ((1 - fpr) - 100 * fpr))


def _metric(score, metric: str) -> float:
    value = getattr(score, metric)
    return 0.0 if value is None else float(value)


def _majority(items) -> float:
    labels = [i.label for i in items]
    return max(labels.count(x) for x in set(labels)) / len(labels) if labels else 0.0


def quartiles(xs: list[float]) -> str:
    qs = statistics.quantiles(xs, n=4) if len(xs) >= 2 else xs * 3
    return ", ".join(f"{v:.3g}" for v in qs)


def table(suite, rows: list[dict]) -> str:
    """A markdown table: one row per query, tiers as tiny / small / large in each cell."""
    m = "F1 (est.)" if suite.binary else "accuracy"
    extra = "TPR | FPR | " if suite.binary else ""
    head = (f"| query | kind | {m} | {extra}hard acc | easy acc | cost | "
            f"{'positives' if suite.binary else 'majority'} | lambda* |")
    lines = [f"{suite.name}: static tiers tiny / small / large", head,
             "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        def cells(part, key):
            return " / ".join("-" if r[part][t][key] is None else f"{r[part][t][key]:.2f}" for t in TIERS)
        cost = " / ".join(f"{r['all'][t]['cost']:.3g}" for t in TIERS)
        rates = f"{cells('all', 'tpr')} | {cells('all', 'fpr')} | " if suite.binary else ""
        last = r["positives"] if suite.binary else f"{r['majority']:.2f}"
        lines.append(f"| `{r['query']}` | {r['kind']} | {cells('all', 'metric')} | {rates}"
                     f"{cells('hard', 'accuracy')} | {cells('easy', 'accuracy')} | {cost} | "
                     f"{last} | {r['lambda_star']:.3g} |")
    keys = [("all", "metric")] + ([("all", "tpr"), ("all", "fpr")] if suite.binary else []) \
        + [("hard", "accuracy"), ("easy", "accuracy")]
    means = [" / ".join(f"{statistics.mean(r[p][t][k] for r in rows if r[p][t][k] is not None):.2f}"
                        for t in TIERS) for p, k in keys]
    lines.append("| **mean** | | " + " | ".join(means) + " | | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
