"""Train the embedded detectors and attribute classifiers on generated scenes; export ONNX.

    nice -n 10 python -m fmprog.backends.embedded.train [--out DIR] [--seed 0] [--scale 1.0]

Runs on CPU with one torch thread (`--threads`) in about 7 minutes: generates training
scenes (difficulty skewed towards hard, some letterboxed crops), trains `SPECS` (a small
and a large CenterNet detector, a small and a large crop classifier), exports each to
ONNX, calibrates each detector's threshold on validation scenes, writes `embedded.json`
(classes, input sizes, parameter counts = default costs) and finally the held-out
metrics of the exported models (`evaluate.py`). Seeded: the same seed, torch version and
thread count give bit-identical ONNX files. `--scale 0.03` is a 15-second smoke run.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

from .evaluate import best_threshold, evaluate_all
from .onnx_nets import CANVAS, META_FILE, MODELS_DIR, Detector, letterbox, resize, session
from ..geometry import rows_of
from .scenes import COLORS, SHAPES, SIZE, Scene, SceneObject, make_scene

NONE = "none"  # the crop classifier's 'no object' shape
SPECS = {
    "det-small": dict(net="detector", input_size=64, widths=(12, 16, 32, 48), depth=1, epochs=12),
    "det-large": dict(net="detector", input_size=128, widths=(16, 32, 64, 128), depth=2, epochs=5),
    "attr-small": dict(net="attributes", input_size=32, widths=(8, 12, 16), epochs=4),
    "attr-large": dict(net="attributes", input_size=32, widths=(16, 32, 64), epochs=4),
}
N_SCENES = 4000
N_VALIDATION = 200  # scenes to calibrate each detector's threshold on
HARD_SKEW = 0.7  # difficulty = uniform ** HARD_SKEW: more hard scenes than easy ones
LETTERBOX_P = 0.2
BATCH = 32


def crop_scene(scene: Scene, rng: np.random.Generator) -> Scene:
    """A window of the scene (often one object with a margin) letterboxed like inference."""
    if scene.objects and rng.random() < 0.5:
        obj = scene.objects[rng.integers(len(scene.objects))]
        t, b, l, r = rows_of(obj.box, SIZE)
        m = rng.uniform(0.0, 0.4, size=4) * max(b - t, r - l)
        t, b, l, r = int(t - m[0]), int(b + m[1]), int(l - m[2]), int(r + m[3])
    else:
        h, w = rng.integers(16, 110, size=2)
        t, l = int(rng.integers(0, SIZE - h)), int(rng.integers(0, SIZE - w))
        b, r = t + int(h), l + int(w)
    t, l, b, r = max(0, t), max(0, l), min(SIZE, b), min(SIZE, r)
    canvas, _, ox, oy = letterbox(scene.image[t:b, l:r])
    objects = []
    for o in scene.objects:
        ot, ob, ol, orr = rows_of(o.box, SIZE)
        ct, cb, cl, cr = max(ot, t), min(ob, b), max(ol, l), min(orr, r)
        if cb <= ct or cr <= cl or (cb - ct) * (cr - cl) < 0.6 * (ob - ot) * (orr - ol):
            continue
        ct, cb, cl, cr = ct - t + oy, cb - t + oy, cl - l + ox, cr - l + ox
        objects.append(SceneObject(o.shape, o.color, (cl, CANVAS - cb, cr, CANVAS - ct), o.depth))
    return Scene(canvas, objects, scene.difficulty)


def training_scenes(seed: int, n: int) -> list[Scene]:
    """`n` scenes, difficulty skewed towards hard; a fraction are letterboxed crops."""
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n):
        scene = make_scene(rng, float(rng.uniform() ** HARD_SKEW))
        scenes.append(crop_scene(scene, rng) if rng.random() < LETTERBOX_P else scene)
    return scenes


def detector_targets(scene: Scene, input_size: int, stride: int = 4):
    """Heatmaps (C, G, G), regression (4, G, G) = (w, h, dx, dy) in cells, mask (G, G)."""
    g = input_size // stride
    f = CANVAS / input_size * stride
    heat = np.zeros((len(SHAPES), g, g), np.float32)
    reg = np.zeros((4, g, g), np.float32)
    mask = np.zeros((g, g), np.float32)
    yy, xx = np.mgrid[0:g, 0:g]
    for o in scene.objects:
        t, b, l, r = rows_of(o.box, CANVAS)
        cx, cy, w, h = (l + r) / 2 / f, (t + b) / 2 / f, (r - l) / f, (b - t) / f
        gx, gy = min(int(cx), g - 1), min(int(cy), g - 1)
        sigma = max(0.5, min(w, h) / 6)
        c = SHAPES.index(o.shape)
        gauss = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * sigma**2))
        heat[c] = np.maximum(heat[c], gauss)
        reg[:, gy, gx] = (w, h, cx - gx, cy - gy)
        mask[gy, gx] = 1.0
    return heat, reg, mask


def crop_examples(scenes: list[Scene], seed: int):
    """Jittered object crops (shape, color) and background crops (none, ignored color)."""
    rng = np.random.default_rng(seed)
    crops, shapes, colors = [], [], []
    for s in scenes:
        for o in s.objects:
            t, b, l, r = rows_of(o.box, SIZE)
            side = max(b - t, r - l)
            m = rng.uniform(-0.05, 0.3, size=4) * side
            t, b = max(0, int(t - m[0])), min(SIZE, int(b + m[1]) + 1)
            l, r = max(0, int(l - m[2])), min(SIZE, int(r + m[3]) + 1)
            crops.append(resize(np.ascontiguousarray(s.image[t:b, l:r]), 32))
            shapes.append(SHAPES.index(o.shape))
            colors.append(COLORS.index(o.color))
        side = int(rng.integers(10, 45))
        t, l = rng.integers(0, SIZE - side, size=2)
        win = (l, SIZE - t - side, l + side, SIZE - t)
        if all(_overlap(win, o.box) < 0.1 for o in s.objects):
            crops.append(resize(np.ascontiguousarray(s.image[t : t + side, l : l + side]), 32))
            shapes.append(len(SHAPES))
            colors.append(-100)
    return np.stack(crops), np.array(shapes), np.array(colors)


def _overlap(win, box) -> float:
    ix = max(0, min(win[2], box[2]) - max(win[0], box[0]))
    iy = max(0, min(win[3], box[3]) - max(win[1], box[1]))
    return ix * iy / ((win[2] - win[0]) * (win[3] - win[1]))


def _focal(logits, gt):
    """CenterNet's penalty-reduced focal loss, normalised by the number of objects."""
    import torch

    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - gt) ** 4 * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def _fit(name, model, n, batch_loss, epochs, seed, batch=BATCH):
    """Adam with cosine decay over shuffled mini-batches; one progress line per epoch."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * math.ceil(n / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps, pct_start=0.15)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        order, total = torch.randperm(n, generator=gen), 0.0
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            flip = bool(torch.rand((), generator=gen) < 0.5)
            loss = batch_loss(idx, flip)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"[{name}] epoch {epoch + 1}/{epochs} loss {total / n:.4f} "
              f"({time.time() - t0:.0f}s)", flush=True)
    model.eval()
    return model


def train_detector(name: str, spec: dict, scenes: list[Scene], seed: int):
    """Train one CenterNet on the scenes resized to its input size."""
    import torch

    from .nets import CenterNet

    torch.manual_seed(seed)
    size = spec["input_size"]
    imgs = np.stack([resize(s.image, size) for s in scenes]).transpose(0, 3, 1, 2)
    imgs = torch.from_numpy(imgs.copy())
    targets = [detector_targets(s, size) for s in scenes]
    heat = torch.from_numpy(np.stack([t[0] for t in targets]))
    reg = torch.from_numpy(np.stack([t[1] for t in targets]))
    mask = torch.from_numpy(np.stack([t[2] for t in targets]))
    model = CenterNet(len(SHAPES), spec["widths"], spec["depth"])

    def batch_loss(idx, flip):
        x, h, r, m = imgs[idx].float(), heat[idx], reg[idx], mask[idx]
        if flip:
            x, h, r, m = x.flip(-1), h.flip(-1), r.flip(-1).clone(), m.flip(-1)
            r[:, 2] = torch.where(m > 0, 1 - r[:, 2], r[:, 2])
        out = model(x)
        k = len(SHAPES)
        l1 = (out[:, k:] - r).abs() * m[:, None]
        reg_loss = (0.1 * l1[:, :2].sum() + l1[:, 2:].sum()) / m.sum().clamp(min=1.0)
        return _focal(out[:, :k], h) + reg_loss

    return _fit(name, model, len(scenes), batch_loss, spec["epochs"], seed)


def train_attributes(name: str, spec: dict, crops, shapes, colors, seed: int):
    """Train one CropNet (shape incl. 'none', and color) on the crops."""
    import torch
    from torch.nn import functional as F

    from .nets import CropNet

    torch.manual_seed(seed)
    x_all = torch.from_numpy(crops.transpose(0, 3, 1, 2).copy())
    ys, yc = torch.from_numpy(shapes), torch.from_numpy(colors)
    model = CropNet(len(SHAPES) + 1, len(COLORS), spec["widths"])

    def batch_loss(idx, flip):
        x = x_all[idx].float()
        ls, lc = model(x.flip(-1) if flip else x)
        return F.cross_entropy(ls, ys[idx]) + F.cross_entropy(lc, yc[idx], ignore_index=-100)

    return _fit(name, model, len(crops), batch_loss, spec["epochs"], seed, batch=2 * BATCH)


def export(model, path: Path, input_name: str, shape: tuple, outputs: list[str]) -> None:
    """Legacy (TorchScript) ONNX export with a dynamic batch axis."""
    import torch

    axes = {input_name: {0: "n"}, **{o: {0: "n"} for o in outputs}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(shape),), str(path), dynamo=False,
                          input_names=[input_name], output_names=outputs,
                          dynamic_axes=axes, opset_version=17)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=MODELS_DIR)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink data and epochs (smoke runs)")
    ap.add_argument("--eval-scenes", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 is fastest on a shared 2-core machine)")
    args = ap.parse_args(argv)
    import torch

    from .nets import n_params

    torch.set_num_threads(args.threads)
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    scenes = training_scenes(args.seed, max(64, int(N_SCENES * args.scale)))
    crops, shapes, colors = crop_examples(scenes, args.seed + 1)
    vrng = np.random.default_rng(args.seed + 5000)
    validation = [make_scene(vrng, float(vrng.uniform())) for _ in range(N_VALIDATION)]
    print(f"data: {len(scenes)} scenes, {len(crops)} crops ({time.time() - t0:.0f}s)", flush=True)
    meta = {"canvas": CANVAS, "shapes": list(SHAPES), "colors": list(COLORS), "seed": args.seed,
            "torch": torch.__version__, "nets": {}}
    for i, (name, spec) in enumerate(SPECS.items()):
        spec = dict(spec, epochs=max(1, round(spec["epochs"] * min(1.0, args.scale * 4))))
        if spec["net"] == "detector":
            model = train_detector(name, spec, scenes, args.seed + 10 + i)
            s = spec["input_size"]
            export(model, args.out / f"{name}.onnx", "image", (1, 3, s, s), ["heads"])
            session.cache_clear()
            entry = {"classes": list(SHAPES), "stride": model.stride}
            entry["threshold"] = best_threshold(Detector({"file": f"{name}.onnx", **spec, **entry},
                                                         args.out), validation)
            print(f"[{name}] threshold {entry['threshold']} (best count accuracy on "
                  f"{len(validation)} validation scenes)", flush=True)
        else:
            model = train_attributes(name, spec, crops, shapes, colors, args.seed + 10 + i)
            export(model, args.out / f"{name}.onnx", "crop", (1, 3, 32, 32), ["shape", "color"])
            entry = {"shapes": list(SHAPES) + [NONE], "colors": list(COLORS)}
        meta["nets"][name] = {"file": f"{name}.onnx", "input_size": spec["input_size"],
                              "params": n_params(model),
                              "params_m": round(n_params(model) / 1e6, 4),
                              "epochs": spec["epochs"], **entry}
    meta["train_seconds"] = round(time.time() - t0, 1)
    (args.out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    meta["metrics"] = evaluate_all(args.out, n=args.eval_scenes, seed=10_000 + args.seed,
                                   program_items=max(10, 3 * args.eval_scenes // 2))
    meta["total_seconds"] = round(time.time() - t0, 1)
    (args.out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(meta["metrics"], indent=1))
    print(f"done in {meta['total_seconds']:.0f}s -> {args.out}")
    return meta


if __name__ == "__main__":
    main()
