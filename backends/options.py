"""The types of backend options, declared once and read by everything that checks them.

Adapters annotate their constructor parameters with these (`threshold: Fraction = 0.1`,
`model: ExistingDir`); `schema.py` turns a class's signature into a pydantic model, so a
configuration entry is checked against exactly the options the class takes, with their
types, ranges, paths and enumerations. Only `typing` and `annotated_types` are imported
here: annotating a class costs nothing at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Sequence

from annotated_types import Ge, Gt, Interval, Len


@dataclass(frozen=True)
class PathOption:
    """An option naming a `file`, a `dir` or either (`path`): relative to the configuration
    file's directory, and it must exist."""

    what: str
    hint: str = ""  # added to the "does not exist" message


@dataclass(frozen=True)
class DeviceOption:
    """A torch device name: "cpu", "cuda", "cuda:N" or "auto"."""


@dataclass(frozen=True)
class DTypeOption:
    """A floating-point dtype name (see `DTYPES`); aliases are normalised."""


Positive = Annotated[float, Gt(0)]
Seconds = Annotated[float, Gt(0)]
NonNegative = Annotated[float, Ge(0)]
Retries = Annotated[int, Ge(0)]
Count = Annotated[int, Ge(1)]
Fraction = Annotated[float, Interval(ge=0, le=1)]
Temperature = Annotated[float, Interval(ge=0, le=2)]
ExistingFile = Annotated[str, PathOption("file")]
ExistingDir = Annotated[str, PathOption("dir")]
ExistingPath = Annotated[str, PathOption("path")]
TorchDevice = Annotated[str, DeviceOption()]
#: one number per colour channel (R, G, B)
PerChannel = Annotated[Sequence[float], Len(3, 3)]
DType = Annotated[str, DTypeOption()]

#: accepted dtype names -> the torch dtype they mean ("auto": the checkpoint's own)
DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
          "half": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16", "auto": "auto"}
_DEVICE = re.compile(r"cpu|auto|cuda(:\d+)?")


def dtype_name(value: str | None) -> str | None:
    """The canonical name of a dtype option (None stays None); ValueError if unknown."""
    if value is None:
        return None
    canonical = DTYPES.get(str(value).lower()) if isinstance(value, str) else None
    if canonical is None:
        raise ValueError(f"dtype {value!r} is not one of float32, float16, bfloat16, auto "
                         "(aliases fp32, fp16, half, bf16)")
    return canonical


def device_name(value: str) -> str:
    """A torch device option, checked for its form only ("cpu", "cuda", "cuda:N", "auto")."""
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', not {value!r}")
    return value
