"""What a Ray actor needs to build a backend itself: its configuration entry, never the
backend. Live sessions, GPU memory and HTTP clients are not sent over the network; each
backend actor reads its entry (the file's, or the embedded default's by name) and builds
its own model, so its identity and answers are those of a local build.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmprog.backends.base import Backend, BackendError

#: the `device` values that place a model on a GPU
_CUDA = re.compile(r"cuda(:\d+)?")


@dataclass(frozen=True, eq=False)
class BackendSpec:
    """One configuration entry as an actor builds it: the entry, the directory its paths
    are relative to, where it is in its file (for errors), and, for an entry that builds
    several backends (name '*'), the name of the one to keep (None: the first)."""

    entry: Any
    base_dir: str
    label: str
    pick: str | None = None

    def picking(self, name: str) -> "BackendSpec":
        return BackendSpec(self.entry, self.base_dir, self.label, name)

    @property
    def device(self) -> str | None:
        device = self.entry.get("device") if isinstance(self.entry, dict) else None
        return device if isinstance(device, str) else None

    def wants_gpu(self, cluster_gpus: float) -> bool:
        """Whether a replica asks Ray for a GPU: device cuda[:N], or auto on a cluster
        that has GPUs."""
        d = self.device
        return bool(d and (_CUDA.fullmatch(d) or (d == "auto" and cluster_gpus > 0)))


def specs_of(backends: str | Path | list | dict | None, base_dir: str | Path | None = None) -> list[BackendSpec]:
    """The specs of a run's backends: a configuration file (YAML or JSON), already-parsed
    configuration data (entries relative to `base_dir`, default the working directory),
    or None for the embedded default models (one entry per model, by name)."""
    from fmprog.backends.config import config_entries, read_config

    if backends is None:
        return _embedded()
    if isinstance(backends, (str, Path)):
        path = Path(backends)
        data, source, base = read_config(path), str(path), path.resolve().parent
    else:
        data, source, base = backends, "<config>", Path(base_dir or Path.cwd()).resolve()
    return [BackendSpec(entry, str(base), f"{source}: {where}{_named(entry)}")
            for where, entry in config_entries(data, source)]


def _embedded() -> list[BackendSpec]:
    from fmprog.backends.embedded import default_backends

    # constructing the pool only reads metadata: the ONNX sessions open on first use
    return [BackendSpec({"name": b.name, "kind": b.kind, "type": "embedded"}, str(Path.cwd()),
                        f"embedded default backend {b.name!r}") for b in default_backends()]


def _named(entry: Any) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]:
        return f" ({entry['name']!r})"
    return ""


def build(spec: BackendSpec, gpu_ids: list | None = None) -> tuple[Backend, list[str]]:
    """(the backend the spec keeps, the names of every backend its entry builds). On a
    replica Ray gave GPUs, `cuda:N` means the GPU Ray assigned (Ray makes it the only
    visible one, cuda:0), so the entry is built with `cuda`. Raises ConfigError naming
    the file and the entry, as a local build would."""
    from fmprog.backends.config import BuildContext, ConfigError, build_entry

    entry = spec.entry
    if gpu_ids and spec.device and spec.device.startswith("cuda:"):
        entry = {**copy.deepcopy(entry), "device": "cuda"}
    try:
        built = build_entry(entry, BuildContext(Path(spec.base_dir)))
    except (ValueError, TypeError, OSError, ImportError, BackendError) as e:
        raise ConfigError(f"{spec.label}: {e}") from e
    names = [b.name for b in built]
    keep = built[0] if spec.pick is None else next((b for b in built if b.name == spec.pick), None)
    if keep is None:
        raise ConfigError(f"{spec.label}: builds no backend named {spec.pick!r} here (it built "
                          f"{names}); every node must see the same models")
    for b in built:
        if b is not keep:
            b.close()
    return keep, names
