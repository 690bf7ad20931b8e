"""Run the embedded ONNX networks with onnxruntime: input cleaning, letterboxing, decoding.

No torch here. Every net takes a batch: `Detector.heads(images)`, `Attributes.probs(crops)`
and `TextReader.read(crops)` stack their inputs into one `session.run`, and each input
is prepared on its own (its own letterbox, its own resize), so an image gets the same
answer alone or in a batch. Sessions run on CPU unless `device="cuda"` (or
`FMPROG_EMBEDDED_DEVICE=cuda`) is asked and onnxruntime really attaches the CUDA
provider (checked with `get_providers()`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..geometry import nms
from .ocr import Reading, ctc_greedy
from .text import CHARSET, DIGITS, lexicon, snap

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
META_FILE = "embedded.json"
CANVAS = 128  # the native scene size: crops are letterboxed into it at scale <= 1
FILL = 128  # letterbox fill: a constant grey, so a tight crop of an object keeps its edges
PEAK_FLOOR = 0.15  # heatmap peaks below this are never boxes and never lower a confidence
log = logging.getLogger(__name__)


def load_meta(models_dir: Path | str = MODELS_DIR) -> dict:
    """The metadata JSON written by the training script."""
    return json.loads((Path(models_dir) / META_FILE).read_text())


@functools.lru_cache(maxsize=None)
def file_hash(path: str) -> str:
    """sha256 of a model file (cached per path for the process)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


def text_image(crop: np.ndarray, height: int, width: int) -> np.ndarray:
    """A reading region as the text net sees it: height `height`, aspect kept up to
    `width`, padded on the right with grey."""
    h, w = crop.shape[:2]
    nw = int(min(width, max(1, round(height * w / max(1, h)))))
    out = np.full((height, width, 3), FILL, np.uint8)
    out[:, :nw] = np.asarray(Image.fromarray(crop).resize((nw, height), Image.BILINEAR))
    return out


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
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    sess = ort.InferenceSession(path, sess_options=opts, providers=providers)
    if device == "cuda" and "CUDAExecutionProvider" not in sess.get_providers():
        log.warning("CUDA requested for %s but onnxruntime runs it on CPU", path)
    return sess


#: the most inputs one session run takes: larger batches were slower per input on a CPU
#: core (they fall out of cache); each row's result does not depend on it
CHUNK = 16


def run_chunked(sess, name: str, x: np.ndarray, chunk: int = CHUNK) -> list[np.ndarray]:
    """`sess.run` on `x` in chunks of at most `chunk` rows, outputs concatenated."""
    if len(x) <= chunk:
        return sess.run(None, {name: x})
    parts = [sess.run(None, {name: x[i:i + chunk]}) for i in range(0, len(x), chunk)]
    return [np.concatenate(outs) for outs in zip(*parts)]


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


class _Net:
    """One ONNX file, its session and what `describe()` reports."""

    def __init__(self, spec: dict, models_dir: Path | str, device: str | None):
        self.path = str(Path(models_dir) / spec["file"])
        self.device = device or _device()
        self.params = int(spec.get("params", 0))

    @property
    def session(self):
        return session(self.path, self.device)

    def providers(self) -> list[str]:
        return list(self.session.get_providers())


@dataclass(frozen=True)
class Heads:
    """A detector's raw output for one image, and how the image sits on the canvas."""

    out: np.ndarray  # (classes + 4, G, G)
    hw: tuple[int, int]
    scale: float
    ox: int
    oy: int


