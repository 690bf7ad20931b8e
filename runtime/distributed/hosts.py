"""What runs inside the Ray actors of a run: plain classes that `cluster.py` wraps with
`ray.remote` (so this module imports no Ray at its top).

- `BackendHost` builds one backend from its configuration entry and serves batches of
  calls (`serve_guarded`, as the direct executor does).
- `WorkerHost` holds the compiled program and a `Stream` of its own over the backend
  actors. Per window it first reads its share of the images (and their features, for the
  policies that need them), then runs the programs of its share as fibers with the
  policy rebuilt from the driver's state at the window's start, and returns each input's
  row fields, call log and episode. It never learns and never writes the store.
- `CacheHost` holds the run's call cache file: its single writer.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass
from typing import Any

from fmprog.backends.base import OPS, BackendError
from fmprog.runtime.calllog import Trace
from fmprog.runtime.inputs import Item, read_image
from fmprog.runtime.policies.base import Episode

from .specs import BackendSpec


class BackendHost:
    """One replica of one backend; a build error is kept and reported by `meta()`."""

    def __init__(self, spec: BackendSpec):
        import ray

        from .specs import build

        self.backend, self.names, self.error = None, [], None
        self.gpus = [str(g) for g in ray.get_gpu_ids()]
        try:
            self.backend, self.names = build(spec, self.gpus)
        except Exception as e:  # ConfigError names the file and entry; anything else too
            self.error = str(e) if isinstance(e, ValueError) else f"{spec.label}: {type(e).__name__}: {e}"

    def meta(self) -> dict[str, Any]:
        """What the driver's `RemoteBackend` needs, or {"error": ...}."""
        import ray

        b = self.backend
        if b is None:
            return {"error": self.error}
        try:
            describe = dict(b.describe())
        except Exception as e:
            describe = {"device": "?", "provider": None, "loaded": False, "error": str(e)}
        return {"name": b.name, "kind": b.kind, "cost": b.cost, "identity": b.identity(),
                "ops": sorted(op for op in OPS if b.supports(op)), "describe": describe,
                "names": self.names, "gpus": self.gpus, "pid": os.getpid(),
                "node": ray.get_runtime_context().get_node_id()}

    def serve(self, calls: list) -> tuple[list, float]:
        """(one Result or WireError per call, seconds the backend took)."""
        from fmprog.runtime.executor import _as_backend_error, serve_guarded

        from .remote import to_wire

        t0 = time.perf_counter()
        answers = serve_guarded(self.backend, calls)
        answers = [_as_backend_error(self.backend, a) if isinstance(a, BaseException) else a
                   for a in answers]
        return to_wire(answers), time.perf_counter() - t0

    def health(self) -> str | None:
        try:
            self.backend.health()
        except BackendError as e:
            return str(e)
        except Exception as e:
            return f"{self.backend.name}: health check failed: {type(e).__name__}: {e}"
        return None

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


@dataclass
class Work:
    """One input of a worker's share: its item, the image file's bytes when the driver
    sends them, and (to run it) the episode the driver began."""

    seq: int
    item: Item
    data: bytes | None = None
    episode: Episode | None = None


@dataclass
class Outcome:
    """What the driver needs of a served input: the row fields the program's run set,
    its call log, its answer as feedback compares it, whether it failed, and its episode
    (choices, fired sites, fallbacks; without the features, which the driver has)."""

    seq: int
    row: dict
    trace: Trace
    answer: Any
    failed: bool
    episode: Episode | None


