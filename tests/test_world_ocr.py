"""Text reading: our own DB post-processing and CTC decoding, and the PP-OCR files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from fmprog.backends.embedded.ocr import (DET_FILE, REC_BUCKETS, REC_FILE, DetRecReader, Recognizer,
                                          RecReader, TextDetector, components, ctc_greedy)
from fmprog.backends.embedded.onnx_nets import MODELS_DIR, file_hash, session
from fmprog.backends.embedded.text import draw_text, edit_distance, normalise_text, similarity

SHA = {DET_FILE: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
       REC_FILE: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"}


def _flood(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Reference: 8-connected components by breadth-first search."""
    seen = np.zeros_like(mask)
    boxes = []
    h, w = mask.shape
    for r0, c0 in zip(*np.nonzero(mask)):
        if seen[r0, c0]:
            continue
        todo, pts = [(r0, c0)], []
        seen[r0, c0] = True
        while todo:
            r, c = todo.pop()
            pts.append((r, c))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        todo.append((rr, cc))
        rs, cs = [p[0] for p in pts], [p[1] for p in pts]
        boxes.append((min(cs), min(rs), max(cs) + 1, max(rs) + 1))
    return boxes


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.05, 0.6))
def test_components_equal_flood_fill(seed, density):
    mask = np.random.default_rng(seed).random((17, 23)) < density
    assert sorted(components(mask)) == sorted(_flood(mask))


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    chars = ["<blank>", "A", "B", " "]
    steps = [1, 1, 0, 1, 2, 2, 0, 3, 2]
    probs = np.full((len(steps), 4), 0.01)
    probs[np.arange(len(steps)), steps] = 0.9
    probs[3, 1] = 0.6
    r = ctc_greedy(probs, chars, np.ones(4, bool))
    assert r.text == "AAB B" and r.confidence == pytest.approx(0.6)
    digits_only = ctc_greedy(probs, chars, np.array([True, False, True, False]))
    assert digits_only.text == "BB"


def test_text_helpers():
    assert normalise_text("  Stop!  now ") == "STOP NOW"
    assert edit_distance("KITTEN", "SITTING") == 3
    assert similarity("stop", "STOP") == 1.0 and similarity("", "") == 1.0
    assert similarity("STQP", "STOP") == pytest.approx(0.75)


def test_committed_ppocr_files_are_the_wheel_files():
    for name, sha in SHA.items():
        assert file_hash(str(MODELS_DIR / name)) == sha


def _sign(text: str, size: int = 16, scale: int = 1) -> np.ndarray:
    img = Image.new("RGB", (len(text) * size + 20, size + 14), (40, 80, 220))
    draw_text(ImageDraw.Draw(img), text, img.width / 2, img.height / 2, size, (245, 245, 245))
    return np.asarray(img)


def _sess(path):
    return session(str(path), "cpu")


def test_recognizer_reads_a_clear_word_and_pads_to_a_bucket():
    rec = Recognizer(MODELS_DIR / REC_FILE, _sess)
    img = _sign("HOTEL 42")
    x = rec.prepare(img)
    assert x.shape[:2] == (3, 48) and x.shape[2] in REC_BUCKETS
    (r,) = rec.read([img])
    assert r.text == "HOTEL 42" and 0.5 < r.confidence <= 1.0
    (d,) = rec.read([_sign("7")], digits=True)
    assert d.text == "7"


def test_text_detector_finds_the_line_and_both_readers_read_it():
    det = TextDetector(MODELS_DIR / DET_FILE, _sess)
    rec = Recognizer(MODELS_DIR / REC_FILE, _sess)
    img = np.full((60, 140, 3), 150, np.uint8)
    img[10:40, 20:120] = _sign("EXIT", 20)[:30, :100]
    (boxes,) = det.detect([img])
    assert boxes, "no text found"
    x0, y0, x1, y1, score = boxes[0]
    assert 10 <= x0 < x1 <= 140 and y0 < 40 and y1 > 10 and score >= det.box_thresh
    for reader in (RecReader(rec), DetRecReader(det, rec)):
        assert normalise_text(reader.read([img])[0].text) == "EXIT"


def test_readers_give_the_same_answer_alone_and_in_a_batch():
    det = TextDetector(MODELS_DIR / DET_FILE, _sess)
    rec = Recognizer(MODELS_DIR / REC_FILE, _sess)
    images = [_sign(w, s) for w, s in (("STOP", 16), ("PIZZA", 10), ("GO", 22), ("73", 12))]
    for reader in (RecReader(rec), DetRecReader(det, rec)):
        together = reader.read(images)
        assert together == [reader.read([im])[0] for im in images]
