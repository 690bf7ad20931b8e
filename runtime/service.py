"""The library entry points behind `fmprog run` and `fmprog record`.

`serve(graph, items, pools, settings, db)` runs (or, with `resume=True`, continues) a
program over a stream and returns its rows and summary (`recording.record` fills a call
cache for replays). It takes a settings object, never command-line arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable

from fmprog.backends.base import Pools
from fmprog.compiler.ir import Graph

from .cache import SQLiteCache
from .executor import CachingExecutor, DirectExecutor, Executor
from .inputs import Item
from .metrics import summarise
from .policies.base import Policy, Site
from .preflight import preflight
from .routed import sites_of
from .serving import Stream
from .settings import RunSettings
from .store import Store, StoreError


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


#: Builds a run's stream and what releases it: (graph, pools, policy, settings) ->
#: (Stream, release). The default serves in this process; `runtime/distributed` spreads
#: the inputs over Ray workers.
StreamFactory = Callable[[Graph, Pools, Policy, RunSettings], "tuple[Stream, Callable[[], None]]"]


def local_stream(graph: Graph, pools: Pools, policy: Policy,
                 settings: RunSettings) -> tuple[Stream, Callable[[], None]]:
    """A stream served in this process over the direct (or caching) executor."""
    executor, cache = build_executor(settings)

    def release() -> None:
        executor.close()
        if cache is not None:
            cache.close()

    return Stream(graph, pools, policy, executor, settings), release


def serve(graph: Graph, items: list[Item], pools: Pools, settings: RunSettings, db: str,
          resume: bool = False, progress: bool = False, check: bool = True,
          streams: StreamFactory | None = None) -> RunResult:
    """Serve `graph` over `items`; rows and checkpoints go to the SQLite file `db` (this
    process is its single writer). `streams` builds the stream (default: `local_stream`).

    Raises PreflightError before the first input when the pools cannot serve the program,
    StoreError for an unusable database or a resume that does not match, ValueError for
    bad policy settings.
    """
    if check:
        preflight(graph, pools)
    policy = build_policy(settings.policy, sites_of(graph, pools), settings.cost_weight, settings.seed)
    store = Store(db)
    try:
        stream, release = (streams or local_stream)(graph, pools, policy, settings)
        try:
            run_id, start = _open_run(store, graph, items, pools, stream, settings, resume)
            _drain(stream, store, run_id, items, start, progress)
        finally:
            release()
        store.finish(run_id)
        rows = store.items(run_id)
    finally:
        store.close()
    return RunResult(run_id, rows, {"run": run_id, "db": str(db), "policy": settings.policy,
                                    **summarise(rows), **stream.learner.summary()})


def _open_run(store: Store, graph: Graph, items: list[Item], pools: Pools, stream: Stream,
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
                stream.load_state_dict(state)
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
