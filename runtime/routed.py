"""The routed runtime: the interpreter asks the policy for a backend at each neural node
that fires, and records a trace (fired nodes, per-site backend, calls, latency, cost)."""

from __future__ import annotations

import concurrent.futures as cf
import time
from dataclasses import dataclass, field
from typing import Any

from fmprog.backends.base import BackendError, Pools
from fmprog.compiler.ir import Graph, Node

from . import neural as N
from .interpreter import Interpreter
from .policies.base import Episode, Policy, Site


@dataclass
class SiteTrace:
    backend: str
    index: int
    calls: int = 0
    seconds: float = 0.0
    cost: float = 0.0


@dataclass
class Trace:
    """What happened on one input."""

    sites: dict[str, SiteTrace] = field(default_factory=dict)
    fired: list[int] = field(default_factory=list)  # ids of the nodes that ran
    answer: Any = None
    error: dict | None = None

    @property
    def cost(self) -> float:
        return sum(s.cost for s in self.sites.values())

    def to_json(self) -> dict:
        return {"sites": {k: vars(v) for k, v in self.sites.items()}, "fired": self.fired, "error": self.error}


def sites_of(graph: Graph, pools: Pools) -> list[Site]:
    return [Site(n.meta["site"], n.meta["kind"], tuple(pools.costs(n.meta["kind"]))) for n in graph.neural_sites()]


class RoutedInterpreter(Interpreter):
    def __init__(self, graph: Graph, pools: Pools, policy: Policy, backend_timeout: float | None = None, **kw):
        super().__init__(graph, **kw)
        self.pools, self.policy, self.backend_timeout = pools, policy, backend_timeout
        self._pool = cf.ThreadPoolExecutor(max_workers=1) if backend_timeout else None

    def start(self, episode: Episode) -> Trace:
        self.episode, self.trace = episode, Trace()
        self.fired = self.trace.fired
        return self.trace

    def neural(self, node: Node, patch, args, kwargs):
        site = node.meta["site"]
        index = self.policy.choose(self.episode, site)
        backend = self.pools.pool(node.meta["kind"])[index]
        st = self.trace.sites.setdefault(site, SiteTrace(backend.name, index))
        t0 = time.perf_counter()
        try:
            return self._call(node.target, backend, patch, args, kwargs)
        finally:
            st.calls += 1
            st.seconds += time.perf_counter() - t0
            st.cost += backend.cost

    def _call(self, method, backend, patch, args, kwargs):
        if self._pool is None:
            return N.call(method, backend, patch, args, kwargs)
        future = self._pool.submit(N.call, method, backend, patch, args, kwargs)
        try:
            return future.result(timeout=self.backend_timeout)
        except cf.TimeoutError:
            # The worker cannot be killed; start a fresh one so the stream goes on.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = cf.ThreadPoolExecutor(max_workers=1)
            raise BackendError(f"{backend.name} timed out after {self.backend_timeout} s") from None
