"""What the recorded outcome trees tell without running anything: the answer and cost of
any whole assignment on every input, hence the static tiers, the best fixed assignment
chosen in hindsight for a cost weight, the oracle, and the static line.

A *row* here is what `runtime.metrics.summarise` reads: item, label, answer, correct,
cost, reward, largest_cost, error_kind.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from fmprog.runtime.feedback import normalise, task_reward
from fmprog.runtime.policies.base import Site
from fmprog.runtime.policies.query_level import tier_table
from fmprog.runtime.recording import leaves, outcome
from fmprog.runtime.inputs import Item

MAX_FIXED = 4096  # assignments enumerated for best-fixed; beyond, coordinate ascent


def row_of(item: Item, leaf: dict, reward_kind: str, cost_weight: float, largest: float) -> dict:
    failed = "answer" not in leaf
    task, correct = task_reward(reward_kind, leaf.get("answer"), item.label, failed)
    return {"item": item.key, "label": item.label, "answer": leaf.get("answer"), "correct": int(correct),
            "cost": leaf["cost"], "reward": task - cost_weight * leaf["cost"],
            "largest_cost": largest, "error_kind": leaf.get("error"), "trace": None}


def tiers(sites: Sequence[Site]) -> list[dict[str, int]]:
    """One assignment per pool tier, cheapest first (tier t of the longest pool maps to the
    same relative position in every pool)."""
    table = tier_table(list(sites))
    return [{s.id: int(table[t, i]) for i, s in enumerate(sites)} for t in range(len(table))]


def tier_names(n: int) -> list[str]:
    if n == 1:
        return ["static-largest"]
    return ["static-cheapest"] + [f"static-tier{t}" for t in range(1, n - 1)] + ["static-largest"]


def fixed_rows(items: list[Item], trees: list[dict], assignment: dict[str, int], reward_kind: str,
               cost_weight: float, largest: list[float]) -> list[dict]:
    return [row_of(it, outcome(t, assignment), reward_kind, cost_weight, lg)
            for it, t, lg in zip(items, trees, largest)]


def oracle_rows(items: list[Item], trees: list[dict], largest_assignment: dict[str, int],
                reward_kind: str, cost_weight: float, largest: list[float]) -> list[dict]:
    """Per input, the cheapest recorded path whose answer is right; if none is, the largest
    backend everywhere (as the `oracle` policy does)."""
    rows = []
    for it, tree, lg in zip(items, trees, largest):
        right = [leaf for _, leaf in leaves(tree) if "answer" in leaf
                 and normalise(leaf["answer"]) == normalise(it.label)]
        leaf = min(right, key=lambda x: x["cost"]) if right else outcome(tree, largest_assignment)
        rows.append(row_of(it, leaf, reward_kind, cost_weight, lg))
    return rows


def best_fixed(items: list[Item], trees: list[dict], sites: Sequence[Site], reward_kind: str,
               cost_weight: float, budget: float | None = None) -> dict[str, int]:
    """The fixed assignment with the highest total reward on the stream, in hindsight;
    with a budget, the best of those whose average cost stays within it (else the
    cheapest)."""
    def total(a: dict[str, int]) -> float:
        rows = [row_of(it, outcome(t, a), reward_kind, cost_weight, 0.0) for it, t in zip(items, trees)]
        if budget is not None and rows and sum(r["cost"] for r in rows) / len(rows) > budget + 1e-12:
            return -1e18 - sum(r["cost"] for r in rows)  # over budget: only the cheapest may win
        return sum(r["reward"] for r in rows)

    arms = [range(s.arms) for s in sites]
    n = int(np.prod([s.arms for s in sites], dtype=np.float64)) if sites else 1
    if n <= MAX_FIXED:
        combos = [dict(zip((s.id for s in sites), c)) for c in itertools.product(*arms)]
        return max(combos, key=total)
    best = {s.id: s.arms - 1 for s in sites}  # coordinate ascent from always-largest
    improved = True
    while improved:
        improved = False
        for s in sites:
            for a in range(s.arms):
                cand = {**best, s.id: a}
                if total(cand) > total(best) + 1e-9:
                    best, improved = cand, True
    return best


def static_line(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The upper concave envelope of (cost, metric) points: the best a random mix of the
    static tiers reaches at each cost."""
    pts = sorted(set(points))
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    # keep the rising part: beyond the best tier, spending more gains nothing
    top = max(range(len(hull)), key=lambda i: (hull[i][1], -hull[i][0]))
    return hull[: top + 1]


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def line_at(line: Sequence[tuple[float, float]], cost: float) -> float:
    """The static line's metric at `cost` (flat before the cheapest and after the best)."""
    if cost <= line[0][0]:
        return line[0][1]
    for (c0, m0), (c1, m1) in zip(line, line[1:]):
        if cost <= c1:
            return m0 + (m1 - m0) * (cost - c0) / (c1 - c0) if c1 > c0 else max(m0, m1)
    return line[-1][1]
