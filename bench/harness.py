"""A benchmark end to end: record each stream once, then score every policy, cost weight
and seed on it.

`bench_stream(...)` does one program over one labelled stream and returns its `Score`s;
`run_suite` (in `suites.py`) calls it for every query of a benchmark. Deterministic
policies (static tiers, best-fixed, the oracle) are scored once, with seed 0; random and
learned policies once per seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmprog.backends.base import Pools
from fmprog.compiler.ir import Graph
from fmprog.runtime.cache import SQLiteCache
from fmprog.runtime.inputs import Item
from fmprog.runtime.metrics import summarise
from fmprog.runtime.recording import outcome, record, tree_key
from fmprog.runtime.routed import sites_of
from fmprog.runtime.service import build_policy
from fmprog.runtime.settings import RunSettings

from . import analysis as A
from .replay import Recorded, replay

ANALYTIC = ("best-fixed", "oracle")  # besides the static tiers, read off the trees
DEFAULT_POLICIES = ("static", "best-fixed", "random", "query-level", "joint", "structured", "oracle")


@dataclass(frozen=True)
class BenchSettings:
    """What a benchmark run compares: `policies` (names; "static" means every static tier),
    `cost_weights` (lambda of reward = task - lambda * cost), `seeds` (runs of each random or
    learned policy), the task reward and metric of the benchmark, the batching window of
    recording and replays, and where outputs go."""

    policies: tuple[str, ...] = DEFAULT_POLICIES
    cost_weights: tuple[float, ...] = (1.0,)
    seeds: int = 3
    reward: str = "open-form"
    metric: str = "accuracy"  # or "f1"
    window: int = 16
    budget: str | float | None = None  # instead of cost weights: an average cost, or "25%"
    feedback_delay: int = 0
    feedback_rate: float = 1.0
    backend_timeout: float | None = 60.0
    out: Path = Path("runs/bench")
    progress: bool = False

    def __post_init__(self):
        if self.metric not in ("accuracy", "f1"):
            raise ValueError(f"BenchSettings.metric must be accuracy or f1, got {self.metric!r}")
        if self.seeds < 1:
            raise ValueError(f"BenchSettings.seeds must be >= 1, got {self.seeds}")
        if self.budget is None and (not self.cost_weights or
                                    any(not math.isfinite(c) or c < 0 for c in self.cost_weights)):
            raise ValueError(f"BenchSettings.cost_weights must be finite and >= 0, got {self.cost_weights}")


@dataclass
class Score:
    """One (query, policy, cost weight, seed): the figures of `fmprog bench`, and the
    per-input outcomes its learning curves are drawn from."""

    query: str
    policy: str
    cost_weight: float
    seed: int
    accuracy: float
    f1: float | None
    avg_cost: float
    cost_vs_largest: float
    last_half_accuracy: float
    mean_reward: float
    gain_over_line: float = 0.0
    budget: float | None = None
    recall: float | None = None  # yes/no streams: the true-positive rate ...
    precision: float | None = None  # ... and the share of "yes" answers that are right
    correct: list[int] = field(default_factory=list, repr=False)
    rewards: list[float] = field(default_factory=list, repr=False)

    FIELDS = ("query", "seed", "policy", "cost_weight", "budget", "accuracy", "f1", "recall",
              "precision", "avg_cost", "cost_vs_largest", "last_half_accuracy", "mean_reward",
              "gain_over_line")

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.FIELDS}


def _score(query: str, policy: str, cw: float | None, seed: int, rows: list[dict], largest_cost: float) -> Score:
    s = summarise(rows)
    half = rows[len(rows) // 2:]
    correct = [int(r.get("correct") or 0) for r in rows]
    rewards = [float(r.get("reward") or 0.0) for r in rows]
    avg = s["avg_cost"] or 0.0
    return Score(query, policy, cw, seed, s["accuracy"] or 0.0, s.get("f1"), avg,
                 avg / largest_cost if largest_cost else 0.0,
                 float(np.mean([int(r.get("correct") or 0) for r in half])) if half else 0.0,
                 float(np.mean(rewards)) if rewards else 0.0, recall=s.get("recall"),
                 precision=s.get("precision"), correct=correct, rewards=rewards)


def load_recorded(graph: Graph, items: list[Item], pools: Pools, cache_path: str | Path) -> Recorded:
    """The recorded calls and trees of a stream (a missing tree: a bad input)."""
    cache = SQLiteCache(cache_path, readonly=True)
    try:
        rec = Recorded(graph, pools, items, cache.load_all(), [])
        for it in items:
            tree = None
            if not it.problem:
                try:
                    tree = cache.get_tree(tree_key(graph, pools, rec.image(it), it))
                except (OSError, ValueError):
                    tree = None
            rec.trees.append(tree or {"error": "bad-input", "cost": 0.0})
    finally:
        cache.close()
    return rec


def bench_stream(query: str, graph: Graph, items: list[Item], pools: Pools, settings: BenchSettings,
                 cache_path: str | Path) -> list[Score]:
    """Record the stream (reusing what the cache file holds), then score every policy."""
    record(graph, items, pools, str(cache_path), window=settings.window,
           backend_timeout=settings.backend_timeout, progress=settings.progress)
    rec = load_recorded(graph, items, pools, cache_path)
    ctx = _Context(query, rec, sites_of(graph, pools), settings)
    scores: list[Score] = []
    if settings.budget is not None:
        scores += ctx.analytic(0.0, budget=ctx.budget_of(settings.budget)) + ctx.replayed(None)
    else:
        for cw in settings.cost_weights:
            scores += ctx.analytic(cw) + ctx.replayed(cw)
    _gains(scores, settings.metric)
    return scores


class _Context:
    """One recorded stream and what every policy of a benchmark run shares on it."""

    def __init__(self, query: str, rec: Recorded, sites, settings: BenchSettings):
        self.query, self.rec, self.sites, self.settings = query, rec, sites, settings
        self.tiers = A.tiers(sites)
        self.largest = [outcome(t, self.tiers[-1])["cost"] for t in rec.trees]
        self.largest_cost = float(np.mean(self.largest)) if self.largest else 0.0
        self.features = rec.feature_fn()
        self.names = A.tier_names(len(self.tiers))

    def budget_of(self, budget: str | float) -> float:
        """An absolute budget, or "25%": a share of always-largest's average cost here."""
        text = str(budget)
        if text.endswith("%"):
            return float(text[:-1]) / 100.0 * self.largest_cost
        return float(text)

    def _score(self, name: str, cw: float | None, seed: int, rows: list[dict], budget=None) -> Score:
        s = _score(self.query, name, cw, seed, rows, self.largest_cost)
        s.budget = budget
        return s

    def analytic(self, cw: float, budget: float | None = None) -> list[Score]:
        """Static tiers, best-fixed (under the budget, if any) and the oracle, read off the trees."""
        rec, st, wanted = self.rec, self.settings, set(self.settings.policies)
        args = (rec.items, rec.trees)
        out = []
        for name, a in zip(self.names, self.tiers):
            if "static" in wanted or name in wanted:
                out.append(self._score(name, cw, 0, A.fixed_rows(*args, a, st.reward, cw, self.largest), budget))
        if "best-fixed" in wanted:
            best = A.best_fixed(*args, self.sites, st.reward, cw, budget=budget)
            out.append(self._score("best-fixed", cw, 0, A.fixed_rows(*args, best, st.reward, cw, self.largest),
                                   budget))
        if "oracle" in wanted:
            rows = A.oracle_rows(*args, self.tiers[-1], st.reward, cw, self.largest)
            out.append(self._score("oracle", cw, 0, rows, budget))
        return out

    def replayed(self, cw: float | None) -> list[Score]:
        """Every random or learned policy, once per seed (with the budget, if any)."""
        st, out = self.settings, []
        budget = self.budget_of(st.budget) if st.budget is not None else None
        for name in st.policies:
            if name in ANALYTIC or name == "static" or name in self.names:
                continue
            for seed in range(st.seeds):
                policy = build_policy(name, self.sites, cw or 0.0, seed)
                run = RunSettings(policy=name, cost_weight=cw or 0.0, reward=st.reward, seed=seed,
                                  window=st.window, checkpoint_every=max(1, len(self.rec.items)),
                                  backend_timeout=None, budget=budget, feedback_delay=st.feedback_delay,
                                  feedback_rate=st.feedback_rate)
                rows = replay(self.rec, policy, run, self.features)
                out.append(self._score(name, cw, seed, rows, budget))
        return out


def _gains(scores: list[Score], metric: str) -> None:
    """gain_over_line: the metric minus the static line's at the same average cost."""
    # a static tier's metric and cost do not depend on the cost weight: one point per tier
    static = list({s.policy: s for s in scores if s.policy.startswith("static-")}.values())
    if not static:
        return
    line = A.static_line([(s.avg_cost, _metric(s, metric)) for s in static])
    for s in scores:
        s.gain_over_line = round(_metric(s, metric) - A.line_at(line, s.avg_cost), 4)


def _metric(s: Score, metric: str) -> float:
    value = getattr(s, metric)
    return 0.0 if value is None else float(value)
