"""Held-out metrics of the exported embedded models, per size and difficulty.

    python -m fmprog.backends.embedded.evaluate [--models DIR] [--n 200] [--write]

Everything runs through the ONNX backends (what the runtime uses):
- detection: precision / recall / F1 at IoU >= 0.5 over every (scene, shape) query, and
  count accuracy (the number of boxes equals the true count, what programs branch on);
- attributes: color and shape accuracy of the crop classifier on ground-truth crops;
- programs: accuracy of the two demo programs (`examples/shapes/`), composed directly
  from the backends on balanced streams.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..geometry import crop_box
from ..geometry import iou as _iou
from .models import SIZES, EmbeddedDetection, EmbeddedVQA, Vision
from .onnx_nets import META_FILE, MODELS_DIR
from .scenes import SHAPES, Scene, make_scene, sample_difficulty
from .stream import stream_items


def detection_metrics(vision: Vision, scenes: list[Scene]) -> dict:
    """Precision, recall, F1 (IoU >= 0.5) and count accuracy over (scene, shape) queries."""
    tp = fp = fn = counts_ok = queries = 0
    for s in scenes:
        out, scale, ox, oy = vision.det.heads(s.image)
        for c, shape in enumerate(SHAPES):
            preds = vision.det.decode(out, c, s.image.shape[:2], scale, ox, oy)
            gts = [o.box for o in s.objects if o.shape == shape]
            unmatched = list(gts)
            for p in preds:
                best = max(unmatched, key=lambda g: _iou(p, g), default=None)
                if best is not None and _iou(p, best) >= 0.5:
                    unmatched.remove(best)
                    tp += 1
                else:
                    fp += 1
            fn += len(unmatched)
            counts_ok += len(preds) == len(gts)
            queries += 1
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(2 * precision * recall / max(1e-9, precision + recall), 3),
            "count_acc": round(counts_ok / max(1, queries), 3)}


def best_threshold(detector, scenes: list[Scene], grid=(0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
                                                         0.55, 0.6)) -> float:
    """The heatmap threshold with the best count accuracy (what programs branch on)."""
    heads = [(s, detector.heads(s.image)) for s in scenes]
    best, best_acc = grid[0], -1.0
    for thr in grid:
        ok = sum(
            len(detector.decode(out, c, s.image.shape[:2], sc, ox, oy, thr))
            == s.count(shape)
            for s, (out, sc, ox, oy) in heads
            for c, shape in enumerate(SHAPES)
        )
        if ok > best_acc:
            best, best_acc = thr, ok
    return best


def attribute_metrics(vision: Vision, scenes: list[Scene]) -> dict:
    """Color and shape accuracy of the crop classifier on exact ground-truth boxes."""
    crops, shapes, colors = [], [], []
    for s in scenes:
        for o in s.objects:
            crops.append(crop_box(s.image, o.box))
            shapes.append(o.shape)
            colors.append(o.color)
    sp, cp = vision.attr.probs(crops)
    shape_acc = np.mean([vision.attr.shapes[i] == t for i, t in zip(sp.argmax(1), shapes)])
    color_acc = np.mean([vision.attr.colors[i] == t for i, t in zip(cp.argmax(1), colors)])
    return {"shape_acc": round(float(shape_acc), 3), "color_acc": round(float(color_acc), 3)}


def run_program(question: str, det: EmbeddedDetection, vqa: EmbeddedVQA, image) -> str:
    """The demo programs of examples/shapes/, written directly against the backends."""
    if question == "red_circle":
        for box in det.detect(image, "circle"):
            crop = crop_box(image, (box.left, box.lower, box.right, box.upper))
            if vqa.verify_property(crop, "circle", "red"):
                return "yes"
        return "no"
    if question == "square_color":
        squares = det.detect(image, "square")
        if not squares:
            return vqa.query(image, "What color is the square?")
        b = squares[0]
        return vqa.query(crop_box(image, (b.left, b.lower, b.right, b.upper)),
                         "What color is the square?")
    raise ValueError(f"unknown question {question!r}")


def program_accuracy(question: str, det, vqa, n: int, seed: int, hard: bool) -> float:
    """Accuracy of a demo program on `n` balanced stream items of one difficulty."""
    items = stream_items(question, n, seed, hard_fraction=1.0 if hard else 0.0)
    return round(float(np.mean([run_program(question, det, vqa, s.image) == label
                                for s, label in items])), 3)


def evaluate_all(models_dir: Path | str = MODELS_DIR, n: int = 200, seed: int = 10_000,
                 program_items: int = 300) -> dict:
    """All metrics, as {size: {"easy"|"hard": {...}}}: `n` scenes and `program_items`
    stream items per (size, difficulty)."""
    metrics: dict = {}
    for size in SIZES:
        det = EmbeddedDetection(size, models_dir)
        vqa = EmbeddedVQA(size, models_dir)
        metrics[size] = {"params_m": round(det.cost, 4)}
        for hard in (False, True):
            rng = np.random.default_rng(seed + hard)
            scenes = [make_scene(rng, sample_difficulty(rng, hard)) for _ in range(n)]
            m = {**detection_metrics(det.vision, scenes), **attribute_metrics(det.vision, scenes)}
            for q in ("red_circle", "square_color"):
                m[f"program_{q}"] = program_accuracy(q, det, vqa, program_items, seed + 7, hard)
            metrics[size]["hard" if hard else "easy"] = m
    return metrics


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=MODELS_DIR)
    ap.add_argument("--n", type=int, default=200, help="scenes per size and difficulty")
    ap.add_argument("--program-items", type=int, default=300)
    ap.add_argument("--seed", type=int, default=10_000)
    ap.add_argument("--write", action="store_true", help="store the metrics in embedded.json")
    args = ap.parse_args(argv)
    metrics = evaluate_all(args.models, args.n, args.seed, args.program_items)
    print(json.dumps(metrics, indent=1))
    if args.write:
        path = Path(args.models) / META_FILE
        meta = json.loads(path.read_text())
        meta["metrics"] = metrics
        path.write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
