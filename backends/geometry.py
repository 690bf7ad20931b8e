"""Boxes and images, in one place: the DSL's box convention, IoU, NMS, image normalising.

Boxes follow the DSL (ViperGPT) convention: (left, lower, right, upper) in pixels of the
whole image with y growing upwards, so `lower` is the bottom edge. Arrays are stored
top-down (row 0 at the top), so a box covers rows [H - upper, H - lower). IoU and NMS do
not care which way y grows, as long as both boxes use the same convention, so they take
any (x0, y0, x1, y1) sequence or a `Box`.

Images everywhere are numpy arrays of shape (H, W, 3), dtype uint8, RGB, row 0 at the top:
`as_image` makes one from anything image-like, `check_image` only validates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence, TypeVar

import numpy as np


@dataclass(frozen=True)
class Box:
    """A detection in DSL coordinates (y up): left, lower, right, upper, and a score."""

    left: int
    lower: int
    right: int
    upper: int
    score: float = 1.0

    @property
    def xyxy(self) -> tuple[int, int, int, int]:
        return (self.left, self.lower, self.right, self.upper)


def _xyxy(b: Box | Sequence[float]) -> Sequence[float]:
    return b.xyxy if isinstance(b, Box) else b


def area(b: Box | Sequence[float]) -> float:
    x0, y0, x1, y1 = _xyxy(b)[:4]
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def iou(a: Box | Sequence[float], b: Box | Sequence[float]) -> float:
    """Intersection over union of two boxes given as (x0, y0, x1, y1[, ...]) or `Box`."""
    a, b = _xyxy(a), _xyxy(b)
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


T = TypeVar("T")


def nms(items: Iterable[T], threshold: float, box=lambda x: x, score=None) -> list[T]:
    """Greedy non-maximum suppression: best score first, drop any item whose box overlaps
    a kept one with IoU above `threshold`.

    `box(item)` gives the item's box (default: the item), `score(item)` its score
    (default: `Box.score`, or index 4 of a tuple).
    """
    if score is None:
        score = lambda x: (box(x).score if isinstance(box(x), Box) else box(x)[4])  # noqa: E731
    kept: list[T] = []
    for item in sorted(items, key=lambda x: -score(x)):
        if all(iou(box(item), box(k)) <= threshold for k in kept):
            kept.append(item)
    return kept


def rows_of(box: Sequence[int], height: int) -> tuple[int, int, int, int]:
    """A DSL box (left, lower, right, upper) as array slices (top, bottom, left, right)."""
    left, lower, right, upper = box[:4]
    return height - upper, height - lower, left, right


def crop_box(image: np.ndarray, box: Sequence[int], margin: float = 0.0) -> np.ndarray:
    """The pixels of a DSL box, optionally grown by `margin` x its longest side; the whole
    image when the box has no area inside it."""
    h, w = image.shape[:2]
    top, bottom, left, right = (int(v) for v in rows_of(box, h))
    m = int(round(margin * max(bottom - top, right - left)))
    top, bottom = max(0, top - m), min(h, bottom + m)
    left, right = max(0, left - m), min(w, right + m)
    if bottom <= top or right <= left:
        return image
    return image[top:bottom, left:right]


def pixel_box_to_dsl(x0: float, y0: float, x1: float, y1: float, height: int, width: int,
                     score: float = 1.0) -> Box | None:
    """A pixel box (y down, as detectors return) -> a DSL box (y up), clipped to the image.

    Returns None when nothing of the box is left inside the image.
    """
    left = int(round(min(max(x0, 0.0), width)))
    right = int(round(min(max(x1, 0.0), width)))
    top_row = int(round(min(max(y0, 0.0), height)))
    bottom_row = int(round(min(max(y1, 0.0), height)))
    if right <= left or bottom_row <= top_row:
        return None
    return Box(left=left, lower=height - bottom_row, right=right, upper=height - top_row,
               score=float(score))


def as_image(image: Any) -> np.ndarray:
    """Any image-like value (PIL image; HxW, HxWx1, HxWx3, HxWx4 array; float in [0, 1] or
    0..255, or int) as a contiguous HxWx3 uint8 array. Raises ValueError if it is not an
    image (wrong rank, object dtype, no pixels)."""
    if hasattr(image, "convert") and not isinstance(image, np.ndarray):
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype == object or arr.ndim not in (2, 3):
        raise ValueError(f"not an image: array of shape {arr.shape}, dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"not an image: array of shape {arr.shape}")
    if arr.shape[2] > 3:
        arr = arr[:, :, :3]
    elif arr.shape[2] < 3:
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    if arr.dtype != np.uint8:
        is_float = arr.dtype.kind == "f"
        arr = np.nan_to_num(arr.astype(np.float64))
        if is_float and arr.max() <= 1.0 and arr.min() >= 0.0:
            arr = arr * 255.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    # the same object when it already is one: patches of one image compare by identity
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def check_image(image: Any, error: type[Exception] = ValueError) -> np.ndarray:
    """Validate the interface's image format, (H, W, 3) uint8 with pixels; raise `error`
    (adapters pass BackendError) if it is not."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        got = getattr(image, "shape", type(image).__name__)
        raise error(f"expected an (H, W, 3) image, got {got}")
    if image.dtype != np.uint8:
        raise error(f"expected a uint8 image, got {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise error(f"empty image of shape {image.shape}")
    return image
