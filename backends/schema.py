"""Configuration entries checked with pydantic: types, ranges, paths and enumerations.

An entry has the common keys (`Common`: name, kind, type, cost) and the options of its
type. The options' model is derived from the signature of the class the
entry builds (`options_model`): its annotations (`options.py`) give the types and
constraints, its defaults the defaults, and an option the class does not take is an
error. Errors come back as one readable line naming the fields (`EntryError`).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from .base import KINDS
from .options import DeviceOption, DTypeOption, PathOption, Positive, device_name, dtype_name

#: keys every entry may have; the rest are options of its type
COMMON_KEYS = ("name", "kind", "type", "cost")
#: options only backends that wait on a server take (a local model cannot stop itself)
SERVER_OPTIONS = ("timeout", "retries")


class EntryError(ValueError):
    """A bad entry; the loader adds the file and the entry's place."""


class Common(BaseModel):
    """The keys shared by every entry (the type's options are checked separately)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    name: Annotated[str, Field(min_length=1)]
    kind: Literal[tuple(KINDS)]  # type: ignore[valid-type]
    type: Annotated[str, Field(min_length=1)]
    cost: Positive | None = None


def check_common(entry: Any) -> Common:
    """The common keys of `entry`, validated (EntryError otherwise)."""
    if not isinstance(entry, dict):
        raise EntryError(f"an entry must be a mapping, got {type(entry).__name__}")
    try:
        return Common.model_validate(entry)
    except ValidationError as e:
        raise EntryError(describe_errors(e, "entry")) from None


def check_options(cls: type, fixed: typing.Iterable[str], options: dict[str, Any],
                  base_dir: Path, what: str) -> dict[str, Any]:
    """`options` validated against `cls`'s constructor (less the `fixed` parameters):
    relative paths resolved against `base_dir`, aliases normalised; only the options given
    come back, so the class keeps its own defaults."""
    model = options_model(cls, frozenset(fixed) | frozenset(COMMON_KEYS))
    try:
        checked = model.model_validate(options, context={"base_dir": base_dir})
    except ValidationError as e:
        raise EntryError(describe_errors(e, what, list(model.model_fields))) from None
    return checked.model_dump(exclude_unset=True)


@functools.cache
def options_model(cls: type, excluded: frozenset[str]) -> type[BaseModel]:
    """A pydantic model of `cls`'s keyword options, from its constructor's signature (or
    a function's, for factories such as `default_backends`)."""
    hints = typing.get_type_hints(cls.__init__ if isinstance(cls, type) else cls,
                                  include_extras=True)
    fields: dict[str, Any] = {}
    for p in inspect.signature(cls).parameters.values():
        if p.name in excluded or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (_pydantic(hints.get(p.name, Any)), default)
    config = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)
    return create_model(f"{cls.__name__}Options", __config__=config, **fields)  # type: ignore


def _pydantic(annotation: Any) -> Any:
    """`annotation` with the markers of `options.py` replaced by pydantic validators."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *meta = typing.get_args(annotation)
        return Annotated[(_pydantic(base), *(_validator(m) for m in meta))]
    if origin in (Union, types.UnionType):
        return Union[tuple(_pydantic(a) for a in typing.get_args(annotation))]
    return annotation


def _validator(marker: Any) -> Any:
    if isinstance(marker, PathOption):
        return AfterValidator(functools.partial(_existing, marker))
    if isinstance(marker, DeviceOption):
        return AfterValidator(device_name)
    if isinstance(marker, DTypeOption):
        return AfterValidator(dtype_name)
    return marker


def _existing(marker: PathOption, value: str, info) -> str:
    """A path option resolved against the configuration file's directory; it must exist."""
    base = (info.context or {}).get("base_dir") or Path.cwd()
    path = Path(base) / Path(value).expanduser()
    test = {"file": path.is_file, "dir": path.is_dir, "path": path.exists}[marker.what]
    if not test():
        noun = {"file": "file", "dir": "directory", "path": "path"}[marker.what]
        hint = f" ({marker.hint})" if marker.hint else ""
        raise ValueError(f"{noun} {str(path)!r} does not exist{hint}")
    return str(path)


def describe_errors(error: ValidationError, what: str, allowed: list[str] | None = None) -> str:
    """One line for a pydantic error: each field at fault and what is wrong with it."""
    by_field: dict[str, list[dict]] = {}
    for e in error.errors():
        by_field.setdefault(_field(e["loc"]), []).append(e)
    out = []
    for field, errors in by_field.items():
        # of a union's errors, our own validators' (a missing file) say the most
        best = next((e for e in errors if e["type"] == "value_error"), errors[0])
        out.append(_message(best, field, what, allowed))
    return "; ".join(out)


def _field(loc: tuple) -> str:
    out = str(loc[0]) if loc else "?"
    for part in loc[1:]:
        if isinstance(part, int):
            out += f"[{part}]"
    return out


def _message(e: dict, field: str, what: str, allowed: list[str] | None) -> str:
    kind = e["type"]
    if kind == "missing":
        return f"missing {field!r}" if what == "entry" else f"missing option {field!r}"
    if kind == "extra_forbidden" and field in SERVER_OPTIONS:
        return (f"{what} takes no {field!r}: a backend's own timeout and retries are for one "
                f"waiting on a server (type 'openai'); a local model is bounded by the run's "
                f"--backend-timeout")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, allowed or [], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown option {field!r} for {what}{hint}; allowed: {allowed}"
    msg = e["msg"].removeprefix("Value error, ")
    if kind == "value_error":  # our own validators word the whole message
        return msg if field in ("device", "dtype") else f"{field!r}: {msg}"
    return f"{field!r}: {msg[:1].lower()}{msg[1:]} (got {e.get('input')!r})"
