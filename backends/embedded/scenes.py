"""A deterministic synthetic scene generator: coloured shapes on noisy backgrounds.

Every scene is drawn from a `numpy.random.Generator`, so a seed fixes it. A scene is a
128x128 RGB uint8 image with 1-6 objects, each a *shape* from `SHAPES` with a *color*
from `COLORS`, plus ground-truth boxes in DSL coordinates (y up, see `backends/base.py`).

`difficulty` in [0, 1] is the knob that makes routing worth learning: at 0 objects are
big, saturated and few on a smooth background; at 1 they are small, low-contrast,
slightly rotated and blurred, among clutter (lines, blobs) and pixel noise. `EASY` and
`HARD` are the difficulty ranges the stream and the evaluation use.

Depth ground truth follows a pinhole camera: an object of side `s` pixels lies at depth
`DEPTH_REF / s` (all shapes have the same physical size), which the `depth-heuristic`
backend inverts from a crop's size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..geometry import iou as _iou

SIZE = 128
SHAPES = ("circle", "square", "triangle", "star", "diamond")
COLORS = ("red", "green", "blue", "yellow", "purple", "orange")
PALETTE = {
    "red": (215, 35, 35),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 215, 40),
    "purple": (150, 50, 190),
    "orange": (245, 135, 20),
}
EASY = (0.0, 0.3)
HARD = (0.7, 1.0)
DEPTH_REF = 256.0  # depth (arbitrary units) of an object of side 1 px
SMALL_MAX_SIDE = 22  # objects whose longest side is at most this are "small"


@dataclass(frozen=True)
class SceneObject:
    """One drawn object: shape, color, box (left, lower, right, upper; y up), depth."""

    shape: str
    color: str
    box: tuple[int, int, int, int]
    depth: float

    @property
    def size(self) -> str:
        """'small' or 'large', from the longest side of the box."""
        side = max(self.box[2] - self.box[0], self.box[3] - self.box[1])
        return "small" if side <= SMALL_MAX_SIDE else "large"


@dataclass
class Scene:
    """An image (H, W, 3 uint8, row 0 at the top) and its ground-truth objects."""

    image: np.ndarray
    objects: list[SceneObject] = field(default_factory=list)
    difficulty: float = 0.0

    def count(self, shape: str | None = None, color: str | None = None) -> int:
        return sum(
            (shape is None or o.shape == shape) and (color is None or o.color == color)
            for o in self.objects
        )


def sample_difficulty(rng: np.random.Generator, hard: bool) -> float:
    """A difficulty drawn uniformly from `HARD` or `EASY`."""
    lo, hi = HARD if hard else EASY
    return float(rng.uniform(lo, hi))


def shape_polygon(shape: str, cx: float, cy: float, side: float, angle: float) -> list:
    """Vertices (x, row) of a shape centred at (cx, cy) in array coordinates."""
    r = side / 2.0
    if shape == "circle":
        pts = [(math.cos(t), math.sin(t)) for t in np.linspace(0, 2 * math.pi, 32, False)]
    elif shape == "square":
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    elif shape == "triangle":
        pts = [(0, -1), (1, 0.85), (-1, 0.85)]
    elif shape == "diamond":
        pts = [(0, -1), (0.8, 0), (0, 1), (-0.8, 0)]
    elif shape == "star":
        pts = []
        for k in range(10):
            t = -math.pi / 2 + k * math.pi / 5
            rad = 1.0 if k % 2 == 0 else 0.42
            pts.append((rad * math.cos(t), rad * math.sin(t)))
    else:
        raise ValueError(f"unknown shape {shape!r}")
    ca, sa = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in pts]


def _background(rng: np.random.Generator, d: float) -> np.ndarray:
    """A muted base colour with low-frequency texture; more texture when harder."""
    base = rng.uniform(90, 190) + rng.uniform(-25, 25, size=3)
    grid = rng.normal(0, 12 + 30 * d, size=(6, 6, 3))
    tex = Image.fromarray(np.clip(grid + 128, 0, 255).astype(np.uint8)).resize(
        (SIZE, SIZE), Image.BICUBIC
    )
    img = base + (np.asarray(tex, dtype=np.float32) - 128.0)
    return np.clip(img, 0, 255)


def _clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, d: float) -> None:
    """Distractors outside the vocabulary: lines and irregular blobs."""
    for _ in range(int(rng.poisson(7 * d))):
        color = tuple(int(c) for c in rng.integers(30, 230, size=3))
        if rng.random() < 0.5:
            x0, y0, x1, y1 = rng.uniform(0, SIZE, size=4)
            draw.line([(x0, y0), (x1, y1)], fill=color, width=int(rng.integers(1, 4)))
        else:
            cx, cy = rng.uniform(0, SIZE, size=2)
            k = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * math.pi, size=k))
            rad = rng.uniform(2, 8, size=k)
            pts = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(ang, rad)]
            draw.polygon(pts, fill=color)


def _pick(rng, forbid: Iterable[tuple[str, str | None]]) -> tuple[str, str]:
    """A random (shape, color) not matching any forbidden (shape, color-or-None)."""
    for _ in range(100):
        shape, color = SHAPES[rng.integers(len(SHAPES))], COLORS[rng.integers(len(COLORS))]
        if not any(s == shape and c in (None, color) for s, c in forbid):
            return shape, color
    raise ValueError(f"forbid excludes every object: {forbid}")


def _object_color(rng, color: str, bg: np.ndarray, d: float) -> tuple[int, int, int]:
    """The palette colour, jittered and blended towards the background when hard."""
    alpha = rng.uniform(0, 0.5 * d)
    jitter = rng.normal(0, 6 + 16 * d, size=3)
    rgb = (1 - alpha) * np.array(PALETTE[color]) + alpha * bg + jitter
    return tuple(int(v) for v in np.clip(rgb, 0, 255))


def make_scene(
    rng: np.random.Generator,
    difficulty: float,
    require: Sequence[tuple[str, str]] = (),
    forbid: Sequence[tuple[str, str | None]] = (),
    n_objects: int | None = None,
) -> Scene:
    """Draw one scene.

    `require` lists (shape, color) objects that must appear; the other objects are drawn at
    random but never match `forbid` entries (shape, color), where color None forbids the
    shape in any color. `n_objects` defaults to 1-3 on easy scenes, up to 6 on hard ones.
    """
    d = float(np.clip(difficulty, 0.0, 1.0))
    if n_objects is None:
        n_objects = int(rng.integers(1, 4 + round(3 * d)))
    n_objects = max(n_objects, len(require))
    bg = _background(rng, d)
    img = Image.fromarray(bg.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    if d > 0.3:
        _clutter(draw, rng, d)
    lo, hi = 26 - 15 * d, 44 - 24 * d
    objects: list[SceneObject] = []
    taken: list[tuple[float, float, float, float]] = []
    for i in range(n_objects):
        shape, color = require[i] if i < len(require) else _pick(rng, forbid)
        for _ in range(30):
            side = float(rng.uniform(lo, hi))
            cx, cy = rng.uniform(side / 2 + 1, SIZE - side / 2 - 1, size=2)
            angle = math.radians(rng.uniform(-15, 15) * d) if shape != "circle" else 0.0
            pts = shape_polygon(shape, cx, cy, side, angle)
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            box = (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
            if all(_iou(box, t) < 0.05 for t in taken):
                break
        else:
            if i >= len(require):
                continue
        taken.append(box)
        local = bg[int(cy), int(cx)]
        draw.polygon(pts, fill=_object_color(rng, color, local, d))
        left, top = max(0, int(box[0])), max(0, int(box[1]))
        right, bottom = min(SIZE, int(math.ceil(box[2]))), min(SIZE, int(math.ceil(box[3])))
        dsl = (left, SIZE - bottom, right, SIZE - top)
        objects.append(SceneObject(shape, color, dsl, DEPTH_REF / max(right - left, bottom - top)))
    if d > 0.5:
        img = img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0, 0.9 * d))))
    arr = np.asarray(img, dtype=np.float32)
    arr = arr + rng.normal(0, 2 + 22 * d ** 1.5, size=arr.shape)
    return Scene(np.clip(arr, 0, 255).astype(np.uint8), objects, d)
