"""Train the embedded nets of the three tiers on generated scenes; export ONNX.

    nice -n 10 python -m fmprog.backends.embedded.train [--out DIR] [--seed 0] [--scale 1.0]

Runs on CPU with one torch thread (`--threads`): generates training scenes (difficulty
skewed towards hard, some letterboxed crops like the ones the runtime passes), trains
`SPECS` (a tiny, a small and a large CenterNet detector and crop classifier, and the
tiny tier's text reader), exports each to ONNX with a dynamic batch axis, calibrates each
detector's threshold on validation scenes, records the PP-OCR files the small and large
tiers read text with, writes `embedded.json` (classes, input sizes, parameters, MACs,
thresholds) and finally the held-out metrics (`evaluate.py`). Seeded: the same seed,
torch version and thread count give bit-identical ONNX files. `--scale 0.03` is a smoke
run of well under a minute. docs/embedded-models.md gives the measured wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

from ..geometry import crop_box, rows_of
from .evaluate import best_threshold
from .ocr import DET_FILE, REC_FILE
from .onnx_nets import CANVAS, META_FILE, MODELS_DIR, Detector, letterbox, resize, session, text_image
from .scenes import CATEGORIES, COLORS, SIZE, Scene, SceneObject, make_scene
from .text import CHARSET, reading_box

NONE = "none"  # the crop classifier's 'no object' category
SPECS = {
    "det-tiny": dict(net="detector", input_size=48, widths=(8, 16, 24, 32), depth=0, epochs=30),
    "det-small": dict(net="detector", input_size=96, widths=(12, 16, 32, 48), depth=1, epochs=9),
    "det-large": dict(net="detector", input_size=128, widths=(16, 32, 64, 128), depth=2, epochs=6),
    "attr-tiny": dict(net="attributes", input_size=16, widths=(6, 10, 12), epochs=6),
    "attr-small": dict(net="attributes", input_size=24, widths=(12, 24, 32), epochs=5),
    "attr-large": dict(net="attributes", input_size=32, widths=(16, 32, 64), epochs=4),
    "text-tiny": dict(net="text", height=16, width=64, widths=(12, 24, 32), epochs=10, lr=1e-2),
}
#: the input shapes a typical call runs the PP-OCR nets at (for their MACs): the DB
#: canvas, and one text line in the 128-wide bucket
OCR_SHAPES = {"ppocr-det": (1, 3, 256, 256), "ppocr-rec": (1, 3, 48, 128)}
N_SCENES = 4500
N_TEXT_SCENES = 3000  # extra scenes with two signs each, for the text reader
N_VALIDATION = 200  # scenes to calibrate each detector's threshold on
HARD_SKEW = 0.7  # difficulty = uniform ** HARD_SKEW: more hard scenes than easy ones
LETTERBOX_P = 0.2
BATCH = 32


# -- data ----------------------------------------------------------------------------------
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


def training_scenes(seed: int, n: int) -> tuple[list[Scene], list[Scene]]:
    """`n` scenes, difficulty skewed towards hard, a fraction of them replaced by
    letterboxed crops; and the whole scenes (their text is intact)."""
    rng = np.random.default_rng(seed)
    scenes, whole = [], []
    for _ in range(n):
        scene = make_scene(rng, float(rng.uniform() ** HARD_SKEW))
        if rng.random() < LETTERBOX_P:
            scenes.append(crop_scene(scene, rng))
        else:
            scenes.append(scene)
            whole.append(scene)
    return scenes, whole


def detector_targets(scene: Scene, input_size: int, stride: int = 4):
    """Heatmaps (C, G, G), regression (4, G, G) = (w, h, dx, dy) in cells, mask (G, G)."""
    g = input_size // stride
    f = CANVAS / input_size * stride
    heat = np.zeros((len(CATEGORIES), g, g), np.float32)
    reg = np.zeros((4, g, g), np.float32)
    mask = np.zeros((g, g), np.float32)
    yy, xx = np.mgrid[0:g, 0:g]
    for o in scene.objects:
        t, b, l, r = rows_of(o.box, CANVAS)
        cx, cy, w, h = (l + r) / 2 / f, (t + b) / 2 / f, (r - l) / f, (b - t) / f
        gx, gy = min(int(cx), g - 1), min(int(cy), g - 1)
        sigma = max(0.5, min(w, h) / 6)
        c = CATEGORIES.index(o.shape)
        gauss = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * sigma**2))
        heat[c] = np.maximum(heat[c], gauss)
        reg[:, gy, gx] = (w, h, cx - gx, cy - gy)
        mask[gy, gx] = 1.0
    return heat, reg, mask


def _jitter(rng, box, lo: float, hi: float) -> tuple[int, int, int, int]:
    """A DSL box with each edge moved outwards by a share of its longest side in [lo, hi]."""
    side = max(box[2] - box[0], box[3] - box[1])
    m = rng.uniform(lo, hi, size=4) * side
    return (max(0, int(box[0] - m[0])), max(0, int(box[1] - m[1])),
            min(SIZE, int(box[2] + m[2]) + 1), min(SIZE, int(box[3] + m[3]) + 1))


def crop_examples(scenes: list[Scene], seed: int, size: int = 32):
    """Jittered object crops (category, color) and background crops (none, no color)."""
    rng = np.random.default_rng(seed)
    crops, cats, colors = [], [], []
    for s in scenes:
        for o in s.objects:
            crops.append(resize(np.ascontiguousarray(crop_box(s.image, _jitter(rng, o.box, -0.05, 0.3))), size))
            cats.append(CATEGORIES.index(o.shape))
            colors.append(COLORS.index(o.color))
        side = int(rng.integers(10, 45))
        t, l = rng.integers(0, SIZE - side, size=2)
        win = (l, SIZE - t - side, l + side, SIZE - t)
        if all(_overlap(win, o.box) < 0.1 for o in s.objects):
            crops.append(resize(np.ascontiguousarray(s.image[t : t + side, l : l + side]), size))
            cats.append(len(CATEGORIES))
            colors.append(-100)
    return np.stack(crops), np.array(cats), np.array(colors)


def text_examples(scenes: list[Scene], seed: int, height: int, width: int):
    """Reading regions of jittered object boxes and their text ('' for most shapes
    without one), as the text reader sees them."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for s in scenes:
        for o in s.objects:
            if not o.text and rng.random() > 0.25:
                continue
            box = reading_box(_jitter(rng, o.box, -0.08, 0.12), o.shape)
            images.append(text_image(np.ascontiguousarray(crop_box(s.image, box)), height, width))
            labels.append(o.text or "")
    return np.stack(images), labels


