"""The library entry points behind `fmprog run` and `fmprog record`.

`serve(graph, items, pools, settings, db)` runs (or, with `resume=True`, continues) a
program over a stream and returns its rows and summary; `record(graph, items, pools,
cache)` fills a call cache with every backend's answers along every path the program can
take, so that any policy replays from it without a model call. Both take settings
objects, never command-line arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from fmprog.backends.base import Pools
from fmprog.compiler.ir import Graph

from .cache import MemoryCache, SQLiteCache
from .executor import CachingExecutor, DirectExecutor, Executor, Job, Served
from .inputs import Item, read_image
from .metrics import summarise
from .policies.base import Episode, Policy, Site
from .preflight import preflight
from .routed import RoutedInterpreter, sites_of
from .router import Router
from .serving import Stream
from .settings import RunSettings
from .store import Store, StoreError
from .window import run_window


@dataclass
class RunResult:
    run_id: int
    rows: list[dict]
    summary: dict[str, Any]


def build_policy(name: str, sites: list[Site], cost_weight: float, seed: int) -> Policy:
    """The policy `name` with its default settings but the run's cost weight (the reward's
    lambda and the policy's must agree: it subtracts cost when choosing)."""
    from .policies import SETTINGS_CLASSES, make_policy

    cls = SETTINGS_CLASSES.get(name)
    settings = None
    if cls is not None and "cost_weight" in {f.name for f in dataclasses.fields(cls)}:
        settings = cls(cost_weight=cost_weight)
    return make_policy(name, sites, settings=settings, seed=seed)


def build_executor(settings: RunSettings) -> tuple[Executor, SQLiteCache | None]:
    """Direct calls, under a cache read through (`cache`) or replayed (`replay`)."""
    direct = DirectExecutor(settings.backend_timeout)
    if not settings.cache:
        return direct, None
    cache = SQLiteCache(settings.cache, readonly=settings.replay)
    return CachingExecutor(None if settings.replay else direct, cache, replay=settings.replay), cache


def stream_identity(items: list[Item]) -> str:
    return hashlib.sha256("\n".join(f"{i.key}={i.label}" for i in items).encode()).hexdigest()


def serve(graph: Graph, items: list[Item], pools: Pools, settings: RunSettings, db: str,
          resume: bool = False, progress: bool = False, check: bool = True) -> RunResult:
    """Serve `graph` over `items`; rows and checkpoints go to the SQLite file `db`.

    Raises PreflightError before the first input when the pools cannot serve the program,
    StoreError for an unusable database or a resume that does not match, ValueError for
    bad policy settings.
    """
    if check:
        preflight(graph, pools)
    policy = build_policy(settings.policy, sites_of(graph, pools), settings.cost_weight, settings.seed)
    store = Store(db)
    try:
        run_id, start = _open_run(store, graph, items, pools, policy, settings, resume)
        executor, cache = build_executor(settings)
        stream = Stream(graph, pools, policy, executor, settings)
        try:
            _drain(stream, store, run_id, items, start, progress)
        finally:
            executor.close()
            if cache is not None:
                cache.close()
        store.finish(run_id)
        rows = store.items(run_id)
    finally:
        store.close()
    return RunResult(run_id, rows, {"run": run_id, "db": str(db), "policy": settings.policy,
                                    **summarise(rows)})


def _open_run(store: Store, graph: Graph, items: list[Item], pools: Pools, policy: Policy,
              settings: RunSettings, resume: bool) -> tuple[int, int]:
    program = graph.meta.get("source_sha256", "")
    ident = json.dumps(settings.identity(), sort_keys=True)
    inputs = stream_identity(items)
    backends = [[b.name, b.kind, b.cost] for b in pools.all()]
    found = store.find_run(program, settings.policy, ident, inputs) if resume else None
    if found is not None:
        if found["backends_identity"] not in (None, pools.identity()):
            raise StoreError(
                f"{store.path}: run {found['id']} was served with other backends "
                f"({_names(found['backends'])}); this configuration has {_names(backends)}. "
                f"Resume with the same --backends, or start a new run without --resume")
        store.lock(found["id"])
        start, state = store.resume_point(found["id"])
        if state is not None:
            try:
                policy.load_state_dict(state)
            except (KeyError, ValueError, TypeError) as e:
                raise StoreError(f"{store.path}: run {found['id']}: the stored policy state does "
                                 f"not fit this policy: {e}") from None
        print(f"resuming run {found['id']} at input {start} of {len(items)}", file=sys.stderr)
        return found["id"], start
    run_id = store.new_run(program_sha256=program, graph=graph.to_json(), policy=settings.policy,
                           settings=ident, cost_weight=settings.cost_weight, backends=backends,
                           backends_identity=pools.identity(), inputs=inputs)
    store.lock(run_id)
    return run_id, 0


