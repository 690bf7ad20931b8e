"""What `fmprog bench` shows: results averaged over queries and seeds, a table on screen,
the JSON document, a Pareto plot and learning curves."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from .harness import Score

AVERAGED = ("accuracy", "f1", "recall", "precision", "avg_cost", "cost_vs_largest",
            "last_half_accuracy", "mean_reward", "gain_over_line")


def aggregate(scores: Sequence[Score]) -> list[dict]:
    """Means over queries and seeds, per (policy, cost weight), in first-seen order."""
    groups: dict[tuple[str, float | None], list[Score]] = defaultdict(list)
    for s in scores:
        groups[(s.policy, s.cost_weight)].append(s)
    out = []
    for (policy, cw), group in groups.items():
        row = {"policy": policy, "cost_weight": cw, "runs": len(group),
               "queries": len({s.query for s in group})}
        budgets = [s.budget for s in group if s.budget is not None]
        if budgets:
            row["budget"] = round(float(np.mean(budgets)), 6)
        for k in AVERAGED:
            values = [getattr(s, k) for s in group if getattr(s, k) is not None]
            row[k] = round(float(np.mean(values)), 4) if values else None
        out.append(row)
    return out


def document(benchmark: str, queries: list[str], seeds: int, scores: Sequence[Score]) -> dict:
    """The JSON `fmprog bench --format json` prints (and writes to OUT/bench.json)."""
    return {"benchmark": benchmark, "queries": queries, "seeds": list(range(seeds)),
            "results": aggregate(scores), "per_query": [s.to_json() for s in scores]}


def table(doc: dict, metric: str) -> str:
    cols = ("accuracy", "f1", "avg_cost", "cost_vs_largest", "last_half_accuracy", "gain_over_line")
    head = f"{'policy':16s} {'lambda':>8s} " + " ".join(f"{c.replace('_', ' ')[:13]:>13s}" for c in cols)
    lines = [f"{doc['benchmark']}: {len(doc['queries'])} queries, seeds {doc['seeds']}, metric {metric}",
             head, "-" * len(head)]
    for r in doc["results"]:
        cells = " ".join(f"{_cell(r[c]):>13s}" for c in cols)
        cw = "budget" if r["cost_weight"] is None else f"{r['cost_weight']:g}"
        lines.append(f"{r['policy']:16s} {cw:>8s} {cells}")
    return "\n".join(lines)


def _cell(v) -> str:
    return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def plots(doc: dict, scores: Sequence[Score], metric: str, out: Path) -> list[Path]:
    """pareto.png (metric against cost relative to always-largest, a curve per policy over
    cost weights, static tiers and the oracle as points) and learning.png (running reward
    and accuracy over the stream, per policy, at the middle cost weight)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    by_policy: dict[str, list[dict]] = defaultdict(list)
    for r in doc["results"]:
        by_policy[r["policy"]].append(r)
    color = _colors(list(by_policy))
    fig, ax = plt.subplots(figsize=(7, 5))
    statics = sorted((rows[0]["cost_vs_largest"], rows[0][metric] or 0.0)
                     for p, rows in by_policy.items() if p.startswith("static-"))
    if statics:
        from .analysis import static_line

        line = static_line(statics)
        ax.plot(*zip(*line), ls="--", color="0.6", lw=1, label="static line", zorder=1)
    for policy, rows in by_policy.items():
        xs = [r["cost_vs_largest"] for r in rows]
        ys = [r[metric] or 0.0 for r in rows]
        if policy.startswith("static-") or policy == "oracle":
            ax.scatter(xs[:1], ys[:1], marker="s" if policy != "oracle" else "*", s=70, label=policy,
                       color=color[policy], zorder=3)
        else:
            order = np.argsort(xs)
            ax.plot(np.array(xs)[order], np.array(ys)[order], marker="o", label=policy, color=color[policy])
    ax.set_xlabel("cost relative to always-largest")
    ax.set_ylabel(metric)
    ax.set_title(f"{doc['benchmark']}: {metric} against cost (means over queries and seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    pareto = out / "pareto.png"
    fig.tight_layout()
    fig.savefig(pareto, dpi=110)
    plt.close(fig)

    weights = sorted({s.cost_weight for s in scores}, key=lambda w: -1 if w is None else w)
    cw = weights[len(weights) // 2]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    curves: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        if s.cost_weight == cw:
            curves[s.policy].append(s)
    for policy, group in curves.items():
        n = min(len(s.correct) for s in group)
        if n == 0:
            continue
        acc = np.mean([np.cumsum(s.correct[:n]) / np.arange(1, n + 1) for s in group], axis=0)
        rew = np.mean([_moving(s.rewards[:n], 100) for s in group], axis=0)
        a1.plot(acc, label=policy, color=color.get(policy))
        a2.plot(rew, label=policy, color=color.get(policy))
    at = "budget" if cw is None else f"lambda {cw:g}"
    a1.set_title(f"running accuracy ({at})")
    a2.set_title(f"reward, moving mean of 100 inputs ({at})")
    for a in (a1, a2):
        a.set_xlabel("input")
        a.grid(alpha=0.3)
    a2.legend(fontsize=8)
    learning = out / "learning.png"
    fig.tight_layout()
    fig.savefig(learning, dpi=110)
    plt.close(fig)
    return [pareto, learning]


def _colors(policies: list[str]) -> dict[str, tuple]:
    """One color per policy, the same in every plot."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(policies) <= 10 else "tab20"]
    return {p: cmap(i % cmap.N) for i, p in enumerate(policies)}


def _moving(x: list[float], k: int = 50) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    c = np.cumsum(np.insert(a, 0, 0.0))
    idx = np.arange(1, len(a) + 1)
    lo = np.maximum(0, idx - k)
    return (c[idx] - c[lo]) / (idx - lo)


def write(doc: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bench.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path
