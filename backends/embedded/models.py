"""The embedded backends: detection, vqa and image-text matching in three tiers over the
ONNX nets, and a geometric depth heuristic.

A tier (`TIERS`) is a `Vision` stack: a detector, a crop classifier and a text reader
(`TIER_NETS`: the tiny tier reads with the embedded CRNN; the small one with the CRNN and
PP-OCR recognition on the object's reading region, the large one with the CRNN and PP-OCR
detection + recognition on the smoothed region, the most confident reading winning). A backend's cost is the multiply-accumulates (in
millions) of a typical call through the nets it runs (`Vision.cost`). Every op is served
in batches (`serve_batch`): one detector run for all the images of the batch, one
classifier run for all their crops, one reader run per width bucket; a per-item method is
a batch of one, so both give the same answers. Every answer carries a confidence in
[0, 1] (docs/embedded-models.md says how each is computed).

All methods accept any array-like image (grayscale, RGBA, float, 1x1) and never raise on
odd input: unknown names give [], unknown properties give False, unparsed questions a
best-effort description. The per-item methods return plain values (a list of boxes, a
bool, a string, a score array); `serve` returns them as `Result`s with confidences.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..base import Backend, Call, Result, fingerprint
from ..geometry import Box, area, as_image, crop_box, iou, nms, pixel_box_to_dsl
from .ocr import BestOf, Denoised, DetRecReader, Reading, Recognizer, RecReader, TextDetector
from .onnx_nets import MODELS_DIR, Attributes, Detector, Heads, TextReader, file_hash, load_meta, session
from .scenes import CATEGORIES, COLORS, DEPTH_REF, SMALL_MAX_SIDE
from .text import normalise_text, reading_box, similarity
from .vocab import (Phrase, asks_for_digits, attributes, content_words, parse_name,
                    question_intent, text_target)

TIERS = ("tiny", "small", "large")
TIER_NETS = {
    "tiny": {"det": "det-tiny", "attr": "attr-tiny", "reader": ("text-tiny",)},
    "small": {"det": "det-small", "attr": "attr-small", "reader": ("text-tiny", "ppocr-rec")},
    "large": {"det": "det-large", "attr": "attr-large", "reader": ("text-tiny", "ppocr-det", "ppocr-rec")},
}
FOCUS_AREA = 0.5  # a detection covering this share of the image: the image is the object
CROSS_NMS = 0.6
DENOISE_SIGMA = 0.7  # the large tier smooths reading regions before PP-OCR


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


# -- one tier ------------------------------------------------------------------------------
@dataclass
class Candidate:
    """A heatmap peak of a queried category and the decisions taken on it."""

    box: Box
    category: str
    kept: bool                 # above the detector threshold (and of the asked size)
    certainty: float           # how far from flipping its decision, in [0, 1]


@dataclass(frozen=True)
class Found:
    """What `find` returns: (box, category) pairs best first, and the confidence that
    this is the right set (0.5 + 0.5 x the least certain decision; 1 with none)."""

    items: list[tuple[Box, str]]
    confidence: float


@dataclass(frozen=True)
class Focus:
    """The region a question about a name is about: pixels, the detected category, the
    box (None when nothing was found), the find confidence."""

    region: np.ndarray
    category: str | None
    box: Box | None
    confidence: float


class Vision:
    """The nets of one tier and the batched stages the backends compose."""

    def __init__(self, tier: str, models_dir: Path | str = MODELS_DIR, device: str | None = None):
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")
        self.tier, self.models_dir = tier, Path(models_dir)
        meta = _cached_meta(str(models_dir))
        names = TIER_NETS[tier]
        self.det = Detector(meta["nets"][names["det"]], models_dir, device)
        self.attr = Attributes(meta["nets"][names["attr"]], models_dir, device)
        self.reader, reader_files = _reader(names["reader"], meta, self.models_dir, device)
        nets = {**meta["nets"], **meta["ocr"]}
        parts = {"det": [nets[names["det"]]], "attr": [nets[names["attr"]]],
                 "reader": [nets[n] for n in names["reader"]]}
        self.params = {p: sum(int(e["params"]) for e in es) for p, es in parts.items()}
        self.macs = {p: sum(int(e["macs"]) for e in es) for p, es in parts.items()}
        self.part_files = {"det": [self.det.path], "attr": [self.attr.path], "reader": reader_files}

    def files(self, parts: Sequence[str]) -> list[str]:
        """The model files of the given parts."""
        return [f for p in parts for f in self.part_files[p]]

    def cost(self, parts: Sequence[str]) -> float:
        """Multiply-accumulates (in millions) of one typical call through the given parts:
        the detector on one image, the classifier on one crop, the reader on one text
        line (PP-OCR: a 256x256 DB canvas and a 48x128 line)."""
        return round(sum(self.macs[p] for p in parts) / 1e6, 3)

    def providers(self) -> list[str]:
        return self.det.providers()

    def stages(self, images: Sequence[np.ndarray]) -> "Stages":
        return Stages(self, images)

    def read(self, items: Sequence[tuple[np.ndarray, str, bool]]) -> list[Reading]:
        """Readings of (object image, its category, digits only?) items: each object's
        reading region (`text.reading_box`) through the tier's reader, in one run per
        kind of decoding."""
        regions = [_reading_region(im, cat) for im, cat, _ in items]
        out: list[Reading | None] = [None] * len(items)
        for digits in (False, True):
            idx = [k for k, it in enumerate(items) if it[2] == digits]
            if idx:
                for k, r in zip(idx, self.reader.read([regions[k] for k in idx], digits=digits)):
                    out[k] = r
        return out  # type: ignore[return-value]


def _reader(names: tuple[str, ...], meta: dict, models_dir: Path, device: str | None):
    """(reader, files) for the readers of a tier (TIER_NETS): the tiny CRNN alone, or the
    CRNN and PP-OCR (recognition on the raw region; detection + recognition on the
    smoothed region) as an ensemble where the most confident reading wins."""
    tiny = TextReader(meta["nets"]["text-tiny"], models_dir, device)
    if names == ("text-tiny",):
        return tiny, [tiny.path]
    ocr = meta["ocr"]
    sess = functools.partial(_session, device=device)
    rec = Recognizer(models_dir / ocr["ppocr-rec"]["file"], sess)
    if "ppocr-det" not in names:
        return BestOf(tiny, RecReader(rec)), [tiny.path, rec.path]
    det = TextDetector(models_dir / ocr["ppocr-det"]["file"], sess)
    return BestOf(tiny, Denoised(DetRecReader(det, rec), DENOISE_SIGMA)), [tiny.path, det.path, rec.path]


def _session(path: str, device: str | None = None):
    from .onnx_nets import _device

    return session(path, device or _device())


class Stages:
    """The batched stages over a list of images: one detector run for all of them at
    construction, then `find`/`focus` (one classifier run for the color checks of all
    requests), `describe` (one classifier run) and `read` (one reader run)."""

    def __init__(self, vision: Vision, images: Sequence[np.ndarray]):
        self.v, self.images = vision, list(images)
        self.heads = vision.det.heads(self.images)

    # -- find ------------------------------------------------------------------------------
    def find(self, requests: Sequence[tuple[int, str]]) -> list[Found]:
        """For (image index, name) requests: the matching objects."""
        phrases = [parse_name(name) for _, name in requests]
        cands = [self._candidates(self.heads[i], self.images[i].shape[:2], ph) if ph.known else []
                 for (i, _), ph in zip(requests, phrases)]
        checks = [(k, c) for k, ph in enumerate(phrases) if ph.color
                  for c in cands[k] if c.kept]
        _, colors = self.v.attr.probs([crop_box(self.images[requests[k][0]], c.box.xyxy)
                                       for k, c in checks])
        for (k, c), p in zip(checks, colors):
            want = COLORS.index(phrases[k].color)  # type: ignore[arg-type]
            other = float(np.delete(p, want).max())
            c.kept = int(p.argmax()) == want
            c.certainty = min(c.certainty, abs(float(p[want]) - other))
        return [_found(cs) for cs in cands]

    def _candidates(self, h: Heads, hw, phrase: Phrase) -> list[Candidate]:
        det, rows = self.v.det, hw[0]
        thr = det.threshold
        out = []
        for cat in phrase.shapes:
            for x0, r0, x1, r1, s in det.peaks(h, cat):
                box = pixel_box_to_dsl(x0, r0, x1, r1, rows, hw[1], s)
                if box is None:
                    continue
                kept = s > thr
                cert = (s - thr) / (1 - thr) if kept else (thr - s) / thr
                out.append(Candidate(box, cat, kept, float(cert)))
        if len(phrase.shapes) > 1:
            out = _cross_class(out)
        if phrase.size:
            for c in out:
                if c.kept and box_size(c.box.xyxy) != phrase.size:
                    c.kept, c.certainty = False, 1.0
        return out

    # -- focus, describe, read -------------------------------------------------------------
    def focus(self, requests: Sequence[tuple[int, str]]) -> list[Focus]:
        """The region each (image index, name) request is about: its best detection, or
        the best detection of any object, or the whole image; the whole image also when
        the detection covers most of it (the image is already a crop of the object)."""
        named = [(i, n if parse_name(n).known else "object") for i, n in requests]
        found = self.find(named)
        retry = [k for k, f in enumerate(found) if not f.items and named[k][1] != "object"]
        for k, f in zip(retry, self.find([(named[k][0], "object") for k in retry])):
            found[k] = Found(f.items, min(f.confidence, found[k].confidence))
        return [self._focus(self.images[i], f) for (i, _), f in zip(named, found)]

    @staticmethod
    def _focus(image: np.ndarray, f: Found) -> Focus:
        if not f.items:
            return Focus(image, None, None, f.confidence)
        box, cat = f.items[0]
        if area(box) >= FOCUS_AREA * image.shape[0] * image.shape[1]:
            return Focus(image, cat, box, f.confidence)
        return Focus(crop_box(image, box.xyxy, margin=0.1), cat, box, f.confidence)

    def describe(self, regions: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Category probabilities over CATEGORIES (renormalised without 'none'), colors."""
        cats, colors = self.v.attr.probs(list(regions))
        c = cats[:, : len(CATEGORIES)]
        return c / np.maximum(c.sum(axis=1, keepdims=True), 1e-9), colors

    def read(self, items: Sequence[tuple[np.ndarray, str, bool]]) -> list[Reading]:
        return self.v.read(items)