def _names(backends: list) -> str:
    return ", ".join(f"{b[0]} ({b[1]}, cost {b[2]:g})" for b in backends) or "none"


def _drain(stream: Stream, store: Store, run_id: int, items: list[Item], start: int,
           progress: bool) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(items), initial=start, disable=not progress, unit="img",
               dynamic_ncols=True, mininterval=0.5)
    correct = seen = 0
    try:
        for rows, state in stream.run(items, start=start, last_checkpoint=start):
            store.record(run_id, rows, state)
            for _, row in rows:
                if row.get("correct") is not None:
                    seen += 1
                    correct += row["correct"]
            if seen:
                bar.set_postfix(acc=f"{correct / seen:.2f}", cost=f"{rows[-1][1]['cost']:.2f}")
            bar.update(len(rows))
    finally:
        bar.close()


# -- recording ---------------------------------------------------------------------------
@dataclass
class RecordSummary:
    inputs: int
    assignments: int  # complete assignments explored, over all inputs
    truncated: int  # inputs whose exploration hit max_assignments
    calls: int  # model calls made (cache misses)
    cached: int  # calls answered from the cache file
    seconds: float
    errors: dict[str, int]


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


def record(graph: Graph, items: list[Item], pools: Pools, cache_path: str, window: int = 16,
           backend_timeout: float | None = 60.0, max_assignments: int = 4096,
           progress: bool = False, time_limit: float = 60.0, max_iterations: int = 10_000,
           max_pixels: int = 25_000_000) -> RecordSummary:
    """Run the program on every input under every assignment of pool members to the sites
    that fire (explored lazily: a site's alternatives are tried only where it fires), so
    the cache holds every call any policy can make. Calls of a window of inputs are
    batched; a call already in the cache is not made again."""
    from tqdm import tqdm

    preflight(graph, pools)
    t0 = time.perf_counter()
    cache = SQLiteCache(cache_path)
    counting = _Counting(DirectExecutor(backend_timeout))
    executor = CachingExecutor(counting, cache)
    sites = sites_of(graph, pools)
    proto = RoutedInterpreter(graph, Router(pools, _Lazy(sites, {})), max_iterations=max_iterations,
                              time_limit=time_limit)
    summary = RecordSummary(len(items), 0, 0, 0, 0, 0.0, {})
    bar = tqdm(total=len(items), disable=not progress, unit="img", dynamic_ncols=True, mininterval=0.5)
    try:
        for first in range(0, len(items), window):
            tasks = [_explorer(proto, sites, it, max_assignments, max_pixels, summary)
                     for it in items[first:first + window]]
            run_window(executor, tasks)
            bar.update(len(tasks))
    finally:
        bar.close()
        executor.close()
        cache.close()
    summary.calls = counting.calls
    summary.cached = cache.hits
    summary.seconds = round(time.perf_counter() - t0, 3)
    return summary


class _Lazy(Policy):
    """A fixed partial assignment; a site it does not fix gets index 0, noted in order."""

    name = "record"

    def __init__(self, sites: list[Site], fixed: dict[str, int]):
        super().__init__(sites, 0)
        self.fixed, self.new = fixed, []

    def _choose(self, episode: Episode, site: Site) -> int:
        if site.id in self.fixed:
            return self.fixed[site.id]
        self.new.append(site.id)
        return 0


def _explorer(proto: RoutedInterpreter, sites: list[Site], item: Item, limit: int,
              max_pixels: int, summary: RecordSummary):
    arms = {s.id: s.arms for s in sites}

    def explore(submit) -> None:
        if item.problem:
            summary.errors["bad-input"] = summary.errors.get("bad-input", 0) + 1
            return
        try:
            inputs = {"image": read_image(item.path, max_pixels), "query": item.query,
                      "possible_answers": item.possible_answers or []}
        except Exception:
            summary.errors["image-error"] = summary.errors.get("image-error", 0) + 1
            return
        memo = CachingExecutor(_Submitting(submit), MemoryCache())
        todo: list[dict[str, int]] = [{}]
        done = 0
        while todo and done < limit:
            fixed = todo.pop()
            lazy = _Lazy(sites, fixed)
            interp = proto.spawn()
            interp.router = Router(proto.router.pools, lazy, proto.router.breaker)
            interp.start(lazy.begin(None), lambda job: memo.run([job])[0])
            try:
                interp.run(dict(inputs))
            except Exception as e:  # recorded through the calls; the path ends here
                kind = getattr(e, "kind", type(e).__name__)
                summary.errors[kind] = summary.errors.get(kind, 0) + 1
            done += 1
            prefix = dict(fixed)
            for site in lazy.new:  # alternatives of each newly fired site, in order
                todo.extend({**prefix, site: a} for a in range(arms[site] - 1, 0, -1))
                prefix[site] = 0
        summary.assignments += done
        summary.truncated += bool(todo)

    return explore
