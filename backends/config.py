"""Backend configuration files: JSON lists of entries -> list[Backend].

A file holds a list of entries, or an object `{"backends": [...]}`. An entry is

    {"name": str, "kind": one of base.KINDS, "type": "embedded" | "hf" | "onnx" | "openai",
     "cost"?: number > 0, ...options of the type}

The options of a type are the keyword arguments of the class it builds (see
`docs/backends.md`); unknown options are errors. Paths in `model`, `tokenizer` and
`labels` are relative to the file's directory. Every error is a ValueError naming the file
and the entry index.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, Callable

from .base import KINDS, Backend

COMMON_KEYS = ("name", "kind", "type", "cost")
PATH_OPTIONS = ("model", "tokenizer", "labels")


class EntryError(ValueError):
    """A bad entry; `load_config` adds the file and the index."""


def load_config(path: str | Path) -> list[Backend]:
    """Read a JSON configuration file and build its backends, in file order."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such backend configuration file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read the backend configuration: {e}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    return build_backends(data, source=str(path), base_dir=path.parent)


def build_backends(data: Any, source: str = "<config>",
                   base_dir: str | Path | None = None) -> list[Backend]:
    """Build the backends of already-parsed configuration data."""
    if isinstance(data, dict) and set(data) == {"backends"}:
        data = data["backends"]
    if not isinstance(data, list):
        raise ValueError(f"{source}: expected a list of backend entries "
                         f'(or {{"backends": [...]}}), got {type(data).__name__}')
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    backends: list[Backend] = []
    seen: dict[tuple[str, str], int] = {}
    cache: dict = {}  # shared by the entries of one file (embedded pools)
    for i, entry in enumerate(data):
        try:
            built = build_entry(entry, base, cache)
        except EntryError as e:
            raise ValueError(f"{source}: entry {i}: {e}") from None
        except (ValueError, TypeError, OSError, ImportError) as e:
            raise ValueError(f"{source}: entry {i} ({_label(entry)}): {e}") from e
        for b in built:
            key = (b.kind, b.name)
            if key in seen:
                raise ValueError(f"{source}: entry {i}: backend name {b.name!r} is already used "
                                 f"by entry {seen[key]} in the {b.kind} pool")
            seen[key] = i
        backends.extend(built)
    return backends


def _label(entry: Any) -> str:
    if isinstance(entry, dict):
        return f"{entry.get('type')} {entry.get('name')!r}"
    return "?"


def build_entry(entry: Any, base_dir: Path, cache: dict | None = None) -> list[Backend]:
    """Validate the common keys of one entry and hand it to its type's factory."""
    if not isinstance(entry, dict):
        raise EntryError(f"an entry must be an object, got {type(entry).__name__}")
    for key in ("name", "kind", "type"):
        if key not in entry:
            raise EntryError(f"missing {key!r}")
        if not isinstance(entry[key], str) or not entry[key]:
            raise EntryError(f"{key!r} must be a non-empty string, got {entry[key]!r}")
    if entry["kind"] not in KINDS:
        raise EntryError(f"unknown kind {entry['kind']!r}; expected one of {list(KINDS)}")
    if entry["type"] not in BACKEND_TYPES:
        raise EntryError(f"unknown type {entry['type']!r}; expected one of "
                         f"{sorted(BACKEND_TYPES)}")
    cost = entry.get("cost")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float))
                             or not cost > 0):
        raise EntryError(f"'cost' must be a positive number, got {cost!r}")
    options = {k: v for k, v in entry.items() if k not in COMMON_KEYS}
    for key in PATH_OPTIONS:
        if isinstance(options.get(key), str):
            options[key] = str(base_dir / Path(options[key]).expanduser())
    factory = BACKEND_TYPES[entry["type"]]
    return factory(entry["name"], entry["kind"], cost, options,
                   cache if cache is not None else {})


def _construct(cls: type, fixed: dict[str, Any], options: dict[str, Any]) -> Backend:
    """Call `cls(**fixed, **options)`, naming unknown or missing options clearly."""
    params = inspect.signature(cls).parameters
    allowed = [p for p in params if p not in fixed and p not in COMMON_KEYS]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise EntryError(f"unknown option(s) {unknown} for {cls.__name__}; allowed: {allowed}")
    missing = [p for p in allowed if params[p].default is inspect.Parameter.empty
               and p not in options]
    if missing:
        raise EntryError(f"{cls.__name__} needs option(s) {missing}")
    return cls(**fixed, **options)


