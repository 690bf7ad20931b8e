"""The DSL's neural methods, written once over the Backend interface.

`call(method, backend, patch, args, kwargs)` gives the value a program sees; the graph
runtime, the dry-run checker and the plain-Python reference harness all go through it,
each with its own way of picking `backend`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fmprog.backends.base import Backend

from .values import ImagePatch


def _bind(names: tuple[str, ...], defaults: dict, args: tuple, kwargs: dict) -> list:
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names or k in values:
            raise TypeError(f"unexpected or repeated argument '{k}'")
        values[k] = v
    missing = [n for n in names if n not in values and n not in defaults]
    if missing:
        raise TypeError(f"missing required argument '{missing[0]}'")
    return [values.get(n, defaults.get(n)) for n in names]


def find(b: Backend, patch: ImagePatch, args, kwargs) -> list[ImagePatch]:
    (name,) = _bind(("object_name",), {}, args, kwargs)
    boxes = b.detect(patch.cropped_image, str(name))
    return [ImagePatch(patch.image, patch.left + x.left, patch.lower + x.lower,
                       patch.left + x.right, patch.lower + x.upper, ctx=patch.ctx) for x in boxes]


def exists(b: Backend, patch: ImagePatch, args, kwargs) -> bool:
    (name,) = _bind(("object_name",), {}, args, kwargs)
    return len(b.detect(patch.cropped_image, str(name))) > 0


def verify_property(b: Backend, patch: ImagePatch, args, kwargs) -> bool:
    obj, prop = _bind(("object_name", "property"), {}, args, kwargs)
    return bool(b.verify_property(patch.cropped_image, str(obj), str(prop)))


def query(b: Backend, patch: ImagePatch, args, kwargs) -> str:
    (question,) = _bind(("question",), {}, args, kwargs)
    return str(b.query(patch.cropped_image, str(question)))


def best_text_match(b: Backend, patch: ImagePatch, args, kwargs) -> str:
    options, prefix = _bind(("option_list", "prefix"), {"prefix": None}, args, kwargs)
    options = list(options)
    if not options:
        raise ValueError("best_text_match() got an empty option_list")
    texts = [f"{prefix} {o}" if prefix else str(o) for o in options]
    scores = np.asarray(b.match_scores([patch.cropped_image], texts)).reshape(-1)
    return options[int(np.argmax(scores))]


def compute_depth(b: Backend, patch: ImagePatch, args, kwargs) -> float:
    _bind((), {}, args, kwargs)
    return float(b.depth(patch.cropped_image))


def llm_query(b: Backend, patch: ImagePatch | None, args, kwargs) -> str:
    question, long_answer = _bind(("question", "long_answer"), {"long_answer": True}, args, kwargs)
    return str(b.complete(str(question), bool(long_answer)))


def best_image_match(b: Backend, patch: None, args, kwargs) -> Any:
    patches, content, return_index = _bind(
        ("list_patches", "content", "return_index"), {"return_index": False}, args, kwargs)
    patches = list(patches)
    if not patches:
        return None
    texts = [content] if isinstance(content, str) else [str(c) for c in content]
    scores = np.asarray(b.match_scores([p.cropped_image for p in patches], texts))
    best = int(np.argmax(scores.reshape(len(patches), -1).max(axis=1)))
    return best if return_index else patches[best]


METHODS = {
    "find": find, "exists": exists, "verify_property": verify_property, "query": query,
    "best_text_match": best_text_match, "compute_depth": compute_depth, "llm_query": llm_query,
    "best_image_match": best_image_match,
}


def call(method: str, backend: Backend, patch: ImagePatch | None, args: tuple, kwargs: dict) -> Any:
    return METHODS[method](backend, patch, tuple(args), dict(kwargs))
