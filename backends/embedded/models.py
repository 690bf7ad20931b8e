"""The embedded backends: detection, vqa and image-text matching from the ONNX nets, and a
geometric depth heuristic.

Each vision backend owns a `Vision` stack of one size (a detector and a crop classifier);
its cost is the two nets' parameters in millions. All methods accept any array-like
image (grayscale, RGBA, float, 1x1) and never raise on odd input: unknown names give [],
unknown properties give False, unparsed questions a best-effort description.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..base import Backend
from ..geometry import Box, as_image, crop_box, nms
from .onnx_nets import MODELS_DIR, Attributes, Detector, load_meta
from .scenes import COLORS, DEPTH_REF, SHAPES, SMALL_MAX_SIDE
from .vocab import attributes, parse_name, question_intent

SIZES = ("small", "large")


def box_size(box: Sequence[int]) -> str:
    """'small' or 'large', with the generator's threshold on the longest side."""
    return "small" if max(box[2] - box[0], box[3] - box[1]) <= SMALL_MAX_SIDE else "large"


@functools.lru_cache(maxsize=None)
def _cached_meta(models_dir: str) -> dict:
    path = Path(models_dir)
    try:
        return load_meta(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no embedded models in {path}: run `python -m fmprog.backends.embedded.train`"
        ) from None


