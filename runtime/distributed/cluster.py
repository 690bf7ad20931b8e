"""Putting a run on Ray: connect (or start a local cluster), start the backend actors,
and, per served program, the workers and the cache actor.

`deploy(backends, settings)` returns `RemotePools`: the run's pools, whose members are
`RemoteBackend`s served by actors. They go wherever a `Pools` goes (preflight, the
service, `fmprog record` and `bench`, whose direct executor then calls the actors), and
`pools.streams` is the stream factory that `service.serve` takes to spread the inputs
over workers. `pools.close()` stops every actor and, if it started Ray, Ray.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
import uuid
from typing import Any

from fmprog.backends.base import Pools

from . import ClusterError, require_ray
from .hosts import BackendHost, CacheHost, WorkerHost
from .remote import RayExecutor, RemoteBackend, RemoteCache, RoundCachingExecutor, plain_pools
from .settings import RaySettings, unknown_names
from .specs import BackendSpec, specs_of
from .stream import RayStream, Workers, _first_line, _resources

log = logging.getLogger(__name__)


def connect(settings: RaySettings) -> tuple[bool, float]:
    """(whether this call connected, seconds it took): "local" starts a cluster here with
    `num_cpus` logical CPUs (default this machine's), an address connects to it; a
    process already connected keeps its connection."""
    ray = require_ray()
    if ray.is_initialized():
        return False, 0.0
    t0 = time.perf_counter()
    quiet = dict(logging_level=logging.WARNING, log_to_driver=True)
    if settings.local:
        ray.init(num_cpus=settings.num_cpus or os.cpu_count() or 1, include_dashboard=False, **quiet)
    else:
        try:
            ray.init(address=settings.address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ClusterError(f"cannot connect to the Ray cluster at {settings.address!r}: "
                               f"{_first_line(e)} (start one with `ray start --head`; a cluster "
                               f"with token authentication, Ray's default, needs RAY_AUTH_MODE=token "
                               f"and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN)") from None
    return True, time.perf_counter() - t0


class RemotePools(Pools):
    """Pools of `RemoteBackend`s, with the deployment that runs them."""

    def __init__(self, backends: list[RemoteBackend], deployment: "Deployment"):
        super().__init__(backends)
        self.deployment = deployment

    def streams(self, graph, pools, policy, settings):
        """The stream factory of `service.serve` (see `Deployment.streams`)."""
        return self.deployment.streams(graph, pools, policy, settings)

    def close(self) -> None:
        self.deployment.shutdown()


def deploy(backends: Any, settings: RaySettings, base_dir: str | None = None) -> RemotePools:
    """Start the backend actors of `backends` (a configuration file, parsed configuration
    data, or None for the embedded default; see `specs.specs_of`). Raises ConfigError for
    a bad configuration, ClusterError when Ray cannot place or start an actor, RayMissing
    without the ray extra."""
    require_ray()
    specs = specs_of(backends, base_dir)
    connected, seconds = connect(settings)
    dep = Deployment(settings, connected, seconds)
    try:
        return RemotePools(dep.start(specs), dep)
    except BaseException:
        dep.shutdown()
        raise


class Deployment:
    """The actors of one deployment, and what it took to start them."""

    def __init__(self, settings: RaySettings, connected: bool, connect_seconds: float):
        import ray

        self.settings, self.connected, self.connect_seconds = settings, connected, connect_seconds
        self.cluster_gpus = float(ray.cluster_resources().get("GPU", 0))
        self.hosts: list = []  # every backend actor
        self.names: dict[int, str] = {}  # id(actor handle) -> its actor name
        self.token, self.count = uuid.uuid4().hex[:8], 0
        self.workers: Workers | None = None  # the workers of the stream being served
        self.backends: list[RemoteBackend] = []

    # -- backend actors --------------------------------------------------------------------
    def start(self, specs: list[BackendSpec]) -> list[RemoteBackend]:
        """One actor per entry first (it says which backends its entry builds), then the
        other replicas and the entry's other backends; every actor builds its own."""
        self._check_gpus(specs)
        firsts = [self._host(spec, _entry_name(spec)) for spec in specs]
        metas = self._metas(firsts, [s.label for s in specs])
        groups = [g for spec, host, meta in zip(specs, firsts, metas) for g in self._expand(spec, host, meta)]
        later = [(h, spec.label) for _, spec, hosts, known in groups for h in hosts[len(known):]]
        metas = dict(zip((id(h) for h, _ in later), self._metas([h for h, _ in later], [lb for _, lb in later])))
        self.backends = [self._backend(spec, hosts, known + [metas[id(h)] for h in hosts[len(known):]])
                         for _, spec, hosts, known in groups]
        bad = unknown_names(self.settings, [b.name for b in self.backends])
        if bad:
            raise ValueError(f"--ray-replicas/--ray-concurrency name no backend of this run: {bad}; "
                             f"its backends: {sorted(b.name for b in self.backends)}")
        return self.backends

    def _check_gpus(self, specs: list[BackendSpec]) -> None:
        for spec in specs:
            if spec.wants_gpu(self.cluster_gpus) and self.cluster_gpus == 0:
                raise ClusterError(f"{spec.label}: device {spec.device!r} asks Ray for a GPU, and the "
                                   f"Ray cluster has none; use device 'cpu' or 'auto', or connect to "
                                   f"a cluster with GPUs")

    def _expand(self, spec: BackendSpec, host, meta: dict) -> list[tuple]:
        """(name, spec, replicas, metas known) of each backend the entry builds: the first
        actor's backend gets the other replicas, each other backend its own actors."""
        out = []
        for name in meta["names"]:
            mine = name == meta["name"]
            pick = spec if mine else spec.picking(name)
            have = [host] if mine else []
            hosts = have + [self._host(pick, name) for _ in range(self.settings.replicas_of(name) - len(have))]
            out.append((name, pick, hosts, [meta] if mine else []))
        return out

    def _host(self, spec: BackendSpec, name: str):
        import ray

        s = self.settings
        opts: dict[str, Any] = dict(num_cpus=s.backend_cpus, max_restarts=s.max_restarts,
                                    max_task_retries=0, max_concurrency=s.concurrency_of(name),
                                    name=self._name("backend", name or "entry"),
                                    scheduling_strategy="SPREAD")
        if spec.wants_gpu(self.cluster_gpus):
            opts["num_gpus"] = s.gpus
        host = ray.remote(BackendHost).options(**opts).remote(spec)
        self.hosts.append(host)
        self.names[id(host)] = opts["name"]
        return host

    def _name(self, role: str, what: str = "") -> str:
        """A unique actor name, readable in `ray list actors`: fmprog-<run>-<role>-<what>-<n>."""
        self.count += 1
        what = re.sub(r"[^A-Za-z0-9_.-]+", "_", what)
        return f"fmprog-{self.token}-{role}-{what}-{self.count}" if what else \
            f"fmprog-{self.token}-{role}-{self.count}"

    def _metas(self, hosts: list, labels: list[str]) -> list[dict]:
        """Each actor's `meta()` once it has built its backend (ConfigError for a bad
        entry, ClusterError when one cannot be placed or dies starting)."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        from fmprog.backends.config import ConfigError

        refs = [h.meta.remote() for h in hosts]
        try:
            metas = ray.get(refs, timeout=self.settings.start_timeout)
        except GetTimeoutError:
            _, waiting = ray.wait(refs, num_returns=len(refs), timeout=0)
            late = sorted({labels[refs.index(r)] for r in waiting})
            raise ClusterError(f"Ray did not start the backend actors of {', '.join(late)} within "
                               f"{self.settings.start_timeout:g} s (the cluster has {_resources()} free; "
                               f"see `ray status`)") from None
        except RayActorError as e:
            raise ClusterError(f"a backend actor died while starting: {_first_line(e)}") from None
        for meta in metas:
            if "error" in meta:
                raise ConfigError(meta["error"])
        return metas

    def _backend(self, spec: BackendSpec, hosts: list, metas: list[dict]) -> RemoteBackend:
        from fmprog.backends.config import ConfigError

        if len({m["identity"] for m in metas}) > 1:
            raise ConfigError(f"{spec.label}: its replicas built different backends (every node "
                              f"must see the same model files)")
        return RemoteBackend(metas[0], [self.names[id(h)] for h in hosts], self.settings.backend_retries,
                             handles=hosts)

    # -- workers, per served program ------------------------------------------------------
    #: the settings a deployment reads each time it starts a stream's workers
    PER_STREAM = ("workers", "window_tries", "backend_retries", "images", "worker_cpus", "start_timeout")

    def configure(self, **changes) -> None:
        """Change the per-stream settings (workers, window_tries, backend_retries, images,
        worker_cpus, start_timeout) for the streams started from now on: one set of
        backend actors can serve runs with 1 and with 2 workers, side by side."""
        bad = sorted(set(changes) - set(self.PER_STREAM))
        if bad:
            raise ValueError(f"only {', '.join(self.PER_STREAM)} change per stream, not {', '.join(bad)}")
        self.settings = dataclasses.replace(self.settings, **changes)

    def streams(self, graph, pools: Pools, policy, settings):
        """(RayStream, release) for `service.serve`: W workers holding `graph`, the
        driver's own executor over the backend actors (for the oracle's evaluations),
        and with `settings.cache` the cache actor, placed on this node."""
        import ray

        s = self.settings
        cache = self._cache(settings) if settings.cache else None
        opts = dict(num_cpus=s.worker_cpus, max_restarts=s.max_restarts, max_task_retries=0,
                    scheduling_strategy="SPREAD")
        Worker = ray.remote(WorkerHost)
        # sent once per worker (and kept by Ray for its restarts): the program, the pools
        # (backend actors by name), the settings and the cache actor's name
        args = (graph.to_json(), plain_pools(pools), settings,
                self.names[id(cache)] if cache is not None else None, s.backend_retries)
        workers = Workers(lambda: Worker.options(**opts, name=self._name("worker")).remote(*args),
                          s.workers, s.window_tries, s.start_timeout)
        self.workers = workers
        remote_cache = RemoteCache(cache) if cache is not None else None
        executor = RayExecutor(settings.backend_timeout, s.backend_retries)
        if remote_cache is not None:
            executor = RoundCachingExecutor(None if settings.replay else executor, remote_cache,
                                            replay=settings.replay)

        def release() -> None:
            workers.shutdown()
            executor.close()
            if cache is not None:
                remote_cache.settle()
                ray.get(cache.close.remote())
                ray.kill(cache)

        try:
            workers.ready()
        except BaseException:
            release()
            raise
        return RayStream(graph, pools, policy, executor, settings, workers, s.images), release

    def _cache(self, settings):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from ..cache import CacheError

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        name = self._name("cache")
        cache = ray.remote(CacheHost).options(num_cpus=0, scheduling_strategy=here, name=name).remote(
            os.path.abspath(settings.cache), settings.replay)
        self.names[id(cache)] = name
        problem = ray.get(cache.ready.remote(), timeout=self.settings.start_timeout)
        if problem:
            ray.kill(cache)
            raise CacheError(problem)
        return cache

    def shutdown(self) -> None:
        """Stop the workers and backend actors; disconnect if this deployment connected."""
        import ray

        if not ray.is_initialized():
            return
        if self.workers is not None:
            self.workers.shutdown()
        for h in self.hosts:
            ray.kill(h, no_restart=True)
        self.hosts = []
        if self.connected:
            ray.shutdown()
            self.connected = False


def _entry_name(spec: BackendSpec) -> str:
    name = spec.entry.get("name") if isinstance(spec.entry, dict) else None
    return name if isinstance(name, str) else ""