def _reading_region(image: np.ndarray, category: str) -> np.ndarray:
    h, w = image.shape[:2]
    return crop_box(image, reading_box((0, 0, w, h), category))


def _cross_class(cands: list[Candidate]) -> list[Candidate]:
    """NMS across categories of the kept candidates; a weak peak on a kept object (another
    category's guess for it) is dropped, not counted as doubt."""
    kept = nms([c for c in cands if c.kept], CROSS_NMS, box=lambda c: c.box)
    weak = [c for c in cands if not c.kept and all(iou(c.box, k.box) <= 0.3 for k in kept)]
    return kept + weak


def _found(cands: list[Candidate]) -> Found:
    kept = sorted((c for c in cands if c.kept), key=lambda c: -c.box.score)
    doubt = min((c.certainty for c in cands), default=1.0)
    return Found([(c.box, c.category) for c in kept], round(0.5 + 0.5 * max(0.0, doubt), 6))


def _safe(image) -> np.ndarray | None:
    """The image as HxWx3 uint8, or None when it is not an image or is empty."""
    try:
        arr = as_image(image)
    except (ValueError, TypeError):
        return None
    return arr if arr.shape[0] > 0 and arr.shape[1] > 0 else None


# -- the backends --------------------------------------------------------------------------
class _EmbeddedBackend(Backend):
    """A backend over one tier's `Vision` stack; sessions load on first use."""

    prefix = ""
    parts: tuple[str, ...] = ("det", "attr")
    batch_ops: frozenset[str] = frozenset()

    def __init__(self, tier: str = "large", models_dir: Path | str = MODELS_DIR,
                 device: str | None = None, name: str | None = None, cost: float | None = None):
        self.vision = Vision(tier, models_dir, device)
        self.tier = tier
        super().__init__(name or f"{self.prefix}-{tier}", self.vision.cost(self.parts) if cost is None else cost)

    @functools.cached_property
    def fingerprint(self) -> str:  # type: ignore[override]
        """The tier, the detector threshold and a hash of every model file the backend runs."""
        return fingerprint([self.tier, self.vision.det.threshold,
                            [file_hash(p) for p in self.vision.files(self.parts)]])

    def describe(self) -> dict:
        providers = self.vision.providers()
        return {"device": "cuda" if "CUDAExecutionProvider" in providers else "cpu",
                "provider": providers[0], "loaded": True, "tier": self.tier,
                "nets": [Path(p).name for p in self.vision.files(self.parts)],
                "params": sum(self.vision.params[p] for p in self.parts), "mmacs_per_call": self.cost}

    def serve_batch(self, op: str, calls: Sequence[Call]) -> list[Result]:
        """All calls of one op through the batched stages, in one pass."""
        return self._batch(op, calls)

    def _batch(self, op: str, calls: Sequence[Call]) -> list[Result]:
        raise NotImplementedError(f"{self.name} does not serve {op}")

    def _one(self, op: str, images: tuple, **args) -> Result:
        return self.serve_batch(op, [Call(op, images, args)])[0]