class Vision:
    """A detector and a crop classifier of one size, composed into find/describe."""

    def __init__(self, size: str, models_dir: Path | str = MODELS_DIR, device: str | None = None):
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {size!r}")
        meta = _cached_meta(str(models_dir))
        det, attr = meta["nets"][f"det-{size}"], meta["nets"][f"attr-{size}"]
        self.det = Detector(det, Path(models_dir), device)
        self.attr = Attributes(attr, Path(models_dir), device)
        self.params_m = round(det["params_m"] + attr["params_m"], 4)

    def find(self, image: np.ndarray, name: str) -> list[tuple[Box, str]]:
        """(box, shape) pairs matching a name such as 'circle' or 'small red objects'."""
        phrase = parse_name(name)
        h, w = image.shape[:2]
        if not phrase.known or h == 0 or w == 0:
            return []
        out, scale, ox, oy = self.det.heads(image)
        found = []
        for shape in phrase.shapes:
            c = self.det.classes.index(shape)
            for b in self.det.decode(out, c, (h, w), scale, ox, oy):
                found.append((Box(*b[:4], score=b[4]), shape))
        if len(phrase.shapes) > 1:
            found = _cross_class_nms(found)
        if phrase.size:
            found = [f for f in found if box_size(_xyxy(f[0])) == phrase.size]
        if phrase.color and found:
            _, colors = self.attr.probs([crop_box(image, _xyxy(b)) for b, _ in found])
            keep = colors.argmax(axis=1) == COLORS.index(phrase.color)
            found = [f for f, k in zip(found, keep) if k]
        return sorted(found, key=lambda f: -f[0].score)

    def focus(self, image: np.ndarray, name: str) -> tuple[np.ndarray, str | None, Box | None]:
        """The region a question about `name` is about: (pixels, detected shape, box).

        The best detection when it is a part of the image; the whole image when nothing
        is found or the detection covers most of it (the image is already a crop).
        """
        found = self.find(image, name) if parse_name(name).known else []
        if not found:
            found = self.find(image, "object")
        if not found:
            return image, None, None
        box, shape = found[0]
        area = (box.right - box.left) * (box.upper - box.lower)
        if area >= 0.5 * image.shape[0] * image.shape[1]:
            return image, shape, box
        return crop_box(image, _xyxy(box), margin=0.1), shape, box

    def describe(self, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shape probabilities over `SHAPES` (renormalised without 'none') and color ones."""
        shapes, colors = self.attr.probs([region])
        s = shapes[0, : len(SHAPES)]
        return s / max(float(s.sum()), 1e-9), colors[0]


def _xyxy(b: Box) -> tuple[int, int, int, int]:
    return b.left, b.lower, b.right, b.upper


def _cross_class_nms(found: list[tuple[Box, str]], iou: float = 0.6) -> list[tuple[Box, str]]:
    return nms(found, iou, box=lambda f: f[0])


def _safe(image) -> np.ndarray | None:
    """The image as HxWx3 uint8, or None when it is not an image or is empty."""
    try:
        arr = as_image(image)
    except (ValueError, TypeError):
        return None
    return arr if arr.shape[0] > 0 and arr.shape[1] > 0 else None


class _EmbeddedBackend(Backend):
    """A backend over one `Vision` stack, loaded lazily on first use."""

    prefix = ""

    def __init__(self, size: str = "large", models_dir: Path | str = MODELS_DIR,
                 device: str | None = None, name: str | None = None, cost: float | None = None):
        self.vision = Vision(size, models_dir, device)
        self.size = size
        cost = self.vision.params_m if cost is None else cost
        super().__init__(name or f"{self.prefix}-{size}", cost)


class EmbeddedDetection(_EmbeddedBackend):
    """`find`/`exists`: CenterNet boxes, filtered by the crop classifier for color words."""

    kind, prefix = "detection", "det"

    def detect(self, image: np.ndarray, object_name: str) -> list[Box]:
        img = _safe(image)
        return [] if img is None else [b for b, _ in self.vision.find(img, object_name)]


class EmbeddedVQA(_EmbeddedBackend):
    """`verify_property` and template questions, composed from detector and classifier."""

    kind, prefix = "vqa", "vqa"

    def verify_property(self, image: np.ndarray, object_name: str, prop: str) -> bool:
        img = _safe(image)
        wanted = attributes(prop)
        if img is None or not wanted:
            return False
        region, _, box = self.vision.focus(img, object_name)
        return self._holds(region, box, img, wanted)

    def _holds(self, region, box, image, wanted: list[tuple[str, str]]) -> bool:
        shapes, colors = self.vision.describe(region)
        for kind, value in wanted:
            if kind == "color" and COLORS[int(colors.argmax())] != value:
                return False
            if kind == "shape" and SHAPES[int(shapes.argmax())] != value:
                return False
            if kind == "size":
                xyxy = _xyxy(box) if box else (0, 0, image.shape[1], image.shape[0])
                if box_size(xyxy) != value:
                    return False
        return True

    def query(self, image: np.ndarray, question: str) -> str:
        img = _safe(image)
        if img is None:
            return "no"
        intent, rest = question_intent(question)
        if intent == "count":
            return str(len(self.vision.find(img, rest or "object")))
        if intent == "exists":
            return "yes" if self.vision.find(img, rest or "object") else "no"
        if intent == "verify":
            subject = parse_name(rest).shape_word
            region, _, box = self.vision.focus(img, subject or "object")
            wanted = [a for a in attributes(rest) if a != ("shape", subject)] or attributes(rest)
            return "yes" if wanted and self._holds(region, box, img, wanted) else "no"
        region, shape, box = self.vision.focus(img, rest)
        shapes, colors = self.vision.describe(region)
        color = COLORS[int(colors.argmax())]
        shape = shape or SHAPES[int(shapes.argmax())]
        if intent == "color":
            return color
        if intent == "shape":
            return shape
        if intent == "size":
            return box_size(_xyxy(box)) if box else "large"
        return f"{color} {shape}"


class EmbeddedMatching(_EmbeddedBackend):
    """`best_text_match`: log-probabilities of the color and shape words in each text."""

    kind, prefix = "image_text_matching", "itm"

    def match_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        scores = np.zeros((len(images), len(texts)))
        for i, image in enumerate(images):
            img = _safe(image)
            if img is None:
                continue
            region = self.vision.focus(img, "object")[0] if max(img.shape[:2]) > 64 else img
            shapes, colors = self.vision.describe(region)
            for j, text in enumerate(texts):
                scores[i, j] = _text_score(text, shapes, colors)
        return scores


def _text_score(text: str, shapes: np.ndarray, colors: np.ndarray) -> float:
    """Sum of log-probabilities of the attributes a text names (a flat prior otherwise)."""
    terms = []
    for kind, value in attributes(text):
        if kind == "shape":
            terms.append(math.log(max(float(shapes[SHAPES.index(value)]), 1e-6)))
        elif kind == "color":
            terms.append(math.log(max(float(colors[COLORS.index(value)]), 1e-6)))
    return sum(terms) if terms else math.log(1.0 / len(COLORS))


class DepthHeuristic(Backend):
    """`compute_depth` WITHOUT a learned model: a pinhole-size heuristic.

    All generated shapes have the same physical size, so a tight crop of side `s` pixels
    is at depth `DEPTH_REF / s` (larger objects are nearer). It knows nothing of the
    crop's position or content; on anything but object crops of generated scenes it is
    only a size proxy.
    """

    kind = "depth"

    def __init__(self, name: str = "depth-heuristic", cost: float = 0.001):
        super().__init__(name, cost)

    def depth(self, image: np.ndarray) -> float:
        arr = np.asarray(image)
        side = max(arr.shape[:2]) if arr.ndim >= 2 else 0
        return float(DEPTH_REF / max(1, side))
