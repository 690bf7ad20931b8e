"""Held-out accuracy, cost and speed of the embedded backends, per tier and difficulty.

    python -m fmprog.backends.embedded.evaluate [--models DIR] [--n 200] [--items 150] [--write]

Everything runs through the ONNX backends (what the runtime uses), on scenes drawn from
seeds the training never used:
- programs: the accuracy of each representative program of `programs.PROGRAMS` with all
  of its call sites on one tier, on `--items` labelled items per difficulty range; their
  mean is the tier's *program accuracy*;
- detection: precision / recall / F1 at IoU >= 0.5 over every (scene, category) query,
  and count accuracy (the number of boxes equals the true count);
- classifier: category and color accuracy on ground-truth crops;
- reading: the share of signs and of digits whose text the tier's reader reads exactly
  from the ground-truth object crop;
- speed: ms per call through `Backend.serve`, one call at a time and in batches.
`--write` stores the metrics in embedded.json and the tables in docs/embedded-models.md.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..base import Call
from ..geometry import crop_box
from ..geometry import iou as _iou
from .onnx_nets import META_FILE, MODELS_DIR
from .scenes import CATEGORIES, SIGN, Scene, make_scene, sample_difficulty
from .text import WORDS, normalise_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedded-models.md"
BEGIN, END = "<!-- BEGIN MEASURED: written by evaluate.py -->", "<!-- END MEASURED -->"


@dataclass(frozen=True)
class EvalSettings:
    """How much to measure: `n` scenes per difficulty for the component metrics, `items`
    items per (program, difficulty), `speed_calls` calls per backend in batches of
    `batch`; all drawn from `seed`."""

    n: int = 200
    items: int = 150
    seed: int = 10_000
    speed_calls: int = 64
    batch: int = 32

    def __post_init__(self) -> None:
        for name in ("n", "items", "speed_calls", "batch"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")


def tier_backends(tier: str, models_dir: Path | str = MODELS_DIR) -> dict:
    """The detection, vqa and image-text matching backends of one tier, by kind."""
    from .models import EmbeddedDetection, EmbeddedMatching, EmbeddedVQA

    return {cls.kind: cls(tier, models_dir) for cls in (EmbeddedDetection, EmbeddedVQA, EmbeddedMatching)}


# -- component metrics ---------------------------------------------------------------------
def detection_metrics(vision, scenes: list[Scene]) -> dict:
    """Precision, recall, F1 (IoU >= 0.5) and count accuracy over (scene, category) queries."""
    tp = fp = fn = counts_ok = queries = 0
    for s, h in zip(scenes, vision.det.heads([s.image for s in scenes])):
        for cat in CATEGORIES:
            preds = vision.det.decode(h, cat)
            unmatched = [o.box for o in s.objects if o.shape == cat]
            n_true = len(unmatched)
            for p in preds:
                best = max(unmatched, key=lambda g: _iou(p, g), default=None)
                if best is not None and _iou(p, best) >= 0.5:
                    unmatched.remove(best)
                    tp += 1
                else:
                    fp += 1
            fn += len(unmatched)
            counts_ok += len(preds) == n_true
            queries += 1
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(2 * precision * recall / max(1e-9, precision + recall), 3),
            "count_acc": round(counts_ok / max(1, queries), 3)}


def best_threshold(detector, scenes: list[Scene],
                   grid=(0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)) -> float:
    """The heatmap threshold with the best count accuracy (what programs branch on)."""
    heads = detector.heads([s.image for s in scenes])
    # decode() keeps the NMS'd peaks above the threshold: score the peaks once
    scored = [(s.count(cat), [p[4] for p in detector.peaks(h, cat, min(grid))])
              for s, h in zip(scenes, heads) for cat in CATEGORIES]
    best, best_acc = grid[0], -1
    for thr in grid:
        ok = sum(sum(x > thr for x in peaks) == n for n, peaks in scored)
        if ok > best_acc:
            best, best_acc = thr, ok
    return best


def attribute_metrics(vision, scenes: list[Scene]) -> dict:
    """Category and color accuracy of the crop classifier on exact ground-truth boxes."""
    objs = [(s, o) for s in scenes for o in s.objects]
    sp, cp = vision.attr.probs([crop_box(s.image, o.box) for s, o in objs])
    shape_acc = np.mean([vision.attr.shapes[i] == o.shape for i, (_, o) in zip(sp.argmax(1), objs)])
    color_acc = np.mean([vision.attr.colors[i] == o.color for i, (_, o) in zip(cp.argmax(1), objs)])
    return {"shape_acc": round(float(shape_acc), 3), "color_acc": round(float(color_acc), 3)}


def reading_metrics(vision, scenes: list[Scene]) -> dict:
    """Exact reading accuracy of the tier's reader on ground-truth crops of text objects."""
    objs = [(s, o) for s in scenes for o in s.objects if o.text]
    readings = vision.read([(crop_box(s.image, o.box), o.shape, o.shape != SIGN) for s, o in objs])
    ok = [(o.shape == SIGN, normalise_text(r.text) == o.text) for (_, o), r in zip(objs, readings)]
    sign = [k for is_sign, k in ok if is_sign]
    digit = [k for is_sign, k in ok if not is_sign]
    return {"sign_read_acc": round(float(np.mean(sign)), 3) if sign else None,
            "digit_read_acc": round(float(np.mean(digit)), 3) if digit else None,
            "read_conf_auroc": auroc([r.confidence for r in readings], [k for _, k in ok])}


