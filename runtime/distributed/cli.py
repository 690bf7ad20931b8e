"""The `--ray` options of `fmprog run`, `record` and `bench`: parsing only (the work is in
`cluster.deploy`). Importing this module does not import Ray."""

from __future__ import annotations

import sys
from typing import Callable

from .settings import IMAGE_MODES, RaySettings, per_backend

DEFAULTS = {"ray_workers": 2, "ray_replicas": "1", "ray_concurrency": "1", "ray_gpus": 1.0,
            "ray_images": "path"}


def add_ray_args(p) -> None:
    g = p.add_argument_group("serving on Ray (needs the ray extra: pip install 'fmprog[ray]'; "
                             "see docs/scale.md)")
    g.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="backends as Ray actors (and for run, each window's inputs spread over "
                        "Ray workers): 'local' (the default value) starts a Ray cluster in this "
                        "process, ADDRESS connects to one (auto, HOST:6379, ray://HOST:10001)")
    g.add_argument("--ray-workers", type=int, default=DEFAULTS["ray_workers"], metavar="N",
                   help="worker actors running the programs of run; each window's inputs are "
                        "split over them (default 2)")
    g.add_argument("--ray-replicas", default=DEFAULTS["ray_replicas"], metavar="N|NAME=N,...",
                   help="actors per backend, for all or by backend name, e.g. 1,det-large=3 "
                        "(default 1); a backend's calls are split over its replicas")
    g.add_argument("--ray-concurrency", default=DEFAULTS["ray_concurrency"], metavar="N|NAME=N,...",
                   help="batches one replica serves at once (default 1; more for backends that "
                        "wait on a server)")
    g.add_argument("--ray-gpus", type=float, default=DEFAULTS["ray_gpus"], metavar="F",
                   help="GPUs per replica of a backend whose device is cuda (default 1; a "
                        "fraction such as 0.5 shares a GPU)")
    g.add_argument("--ray-images", choices=IMAGE_MODES, default=DEFAULTS["ray_images"],
                   help="path: workers read images from their paths (default; a local cluster "
                        "or a shared file system); bytes: this process sends each file's bytes")


def ray_settings(args) -> RaySettings:
    """The RaySettings of parsed arguments (ValueError naming the flag or setting)."""
    replicas, by_name = per_backend(args.ray_replicas, "--ray-replicas")
    concurrency, conc_by_name = per_backend(args.ray_concurrency, "--ray-concurrency")
    return RaySettings(address=args.ray, workers=args.ray_workers, replicas=replicas,
                       replicas_by_name=by_name, concurrency=concurrency,
                       concurrency_by_name=conc_by_name, gpus=args.ray_gpus, images=args.ray_images)


def pools_for(args, load_local: Callable):
    """The command's pools: `load_local(args.backends)`, or with --ray the backend actors'
    (RemotePools). Raises ValueError for --ray-* options without --ray, RayMissing without
    the extra, ConfigError and ClusterError as `deploy` does."""
    if not getattr(args, "ray", None):
        stray = [f"--{k.replace('_', '-')}" for k, v in DEFAULTS.items() if getattr(args, k, v) != v]
        if stray:
            raise ValueError(f"{', '.join(stray)} only apply with --ray")
        return load_local(args.backends)
    from . import deploy

    pools = deploy(args.backends, ray_settings(args))
    d = pools.deployment
    how = ("started a local Ray cluster" if d.settings.local else f"connected to Ray at {args.ray}") \
        if d.connected else "using this process's Ray connection"
    print(f"fmprog: {how} ({d.connect_seconds:.1f} s); {len(d.hosts)} backend actors for "
          f"{len(d.backends)} backends", file=sys.stderr)
    return pools