class Detector(_Net):
    """A CenterNet-style net: per-class centre heatmaps + size and offset regression."""

    def __init__(self, spec: dict, models_dir: Path | str = MODELS_DIR, device: str | None = None):
        super().__init__(spec, models_dir, device)
        self.input_size = int(spec["input_size"])
        self.stride = int(spec["stride"])
        self.classes = list(spec["classes"])
        self.threshold = float(spec.get("threshold", 0.3))

    def heads(self, images: Sequence[np.ndarray]) -> list[Heads]:
        """The raw output of every (non-empty) image, in one session run."""
        if not images:
            return []
        placed = [letterbox(im) for im in images]
        x = to_nchw([resize(c, self.input_size) for c, _, _, _ in placed])
        out = run_chunked(self.session, "image", x)[0]
        return [Heads(o, im.shape[:2], s, ox, oy)
                for o, im, (_, s, ox, oy) in zip(out, images, placed)]

    def peaks(self, h: Heads, cls: str, floor: float = PEAK_FLOOR) -> list[tuple]:
        """Heatmap peaks of class `cls` above `floor` as boxes (x0, row0, x1, row1, score)
        in the image's pixels (y down), after NMS at IoU 0.5; best first."""
        c = self.classes.index(cls)
        heat = _sigmoid(h.out[c])
        ys, xs = np.nonzero(_peaks(heat) & (heat > floor))
        if len(ys) == 0:
            return []
        f = CANVAS / self.input_size * self.stride  # grid cell -> canvas pixels
        bw, bh, offx, offy = h.out[len(self.classes):, ys, xs].astype(np.float64)
        cx, cy = (xs + offx) * f, (ys + offy) * f
        half_w, half_h = np.maximum(bw, 0.25) * f / 2, np.maximum(bh, 0.25) * f / 2
        rows, cols = h.hw
        x0 = np.maximum(0.0, (cx - half_w - h.ox) / h.scale)
        x1 = np.minimum(float(cols), (cx + half_w - h.ox) / h.scale)
        r0 = np.maximum(0.0, (cy - half_h - h.oy) / h.scale)
        r1 = np.minimum(float(rows), (cy + half_h - h.oy) / h.scale)
        ok = (x1 - x0 >= 1) & (r1 - r0 >= 1)
        found = zip(x0[ok].tolist(), r0[ok].tolist(), x1[ok].tolist(), r1[ok].tolist(),
                    heat[ys, xs][ok].astype(np.float64).tolist())
        return nms(list(found), 0.5)

    def decode(self, h: Heads, cls: str, threshold: float | None = None) -> list[tuple]:
        """Detections of `cls` as DSL boxes (left, lower, right, upper, score)."""
        thr = self.threshold if threshold is None else threshold
        rows = h.hw[0]
        return [(round(x0), rows - round(r1), round(x1), rows - round(r0), s)
                for x0, r0, x1, r1, s in self.peaks(h, cls) if s > thr]


class Attributes(_Net):
    """A crop classifier: category (CATEGORIES plus 'none') and color probabilities."""

    def __init__(self, spec: dict, models_dir: Path | str = MODELS_DIR, device: str | None = None):
        super().__init__(spec, models_dir, device)
        self.input_size = int(spec["input_size"])
        self.shapes = list(spec["shapes"])
        self.colors = list(spec["colors"])

    def probs(self, crops: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(category probs N x len(shapes), color probs N x len(colors)) for RGB crops."""
        if not crops:
            return np.zeros((0, len(self.shapes))), np.zeros((0, len(self.colors)))
        x = to_nchw([resize(c, self.input_size) for c in crops])
        shape_logits, color_logits = run_chunked(self.session, "crop", x)
        return _softmax(shape_logits), _softmax(color_logits)


class TextReader(_Net):
    """The embedded CRNN text reader: reading region -> Reading (CTC greedy decoding;
    confidence: the lowest probability of a kept character, or the mean blank
    probability when it reads nothing). A closed-vocabulary reader: a decoding one edit
    away from exactly one entry of the world's lexicon (`text.lexicon`) is read as that
    entry (the confidence stays the decoding's, so it stays low)."""

    def __init__(self, spec: dict, models_dir: Path | str = MODELS_DIR, device: str | None = None):
        super().__init__(spec, models_dir, device)
        self.height, self.width = int(spec["height"]), int(spec["width"])
        self.chars = ["<blank>"] + list(spec.get("charset", CHARSET))

    def read(self, crops: Sequence[np.ndarray], digits: bool = False) -> list[Reading]:
        if not crops:
            return []
        x = to_nchw([text_image(c, self.height, self.width) for c in crops])
        probs = _softmax(run_chunked(self.session, "text", x)[0])
        allowed = np.array([i == 0 or not digits or c in DIGITS for i, c in enumerate(self.chars)])
        words = lexicon(digits)
        return [snap(ctc_greedy(p, self.chars, allowed), words) for p in probs]