def _split(calls: Sequence[Call]) -> tuple[list[np.ndarray], list[int]]:
    """The valid first images of the calls and the call index of each."""
    images, where = [], []
    for k, c in enumerate(calls):
        img = _safe(c.images[0]) if c.images else None
        if img is not None:
            images.append(img)
            where.append(k)
    return images, where


class EmbeddedDetection(_EmbeddedBackend):
    """`find`/`exists`: CenterNet boxes, filtered by the crop classifier for color words."""

    kind, prefix = "detection", "det"

    def detect(self, image: np.ndarray, object_name: str) -> list[Box]:
        return self._one("detect", (image,), object_name=object_name).value

    def _batch(self, op, calls):
        images, where = _split(calls)
        out = [Result([], 1.0) for _ in calls]
        found = self.vision.stages(images).find([(j, str(calls[k].args["object_name"]))
                                                 for j, k in enumerate(where)])
        for k, f in zip(where, found):
            out[k] = Result([b for b, _ in f.items], f.confidence)
        return out


@dataclass
class _Ask:
    """One vqa call being answered: its focus, description and reading as they come."""

    image: int
    name: str
    wanted: list[tuple[str, str]]
    target: str | None = None
    digits: bool = False
    read: bool = False  # the question asks what the text is
    focus: Focus | None = None
    cats: np.ndarray | None = None
    colors: np.ndarray | None = None
    reading: Reading | None = None

    def category(self) -> str:
        if self.focus is not None and self.focus.category:
            return self.focus.category
        return CATEGORIES[int(self.cats.argmax())] if self.cats is not None else "square"


