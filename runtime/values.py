"""Run-time values of the DSL: ImagePatch, the unbound-name sentinel, loop results.

Boxes follow the DSL's convention: (left, lower, right, upper) in pixels of the whole
image with y growing upwards, so `lower` is the bottom edge. Arrays are stored top-down
(row 0 at the top), so a box covers rows [H - upper, H - lower).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from fmprog.backends.geometry import as_image


class ImagePatch:
    """A crop of an image. Neural methods are served through `ctx` (see runtime.neural);
    the graph interpreter never calls them: it runs NEURAL nodes itself."""

    __slots__ = ("image", "left", "lower", "right", "upper", "ctx")

    def __init__(self, image, left=None, lower=None, right=None, upper=None, ctx=None):
        if isinstance(image, ImagePatch):
            raise TypeError("ImagePatch() takes an image, not an ImagePatch")
        self.image = as_image(image)
        h, w = self.image.shape[:2]
        self.left = 0 if left is None else int(max(0, left))
        self.lower = 0 if lower is None else int(max(0, lower))
        self.right = w if right is None else int(min(w, right))
        self.upper = h if upper is None else int(min(h, upper))
        self.ctx = ctx

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.upper - self.lower

    @property
    def horizontal_center(self) -> float:
        return (self.left + self.right) / 2

    @property
    def vertical_center(self) -> float:
        return (self.lower + self.upper) / 2

    @property
    def cropped_image(self) -> np.ndarray:
        h = self.image.shape[0]
        crop = self.image[h - self.upper: h - self.lower, self.left: self.right]
        return crop if crop.size else self.image[:1, :1]

    def crop(self, left, lower, right, upper) -> "ImagePatch":
        """A sub-patch; coordinates relative to this patch, as in ViperGPT."""
        return ImagePatch(self.image, self.left + left, self.lower + lower,
                          self.left + right, self.lower + upper, ctx=self.ctx)

    def overlaps_with(self, left, lower, right, upper) -> bool:
        return self.left <= right and self.right >= left and self.lower <= upper and self.upper >= lower

    def box(self) -> tuple[int, int, int, int]:
        return (self.left, self.lower, self.right, self.upper)

    def __repr__(self) -> str:
        return f"ImagePatch({self.left}, {self.lower}, {self.right}, {self.upper})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ImagePatch) and self.box() == other.box() and self.image is other.image

    def __hash__(self) -> int:
        return hash(self.box())

    # Plain-Python execution (the reference harness) reaches models through ctx.
    def _neural(self, method, *args, **kwargs):
        if self.ctx is None:
            raise RuntimeError(f"ImagePatch.{method}() has no model attached")
        return self.ctx.call(method, self, args, kwargs)

    def find(self, *a, **k): return self._neural("find", *a, **k)
    def exists(self, *a, **k): return self._neural("exists", *a, **k)
    def verify_property(self, *a, **k): return self._neural("verify_property", *a, **k)
    def query(self, *a, **k): return self._neural("query", *a, **k)
    def simple_query(self, *a, **k): return self._neural("query", *a, **k)
    def best_text_match(self, *a, **k): return self._neural("best_text_match", *a, **k)
    def compute_depth(self, *a, **k): return self._neural("compute_depth", *a, **k)
    def llm_query(self, *a, **k): return self._neural("llm_query", *a, **k)


@dataclass(frozen=True)
class Unbound:
    """The value of a name read before it is bound on this path: using it is a NameError."""

    name: str


@dataclass
class LoopResult:
    """What a for/while region hands to the `project` nodes after it."""

    carry: dict[str, Any] = field(default_factory=dict)
    broke: bool = False
    returned: bool = False
    retval: Any = None

    def project(self, key: str) -> Any:
        if key.startswith("carry:"):
            return self.carry[key[6:]]
        return getattr(self, key)


class FunctionValue:
    """A builtin or DSL function used as a value (`key=len`, `map(str, xs)`): each call counts as
    an iteration and is accounted as a direct call would be, whoever makes it (map, sorted).
    It compares, hashes and prints as the function itself."""

    __slots__ = ("fn", "call")

    def __init__(self, fn: Callable, call: Callable):
        self.fn, self.call = fn, call

    def __call__(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def __eq__(self, other):
        return self.fn == (other.fn if isinstance(other, FunctionValue) else other)

    def __hash__(self):
        return hash(self.fn)

    def __repr__(self):
        return repr(self.fn)
