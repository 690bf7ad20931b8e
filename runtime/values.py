"""Run-time values of the DSL: ImagePatch, the unbound-name sentinel, loop results.

Boxes follow the DSL's convention: (left, lower, right, upper) in pixels of the whole
image with y growing upwards, so `lower` is the bottom edge. Arrays are stored top-down
(row 0 at the top), so a box covers rows [H - upper, H - lower).

Patches a program makes (`ImagePatch(image, ...)`, `patch.crop(...)`) follow ViperGPT
(cvlab-columbia/viper, image_patch.py), see docs/dsl-semantics.md: coordinates given to
ImagePatch() must be integers, crop() truncates its coordinates with int(), and a patch
with no area is an error ("ImagePatch has no area"). Boxes are clamped to the image.
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
        """A sub-patch; coordinates relative to this patch and truncated with int(), as in ViperGPT."""
        left, lower, right, upper = int(left), int(lower), int(right), int(upper)
        return _with_area(ImagePatch(self.image, self.left + left, self.lower + lower,
                                     self.left + right, self.lower + upper, ctx=self.ctx))

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

    # Plain-Python execution (the reference harness) reaches models through ctx; the
    # methods themselves are made from the DSL's neural methods, below the class.
    def _neural(self, method, *args, **kwargs):
        if self.ctx is None:
            raise RuntimeError(f"ImagePatch.{method}() has no model attached")
        return self.ctx.call(method, self, args, kwargs)


def _neural_method(name: str, canonical: str):
    def method(self, *args, **kwargs):
        return self._neural(canonical, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return method


def _add_neural_methods() -> None:
    from fmprog.grammars import dsl

    for name, sig in dsl.load().neural_methods().items():
        setattr(ImagePatch, name, _neural_method(name, sig.canonical))


_add_neural_methods()


def _with_area(patch: ImagePatch) -> ImagePatch:
    if patch.width <= 0 or patch.height <= 0:
        raise ValueError("ImagePatch has no area")
    return patch


def program_patch(image, left=None, lower=None, right=None, upper=None, ctx=None) -> ImagePatch:
    """`ImagePatch(...)` as a program calls it: integer coordinates (a float is a TypeError,
    as ViperGPT's tensor slicing makes it), and an area."""
    for v in (left, lower, right, upper):
        if v is not None and not hasattr(v, "__index__"):
            raise TypeError("slice indices must be integers or None or have an __index__ method")
    return _with_area(ImagePatch(image, left, lower, right, upper, ctx=ctx))


class _PatchClass(type):
    """What the name `ImagePatch` is to a program: calling it makes a patch as programs do
    (`program_patch`), and isinstance(x, ImagePatch) holds for every patch."""

    def __call__(cls, *args, **kwargs):
        return program_patch(*args, **kwargs, ctx=cls.ctx)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, ImagePatch)


def patch_class(ctx=None) -> type:
    """The value of the name `ImagePatch` in a program, its patches served through `ctx`."""
    return _PatchClass("ImagePatch", (), {"ctx": ctx, "__module__": __name__})


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
