"""The call boundary over Ray: backends served by actors, an executor that batches to
them, and a call cache held by one actor.

- `RemoteBackend` stands for a backend built by Ray actors (its replicas): the router,
  the preflight and the cache keys read what the actor that built it reported (name,
  kind, cost, identity, the ops it serves), and its calls go to the replicas.
- `RayExecutor` serves a round's jobs like `DirectExecutor`: the jobs of one backend as
  one batch, split evenly over its replicas (the least loaded first), every batch sent
  at once and the round bounded by the run's backend timeout. A batch whose actor died
  is sent again (`retries` times; Ray restarts the actor) and then fails as a
  BackendError naming the backend, so the breaker and the failure-teaching logic apply.
- `RemoteCache` reads and writes the run's call cache through the cache actor (the
  single writer of its file): one call per round for the round's keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from fmprog.backends.base import Backend, BackendError, BackendTimeout, Call, Pools, Result

from ..cache import CacheEntry, CallCache
from ..executor import CachingExecutor, DirectExecutor, Executor, Job, Served

HEALTH_TIMEOUT = 300.0  # seconds: a health check may wait for a model to load


@dataclass(frozen=True)
class WireError:
    """A backend error as plain data (an exception class may not unpickle elsewhere)."""

    message: str
    kind: str = "backend-error"
    health: bool = True

    @classmethod
    def of(cls, e: BaseException) -> "WireError":
        return cls(str(e), getattr(e, "kind", "backend-error"), bool(getattr(e, "health", True)))

    def error(self) -> BackendError:
        err = (BackendTimeout if self.kind == "backend-timeout" else BackendError)(self.message)
        if err.kind != self.kind:
            err.kind = self.kind
        if err.health != self.health:
            err.health = self.health
        return err


def to_wire(answers: list) -> list:
    return [WireError.of(a) if isinstance(a, BaseException) else a for a in answers]


def from_wire(answers: list) -> list:
    return [a.error() if isinstance(a, WireError) else a for a in answers]


class RemoteBackend(Backend):
    """A backend that Ray actors serve; `meta` is what the actor that built it reported.
    Its replicas are named actors: a copy sent to a worker finds them by name."""

    def __init__(self, meta: dict[str, Any], actor_names: list[str], retries: int = 1,
                 handles: list | None = None):
        super().__init__(meta["name"], meta["cost"])
        self.kind = meta["kind"]
        self.meta, self.actor_names, self.retries = meta, list(actor_names), retries
        self._handles = handles

    @property
    def replicas(self) -> list:
        if self._handles is None:
            import ray

            self._handles = [ray.get_actor(n) for n in self.actor_names]
        return self._handles

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handles": None}

    def identity(self) -> str:
        return self.meta["identity"]

    def supports(self, op: str) -> bool:
        return op in self.meta["ops"]

    def describe(self) -> dict[str, Any]:
        return {**self.meta["describe"], "ray_replicas": len(self.replicas),
                "ray_gpus": self.meta.get("gpus", [])}

    def health(self) -> None:
        """Every replica's health check (each built its own model)."""
        import ray
        from ray.exceptions import GetTimeoutError, RayError

        try:
            problems = ray.get([r.health.remote() for r in self.replicas], timeout=HEALTH_TIMEOUT)
        except GetTimeoutError:
            raise BackendError(f"{self.name}: its Ray actors did not answer the health check "
                               f"within {HEALTH_TIMEOUT:g} s") from None
        except RayError as e:
            raise BackendError(f"{self.name}: its Ray actor failed the health check: "
                               f"{type(e).__name__}") from None
        for problem in problems:
            if problem:
                raise BackendError(problem)

    def serve(self, calls: Sequence[Call]) -> list[Result | BackendError]:
        """Serve `calls` on the replicas and wait (what `DirectExecutor` calls)."""
        calls = list(calls)
        batches = split_batches(self, list(range(len(calls))), {}) if calls else []
        gather(batches, calls, None, self.retries, {})
        out: list = [None] * len(calls)
        for b in batches:
            for i, a in zip(b.idx, b.answers):
                out[i] = a
        return out


@dataclass
class Batch:
    """Calls of one backend sent to one of its replicas."""

    backend: RemoteBackend
    idx: list[int]
    replica: int
    tries: int = 0
    ref: Any = None
    answers: list = field(default_factory=list)
    seconds: float = 0.0


def split_batches(backend: RemoteBackend, idx: list[int], load: dict) -> list[Batch]:
    """`idx` split evenly over the backend's replicas, the least loaded first."""
    n = len(backend.replicas)
    order = sorted(range(n), key=lambda r: load.get((backend.name, r), 0))
    k = min(n, len(idx))
    size, extra = divmod(len(idx), k)
    out, at = [], 0
    for j in range(k):
        take = size + (j < extra)
        out.append(Batch(backend, idx[at:at + take], order[j]))
        at += take
    return out


def _send(b: Batch, calls: list[Call], load: dict) -> None:
    b.ref = b.backend.replicas[b.replica].serve.remote([calls[i] for i in b.idx])
    key = (b.backend.name, b.replica)
    load[key] = load.get(key, 0) + len(b.idx)


def _done(b: Batch, load: dict) -> None:
    key = (b.backend.name, b.replica)
    load[key] = max(0, load.get(key, 0) - len(b.idx))