def _overlap(win, box) -> float:
    ix = max(0, min(win[2], box[2]) - max(win[0], box[0]))
    iy = max(0, min(win[3], box[3]) - max(win[1], box[1]))
    return ix * iy / ((win[2] - win[0]) * (win[3] - win[1]))


# -- training ------------------------------------------------------------------------------
def _focal(logits, gt):
    """CenterNet's penalty-reduced focal loss, normalised by the number of objects."""
    import torch

    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - gt) ** 4 * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def _fit(name, model, n, batch_loss, epochs, seed, batch=BATCH, lr=3e-3):
    """AdamW with a one-cycle LR over shuffled mini-batches; one progress line per epoch."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(n / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.15)
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
    model = CenterNet(len(CATEGORIES), spec["widths"], spec["depth"])

    def batch_loss(idx, flip):
        x, h, r, m = imgs[idx].float(), heat[idx], reg[idx], mask[idx]
        if flip:
            x, h, r, m = x.flip(-1), h.flip(-1), r.flip(-1).clone(), m.flip(-1)
            r[:, 2] = torch.where(m > 0, 1 - r[:, 2], r[:, 2])
        out = model(x)
        k = len(CATEGORIES)
        l1 = (out[:, k:] - r).abs() * m[:, None]
        reg_loss = (0.1 * l1[:, :2].sum() + l1[:, 2:].sum()) / m.sum().clamp(min=1.0)
        return _focal(out[:, :k], h) + reg_loss

    return _fit(name, model, len(scenes), batch_loss, spec["epochs"], seed)


def train_attributes(name: str, spec: dict, crops, cats, colors, seed: int):
    """Train one CropNet (category incl. 'none', and color) on the crops."""
    import torch
    from torch.nn import functional as F

    from .nets import CropNet

    torch.manual_seed(seed)
    x_all = torch.from_numpy(np.stack([resize(c, spec["input_size"]) for c in crops])
                             .transpose(0, 3, 1, 2).copy())
    ys, yc = torch.from_numpy(cats), torch.from_numpy(colors)
    model = CropNet(len(CATEGORIES) + 1, len(COLORS), spec["widths"])

    def batch_loss(idx, flip):
        x = x_all[idx].float()
        ls, lc = model(x.flip(-1) if flip else x)
        # 'none' crops have no color: sum over the others (a batch may hold none of them)
        color = F.cross_entropy(lc, yc[idx], ignore_index=-100, reduction="sum")
        return F.cross_entropy(ls, ys[idx]) + color / (yc[idx] >= 0).sum().clamp(min=1)

    return _fit(name, model, len(crops), batch_loss, spec["epochs"], seed, batch=2 * BATCH)


def train_text(name: str, spec: dict, images, labels: list[str], seed: int):
    """Train the CRNN text reader with CTC (class 0 is the blank); no flips (text)."""
    import torch
    from torch.nn import functional as F

    from .nets import TextNet

    torch.manual_seed(seed)
    x_all = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    codes = [torch.tensor([CHARSET.index(c) + 1 for c in t], dtype=torch.long) for t in labels]
    model = TextNet(len(CHARSET) + 1, spec["widths"])

    def batch_loss(idx, flip):
        logits = model(x_all[idx].float())  # (N, T, C)
        logp = F.log_softmax(logits, dim=2).transpose(0, 1)
        tgt = [codes[i] for i in idx.tolist()]
        lengths = torch.tensor([len(t) for t in tgt], dtype=torch.long)
        flat = torch.cat(tgt) if int(lengths.sum()) else torch.zeros(0, dtype=torch.long)
        steps = torch.full((len(tgt),), logp.shape[0], dtype=torch.long)
        return F.ctc_loss(logp, flat, steps, lengths, blank=0, zero_infinity=True)

    return _fit(name, model, len(images), batch_loss, spec["epochs"], seed, batch=2 * BATCH,
                lr=spec.get("lr", 3e-3))


def export(model, path: Path, input_name: str, shape: tuple, outputs: list[str]) -> None:
    """Legacy (TorchScript) ONNX export with a dynamic batch axis."""
    import torch

    axes = {input_name: {0: "n"}, **{o: {0: "n"} for o in outputs}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(shape),), str(path), dynamo=False,
                          input_names=[input_name], output_names=outputs,
                          dynamic_axes=axes, opset_version=17)


# -- the script ----------------------------------------------------------------------------
def _train_one(name, spec, data, out: Path, seed: int, validation) -> dict:
    """Train, export and describe one net of SPECS."""
    from .nets import count_macs, n_params

    if spec["net"] == "detector":
        model = train_detector(name, spec, data["scenes"], seed)
        s = spec["input_size"]
        export(model, out / f"{name}.onnx", "image", (1, 3, s, s), ["heads"])
        entry = {"input_size": s, "classes": list(CATEGORIES), "stride": model.stride}
        session.cache_clear()
        entry["threshold"] = best_threshold(Detector({"file": f"{name}.onnx", **entry}, out), validation)
        print(f"[{name}] threshold {entry['threshold']} (best count accuracy on "
              f"{len(validation)} validation scenes)", flush=True)
        shape = (1, 3, s, s)
    elif spec["net"] == "attributes":
        model = train_attributes(name, spec, *data["crops"], seed)
        s = spec["input_size"]
        export(model, out / f"{name}.onnx", "crop", (1, 3, s, s), ["shape", "color"])
        entry = {"input_size": s, "shapes": list(CATEGORIES) + [NONE], "colors": list(COLORS)}
        shape = (1, 3, s, s)
    else:
        model = train_text(name, spec, *data["text"], seed)
        shape = (1, 3, spec["height"], spec["width"])
        export(model, out / f"{name}.onnx", "text", shape, ["logits"])
        entry = {"height": spec["height"], "width": spec["width"], "charset": CHARSET}
    return {"file": f"{name}.onnx", "params": n_params(model), "macs": count_macs(model, shape),
            "epochs": spec["epochs"], **entry}


def ocr_entries(out: Path) -> dict:
    """The PP-OCR files (committed, not trained here): parameters and hashes."""
    from .onnx_nets import file_hash

    entries = {}
    for name, fname in (("ppocr-det", DET_FILE), ("ppocr-rec", REC_FILE)):
        path = out / fname
        if not path.exists():
            path = MODELS_DIR / fname
        entries[name] = {"file": fname, "params": onnx_params(path),
                         "macs": onnx_macs(path, OCR_SHAPES[name]), "macs_input": list(OCR_SHAPES[name]),
                         "sha256": file_hash(str(path)),
                         "origin": "rapidocr-onnxruntime 1.4.4 (PaddleOCR PP-OCRv4), Apache-2.0"}
    return entries


def onnx_macs(path: Path, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of the Conv, ConvTranspose, MatMul and Gemm nodes of an ONNX
    graph for an input of `shape`, with shapes from onnxruntime's symbolic inference."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    m = onnx.load(str(path))
    for dim, v in zip(m.graph.input[0].type.tensor_type.shape.dim, shape):
        dim.ClearField("dim_param")
        dim.dim_value = v
    m = SymbolicShapeInference.infer_shapes(m, auto_merge=True)
    dims = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
            for vi in [*m.graph.value_info, *m.graph.input, *m.graph.output]}
    dims.update({t.name: list(t.dims) for t in m.graph.initializer})
    dims.update({n.output[0]: list(n.attribute[0].t.dims) for n in m.graph.node if n.op_type == "Constant"})
    total = 0
    for n in m.graph.node:
        if n.op_type in ("Conv", "ConvTranspose"):
            w, x, y = dims[n.input[1]], dims[n.input[0]], dims[n.output[0]]
            total += int(np.prod(y if n.op_type == "Conv" else x)) * int(np.prod(w[1:]))
        elif n.op_type in ("MatMul", "Gemm"):
            total += int(np.prod(dims[n.output[0]])) * dims[n.input[0]][-1]
    return total


def onnx_params(path: Path) -> int:
    """The number of weights in an ONNX file (initializers and Constant tensors)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    n = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    for node in m.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].t.dims:
            n += int(numpy_helper.to_array(node.attribute[0].t).size)
    return n


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=MODELS_DIR)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink data and epochs (smoke runs)")
    ap.add_argument("--only", nargs="*", metavar="NET", help="retrain only these nets (others kept)")
    ap.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 is fastest on a shared 2-core machine)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    data = _data(args.seed, args.scale)
    vrng = np.random.default_rng(args.seed + 5000)
    validation = [make_scene(vrng, float(vrng.uniform())) for _ in range(N_VALIDATION)]
    print(f"data: {len(data['scenes'])} scenes, {len(data['crops'][0])} crops, "
          f"{len(data['text'][1])} text regions ({time.time() - t0:.0f}s)", flush=True)
    old = _old_meta(args.out) if args.only else {}
    meta = {"canvas": CANVAS, "categories": list(CATEGORIES), "colors": list(COLORS),
            "seed": args.seed, "scale": args.scale, "torch": torch.__version__,
            "nets": dict(old.get("nets", {})), "timings": dict(old.get("timings", {}))}
    for i, (name, spec) in enumerate(SPECS.items()):
        if args.only and name not in args.only:
            continue
        t1 = time.time()
        spec = dict(spec, epochs=max(1, round(spec["epochs"] * min(1.0, args.scale * 4))))
        meta["nets"][name] = _train_one(name, spec, data, args.out, args.seed + 10 + i, validation)
        meta["timings"][name] = round(time.time() - t1, 1)
    meta["ocr"] = ocr_entries(args.out)
    meta["train_seconds"] = round(time.time() - t0, 1)
    (args.out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    print(f"trained in {meta['train_seconds']:.0f}s -> {args.out}", flush=True)
    if not args.no_eval:
        from .evaluate import EvalSettings, evaluate_all, write_results

        k = min(1.0, args.scale * 4)
        settings = EvalSettings(n=max(10, round(200 * k)), items=max(10, round(150 * k)),
                                seed=10_000 + args.seed, speed_calls=max(8, round(64 * k)))
        write_results(evaluate_all(args.out, settings), args.out, docs=args.out == MODELS_DIR)
    return meta


def _data(seed: int, scale: float) -> dict:
    scenes, whole = training_scenes(seed, max(64, int(N_SCENES * scale)))
    rng = np.random.default_rng(seed + 2)
    extra = [make_scene(rng, float(rng.uniform() ** HARD_SKEW), n_signs=2)
             for _ in range(max(32, int(N_TEXT_SCENES * scale)))]
    spec = SPECS["text-tiny"]
    return {"scenes": scenes, "crops": crop_examples(scenes, seed + 1),
            "text": text_examples(whole + extra, seed + 3, spec["height"], spec["width"])}


def _old_meta(out: Path) -> dict:
    try:
        return json.loads((out / META_FILE).read_text())
    except (OSError, ValueError):
        return {}


if __name__ == "__main__":
    main()
