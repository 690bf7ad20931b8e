"""Recording a stream: every backend's answers along every path the program can take.

For each input the program runs under every assignment of pool members to the call
sites that fire, explored lazily and depth first: a site's alternatives are tried only
where it fires, a site that never fires on an input multiplies nothing. Each distinct
backend call goes to the model once (a window of inputs is batched; what the cache file
already holds is not asked again), so any policy, the oracle and every policy of a
benchmark replay from the file with no model call.

Each input's exploration is also kept as an *outcome tree*: an inner node names the
site that fired first on that path and has one child per pool index it may take; a leaf
holds what the program answered under those choices (or its error), with the cost of
its calls. `outcome(tree, assignment)` reads any whole assignment's result without
running anything: the benchmark's oracle, static tiers and best fixed assignments come
from it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from fmprog.backends.base import Pools
from fmprog.compiler.ir import Graph

from .cache import MemoryCache, SQLiteCache
from .errors import ProgramError
from .executor import CachingExecutor, DirectExecutor, Executor
from .inputs import Item, read_image
from .neural import image_key
from .policies.base import Episode, Policy, Site
from .preflight import preflight
from .routed import RoutedInterpreter, sites_of
from .router import Breaker, Router
from .serving import bounded_answer
from .window import run_window


@dataclass
class RecordSummary:
    inputs: int
    assignments: int = 0  # complete assignments explored, over all inputs
    truncated: int = 0  # inputs whose exploration hit max_assignments
    calls: int = 0  # model calls made (cache misses)
    cached: int = 0  # calls answered from the cache file
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)  # paths ending in an error, by kind


def tree_key(graph: Graph, pools: Pools, image: Any, item: Item) -> str:
    """Where an input's outcome tree is filed: program, backends and input content."""
    text = json.dumps([graph.meta.get("source_sha256", ""), pools.identity(), image_key(image),
                       item.query, item.possible_answers], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def outcome(tree: dict, assignment: dict[str, int]) -> dict:
    """The leaf {"answer"|"error", "cost"} reached under a whole assignment."""
    node = tree
    while "site" in node:
        node = node["arms"][str(assignment[node["site"]])]
    return node


def leaves(tree: dict):
    """Every leaf of a tree with the choices that lead there."""
    stack = [(tree, {})]
    while stack:
        node, path = stack.pop()
        if "site" in node:
            for arm, child in node["arms"].items():
                stack.append((child, {**path, node["site"]: int(arm)}))
        else:
            yield path, node


class _Lazy(Policy):
    """A fixed partial assignment; a site it does not fix gets index 0. Notes, in firing
    order, every site's first choice and which ones were new."""

    name = "record"
    needs_features = False

    def __init__(self, sites: list[Site], fixed: dict[str, int]):
        super().__init__(sites, 0)
        self.fixed, self.new, self.path = fixed, [], []

    def _choose(self, episode: Episode, site: Site) -> int:
        if site.id not in self.fixed:
            self.new.append(site.id)
        arm = self.fixed.get(site.id, 0)
        self.path.append((site.id, arm))
        return arm


class _Submitting(Executor):
    """An executor over a window's `submit` (one job at a time)."""

    def __init__(self, submit):
        self.submit = submit

    def run(self, jobs):
        return [self.submit(j) for j in jobs]


class _Counting(Executor):
    def __init__(self, inner: Executor):
        self.inner, self.calls = inner, 0

    def run(self, jobs):
        self.calls += len(jobs)
        return self.inner.run(jobs)

    def close(self):
        self.inner.close()


@dataclass
class Recorder:
    """Explores inputs of one program on one set of pools (see the module docstring)."""

    graph: Graph
    pools: Pools
    max_assignments: int = 4096
    time_limit: float = 60.0
    max_iterations: int = 10_000
    max_pixels: int = 25_000_000

    def __post_init__(self):
        self.sites = sites_of(self.graph, self.pools)
        self.arms = {s.id: s.arms for s in self.sites}
        # no circuit breaker: a failing call is part of what is recorded, never rerouted
        self.breaker = Breaker(failures=2**62)
        self.proto = RoutedInterpreter(self.graph, Router(self.pools, _Lazy(self.sites, {}), self.breaker),
                                       max_iterations=self.max_iterations, time_limit=self.time_limit)
        self.slots: list[RoutedInterpreter] = []  # one interpreter per input in flight

    def task(self, item: Item, cache: SQLiteCache, summary: RecordSummary, slot: int = 0):
        """A window task exploring `item` (on the window's interpreter `slot`) and filing its
        tree in `cache`."""
        while len(self.slots) <= slot:
            self.slots.append(self.proto.spawn())
        interp = self.slots[slot]

        def explore(submit) -> None:
            if item.problem:
                return _count(summary, "bad-input")
            try:
                image = read_image(item.path, self.max_pixels)
            except Exception:
                return _count(summary, "image-error")
            key = tree_key(self.graph, self.pools, image, item)
            if cache.get_tree(key) is not None:
                return None
            tree, done, complete = self.explore(interp, image, item, submit, summary)
            summary.assignments += done
            summary.truncated += not complete
            if complete:
                cache.put_tree(key, tree)
            return None

        return explore

    def explore(self, interp: RoutedInterpreter, image, item: Item, submit,
                summary: RecordSummary) -> tuple[dict, int, bool]:
        """(outcome tree, assignments run, whether every assignment was run)."""
        inputs = {"image": image, "query": item.query, "possible_answers": item.possible_answers or []}
        memo = CachingExecutor(_Submitting(submit), MemoryCache())
        tree: dict = {}
        todo: list[dict[str, int]] = [{}]
        done = 0
        while todo and done < self.max_assignments:
            fixed = todo.pop()
            lazy = _Lazy(self.sites, fixed)
            interp.router = Router(self.pools, lazy, self.breaker)
            trace = interp.start(lazy.begin(None), lambda job: memo.run([job])[0])
            try:
                leaf = {"answer": bounded_answer(interp.run(dict(inputs)))}
            except ProgramError as e:
                leaf = {"error": e.kind}
                _count(summary, e.kind)
            leaf["cost"] = trace.cost
            _insert(tree, lazy.path, leaf)
            done += 1
            prefix = dict(fixed)
            for site in lazy.new:  # the alternatives of each newly fired site, in order
                todo.extend({**prefix, site: a} for a in range(self.arms[site] - 1, 0, -1))
                prefix[site] = 0
        return tree, done, not todo


def _insert(tree: dict, path: list[tuple[str, int]], leaf: dict) -> None:
    node = tree
    for site, arm in path:
        node.setdefault("site", site)
        node = node.setdefault("arms", {}).setdefault(str(arm), {})
    node.update(leaf)


def _count(summary: RecordSummary, kind: str) -> None:
    summary.errors[kind] = summary.errors.get(kind, 0) + 1


def record(graph: Graph, items: list[Item], pools: Pools, cache_path: str, window: int = 16,
           backend_timeout: float | None = 60.0, max_assignments: int = 4096,
           progress: bool = False, time_limit: float = 60.0, max_iterations: int = 10_000,
           max_pixels: int = 25_000_000) -> RecordSummary:
    """Record `items` into the cache file `cache_path` (see the module docstring)."""
    from tqdm import tqdm

    preflight(graph, pools)
    t0 = time.perf_counter()
    cache = SQLiteCache(cache_path)
    counting = _Counting(DirectExecutor(backend_timeout))
    executor = CachingExecutor(counting, cache)
    recorder = Recorder(graph, pools, max_assignments, time_limit, max_iterations, max_pixels)
    summary = RecordSummary(len(items))
    bar = tqdm(total=len(items), disable=not progress, unit="img", dynamic_ncols=True,
               mininterval=0.5, desc="recording")
    try:
        for first in range(0, len(items), window):
            batch = items[first:first + window]
            run_window(executor, [recorder.task(it, cache, summary, i) for i, it in enumerate(batch)])
            bar.update(len(batch))
    finally:
        bar.close()
        executor.close()
        cache.close()
    summary.calls, summary.cached = counting.calls, cache.hits
    summary.seconds = round(time.perf_counter() - t0, 3)
    return summary
