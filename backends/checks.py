"""What `fmprog backends` reports about each backend, and its `--check`: one real call.

`backend_row(backend)` is a backend's name, kind, cost, identity and `describe()` (the
device or execution provider that really runs it, and whether it is loaded).
`check_backend(backend)` asks its `health()`, then serves one call of the first operation
of its kind that it supports, on a small generated image, through `serve()`: exactly the
path the runtime takes, loading the model if it is lazy.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .base import OPS, Backend, BackendError, Call, Result


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check call: ok, how long it took (loading included), the op
    asked, a short form of the answer, or the error."""

    ok: bool
    seconds: float
    op: str | None = None
    answer: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def probe_image(height: int = 64, width: int = 96) -> np.ndarray:
    """A grey gradient with a red square on the left and a blue disc on the right."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([80 + x * 0.5, 80 + y * 0.5, 90 + 0 * x], axis=-1).astype(np.uint8)
    image[16:48, 8:40] = (220, 30, 30)
    disc = (x - 70) ** 2 + (y - 32) ** 2 < 14 ** 2
    image[disc] = (30, 40, 220)
    return image


def probe_call(backend: Backend) -> Call | None:
    """One call of the first op of the backend's kind that it supports (None: it serves
    none). A backend with a fixed label set is asked about its first label."""
    label = _first_label(backend)
    image = probe_image()
    args = {
        "detect": {"object_name": label or "object"},
        "verify_property": {"object_name": "object", "property": label or "red"},
        "query": {"question": "What color is the square?"},
        "match_scores": {"texts": [label] if label else ["a red square", "a blue circle"]},
        "depth": {},
        "complete": {"prompt": "Answer with one word: what color is the sky?",
                     "long_answer": False},
    }
    for op in OPS.values():
        if op.kind == backend.kind and backend.supports(op.name):
            images = () if op.name == "complete" else (image,)
            return Call(op.name, images, args[op.name])
    return None


def _first_label(backend: Backend) -> str | None:
    labels = getattr(backend, "labels", None)
    return str(labels[0]) if isinstance(labels, (list, tuple)) and labels else None


def check_backend(backend: Backend) -> CheckResult:
    """Health, then one real call; never raises."""
    start = time.perf_counter()
    call = None
    try:
        backend.health()
        call = probe_call(backend)
        if call is None:
            raise BackendError(f"{backend.name} serves no operation of kind {backend.kind!r}")
        (result,) = backend.serve([call])
        if isinstance(result, BackendError):
            raise result
    except Exception as e:  # a check reports every failure, whatever raised it
        message = str(e) if isinstance(e, BackendError) else f"{type(e).__name__}: {e}"
        return CheckResult(False, _since(start), call.op if call else None, error=message)
    return CheckResult(True, _since(start), call.op, answer=_short(result))


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def _short(result: Result) -> str:
    value = result.value
    if isinstance(value, np.ndarray):
        text = np.array2string(np.asarray(value, dtype=float), precision=3)
    elif isinstance(value, list):
        text = f"{len(value)} box(es)"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def backend_row(backend: Backend) -> dict[str, Any]:
    """What the listing shows for one backend."""
    info = backend.describe()
    return {"name": backend.name, "kind": backend.kind, "cost": backend.cost,
            "device": info.get("device"), "provider": info.get("provider"),
            "loaded": info.get("loaded"), "identity": backend.identity()}
