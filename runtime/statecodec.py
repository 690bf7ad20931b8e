"""Policy state as data: a JSON document whose arrays point into a raw byte section,
never pickle.

A run database can come from anywhere, and unpickling it would run whatever code it
holds. `encode(state)` accepts what `Policy.state_dict()` returns: dicts (any scalar
keys), lists, tuples, None, bools, ints, floats, strings, bytes, numpy arrays and
scalars, and torch tensors; `decode` gives them back (arrays bit for bit, tuples as
tuples). Anything else is refused when encoding, and a malformed document when decoding.

Layout: `MAGIC`, the JSON document's length (8 bytes, little endian), the document, then
the arrays' bytes, each found by the (offset, nbytes) of its tag: no base64, so a
checkpoint of a few MB of learner state costs about a copy.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

TAGS = ("__ndarray__", "__tensor__", "__tuple__", "__bytes__", "__dict__", "__float__")


class StateError(ValueError):
    """State that cannot be stored, or a stored document that is not valid state."""


MAGIC = b"FMPSTATE1\n"


def encode(state: Any) -> bytes:
    chunks: list[bytes] = []
    doc = json.dumps(_enc(state, chunks), separators=(",", ":")).encode()
    return b"".join([MAGIC, len(doc).to_bytes(8, "little"), doc, *chunks])


def decode(data: bytes) -> Any:
    try:
        data = bytes(data)
        if not data.startswith(MAGIC):
            raise ValueError("not an fmprog state document")
        n = int.from_bytes(data[len(MAGIC):len(MAGIC) + 8], "little")
        start = len(MAGIC) + 8
        raw = memoryview(data)[start + n:]
        return _dec(json.loads(data[start:start + n]), raw)
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise StateError(f"stored policy state is not valid: {e}") from None


def _array(a: np.ndarray, chunks: list[bytes]) -> dict:
    a = np.ascontiguousarray(a)
    if a.dtype == object:
        raise StateError("object arrays cannot be stored")
    offset = sum(len(c) for c in chunks)
    chunks.append(a.tobytes())
    return {"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset, "nbytes": a.nbytes}


def _enc(v: Any, chunks: list[bytes]) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if np.isfinite(v) else {"__float__": repr(v)}
    if isinstance(v, np.generic):
        return _enc(v.item(), chunks)
    if isinstance(v, np.ndarray):
        return {"__ndarray__": _array(v, chunks)}
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x, chunks) for x in v]}
    if isinstance(v, list):
        return [_enc(x, chunks) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) and k not in TAGS for k in v):
            return {k: _enc(x, chunks) for k, x in v.items()}
        return {"__dict__": [[_enc(k, chunks), _enc(x, chunks)] for k, x in v.items()]}
    if type(v).__module__.startswith("torch") and hasattr(v, "detach"):
        return {"__tensor__": _array(v.detach().cpu().numpy(), chunks)}
    raise StateError(f"cannot store a {type(v).__name__} in policy state")


def _unarray(d: dict, raw: memoryview) -> np.ndarray:
    dtype = np.dtype(d["dtype"])
    if dtype.hasobject:
        raise ValueError("object arrays are not data")
    offset, nbytes = int(d["offset"]), int(d["nbytes"])
    if offset < 0 or offset + nbytes > len(raw):
        raise ValueError("an array points outside the document")
    return np.frombuffer(raw[offset:offset + nbytes], dtype=dtype).reshape(d["shape"]).copy()


def _dec(v: Any, raw: memoryview) -> Any:
    if isinstance(v, list):
        return [_dec(x, raw) for x in v]
    if not isinstance(v, dict):
        return v
    if len(v) == 1:
        (tag, x), = v.items()
        if tag == "__ndarray__":
            return _unarray(x, raw)
        if tag == "__tensor__":
            import torch

            return torch.from_numpy(_unarray(x, raw))
        if tag == "__tuple__":
            return tuple(_dec(i, raw) for i in x)
        if tag == "__bytes__":
            return base64.b64decode(x, validate=True)
        if tag == "__dict__":
            return {_hashable(_dec(k, raw)): _dec(i, raw) for k, i in x}
        if tag == "__float__":
            return float(x)
    return {k: _dec(x, raw) for k, x in v.items()}


def _hashable(k: Any) -> Any:
    return tuple(_hashable(x) for x in k) if isinstance(k, (list, tuple)) else k
