"""The driver of a distributed run: one learner and one writer; the programs on workers.

A window of K inputs goes through three steps, each in input order where order matters:

1. each worker reads its share of the window's images (and computes their features when
   the policy learns from them) and keeps them;
2. the driver begins every input's episode with the policy, in input order (this is
   where an input's random generator is seeded from the policy's, exactly as a local run
   does, skipping unreadable images as it does);
3. each worker runs its share's programs as one window of fibers (its calls batched per
   backend) under the policy rebuilt from the driver's state, and returns the rows, call
   logs and episodes; the driver then learns from them in input order and the service
   writes the window and the checkpoint in one transaction.

So a decision uses the policy as it was when its window started (at most K inputs old),
updates are applied in input order by the one learner, and W workers give exactly the
results of a local run with the same K and seed. Policies that need the raw image
(`paper`) or the program's evaluator (`oracle`) begin on the driver, which reads the
image itself; the oracle's inputs also run on the driver (their model calls still go to
the backend actors).

A worker that dies has its share retried, on the actor Ray restarted or on a new one,
`window_tries` times; then its inputs are recorded as `worker-lost` and the run goes on.
Retrying is safe: a share is a pure function of its inputs, its episodes and the policy
state, and nothing of it is learned or written until it is back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from ..serving import Stream, _Input, image_error
from ..window import run_window
from .hosts import Outcome, Work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lost:
    """A share whose worker died on every try."""

    message: str


@dataclass(frozen=True)
class Broken:
    """A share whose worker raised (a fault of fmprog, not of the program)."""

    message: str


_AGAIN = object()  # a share to send again


class Workers:
    """The run's worker actors. `map` calls one method on several of them at once; a share
    whose worker died is sent again (to the actor Ray restarts, or to a new one once Ray
    gives up on it) until it has been tried `tries` times."""

    def __init__(self, make: Callable[[], Any], n: int, tries: int, timeout: float):
        self.make, self.tries, self.timeout = make, tries, timeout
        self.handles = [make() for _ in range(n)]
        self.retries = self.replaced = 0

    def __len__(self) -> int:
        return len(self.handles)

    def ready(self) -> None:
        """Wait until every worker has started (ClusterError if one cannot)."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        from . import ClusterError

        try:
            ray.get([h.ping.remote() for h in self.handles], timeout=self.timeout)
        except GetTimeoutError:
            raise ClusterError(f"the Ray workers did not start within {self.timeout:g} s; the "
                               f"cluster has {_resources()} free") from None
        except RayActorError as e:
            raise ClusterError(f"a Ray worker could not start: {_first_line(e)}") from None

    def map(self, method: str, shares: dict[int, tuple]) -> dict[int, Any]:
        """{worker: its result, Lost or Broken} of `method(*args)` for each share."""
        import ray

        tries = dict.fromkeys(shares, 1)
        pending = {self._call(k, method, shares[k]): k for k in shares}
        out: dict[int, Any] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            k = pending.pop(ready[0])
            out[k] = self._result(ready[0], tries[k])
            if out[k] is _AGAIN:
                tries[k] += 1
                self._revive(k)
                pending[self._call(k, method, shares[k])] = k
        return out

    def _result(self, ref, tries: int) -> Any:
        """A share's result, Lost, Broken, or _AGAIN when its worker died with tries left."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        try:
            return ray.get(ref)
        except RayActorError as e:
            if tries >= self.tries:
                return Lost(f"its Ray worker died on each of {tries} tries "
                            f"({type(e).__name__}: {_first_line(e)})")
            self.retries += 1
            log.warning("a Ray worker died (%s); retrying its share of the window (try %d of %d)",
                        type(e).__name__, tries + 1, self.tries)
            return _AGAIN
        except RayTaskError as e:
            cause = e.cause if getattr(e, "cause", None) is not None else e
            return Broken(f"{type(cause).__name__}: {_first_line(cause)}")

    def _call(self, k: int, method: str, args: tuple):
        return getattr(self.handles[k], method).remote(*args)

    def _revive(self, k: int) -> None:
        """Keep worker k if Ray restarted it; replace it if Ray gave up on it."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        try:
            ray.get(self.handles[k].ping.remote(), timeout=self.timeout)
        except (RayActorError, GetTimeoutError):
            ray.kill(self.handles[k], no_restart=True)
            self.handles[k] = self.make()
            self.replaced += 1

    def shutdown(self) -> None:
        import ray

        for h in self.handles:
            ray.kill(h, no_restart=True)
        self.handles = []