class EmbeddedVQA(_EmbeddedBackend):
    """`verify_property` and template questions (counts, existence, attributes, text),
    composed from the tier's detector, classifier and text reader."""

    kind, prefix = "vqa", "vqa"
    parts = ("det", "attr", "reader")

    def verify_property(self, image: np.ndarray, object_name: str, prop: str) -> bool:
        return self._one("verify_property", (image,), object_name=object_name, property=prop).value

    def query(self, image: np.ndarray, question: str) -> str:
        return self._one("query", (image,), question=question).value

    def _batch(self, op, calls):
        images, where = _split(calls)
        st = self.vision.stages(images)
        if op == "verify_property":
            return self._verify_batch(st, calls, where)
        return self._query_batch(st, calls, where)

    # -- verify_property -------------------------------------------------------------------
    def _verify_batch(self, st: Stages, calls, where) -> list[Result]:
        out = [Result(False, 1.0) for _ in calls]
        asks = {}
        for j, k in enumerate(where):
            prop = str(calls[k].args["property"])
            target = text_target(prop)
            wanted = attributes(prop)
            if wanted or target:
                asks[k] = _Ask(j, str(calls[k].args["object_name"]), wanted, target,
                               bool(target and target.isdigit()))
        self._look(st, list(asks.values()))
        for k, a in asks.items():
            holds, p = _holds(a)
            out[k] = Result(holds, round(p if holds else 1 - p, 6))
        return out

    def _look(self, st: Stages, asks: list[_Ask]) -> None:
        """Focus, describe and (where text is asked) read, one batched stage each."""
        for a, f in zip(asks, st.focus([(a.image, a.name) for a in asks])):
            a.focus = f
        cats, colors = st.describe([a.focus.region for a in asks])  # type: ignore[union-attr]
        for a, c, col in zip(asks, cats, colors):
            a.cats, a.colors = c, col
        readers = [a for a in asks if a.target is not None or a.read]
        for a, r in zip(readers, st.read([(a.focus.region, a.category(), a.digits)  # type: ignore[union-attr]
                                          for a in readers])):
            a.reading = r

    # -- query -----------------------------------------------------------------------------
    def _query_batch(self, st: Stages, calls, where) -> list[Result]:
        out = [Result("no", 1.0) for _ in calls]
        plans = [(k, *question_intent(str(calls[k].args["question"]))) for k in where]
        j_of = {k: j for j, k in enumerate(where)}
        finds = [(k, rest) for k, intent, rest in plans if intent in ("count", "exists")]
        for (k, rest), f in zip(finds, st.find([(j_of[k], rest or "object") for k, rest in finds])):
            out[k] = self._count_or_exists(st, calls[k], j_of[k], f)
        asks = {k: self._ask(calls[k], j_of[k], intent, rest)
                for k, intent, rest in plans if intent not in ("count", "exists")}
        self._look(st, list(asks.values()))
        for k, intent, _ in plans:
            if k in asks:
                out[k] = _answer(intent, asks[k])
        return out

    @staticmethod
    def _ask(call: Call, j: int, intent: str, rest: str) -> _Ask:
        q = str(call.args["question"])
        if intent == "read":
            return _Ask(j, rest if parse_name(rest).known else "object", [], None,
                        asks_for_digits(q), read=True)
        if intent == "says":
            target = text_target(q) or ""
            return _Ask(j, rest, [], target, target.isdigit())
        subject = parse_name(rest).shape_word
        wanted = [x for x in attributes(rest) if x != ("shape", subject)] or attributes(rest)
        target = text_target(rest) if intent == "verify" else None
        return _Ask(j, (subject or rest) if intent == "verify" else rest, wanted, target,
                    bool(target and target.isdigit()))

    def _count_or_exists(self, st: Stages, call: Call, j: int, f: Found) -> Result:
        intent, rest = question_intent(str(call.args["question"]))
        if intent == "count":
            return Result(str(len(f.items)), f.confidence)
        target = text_target(rest)
        if target is None or not f.items:
            return Result("yes" if f.items else "no", f.confidence)
        image = st.images[j]
        readings = st.read([(crop_box(image, b.xyxy), cat, target.isdigit()) for b, cat in f.items])
        says = [r.confidence for r in readings if _same(r.text, target)]
        # yes: the surest reading of the text; no: the least sure of the other readings
        p = max(says) if says else min(r.confidence for r in readings)
        return Result("yes" if says else "no", round(min(f.confidence, p), 6))


