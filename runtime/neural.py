"""The DSL's neural methods as data: a request to a backend operation, and the value the
program sees from the result. Written once; the routed runtime, the dry run and the
plain-Python reference harness all go through it.

Each method of `grammars/viper.pyi` marked `@neural(kind)` maps to one backend operation
(`backends/base.py: OPS`): `find` and `exists` are both `detect`, `best_text_match` and
`best_image_match` are `match_scores`, `llm_query` is `complete`. Its arguments are bound
generically from the DSL signature (names and defaults), so nothing here repeats the
DSL's parameter lists.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from fmprog.backends.base import Call, Result
from fmprog.grammars import dsl

from .values import ImagePatch


@dataclass(frozen=True)
class Request:
    """One neural call of a program: where it is (`site`, `kind`), what the program asked
    (`method`, `args` bound by the DSL signature), and the backend call that answers it.
    `source` names the call's pixels for cache keys: (image content hash, crop boxes)."""

    site: str
    kind: str
    method: str
    args: dict
    call: Call
    source: tuple


@dataclass(frozen=True)
class Method:
    """How one DSL method becomes a backend call and how its result becomes a value."""

    op: str
    build: Callable[[ImagePatch | None, dict], tuple | Any]  # -> (images, args) or Immediate
    finish: Callable[[ImagePatch | None, dict, Result], Any]
    needs_patch: bool = True


@dataclass(frozen=True)
class Immediate:
    """A method's value when no model needs to be asked (best_image_match of no patches)."""

    value: Any


def _crop(p: ImagePatch) -> tuple:
    return (p.cropped_image,)


def _patches_of(patch: ImagePatch, boxes) -> list[ImagePatch]:
    return [ImagePatch(patch.image, patch.left + b.left, patch.lower + b.lower,
                       patch.left + b.right, patch.lower + b.upper, ctx=patch.ctx) for b in boxes]


def _texts(options, prefix) -> list[str]:
    return [f"{prefix} {o}" if prefix else str(o) for o in options]


def _best_text_build(p: ImagePatch, a: dict):
    options = list(a["option_list"])
    if not options:
        raise ValueError("best_text_match() got an empty option_list")
    return _crop(p), {"texts": _texts(options, a["prefix"])}


def _best_text_finish(p, a: dict, r: Result):
    scores = np.asarray(r.value, dtype=float).reshape(-1)
    return list(a["option_list"])[int(np.argmax(scores))]


def _best_image_build(_, a: dict):
    patches = list(a["list_patches"])
    if not patches:
        return Immediate(None)
    if not all(isinstance(x, ImagePatch) for x in patches):
        raise TypeError("best_image_match() needs a list of ImagePatch")
    content = a["content"]
    texts = [content] if isinstance(content, str) else [str(c) for c in content]
    return tuple(x.cropped_image for x in patches), {"texts": texts}


def _best_image_finish(_, a: dict, r: Result):
    patches = list(a["list_patches"])
    scores = np.asarray(r.value, dtype=float).reshape(len(patches), -1)
    best = int(np.argmax(scores.max(axis=1)))
    return best if a["return_index"] else patches[best]


METHODS: dict[str, Method] = {
    "find": Method("detect", lambda p, a: (_crop(p), {"object_name": str(a["object_name"])}),
                   lambda p, a, r: _patches_of(p, r.value)),
    "exists": Method("detect", lambda p, a: (_crop(p), {"object_name": str(a["object_name"])}),
                     lambda p, a, r: len(r.value) > 0),
    "verify_property": Method(
        "verify_property",
        lambda p, a: (_crop(p), {"object_name": str(a["object_name"]), "property": str(a["property"])}),
        lambda p, a, r: bool(r.value)),
    "query": Method("query", lambda p, a: (_crop(p), {"question": str(a["question"])}),
                    lambda p, a, r: str(r.value)),
    "best_text_match": Method("match_scores", _best_text_build, _best_text_finish),
    "compute_depth": Method("depth", lambda p, a: (_crop(p), {}), lambda p, a, r: float(r.value)),
    "llm_query": Method("complete",
                        lambda p, a: ((), {"prompt": str(a["question"]), "long_answer": bool(a["long_answer"])}),
                        lambda p, a, r: str(r.value), needs_patch=False),
    "best_image_match": Method("match_scores", _best_image_build, _best_image_finish, needs_patch=False),
}


def signature(method: str) -> dsl.Signature:
    """The DSL signature of a canonical neural method (a patch method or a free function)."""
    d = dsl.load()
    return d.patch.methods.get(method) or d.functions[method]


def op_of(method: str) -> str:
    """The backend operation serving a canonical DSL method (preflight asks it)."""
    return METHODS[method].op


def request(site: str, kind: str, method: str, patch: ImagePatch | None, args: tuple,
            kwargs: dict) -> Request | Immediate:
    """Bind the program's arguments and build the backend call; TypeError/ValueError are
    the program's own errors (wrong arguments), raised as Python would."""
    spec = METHODS[method]
    bound = signature(method).bind(tuple(args), dict(kwargs))
    if spec.needs_patch and not isinstance(patch, ImagePatch):
        raise TypeError(f"{method}() needs an ImagePatch, got {type(patch).__name__}")
    built = spec.build(patch, bound)
    if isinstance(built, Immediate):
        return built
    images, op_args = built
    return Request(site, kind, method, bound, Call(spec.op, images, op_args), _source(patch, bound))


def finish(req: Request, patch: ImagePatch | None, result: Result) -> Any:
    """The value the program sees for a served request."""
    return METHODS[req.method].finish(patch, req.args, result)


def _source(patch: ImagePatch | None, bound: dict) -> tuple:
    patches = [patch] if isinstance(patch, ImagePatch) else []
    if "list_patches" in bound:
        patches = [p for p in bound["list_patches"] if isinstance(p, ImagePatch)]
    return tuple((image_key(p.image), p.box()) for p in patches)


_KEYS: OrderedDict[int, tuple[np.ndarray, str]] = OrderedDict()
_KEYS_MAX = 256


def image_key(image: np.ndarray) -> str:
    """A content hash of an image array, memoised per array object (patches of one image
    share it, so it is hashed once per input)."""
    hit = _KEYS.get(id(image))
    if hit is not None and hit[0] is image:
        _KEYS.move_to_end(id(image))
        return hit[1]
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{image.shape}|{image.dtype}|".encode())
    h.update(np.ascontiguousarray(image).data)
    key = h.hexdigest()
    _KEYS[id(image)] = (image, key)  # holding the array keeps its id from being reused
    if len(_KEYS) > _KEYS_MAX:
        _KEYS.popitem(last=False)
    return key


def serve_directly(backend, method: str, patch: ImagePatch | None, args: tuple, kwargs: dict) -> Any:
    """Serve one call on one backend, raising its BackendError: for fixed-backend runs
    (differential tests, the reference harness), with no routing and no log."""
    req = request("", backend.kind, method, patch, args, kwargs)
    if isinstance(req, Immediate):
        return req.value
    (out,) = backend.serve([req.call])
    if isinstance(out, BaseException):
        raise out
    return finish(req, patch, out)