class RayStream(Stream):
    """A `Stream` whose programs run on `workers` (see the module docstring); the driver
    keeps the policy, the learner and the rows."""

    def __init__(self, graph, pools, policy, executor, settings, workers: Workers, images: str = "path"):
        super().__init__(graph, pools, policy, executor, settings)
        self.workers, self.images = workers, images
        self.driver_reads = policy.needs_image or policy.needs_evaluator
        self.version, self._state = 0, None
        self._owner: dict[int, int] = {}  # seq -> the worker holding its image
        self._data: dict[int, bytes] = {}  # seq -> the image file's bytes (images="bytes")

    # -- step 1 and 2: images on the workers, episodes begun here in input order ------------
    def _prepare_window(self, batch):
        self._owner, self._data = {}, {}
        if self.driver_reads:
            window = super()._prepare_window(batch)
            self._assign([w for w in window if w.interp is not None and w.executor is None])
            return window
        window = [self._input(seq, item) for seq, item in batch]
        todo = [w for w in window if not w.item.problem and self._stage(w)]
        self._assign(todo)
        loaded = self._map("load", todo, lambda ws: ([Work(w.seq, w.item, self._data.get(w.seq)) for w in ws],))
        for w in todo:
            self._loaded(w, loaded[w.seq])
        return window

    def _stage(self, w: _Input) -> bool:
        """Read the image file's bytes to send (images="bytes"); False if unreadable."""
        if self.images != "bytes":
            return True
        try:
            self._data[w.seq] = w.item.path.read_bytes()
        except Exception as e:
            w.row.update(error_kind="image-error", error=image_error(w.item, e))
            return False
        return True

    def _assign(self, ws: list[_Input]) -> None:
        """Contiguous, even shares of the window over the workers."""
        n = len(ws)
        for i, w in enumerate(ws):
            self._owner[w.seq] = i * len(self.workers) // n
            if self.driver_reads and self.images == "bytes":
                self._stage(w)

    def _loaded(self, w: _Input, got) -> None:
        if isinstance(got, (Lost, Broken)):
            kind = "worker-lost" if isinstance(got, Lost) else "runtime-fault"
            w.row.update(error_kind=kind, error=f"reading the image: {got.message}")
            return
        status, payload = got
        if status == "image-error":
            w.row.update(error_kind="image-error", error=payload)
        elif status == "fault":
            self._begin(w, _raising(payload))
        else:
            self._begin(w, lambda: payload)

    # -- step 3: the programs on the workers ----------------------------------------------
    def _execute(self, window: list[_Input]) -> None:
        runnable = [w for w in window if w.interp is not None]
        here = [w for w in runnable if w.executor is not None]  # the oracle's evaluations
        if here:
            run_window(self.executor, [self._task(w) for w in here])
        there = [w for w in runnable if w.executor is None]
        if not there:
            return
        state = [self._state_ref()]
        outcomes = self._map("run", there, lambda ws: (state, self.version, [
            Work(w.seq, w.item, self._data.get(w.seq), w.episode) for w in ws]))
        for w in there:
            self._apply(w, outcomes[w.seq])

    def _apply(self, w: _Input, got) -> None:
        if isinstance(got, Lost):
            w.row.update(error_kind="worker-lost", error=f"running the program: {got.message}")
            return
        if isinstance(got, Broken):
            w.row.update(error_kind="runtime-fault", error=f"serving failed on a Ray worker (a fault "
                                                           f"of fmprog, not of the program): {got.message}")
            return
        o: Outcome = got
        w.row.update(o.row)
        w.trace, w.answer, w.failed = o.trace, o.answer, o.failed
        if o.episode is not None:
            o.episode.features = w.episode.features
            w.episode = o.episode

    def _map(self, method: str, ws: list[_Input], args: Callable[[list[_Input]], tuple]) -> dict[int, Any]:
        """{seq: what `method` gave for it}, each worker called with its share's args."""
        shares: dict[int, list[_Input]] = {}
        for w in ws:
            shares.setdefault(self._owner[w.seq], []).append(w)
        results = self.workers.map(method, {k: args(share) for k, share in shares.items()})
        out: dict[int, Any] = {}
        for k, share in shares.items():
            r = results[k]
            if isinstance(r, (Lost, Broken)):
                out.update((w.seq, r) for w in share)
            elif method == "load":
                out.update(r)
            else:
                out.update((o.seq, o) for o in r)
        return out

    # -- the policy state the workers choose with -------------------------------------------
    def _state_ref(self):
        """The policy's state in Ray's object store, put again only after it changed
        (workers fetch it only when its version is new to them)."""
        if self._state is None:
            import ray

            self._state = ray.put(self.policy.state_dict())
            self.version += 1
        return self._state

    def _update(self, ready, window) -> None:
        super()._update(ready, window)
        if ready or self.settings.budget is not None:
            self._state = None

    def load_state_dict(self, state) -> None:
        super().load_state_dict(state)
        self._state = None


def _raising(e: Exception) -> Callable[[], Any]:
    def context():
        raise e
    return context


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _resources() -> str:
    import ray

    free = ray.available_resources()
    return ", ".join(f"{v:g} {k}" for k, v in sorted(free.items()) if k in ("CPU", "GPU")) or "nothing"