def _same(read: str, target: str) -> bool:
    return normalise_text(read).replace(" ", "") == normalise_text(target).replace(" ", "")


def _holds(a: _Ask) -> tuple[bool, float]:
    """Whether every asked attribute (and text) holds, and the probability that they all
    do (independent factors: the classifier's probability of each asked value, the
    reading's confidence that the text is or is not the asked one)."""
    holds, p = True, 1.0
    for kind, value in a.wanted:
        if kind == "size":
            ok = box_size(a.focus.box.xyxy if a.focus and a.focus.box else
                          (0, 0, a.focus.region.shape[1], a.focus.region.shape[0])) == value
            q = 1.0 if ok else 0.0
        else:
            probs, names = (a.colors, COLORS) if kind == "color" else (a.cats, CATEGORIES)
            q = float(probs[names.index(value)])
            ok = int(probs.argmax()) == names.index(value)
        holds, p = holds and ok, p * q
    if a.target is not None and a.reading is not None:
        ok = _same(a.reading.text, a.target)
        holds, p = holds and ok, p * (a.reading.confidence if ok else 1 - a.reading.confidence)
    return holds, p


def _answer(intent: str, a: _Ask) -> Result:
    """The answer to an attribute, text or description question, and its probability."""
    cat_p, col_p = a.cats, a.colors
    if intent in ("verify", "says"):
        holds, p = _holds(a)
        return Result("yes" if holds else "no", round(p if holds else 1 - p, 6))
    if intent == "read":
        r = a.reading or Reading("", 0.0)
        return Result(r.text, r.confidence)
    color, c_conf = COLORS[int(col_p.argmax())], float(col_p.max())
    cat = a.focus.category if a.focus and a.focus.category else CATEGORIES[int(cat_p.argmax())]
    s_conf = float(cat_p[CATEGORIES.index(cat)])
    if intent == "color":
        return Result(color, round(c_conf, 6))
    if intent == "shape":
        return Result(cat, round(s_conf, 6))
    if intent == "size":
        box = a.focus.box if a.focus else None
        return Result(box_size(box.xyxy) if box else "large", round(a.focus.confidence if a.focus else 0.5, 6))
    return Result(f"{color} {cat}", round(c_conf * s_conf, 6))