def count_confidence_auroc(backend, scenes: list[Scene]) -> float | None:
    """How well `detect`'s confidence tells right counts from wrong ones (every scene and
    category): the AUROC of confidence against `len(boxes) == true count`."""
    calls = [Call("detect", (s.image,), {"object_name": cat}) for s in scenes for cat in CATEGORIES]
    truth = [s.count(cat) for s in scenes for cat in CATEGORIES]
    results = backend.serve(calls)
    return auroc([r.confidence for r in results], [len(r.value) == n for r, n in zip(results, truth)])


def auroc(scores, positives) -> float | None:
    """The probability that a random right answer has a higher confidence than a random
    wrong one (ties count half); None when all are right or all wrong."""
    s, y = np.asarray(scores, float), np.asarray(positives, bool)
    if y.all() or not y.any():
        return None
    ranks = np.empty(len(s))
    order = np.argsort(s, kind="mergesort")
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(s):  # average ranks of ties
        ranks[s == v] = ranks[s == v].mean()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return round(float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)), 3)


# -- speed ---------------------------------------------------------------------------------
def speed_calls(seed: int, n: int) -> dict[str, list[Call]]:
    """Calls of each kind on hard scenes: detect on images, verify_property on object
    crops, a text question on images, matching of 4 words on sign crops."""
    rng = np.random.default_rng(seed + 77)
    scenes = [make_scene(rng, sample_difficulty(rng, True), require=[(SIGN, None)]) for _ in range(n)]
    crops = [crop_box(s.image, s.objects[0].box) for s in scenes]
    signs = [crop_box(s.image, s.find((SIGN, None))[0].box) for s in scenes]
    words = [list(rng.choice(WORDS, 4, replace=False)) for _ in scenes]
    return {
        "detection": [Call("detect", (s.image,), {"object_name": "circle"}) for s in scenes],
        "vqa": [Call("verify_property", (c,), {"object_name": "object", "property": "red"})
                for c in crops],
        "vqa-text": [Call("query", (s.image,), {"question": "What does the sign say?"})
                     for s in scenes],
        "image_text_matching": [Call("match_scores", (c,), {"texts": [str(x) for x in w]})
                                for c, w in zip(signs, words)],
    }