def _with_cost(fixed: dict[str, Any], cost: float | None) -> dict[str, Any]:
    return fixed if cost is None else {**fixed, "cost": cost}


def _hf(name: str, kind: str, cost: float | None, options: dict, cache: dict) -> list[Backend]:
    from .hf import HF_CLASSES

    cls = HF_CLASSES.get(kind)
    if cls is None:
        raise EntryError(f"type 'hf' has no class for kind {kind!r}")
    return [_construct(cls, _with_cost({"name": name}, cost), options)]


def _onnx(name: str, kind: str, cost: float | None, options: dict, cache: dict) -> list[Backend]:
    from .onnx_files import ONNX_CLASSES

    flavour = options.pop("model_type", None)
    if flavour is None:
        flavour = {"detection": "detector", "depth": "depth"}.get(kind, "classifier")
    cls = ONNX_CLASSES.get(flavour)
    if cls is None:
        raise EntryError(f"unknown model_type {flavour!r}; expected one of {sorted(ONNX_CLASSES)}")
    if kind not in cls.kinds:
        raise EntryError(f"ONNX model_type {flavour!r} serves {list(cls.kinds)}, not {kind!r}")
    return [_construct(cls, _with_cost({"name": name, "kind": kind}, cost), options)]


def _openai(name: str, kind: str, cost: float | None, options: dict, cache: dict) -> list[Backend]:
    from .openai_http import OpenAIChatBackend

    if cost is None:
        raise EntryError("type 'openai' needs an explicit 'cost' (no parameter count over HTTP)")
    if kind not in ("vqa", "llm"):
        raise EntryError(f"type 'openai' serves 'vqa' or 'llm', not {kind!r}")
    return [_construct(OpenAIChatBackend, {"name": name, "kind": kind, "cost": cost}, options)]


def _embedded(name: str, kind: str, cost: float | None, options: dict,
              cache: dict) -> list[Backend]:
    """The backends shipped with fmprog, picked by kind and name ("*": all of the kind).

    Options (such as `device`, `models_dir`) go to `default_backends()`, called once per
    distinct set of options in a file.
    """
    try:
        from fmprog.backends.embedded import default_backends
    except ImportError as e:
        raise EntryError(f"the embedded backends cannot be imported: {e}") from e
    params = inspect.signature(default_backends).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise EntryError(f"unknown option(s) {unknown} for type 'embedded'; allowed: "
                         f"{list(params)}")
    key = ("embedded", json.dumps(options, sort_keys=True))
    if key not in cache:
        cache[key] = list(default_backends(**options))
    pool = cache[key]
    chosen = [b for b in pool if b.kind == kind and (name == "*" or b.name == name)]
    if not chosen:
        known = sorted(b.name for b in pool if b.kind == kind)
        raise EntryError(f"no embedded {kind} backend named {name!r}; known: {known}")
    if cost is not None:
        if name == "*":
            raise EntryError("'cost' cannot be set for name '*' (several backends)")
        chosen[0].cost = float(cost)
    return chosen


def _fake(name: str, kind: str, cost: float | None, options: dict, cache: dict) -> list[Backend]:
    """Deterministic fake answers (backends/fake.py): dry pipelines and tests, no model."""
    from .fake import FakeBackend

    return [_construct(FakeBackend, {"name": name, "kind": kind, "cost": 1.0 if cost is None else cost}, options)]


Factory = Callable[[str, str, "float | None", dict, dict], "list[Backend]"]

BACKEND_TYPES: dict[str, Factory] = {
    "embedded": _embedded,
    "hf": _hf,
    "onnx": _onnx,
    "openai": _openai,
    "fake": _fake,
}


def register_type(type_name: str, factory: Factory) -> None:
    """Add a backend type: `factory(name, kind, cost, options, cache) -> list[Backend]`."""
    if type_name in BACKEND_TYPES:
        raise ValueError(f"backend type {type_name!r} is already registered")
    BACKEND_TYPES[type_name] = factory
