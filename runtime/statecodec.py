"""Policy state as data: JSON with tagged numpy arrays, never pickle.

A run database can come from anywhere, and unpickling it would run whatever code it
holds. `encode(state)` accepts what `Policy.state_dict()` returns: dicts (any scalar
keys), lists, tuples, None, bools, ints, floats, strings, bytes, numpy arrays and
scalars, and torch tensors; `decode` gives them back (arrays bit for bit, tuples as
tuples). Anything else is refused when encoding, and a malformed document when decoding.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

TAGS = ("__ndarray__", "__tensor__", "__tuple__", "__bytes__", "__dict__", "__float__")


class StateError(ValueError):
    """State that cannot be stored, or a stored document that is not valid state."""


def encode(state: Any) -> bytes:
    return json.dumps(_enc(state), separators=(",", ":")).encode()


def decode(data: bytes | str) -> Any:
    try:
        return _dec(json.loads(data))
    except (ValueError, TypeError, KeyError) as e:
        raise StateError(f"stored policy state is not valid: {e}") from None


def _array(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a)
    if a.dtype == object:
        raise StateError("object arrays cannot be stored")
    return {"dtype": a.dtype.str, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode()}


def _enc(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if np.isfinite(v) else {"__float__": repr(v)}
    if isinstance(v, np.generic):
        return _enc(v.item())
    if isinstance(v, np.ndarray):
        return {"__ndarray__": _array(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x) for x in v]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) and k not in TAGS for k in v):
            return {k: _enc(x) for k, x in v.items()}
        return {"__dict__": [[_enc(k), _enc(x)] for k, x in v.items()]}
    if type(v).__module__.startswith("torch") and hasattr(v, "detach"):
        return {"__tensor__": _array(v.detach().cpu().numpy())}
    raise StateError(f"cannot store a {type(v).__name__} in policy state")


def _unarray(d: dict) -> np.ndarray:
    raw = base64.b64decode(d["data"], validate=True)
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if not isinstance(v, dict):
        return v
    if len(v) == 1:
        (tag, x), = v.items()
        if tag == "__ndarray__":
            return _unarray(x)
        if tag == "__tensor__":
            import torch

            return torch.from_numpy(_unarray(x))
        if tag == "__tuple__":
            return tuple(_dec(i) for i in x)
        if tag == "__bytes__":
            return base64.b64decode(x, validate=True)
        if tag == "__dict__":
            return {_hashable(_dec(k)): _dec(i) for k, i in x}
        if tag == "__float__":
            return float(x)
    return {k: _dec(x) for k, x in v.items()}


def _hashable(k: Any) -> Any:
    return tuple(_hashable(x) for x in k) if isinstance(k, (list, tuple)) else k