def measure_speed(backend, calls: list[Call], batch: int, repeats: int = 3) -> dict:
    """ms per call served one at a time and in batches of `batch`: after a warm-up, the
    two ways alternate `repeats` times and the fastest pass of each counts (the machine
    is shared: the minimum is the least disturbed)."""
    backend.serve(calls[:2])
    best = {"single": math.inf, "batched": math.inf}
    for _ in range(repeats):
        t0 = time.perf_counter()
        singles = [backend.serve([c])[0] for c in calls]
        t1 = time.perf_counter()
        batched = [r for i in range(0, len(calls), batch) for r in backend.serve(calls[i:i + batch])]
        t2 = time.perf_counter()
        best["single"] = min(best["single"], t1 - t0)
        best["batched"] = min(best["batched"], t2 - t1)
    same = all(_same_result(a, b) for a, b in zip(singles, batched))
    single, multi = best["single"] * 1000 / len(calls), best["batched"] * 1000 / len(calls)
    return {"ms_single": round(single, 2), "ms_batched": round(multi, 2),
            "speedup": round(single / max(multi, 1e-9), 2), "batch": batch, "identical": same}


def _same_result(a, b) -> bool:
    va, vb = getattr(a, "value", a), getattr(b, "value", b)
    if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
        return bool(np.array_equal(np.asarray(va), np.asarray(vb))) and a.confidence == b.confidence
    return va == vb and getattr(a, "confidence", None) == getattr(b, "confidence", None)


# -- everything ----------------------------------------------------------------------------
def evaluate_all(models_dir: Path | str = MODELS_DIR, settings: EvalSettings = EvalSettings(),
                 progress: bool = True) -> dict:
    """{"programs": ..., "components": ..., "backends": ..., "settings": ...}."""
    from .models import TIERS
    from .programs import PROGRAMS, program_accuracy, program_items

    t0 = time.time()
    pools = {t: tier_backends(t, models_dir) for t in TIERS}
    out: dict = {"settings": asdict(settings), "programs": {}, "components": {}, "backends": {}}
    items = {(name, hard): program_items(p, settings.items, settings.seed, hard)
             for name, p in PROGRAMS.items() for hard in (False, True)}
    for name, p in PROGRAMS.items():
        out["programs"][name] = {t: {("hard" if hard else "easy"): round(program_accuracy(
            p, pools[t], items[name, hard]), 3) for hard in (False, True)} for t in TIERS}
        _log(progress, f"[eval] {name}: {out['programs'][name]} ({time.time() - t0:.0f}s)")
    out["program_mean"] = {t: {d: round(float(np.mean([v[t][d] for v in out["programs"].values()])), 3)
                               for d in ("easy", "hard")} for t in TIERS}
    for hard in (False, True):
        rng = np.random.default_rng(settings.seed + hard)
        scenes = [make_scene(rng, sample_difficulty(rng, hard)) for _ in range(settings.n)]
        for t in TIERS:
            v = pools[t]["detection"].vision
            m = {**detection_metrics(v, scenes), **attribute_metrics(v, scenes), **reading_metrics(v, scenes),
                 "count_conf_auroc": count_confidence_auroc(pools[t]["detection"], scenes)}
            out["components"].setdefault(t, {})["hard" if hard else "easy"] = m
    _log(progress, f"[eval] components ({time.time() - t0:.0f}s)")
    calls = speed_calls(settings.seed, settings.speed_calls)
    for t in TIERS:
        for what, cs in calls.items():
            b = pools[t][what.split("-")[0] if what != "vqa-text" else "vqa"]
            label = f"{b.name} ({cs[0].op})"
            info = b.describe()
            out["backends"][label] = {"kind": b.kind, "tier": t, "cost": b.cost,
                                      "params": info["params"], "nets": info["nets"],
                                      **measure_speed(b, cs, settings.batch)}
    _log(progress, f"[eval] speed ({time.time() - t0:.0f}s)")
    out["seconds"] = round(time.time() - t0, 1)
    return out