def gather(batches: list[Batch], calls: list[Call], timeout: float | None, retries: int,
           load: dict) -> list[Batch]:
    """Send every batch at once and collect the answers into each; return the batches
    still running when `timeout` seconds have passed (their calls are timed out)."""
    import ray

    for b in batches:
        _send(b, calls, load)
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = {b.ref: b for b in batches}
    while pending:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=left)
        if not ready:
            break
        b = pending.pop(ready[0])
        _done(b, load)
        if not _collect(b, retries):
            _send(b, calls, load)  # its actor died: again, on the next replica
            pending[b.ref] = b
    for b in pending.values():
        b.answers = [BackendTimeout(f"{b.backend.name} did not answer within {timeout:g} s "
                                    f"(--backend-timeout)")] * len(b.idx)
    return list(pending.values())


def _collect(b: Batch, retries: int) -> bool:
    """Put a finished batch's answers in it; False when it is to be sent again (its actor
    died and it has tries left: Ray restarts the actor)."""
    import ray
    from ray.exceptions import RayActorError, RayError

    try:
        wire, b.seconds = ray.get(b.ref)
        b.answers = from_wire(wire)
    except RayActorError as e:
        if b.tries < retries:
            b.tries += 1
            b.replica = (b.replica + 1) % len(b.backend.replicas)
            return False
        b.answers = [BackendError(f"{b.backend.name}: its Ray actor died serving this batch "
                                  f"({type(e).__name__}; Ray restarts it)")] * len(b.idx)
    except RayError as e:
        b.answers = [BackendError(f"{b.backend.name}: Ray failed serving this batch: "
                                  f"{type(e).__name__}: {str(e).splitlines()[0]}")] * len(b.idx)
    return True


class RayExecutor(Executor):
    """Serves jobs on backend actors (see the module docstring); jobs whose backend is
    not remote are served here by a `DirectExecutor`."""

    def __init__(self, timeout: float | None = None, retries: int = 1):
        self.timeout, self.retries = timeout, retries
        self.load: dict[tuple[str, int], int] = {}  # calls in flight per replica, from here
        self.late: list[Batch] = []  # timed out, still running: they count as load
        self.direct = DirectExecutor(timeout)

    def run(self, jobs: Sequence[Job]) -> list[Served]:
        self._settle()
        groups: dict[int, list[int]] = {}
        local: list[int] = []
        for i, job in enumerate(jobs):
            if isinstance(job.backend, RemoteBackend):
                groups.setdefault(id(job.backend), []).append(i)
            else:
                local.append(i)
        batches = [b for idx in groups.values()
                   for b in split_batches(jobs[idx[0]].backend, idx, self.load)]
        calls = [j.call for j in jobs]
        out: list[Served | None] = [None] * len(jobs)
        if batches:
            self.late += gather(batches, calls, self.timeout, self.retries, self.load)
        for b in batches:
            share = b.seconds / len(b.idx)
            for i, a in zip(b.idx, b.answers):
                out[i] = (Served(None, a, share, 0.0) if isinstance(a, BaseException)
                          else Served(a, None, share, b.backend.cost))
        for i, s in zip(local, self.direct.run([jobs[i] for i in local]) if local else []):
            out[i] = s
        return out  # type: ignore[return-value]

    def _settle(self) -> None:
        """Batches that timed out earlier and have ended since stop counting as load."""
        if not self.late:
            return
        import ray

        done, _ = ray.wait([b.ref for b in self.late], num_returns=len(self.late), timeout=0)
        finished = set(done)
        for b in self.late:
            if b.ref in finished:
                _done(b, self.load)
        self.late = [b for b in self.late if b.ref not in finished]

    def close(self) -> None:
        self.direct.close()


class RemoteCache(CallCache):
    """The run's call cache through its cache actor: `prefetch(keys)` fetches a round's
    keys in one call, `flush()` sends what was stored in one call (not waited for)."""

    def __init__(self, actor):
        self.actor = actor
        self.known: dict[str, CacheEntry | None] = {}
        self.pending: dict[str, CacheEntry] = {}
        self.sent: list = []  # references of the writes sent and not yet waited for

    def prefetch(self, keys: list[str]) -> None:
        import ray

        want = sorted(set(keys))
        self.known = ray.get(self.actor.get_many.remote(want)) if want else {}

    def get(self, key: str) -> CacheEntry | None:
        if key not in self.known:
            self.prefetch([key])
        return self.known.get(key)

    def put(self, key: str, entry: CacheEntry) -> None:
        self.known[key] = entry
        self.pending[key] = entry

    def flush(self) -> None:
        if self.pending:
            self.sent.append(self.actor.put_many.remote(list(self.pending.items())))
            self.pending = {}

    def settle(self) -> None:
        """Wait until the cache actor has every entry sent (at a window's end)."""
        import ray

        self.flush()
        if self.sent:
            ray.get(self.sent)
            self.sent = []

    def close(self) -> None:
        self.settle()


class RoundCachingExecutor(CachingExecutor):
    """A `CachingExecutor` over a `RemoteCache`: each round's keys are fetched at once
    before the lookups and its new entries sent at once after them."""

    def run(self, jobs: Sequence[Job]) -> list[Served]:
        self.cache.prefetch([j.key for j in jobs if j.key is not None])
        try:
            return super().run(jobs)
        finally:
            self.cache.flush()


def plain_pools(pools: Pools) -> Pools:
    """The same backends in a plain `Pools` (what is sent to workers)."""
    return Pools(pools.all())