class EmbeddedMatching(_EmbeddedBackend):
    """`best_text_match`/`best_image_match`: each text scored by the log-probabilities of
    its color and category words under the crop classifier, plus the log-similarity of
    its other words to what the tier's reader reads on the object."""

    kind, prefix = "image_text_matching", "itm"
    parts = ("det", "attr", "reader")

    def match_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        return self._one("match_scores", tuple(images), texts=list(texts)).value

    def _batch(self, op, calls):
        flat = [(k, _safe(im)) for k, c in enumerate(calls) for im in c.images]
        valid = [(k, im) for k, im in flat if im is not None]
        st = self.vision.stages([im for _, im in valid])
        regions = self._regions(st)
        cats, colors = st.describe([r.region for r in regions])
        reads = self._reads(st, calls, valid, regions, cats)
        out, pos = [], 0
        for k, c in enumerate(calls):
            texts = [str(t) for t in c.args["texts"]]
            scores = np.zeros((len(c.images), len(texts)))
            conf = 1.0
            for i, im in enumerate(c.images):
                if _safe(im) is None:
                    continue
                r = reads.get(pos)
                scores[i] = [_text_score(t, cats[pos], colors[pos], r) for t in texts]
                conf = min(conf, r.confidence) if r is not None else conf
                pos += 1
            out.append(Result(scores, round(min(conf, _max_softmax(scores)), 6)))
        return out

    @staticmethod
    def _regions(st: Stages) -> list[Focus]:
        """Each image's object: the image itself when small (already a crop), else the
        best detection of any object."""
        big = [j for j, im in enumerate(st.images) if max(im.shape[:2]) > 64]
        focus = dict(zip(big, st.focus([(j, "object") for j in big])))
        return [focus.get(j) or Focus(im, None, None, 1.0) for j, im in enumerate(st.images)]

    @staticmethod
    def _reads(st, calls, valid, regions, cats) -> dict[int, Reading]:
        """Readings of the images whose call has a text with words to read."""
        need = {k for k, c in enumerate(calls)
                if any(content_words(str(t)) for t in c.args["texts"])}
        digits = {k: all(content_words(str(t)).isdigit() for t in calls[k].args["texts"]
                         if content_words(str(t))) for k in need}
        idx = [p for p, (k, _) in enumerate(valid) if k in need]
        items = [(regions[p].region, regions[p].category or CATEGORIES[int(cats[p].argmax())],
                  digits[valid[p][0]]) for p in idx]
        return dict(zip(idx, st.read(items)))


def _text_score(text: str, cats: np.ndarray, colors: np.ndarray, reading: Reading | None) -> float:
    """Sum of log-probabilities of the attributes a text names, plus log-similarity of its
    words to the reading (a flat prior for a text with neither)."""
    terms = []
    for kind, value in attributes(text):
        if kind == "shape":
            terms.append(math.log(max(float(cats[CATEGORIES.index(value)]), 1e-6)))
        elif kind == "color":
            terms.append(math.log(max(float(colors[COLORS.index(value)]), 1e-6)))
    words = content_words(text)
    if words and reading is not None:
        terms.append(math.log(max(similarity(reading.text, words), 0.05)))
    return sum(terms) if terms else math.log(1.0 / len(COLORS))


def _max_softmax(scores: np.ndarray) -> float:
    """The largest probability of a softmax over all the scores (1 for a single one)."""
    s = np.asarray(scores, float).ravel()
    if s.size == 0:
        return 1.0
    e = np.exp(s - s.max())
    return float(e.max() / e.sum())


class DepthHeuristic(Backend):
    """`compute_depth` WITHOUT a learned model: a pinhole-size heuristic.

    Every object of the world has the same physical size, so a tight crop of side `s`
    pixels is at depth `DEPTH_REF / s` (larger objects are nearer). It knows nothing of the
    crop's position or content; on anything but object crops of generated scenes it is
    only a size proxy. Its confidence is 1 (it is a rule, not an estimate).
    """

    kind = "depth"

    def __init__(self, name: str = "depth-heuristic", cost: float = 0.001):
        super().__init__(name, cost)

    def depth(self, image: np.ndarray) -> float:
        arr = np.asarray(image)
        side = max(arr.shape[:2]) if arr.ndim >= 2 else 0
        return float(DEPTH_REF / max(1, side))

    def serve_batch(self, op: str, calls: Sequence[Call]) -> list[Result]:
        """Depth with confidence 1: it is a rule, not an estimate."""
        return [Result(r.value, 1.0) if isinstance(r, Result) else r
                for r in super().serve_batch(op, calls)]
