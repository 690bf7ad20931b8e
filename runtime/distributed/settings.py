"""How a run is laid out on a Ray cluster: frozen and validated, like `RunSettings`, so the
CLI and library callers build the same object and a bad value fails before Ray starts,
naming the setting (`RaySettings.workers must be an int >= 1, got 0`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

IMAGE_MODES = ("path", "bytes")


def _fail(name: str, rule: str, value) -> None:
    raise ValueError(f"RaySettings.{name} must be {rule}, got {value!r}")


def _int(name: str, v, low: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        _fail(name, f"an int >= {low}", v)


def _number(name: str, v, low: float, strict: bool = False, none_ok: bool = False) -> None:
    if v is None and none_ok:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < low \
            or (strict and v == low):
        _fail(name, f"a finite number {'>' if strict else '>='} {low:g}" + (" or None" if none_ok else ""), v)


def _per_name(name: str, pairs) -> None:
    if not isinstance(pairs, tuple) or not all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and p[0]
            and not isinstance(p[1], bool) and isinstance(p[1], int) and p[1] >= 1 for p in pairs):
        _fail(name, "a tuple of (backend name, int >= 1) pairs", pairs)


@dataclass(frozen=True)
class RaySettings:
    """Where and how a run is spread over Ray.

    - address: "local" starts a Ray cluster in this process (`ray.init`, `num_cpus`
      logical CPUs, default this machine's); anything else is a Ray address to connect
      to ("auto", "HOST:6379", "ray://HOST:10001"). A process already connected to Ray
      uses that connection.
    - workers: actors that run the programs of a window's inputs (their share of it).
    - replicas / replicas_by_name: actors per backend (each window's calls to a backend
      are split evenly over its replicas); concurrency / concurrency_by_name: calls one
      replica serves at once (1: a model serves one batch at a time; more for I/O-bound
      backends that wait on a server).
    - gpus: GPUs each replica of a backend whose configured device is cuda (or auto, on
      a cluster with GPUs) asks Ray for: 1, or a fraction to share a GPU.
    - worker_cpus, backend_cpus: CPUs each actor reserves (default 0: workers mostly wait
      on backends; Ray spreads the actors over the nodes whatever they reserve).
    - images: "path", workers read each image from its path (a local cluster, or a
      file system every node mounts); "bytes", the driver reads the file and sends its
      bytes as stored (PNG, JPEG, ...).
    - window_tries: times a worker's share of a window is run before its inputs are
      recorded as `worker-lost`; max_restarts: times Ray restarts a dead actor;
      backend_retries: times a batch whose backend actor died is sent again (then its
      calls fail as backend errors).
    - start_timeout: seconds to wait for an actor to be placed and to build its backend.
    """

    address: str = "local"
    workers: int = 2
    replicas: int = 1
    replicas_by_name: tuple[tuple[str, int], ...] = ()
    concurrency: int = 1
    concurrency_by_name: tuple[tuple[str, int], ...] = ()
    gpus: float = 1.0
    num_cpus: int | None = None
    worker_cpus: float = 0.0
    backend_cpus: float = 0.0
    images: str = "path"
    window_tries: int = 3
    max_restarts: int = 3
    backend_retries: int = 1
    start_timeout: float = 300.0

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address.strip():
            _fail("address", "'local' or a Ray address", self.address)
        for name in ("workers", "replicas", "concurrency", "window_tries"):
            _int(name, getattr(self, name), 1)
        for name in ("max_restarts", "backend_retries"):
            _int(name, getattr(self, name), 0)
        _per_name("replicas_by_name", self.replicas_by_name)
        _per_name("concurrency_by_name", self.concurrency_by_name)
        _number("gpus", self.gpus, 0.0, strict=True)
        if self.gpus > 1 and self.gpus != int(self.gpus):
            _fail("gpus", "a fraction of one GPU or a whole number of GPUs", self.gpus)
        if self.num_cpus is not None:
            _int("num_cpus", self.num_cpus, 1)
        _number("worker_cpus", self.worker_cpus, 0.0)
        _number("backend_cpus", self.backend_cpus, 0.0)
        if self.images not in IMAGE_MODES:
            _fail("images", f"one of {', '.join(IMAGE_MODES)}", self.images)
        _number("start_timeout", self.start_timeout, 0.0, strict=True)

    @property
    def local(self) -> bool:
        return self.address == "local"

    def replicas_of(self, name: str) -> int:
        return dict(self.replicas_by_name).get(name, self.replicas)

    def concurrency_of(self, name: str) -> int:
        return dict(self.concurrency_by_name).get(name, self.concurrency)

    def named(self) -> set[str]:
        """Backend names the per-name settings mention (each must exist)."""
        return {n for n, _ in self.replicas_by_name + self.concurrency_by_name}


def per_backend(text: str, flag: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    """`--ray-replicas 2` or `--ray-replicas 1,det-large=3`: (default, per-name pairs); the
    default is 1 unless a bare number is given."""
    default, pairs = 1, []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        name, eq, count = part.rpartition("=")
        if not count.isdigit() or int(count) < 1 or (eq and not name.strip()):
            raise ValueError(f"{flag} takes N or NAME=N items separated by commas (N >= 1), "
                             f"got {part!r}")
        if eq:
            pairs.append((name.strip(), int(count)))
        else:
            default = int(count)
    return default, tuple(pairs)


def unknown_names(settings: RaySettings, names: Iterable[str]) -> list[str]:
    """Per-name settings that name no backend of the run."""
    return sorted(settings.named() - set(names))