class WorkerHost:
    """Runs its share of each window (see the module docstring)."""

    def __init__(self, graph: dict, pools, settings, cache: str | None = None, backend_retries: int = 1):
        """The program as graph JSON, the pools (of `RemoteBackend`s), the run's settings,
        the cache actor's name (or None) and the retries of a batch whose actor died."""
        import ray

        from fmprog.compiler.ir import Graph
        from fmprog.runtime.routed import sites_of
        from fmprog.runtime.service import build_policy
        from fmprog.runtime.serving import Stream

        from .remote import RayExecutor, RemoteCache, RoundCachingExecutor

        g = Graph.from_json(graph)
        policy = build_policy(settings.policy, sites_of(g, pools), settings.cost_weight, settings.seed)
        executor = RayExecutor(settings.backend_timeout, backend_retries)
        self.cache = RemoteCache(ray.get_actor(cache)) if cache is not None else None
        if self.cache is not None:
            executor = RoundCachingExecutor(None if settings.replay else executor, self.cache,
                                            replay=settings.replay)
        self.stream = Stream(g, pools, policy, executor, settings)
        self.max_pixels = settings.max_pixels
        self.version: int | None = None
        self.images: dict[int, Any] = {}

    def ping(self) -> int:
        return os.getpid()

    def _read(self, w: Work):
        if w.data is None:
            return read_image(w.item.path, self.max_pixels)
        fp = io.BytesIO(w.data)
        try:
            return read_image(fp, self.max_pixels)
        except Exception as e:  # name the file, as reading it from its path does
            raise OSError(str(e).replace(repr(fp), repr(str(w.item.path)))) from e

    def load(self, work: list[Work]) -> dict[int, tuple[str, Any]]:
        """Read the share's images (kept for `run`) and their features when the policy
        needs them: {seq: ("ok", features or None) | ("image-error", message) |
        ("fault", the exception computing the features raised)}."""
        from fmprog.runtime.serving import image_error

        self.images, out = {}, {}
        p = self.stream.policy
        for w in work:
            try:
                image = self._read(w)
            except Exception as e:
                out[w.seq] = ("image-error", image_error(w.item, e))
                continue
            self.images[w.seq] = image
            try:
                out[w.seq] = ("ok", self.stream.features(image) if p.needs_features else None)
            except Exception as e:
                out[w.seq] = ("fault", e)
        return out

    def run(self, state: list, version: int, work: list[Work]) -> list[Outcome]:
        """Run the share's programs as one window of fibers, under the policy state
        `state[0]` (an object reference, fetched only when `version` is new here)."""
        from fmprog.runtime.serving import image_error, program_inputs
        from fmprog.runtime.window import run_window

        self._sync(state, version)
        s, ready, out = self.stream, [], []
        for item in work:
            w = s._input(item.seq, item.item)
            try:
                image = self.images.pop(item.seq, None)
                w.inputs = program_inputs(item.item, image if image is not None else self._read(item))
            except Exception as e:  # read before, unreadable now: the file changed
                w.row.update(error_kind="image-error", error=image_error(item.item, e))
                out.append(Outcome(item.seq, w.row, w.trace, None, False, item.episode))
                continue
            w.episode, w.interp = item.episode, s._slot(len(ready))
            ready.append(w)
        run_window(s.executor, [s._task(w) for w in ready])
        if self.cache is not None:
            self.cache.settle()
        return out + [_outcome(w) for w in ready]

    def _sync(self, state: list, version: int) -> None:
        if version != self.version:
            import ray

            self.stream.policy.load_state_dict(ray.get(state[0]))
            self.version = version


def _outcome(w) -> Outcome:
    row = {k: w.row[k] for k in ("answer", "error_kind", "error") if k in w.row}
    w.episode.features = None  # the driver has them
    return Outcome(w.seq, row, w.trace, _comparable(w.answer), w.failed, w.episode)


def _comparable(answer: Any) -> Any:
    """The answer as feedback compares it (`feedback.normalise` reads str() of anything
    but a bool), without sending patches and their pixels back."""
    if answer is None or isinstance(answer, (bool, int, float, str)):
        return answer
    return str(answer)


class CacheHost:
    """The run's call cache file, opened where the driver runs; a bad file is reported by
    `ready()`."""

    def __init__(self, path: str, readonly: bool):
        from fmprog.runtime.cache import CacheError, SQLiteCache

        try:
            self.cache, self.error = SQLiteCache(path, readonly=readonly), None
        except CacheError as e:
            self.cache, self.error = None, str(e)

    def ready(self) -> str | None:
        return self.error

    def get_many(self, keys: list[str]) -> dict:
        return {k: self.cache.get(k) for k in keys}

    def put_many(self, items: list) -> None:
        for key, entry in items:
            self.cache.put(key, entry)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
            self.cache = None