def _log(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


# -- writing -------------------------------------------------------------------------------
def markdown(metrics: dict) -> str:
    """The measured tables of docs/embedded-models.md."""
    from .models import TIERS
    from .programs import PROGRAMS

    s = metrics["settings"]
    lines = [f"Measured by `python -m fmprog.backends.embedded.evaluate --write` "
             f"({s['items']} items per program and difficulty, {s['n']} scenes per difficulty "
             f"for the components, seed {s['seed']}; {metrics['seconds']:.0f} s).", "",
             "**Program accuracy** (all call sites of a program on one tier):", "",
             "| program | question | " + " | ".join(f"{t} easy" for t in TIERS) + " | "
             + " | ".join(f"{t} hard" for t in TIERS) + " |",
             "|---|---|" + "---|" * (2 * len(TIERS))]
    for name, v in metrics["programs"].items():
        cells = [f"{v[t]['easy']:.3f}" for t in TIERS] + [f"{v[t]['hard']:.3f}" for t in TIERS]
        lines.append(f"| `{name}` | {PROGRAMS[name].question} | " + " | ".join(cells) + " |")
    pm = metrics["program_mean"]
    cells = [f"**{pm[t]['easy']:.3f}**" for t in TIERS] + [f"**{pm[t]['hard']:.3f}**" for t in TIERS]
    lines += ["| **mean** | | " + " | ".join(cells) + " |", "",
              "**Backends**: cost = multiply-accumulates (millions) of a typical call through "
              "the nets the backend runs (`Vision.cost`), params = their parameters; ms per "
              f"call through `Backend.serve`, one call at a time and in batches of "
              f"{s['batch']} ({s['speed_calls']} calls, the faster of 3 alternating passes "
              "each; one onnxruntime thread, CPUExecutionProvider, a shared 2-core machine); "
              "*same* = every batched answer and confidence equals the single one.", "",
              "| backend (op) | tier | nets | cost (M MACs) | params | ms/call single | ms/call batched | speed-up | same |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, b in metrics["backends"].items():
        lines.append(f"| `{name}` | {b['tier']} | {', '.join(b['nets'])} | {b['cost']:.3f} | "
                     f"{b.get('params', 0):,} | "
                     f"{b['ms_single']:.2f} | {b['ms_batched']:.2f} | {b['speedup']:.2f}x | "
                     f"{'yes' if b['identical'] else 'NO'} |")
    lines += ["", "**Components** (held-out scenes; detection at IoU >= 0.5; classifier on "
              "ground-truth crops; reading: exact text from ground-truth object crops):", "",
              "| tier | difficulty | det precision | det recall | det F1 | count acc | category acc | color acc | sign read | digit read | AUROC count conf | AUROC read conf |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t, by in metrics["components"].items():
        for d, m in by.items():
            lines.append(f"| {t} | {d} | {m['precision']} | {m['recall']} | {m['f1']} | "
                         f"{m['count_acc']} | {m['shape_acc']} | {m['color_acc']} | "
                         f"{m['sign_read_acc']} | {m['digit_read_acc']} | "
                         f"{m.get('count_conf_auroc')} | {m.get('read_conf_auroc')} |")
    lines += ["", "*AUROC*: how well a confidence separates right answers from wrong ones "
              "(0.5: not at all, 1: perfectly): `detect`'s confidence against a right count, "
              "per (scene, category); the reader's against an exact reading."]
    return "\n".join(lines) + "\n"


def write_results(metrics: dict, models_dir: Path | str = MODELS_DIR, docs: bool = True) -> None:
    """Store the metrics in embedded.json and (with `docs`) the tables in the doc."""
    path = Path(models_dir) / META_FILE
    meta = json.loads(path.read_text())
    meta["metrics"] = metrics
    path.write_text(json.dumps(meta, indent=1) + "\n")
    if docs and DOC.exists():
        text = DOC.read_text()
        block = f"{BEGIN}\n{markdown(metrics)}{END}"
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        DOC.write_text(text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=MODELS_DIR)
    ap.add_argument("--n", type=int, default=200, help="scenes per difficulty (components)")
    ap.add_argument("--items", type=int, default=150, help="items per program and difficulty")
    ap.add_argument("--seed", type=int, default=10_000)
    ap.add_argument("--speed-calls", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--write", action="store_true",
                    help="store the metrics in embedded.json and the tables in docs/embedded-models.md")
    args = ap.parse_args(argv)
    try:
        settings = EvalSettings(args.n, args.items, args.seed, args.speed_calls, args.batch)
    except ValueError as e:
        ap.error(str(e))
    metrics = evaluate_all(args.models, settings)
    print(markdown(metrics))
    if args.write:
        write_results(metrics, args.models, docs=Path(args.models).resolve() == MODELS_DIR.resolve())


if __name__ == "__main__":
    main()
