"""Text reading with PaddleOCR's PP-OCRv4 networks (ONNX files from rapidocr-onnxruntime
1.4.4, Apache-2.0, committed in backends/models/; see backends/models/NOTICE).

The files run in our own onnxruntime sessions (`onnx_nets.session`); the pre- and
post-processing is written here, after rapidocr's and PaddleOCR's, without OpenCV:

- `Recognizer` (PP-OCRv4 rec, SVTR-LCNet + CTC): a text image resized to height 48 and
  padded to a width bucket; CTC greedy decoding restricted to the world's characters
  (`text.CHARSET` and space). Its confidence is the lowest probability of a kept
  character (a word is right only if all of its characters are).
- `TextDetector` (PP-OCRv4 det, DB): the region letterboxed into a square canvas;
  Differentiable-Binarization post-processing: threshold the probability map, dilate,
  label connected components (run-length union-find), keep a component's axis-aligned box
  when its mean probability is at least `box_thresh`, grow it by area * ratio / perimeter
  (the "unclip"), map it back. The world's text is upright, so boxes are axis-aligned
  (rapidocr fits rotated rectangles).

Every image is processed on its own (its own bucket, its own canvas), so a batch gives
each image the same answer as a call with that image alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from .text import CHARSET, DIGITS

DET_FILE = "ch_PP-OCRv4_det_infer.onnx"
REC_FILE = "ch_PP-OCRv4_rec_infer.onnx"
REC_HEIGHT = 48
REC_BUCKETS = (64, 128, 192, 256, 320)  # padded input widths
REC_CHUNK, DET_CHUNK = 8, 4  # inputs per session run (more were slower per input on a CPU core)
MEAN = STD = 0.5  # both nets take (x / 255 - 0.5) / 0.5


def _norm(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 3xHxW float32 in [-1, 1]."""
    return ((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)


def _run(sess, x: np.ndarray, chunk: int) -> np.ndarray:
    """The first output of `sess` on `x`, in runs of at most `chunk` rows."""
    return np.concatenate([sess.run(None, {"x": x[i:i + chunk]})[0] for i in range(0, len(x), chunk)])


@dataclass(frozen=True)
class Reading:
    """What a reader saw: the text (world characters, words joined by spaces) and its
    confidence in [0, 1]."""

    text: str
    confidence: float


class Recognizer:
    """PP-OCRv4 text recognition: text line image -> Reading."""

    def __init__(self, path: str | Path, session_fn):
        self.path = str(path)
        self._session_fn = session_fn
        self._charset: list[str] | None = None
        self._allowed: dict[bool, np.ndarray] | None = None

    @property
    def session(self):
        return self._session_fn(self.path)

    def _chars(self) -> list[str]:
        """The CTC classes: blank, the model's dictionary, space."""
        if self._charset is None:
            meta = self.session.get_modelmeta().custom_metadata_map
            self._charset = ["<blank>"] + meta["character"].splitlines() + [" "]
            keep, digits = set(CHARSET) | {" "}, set(DIGITS)
            self._allowed = {
                False: np.array([i == 0 or c in keep for i, c in enumerate(self._charset)]),
                True: np.array([i == 0 or c in digits for i, c in enumerate(self._charset)])}
        return self._charset

    @staticmethod
    def prepare(image: np.ndarray) -> np.ndarray:
        """Height 48, aspect kept (width at most the largest bucket), padded with 0 (mid
        grey) to the smallest bucket that holds it."""
        h, w = image.shape[:2]
        width = min(REC_BUCKETS[-1], max(1, math.ceil(REC_HEIGHT * w / max(1, h))))
        resized = np.asarray(Image.fromarray(image).resize((width, REC_HEIGHT), Image.BILINEAR))
        bucket = next(b for b in REC_BUCKETS if b >= width)
        out = np.zeros((3, REC_HEIGHT, bucket), np.float32)
        out[:, :, :width] = _norm(resized)
        return out

    def read(self, images: Sequence[np.ndarray], digits: bool = False) -> list[Reading]:
        """One Reading per image (only digits decoded if `digits`); one session run per
        width bucket."""
        chars = self._chars()
        allowed = self._allowed[bool(digits)]  # type: ignore[index]
        prepared = [self.prepare(im) for im in images]
        out: list[Reading | None] = [None] * len(images)
        for bucket in sorted({p.shape[2] for p in prepared}):
            idx = [i for i, p in enumerate(prepared) if p.shape[2] == bucket]
            probs = _run(self.session, np.stack([prepared[i] for i in idx]), REC_CHUNK)
            for i, p in zip(idx, probs):
                out[i] = ctc_greedy(p, chars, allowed)
        return out  # type: ignore[return-value]


def ctc_greedy(probs: np.ndarray, chars: Sequence[str], allowed: np.ndarray) -> Reading:
    """CTC greedy decoding of (T, classes) probabilities over the allowed classes (class 0
    is the blank): the best class per step, repeats merged, blanks dropped. Confidence:
    the lowest probability of a kept character (the mean best-class probability when
    nothing is kept: how sure it is that there is no text)."""
    p = np.where(allowed[None, :], probs, 0.0)
    best, score = p.argmax(axis=1), p.max(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    text = "".join(chars[i] for i in best[keep])
    conf = float(score[keep].min()) if keep.any() else float(score.mean())
    return Reading(" ".join(text.split()), round(min(1.0, max(0.0, conf)), 6))


class TextDetector:
    """PP-OCRv4 DB text detection on a square canvas; boxes in the image's pixels."""

    def __init__(self, path: str | Path, session_fn, canvas: int = 256, thresh: float = 0.3,
                 box_thresh: float = 0.5, unclip_ratio: float = 1.6):
        self.path = str(path)
        self._session_fn = session_fn
        self.canvas, self.thresh, self.box_thresh = canvas, thresh, box_thresh
        self.unclip_ratio = unclip_ratio

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The image scaled so its longest side fills the canvas, top-left, padded with
        mid grey; and the scale."""
        h, w = image.shape[:2]
        scale = self.canvas / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
        out = np.zeros((3, self.canvas, self.canvas), np.float32)
        out[:, :nh, :nw] = _norm(resized)
        return out, scale

    def detect(self, images: Sequence[np.ndarray]) -> list[list[tuple[float, float, float, float, float]]]:
        """Text boxes (x0, row0, x1, row1, score) per image, in its pixels, top to bottom."""
        if not images:
            return []
        prepared = [self.prepare(im) for im in images]
        maps = _run(self._session_fn(self.path), np.stack([p for p, _ in prepared]), DET_CHUNK)
        out = []
        for (_, scale), m, im in zip(prepared, maps, images):
            h, w = im.shape[:2]
            boxes = []
            for x0, y0, x1, y1, s in self.boxes(m[0]):
                bx = (max(0.0, x0 / scale), max(0.0, y0 / scale),
                      min(float(w), x1 / scale), min(float(h), y1 / scale))
                if bx[2] - bx[0] >= 2 and bx[3] - bx[1] >= 2:
                    boxes.append((*bx, s))
            out.append(reading_order(boxes))
        return out

    def boxes(self, prob: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        """DB post-processing of one probability map (canvas pixels)."""
        mask = _dilate(prob > self.thresh)
        found = []
        for x0, y0, x1, y1 in components(mask):
            if min(x1 - x0, y1 - y0) < 3:
                continue
            score = float(prob[y0:y1, x0:x1].mean())
            if score < self.box_thresh:
                continue
            w, h = x1 - x0, y1 - y0
            d = w * h * self.unclip_ratio / (2 * (w + h))
            found.append((x0 - d, y0 - d, x1 + d, y1 + d, score))
        return found


def reading_order(boxes: list) -> list:
    """Boxes (x0, row0, x1, row1, ...) sorted into lines (by centre row, in units of the
    tallest box), then left to right."""
    tall = max((b[3] - b[1] for b in boxes), default=1.0) or 1.0
    return sorted(boxes, key=lambda b: (round((b[1] + b[3]) / 2 / tall), b[0]))


def _dilate(mask: np.ndarray) -> np.ndarray:
    """2x2 dilation (rapidocr's `use_dilation`)."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:, 1:] |= mask[:, :-1]
    out[1:, 1:] |= mask[:-1, :-1]
    return out


def components(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, row0, x1, row1; end-exclusive) of the 8-connected components of
    a boolean map: runs per row, joined with union-find."""
    runs = []  # (row, start, end)
    for r in np.flatnonzero(mask.any(axis=1)):
        row = np.concatenate(([False], mask[r], [False]))
        edges = np.flatnonzero(row[1:] != row[:-1])
        runs.extend((int(r), int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]))
    parent = list(range(len(runs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    prev: list[int] = []
    cur: list[int] = []
    last_row = -2
    for k, (r, a, b) in enumerate(runs):
        if r != last_row:
            prev, cur, last_row = (cur if r == last_row + 1 else []), [], r
        for j in prev:
            _, pa, pb = runs[j]
            if pa <= b and a <= pb:  # 8-connected: [a, b) touches [pa-1, pb+1)
                parent[root(j)] = root(k)
        cur.append(k)
    boxes: dict[int, list[int]] = {}
    for k, (r, a, b) in enumerate(runs):
        bx = boxes.setdefault(root(k), [a, r, b, r + 1])
        bx[0], bx[1], bx[2], bx[3] = min(bx[0], a), min(bx[1], r), max(bx[2], b), max(bx[3], r + 1)
    return [tuple(v) for v in boxes.values()]  # type: ignore[misc]


class DetRecReader:
    """Detection + recognition: each text box found is read; lines joined top to bottom.
    Where nothing is detected the whole image is read. Confidence: the lowest of the
    lines' recognition confidences."""

    def __init__(self, detector: TextDetector, recognizer: Recognizer, margin: float = 0.1):
        self.detector, self.recognizer, self.margin = detector, recognizer, margin

    def read(self, images: Sequence[np.ndarray], digits: bool = False) -> list[Reading]:
        boxes = self.detector.detect(images)
        pieces, owner = [], []
        for i, (im, bs) in enumerate(zip(images, boxes)):
            for b in bs or [None]:
                pieces.append(im if b is None else self._cut(im, b))
                owner.append(i)
        readings = self.recognizer.read(pieces, digits)
        out = []
        for i in range(len(images)):
            mine = [r for r, o in zip(readings, owner) if o == i]
            text = " ".join(r.text for r in mine if r.text)
            out.append(Reading(text, min(r.confidence for r in mine)))
        return out

    def _cut(self, im: np.ndarray, b) -> np.ndarray:
        h, w = im.shape[:2]
        m = self.margin * (b[3] - b[1])
        x0, y0 = int(max(0, b[0] - m)), int(max(0, b[1] - m))
        x1, y1 = int(min(w, math.ceil(b[2] + m))), int(min(h, math.ceil(b[3] + m)))
        return im[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else im


class Denoised:
    """A reader that first smooths its images with a Gaussian of `sigma` px: on the
    world's noisy small text this reads more than the raw pixels do (see
    docs/embedded-models.md)."""

    def __init__(self, reader, sigma: float = 0.7):
        self.reader, self.sigma = reader, sigma

    def read(self, images: Sequence[np.ndarray], digits: bool = False) -> list[Reading]:
        from PIL import ImageFilter

        smooth = [np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(self.sigma)))
                  for im in images]
        return self.reader.read(smooth, digits)


class BestOf:
    """An ensemble of readers: every reader reads every image; per image the most
    confident reading wins (the first reader on ties)."""

    def __init__(self, *readers):
        self.readers = readers

    def read(self, images: Sequence[np.ndarray], digits: bool = False) -> list[Reading]:
        all_readings = [r.read(images, digits) for r in self.readers]
        return [max(rs, key=lambda r: r.confidence) for rs in zip(*all_readings)]


class RecReader:
    """Recognition only, on the whole image given (a crop of the text's object)."""

    def __init__(self, recognizer: Recognizer):
        self.recognizer = recognizer

    def read(self, images: Sequence[np.ndarray], digits: bool = False) -> list[Reading]:
        return self.recognizer.read(list(images), digits)
