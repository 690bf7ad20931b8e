"""Run the embedded ONNX networks with onnxruntime: input cleaning, letterboxing, decoding.

No torch here. `Detector.boxes(image, cls)` returns boxes in the image's own DSL
coordinates (y up); `Attributes.probs(crops)` returns shape and color probabilities.
Sessions run on CPU unless `device="cuda"` (or `FMPROG_EMBEDDED_DEVICE=cuda`) is asked
and onnxruntime really attaches the CUDA provider (checked with `get_providers()`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..geometry import nms

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
META_FILE = "embedded.json"
CANVAS = 128  # the native scene size: crops are letterboxed into it at scale <= 1
FILL = 128  # letterbox fill: a constant grey, so a tight crop of an object keeps its edges
log = logging.getLogger(__name__)


def load_meta(models_dir: Path | str = MODELS_DIR) -> dict:
    """The metadata JSON written by the training script."""
    return json.loads((Path(models_dir) / META_FILE).read_text())


def letterbox(image: np.ndarray, canvas: int = CANVAS) -> tuple[np.ndarray, float, int, int]:
    """Place an image at scale min(1, canvas/longest side), centred, on a grey canvas.

    Returns (canvas image, scale, x offset, row offset): a canvas pixel (x, row) shows image
    pixel ((x - ox) / scale, (row - oy) / scale).
    """
    h, w = image.shape[:2]
    scale = min(1.0, canvas / max(h, w))
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) != (h, w):
        image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    out = np.full((canvas, canvas, 3), FILL, np.uint8)
    oy, ox = (canvas - nh) // 2, (canvas - nw) // 2
    out[oy : oy + nh, ox : ox + nw] = image
    return out, scale, ox, oy


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square resize with PIL bilinear (identity when already the size)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def to_nchw(images: list[np.ndarray]) -> np.ndarray:
    """uint8 HxWx3 images to a float32 NCHW batch in 0..255 (the nets normalise)."""
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2), dtype=np.float32)


def _device() -> str:
    return os.environ.get("FMPROG_EMBEDDED_DEVICE", "cpu").lower()


@functools.lru_cache(maxsize=None)
def session(path: str, device: str = "cpu"):
    """A cached onnxruntime session; CUDA only if asked, available and really attached."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("FMPROG_ORT_THREADS", "1"))
    opts.log_severity_level = 3
    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    sess = ort.InferenceSession(path, sess_options=opts, providers=providers)
    if device == "cuda" and "CUDAExecutionProvider" not in sess.get_providers():
        log.warning("CUDA requested for %s but onnxruntime runs it on CPU", path)
    return sess


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _peaks(heat: np.ndarray) -> np.ndarray:
    """Boolean mask of 3x3 local maxima of a 2-D map."""
    p = np.pad(heat, 1, constant_values=-np.inf)
    h, w = heat.shape
    nb = np.stack([p[i : i + h, j : j + w] for i in range(3) for j in range(3)])
    return heat >= nb.max(axis=0)


class Detector:
    """A CenterNet-style net: per-class centre heatmaps + size and offset regression."""

    def __init__(self, spec: dict, models_dir: Path = MODELS_DIR, device: str | None = None):
        self.path = str(Path(models_dir) / spec["file"])
        self.input_size = int(spec["input_size"])
        self.stride = int(spec["stride"])
        self.classes = list(spec["classes"])
        self.threshold = float(spec.get("threshold", 0.3))
        self.device = device or _device()

    def heads(self, image: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """(raw output C+4 x G x G, letterbox scale, x offset, row offset) for one image."""
        canvas, scale, ox, oy = letterbox(image)
        x = to_nchw([resize(canvas, self.input_size)])
        out = session(self.path, self.device).run(None, {"image": x})[0][0]
        return out, scale, ox, oy

    def boxes(self, image: np.ndarray, cls: str, threshold: float | None = None) -> list[tuple]:
        """Detections of class `cls` as (left, lower, right, upper, score) in DSL coords."""
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            return []
        out, scale, ox, oy = self.heads(image)
        return self.decode(out, self.classes.index(cls), (h, w), scale, ox, oy, threshold)

    def decode(self, out, c, hw, scale, ox, oy, threshold=None) -> list[tuple]:
        """Turn one class's heatmap peaks into DSL boxes of the original image."""
        thr = self.threshold if threshold is None else threshold
        heat = _sigmoid(out[c])
        ys, xs = np.nonzero(_peaks(heat) & (heat > thr))
        f = CANVAS / self.input_size * self.stride  # grid cell -> canvas pixels
        h, w = hw
        found = []
        for gy, gx in zip(ys, xs):
            bw, bh, offx, offy = out[len(self.classes) :, gy, gx]
            cx, cy = (gx + offx) * f, (gy + offy) * f
            half_w, half_h = max(bw, 0.25) * f / 2, max(bh, 0.25) * f / 2
            x0, x1 = (cx - half_w - ox) / scale, (cx + half_w - ox) / scale
            r0, r1 = (cy - half_h - oy) / scale, (cy + half_h - oy) / scale
            x0, x1 = max(0.0, x0), min(float(w), x1)
            r0, r1 = max(0.0, r0), min(float(h), r1)
            if x1 - x0 >= 1 and r1 - r0 >= 1:
                found.append((x0, r0, x1, r1, float(heat[gy, gx])))
        return [
            (round(x0), h - round(r1), round(x1), h - round(r0), s)
            for x0, r0, x1, r1, s in nms(found, 0.5)
        ]


class Attributes:
    """A crop classifier: shape (the vocabulary plus 'none') and color probabilities."""

    def __init__(self, spec: dict, models_dir: Path = MODELS_DIR, device: str | None = None):
        self.path = str(Path(models_dir) / spec["file"])
        self.input_size = int(spec["input_size"])
        self.shapes = list(spec["shapes"])
        self.colors = list(spec["colors"])
        self.device = device or _device()

    def probs(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(shape probs N x len(shapes), color probs N x len(colors)) for RGB uint8 crops."""
        if not crops:
            return np.zeros((0, len(self.shapes))), np.zeros((0, len(self.colors)))
        x = to_nchw([resize(c, self.input_size) for c in crops])
        shape_logits, color_logits = session(self.path, self.device).run(None, {"crop": x})
        return _softmax(shape_logits), _softmax(color_logits)
