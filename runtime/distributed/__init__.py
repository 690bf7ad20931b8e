"""Serving on a Ray cluster (`fmprog run --ray`, `fmprog bench --ray`): the optional
extra `fmprog[ray]`. Ray is imported only when a run asks for it; `import fmprog` and
every other command never import it.

- Backends are Ray actors (`cluster.py`, `hosts.BackendHost`): each builds its backend
  from its configuration entry, with its replicas, GPUs from the entry's device; the
  `RayExecutor` (`remote.py`) batches a round's calls to them.
- Inputs are spread over worker actors that run the interpreter (`stream.py`); the driver
  is the one learner and the single writer of the run database, so a distributed run
  gives the results of a local run with the same window and seed, and `--resume` works
  as it does locally.
- Failures: dead actors are restarted by Ray; a worker's share of a window is retried,
  then recorded as `worker-lost`; a dead backend actor's batch is retried, then fails
  as a backend error.

See docs/scale.md.
"""

from __future__ import annotations

from typing import Any

from .settings import RaySettings, per_backend

INSTALL_HINT = "pip install 'fmprog[ray]'"


class RayMissing(ImportError):
    """Ray is not installed (the message says how to get it)."""


class ClusterError(Exception):
    """Ray cannot run the deployment: no cluster at the address, an actor that cannot be
    placed or started, a worker that does not start (the message says which)."""


def require_ray():
    """The `ray` module, or RayMissing with the install command."""
    try:
        import ray
    except ImportError:
        raise RayMissing(f"--ray needs the ray extra: {INSTALL_HINT}") from None
    return ray


def deploy(backends: Any, settings: RaySettings, base_dir: str | None = None):
    """Start a deployment's backend actors; see `cluster.deploy`."""
    from .cluster import deploy as _deploy

    return _deploy(backends, settings, base_dir)


def serve(graph, items, backends: Any, settings, db: str, ray: RaySettings | None = None,
          resume: bool = False, progress: bool = False, base_dir: str | None = None):
    """`service.serve` on Ray: the backends of `backends` (a configuration file, parsed
    configuration data, or None for the embedded default) as actors and the inputs on
    workers. Returns the `RunResult` of the local entry point."""
    from ..service import serve as _serve

    pools = deploy(backends, ray or RaySettings(), base_dir)
    try:
        return _serve(graph, items, pools, settings, db, resume=resume, progress=progress,
                      streams=pools.streams)
    finally:
        pools.close()


__all__ = ["INSTALL_HINT", "ClusterError", "RayMissing", "RaySettings", "deploy", "per_backend",
           "require_ray", "serve"]
