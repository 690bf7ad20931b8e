"""Executors: what serves backend calls once the router has planned them.

An executor takes a list of `Job`s (a backend and a call) and returns one `Served` per
job, in order. They stack:

- `DirectExecutor` calls the backends, the jobs of one backend as one batch
  (`Backend.serve`), each batch bounded by the run's backend timeout;
- `CachingExecutor` answers from a call cache and hands only the misses to the executor
  below it; in replay mode a miss is an error, never a model call.

Batching is not a layer here: the windowed scheduler (`window.py`) hands an executor every
job that its in-flight inputs are waiting on at once, and the executor batches what it is
given. A Ray executor plugs in the same way.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

from fmprog.backends.base import Backend, BackendError, BackendTimeout, Call, Result

from .cache import CacheEntry, CallCache


@dataclass(frozen=True, eq=False)
class Job:
    """One planned call: the backend that serves it and, for caching, its key."""

    backend: Backend
    call: Call
    key: str | None = None


@dataclass(frozen=True)
class Served:
    """The outcome of one job: a result or an error, the seconds it took (a batch's time
    is shared by its calls), whether it came from the cache, and what it costs."""

    result: Result | None
    error: BackendError | None
    seconds: float
    cost: float
    cached: bool = False


class Executor(ABC):
    @abstractmethod
    def run(self, jobs: Sequence[Job]) -> list[Served]:
        """Serve every job; one `Served` per job, in order."""

    def close(self) -> None:
        """Release threads and connections."""


class DirectExecutor(Executor):
    """Calls the backends. The jobs of one backend go to it as one batch, bounded by
    `timeout` seconds (the run's outer bound: a backend's own timeout and retries live
    inside it); a backend that does not answer in time fails that batch with
    BackendTimeout and gets a fresh worker thread, so the stream goes on."""

    def __init__(self, timeout: float | None = None):
        self.timeout = timeout
        self._workers: dict[int, cf.ThreadPoolExecutor] = {}

    def run(self, jobs: Sequence[Job]) -> list[Served]:
        out: list[Served | None] = [None] * len(jobs)
        groups: dict[int, list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault(id(job.backend), []).append(i)
        for idx in groups.values():
            backend = jobs[idx[0]].backend
            t0 = time.perf_counter()
            answers = self._serve(backend, [jobs[i].call for i in idx])
            share = (time.perf_counter() - t0) / len(idx)
            for i, a in zip(idx, answers):
                if isinstance(a, BaseException):
                    out[i] = Served(None, _as_backend_error(backend, a), share, 0.0)
                else:
                    out[i] = Served(a, None, share, backend.cost)
        return out  # type: ignore[return-value]

    def _serve(self, backend: Backend, calls: list[Call]) -> list:
        if self.timeout is None:
            return _guarded(backend, calls)
        pool = self._workers.get(id(backend))
        if pool is None:
            pool = self._workers[id(backend)] = cf.ThreadPoolExecutor(1, f"fmprog-{backend.name}")
        future = pool.submit(_guarded, backend, calls)
        try:
            return future.result(timeout=self.timeout)
        except cf.TimeoutError:
            # a Python thread cannot be killed: abandon it, start a fresh worker
            pool.shutdown(wait=False, cancel_futures=True)
            del self._workers[id(backend)]
            err = BackendTimeout(f"{backend.name} did not answer within {self.timeout:g} s "
                                 f"(--backend-timeout)")
            return [err] * len(calls)

    def close(self) -> None:
        for pool in self._workers.values():
            pool.shutdown(wait=False, cancel_futures=True)
        self._workers.clear()


def _guarded(backend: Backend, calls: list[Call]) -> list:
    """`backend.serve(calls)`, with a broken serve() turned into one error per call."""
    try:
        answers = list(backend.serve(calls))
    except Exception as e:
        return [e] * len(calls)
    if len(answers) != len(calls):
        err = BackendError(f"{backend.name}: serve() returned {len(answers)} answers for "
                           f"{len(calls)} calls")
        return [err] * len(calls)
    return [a if isinstance(a, (Result, BaseException)) else
            BackendError(f"{backend.name}: serve() returned {type(a).__name__}, not a Result")
            for a in answers]


#: `_guarded` under a public name: Ray backend actors serve their calls through it
serve_guarded = _guarded


def _as_backend_error(backend: Backend, e: BaseException) -> BackendError:
    if isinstance(e, BackendError):
        return e
    err = BackendError(f"{backend.name}: {type(e).__name__}: {e}")
    err.__cause__ = e
    return err


class ReplayMiss(BackendError):
    """A replayed run asked for a call the cache does not hold (not the backend's fault)."""

    kind = "replay-miss"
    health = False


class CachingExecutor(Executor):
    """Answers from `cache`; the misses go to `inner` and are stored. Identical jobs in
    one batch are served once. With `replay=True` a miss is a ReplayMiss error and
    `inner` is never called; recorded errors are replayed as errors. Without replay, a
    recorded error is retried (failures are not kept as answers)."""

    def __init__(self, inner: Executor | None, cache: CallCache, replay: bool = False):
        if inner is None and not replay:
            raise ValueError("a caching executor that is not replaying needs an executor below it")
        self.inner, self.cache, self.replay = inner, cache, replay

    def run(self, jobs: Sequence[Job]) -> list[Served]:
        out: list[Served | None] = [None] * len(jobs)
        misses: dict[str, list[int]] = {}
        uncached: list[int] = []
        for i, job in enumerate(jobs):
            if job.key is None:
                uncached.append(i)
                continue
            entry = self.cache.get(job.key)
            if entry is not None and (self.replay or entry.error is None):
                out[i] = entry.served()
            elif self.replay:
                out[i] = Served(None, ReplayMiss(f"replay: no recorded answer of {job.backend.name} "
                                                 f"to this {job.call.op} call"), 0.0, 0.0)
            else:
                misses.setdefault(job.key, []).append(i)
        todo = [idx[0] for idx in misses.values()] + uncached
        if todo:
            served = self.inner.run([jobs[i] for i in todo])
            for i, s in zip(todo, served):
                out[i] = s
                key = jobs[i].key
                if key is not None:
                    self.cache.put(key, CacheEntry.of(jobs[i], s))
                    for j in misses[key][1:]:
                        out[j] = s
        return out  # type: ignore[return-value]

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
