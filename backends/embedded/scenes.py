"""The world: deterministic synthetic scenes of shapes and signs, with their ground truth.

Every scene is drawn from a `numpy.random.Generator`, so a seed fixes it. A scene is a
128x128 RGB uint8 image holding *shapes* (`SHAPES`, one of `COLORS`, sometimes with a
digit written on them) and *signs* (a plate of one of `COLORS` carrying a word or a
number), among distractors, and the exact ground truth of every object: category, color,
box in DSL coordinates (left, lower, right, upper; y up), size, text, depth, how much of
it is visible, its contrast. docs/world.md is the contract for these fields.

`difficulty` in [0, 1] drives every nuisance at once (`Nuisances.at`): at 0 objects are
big, saturated and few on a smooth background and text is large; at 1 they are small,
low-contrast, rotated, overlapping (occluded), blurred, noisy, among clutter, and text is
5 px high. `EASY` and `HARD` are the difficulty ranges streams and evaluations use.

Depth follows a pinhole camera: every object has the same physical size, so an object
whose longest side is `s` pixels lies at depth `DEPTH_REF / s`; an object inside another
lies on it (its container's depth). Objects are drawn far to near, so an occluder is
always nearer than what it hides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .text import CAP_HEIGHT, DIGITS, SIGN_NUMBERS, WORDS, draw_text, text_extent

SIZE = 128
SHAPES = ("circle", "square", "triangle", "star", "diamond")
SIGN = "sign"
CATEGORIES = SHAPES + (SIGN,)  # what the detectors find
COLORS = ("red", "green", "blue", "yellow", "purple", "orange")
PALETTE = {
    "red": (215, 35, 35),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 215, 40),
    "purple": (150, 50, 190),
    "orange": (245, 135, 20),
}
INK = {"dark": (25, 25, 25), "light": (245, 245, 245)}
EASY = (0.0, 0.3)
HARD = (0.7, 1.0)
DEPTH_REF = 256.0  # depth (arbitrary units) of an object whose longest side is 1 px
SMALL_MAX_SIDE = 22  # objects whose longest side is at most this are "small"
DIGIT_MIN_SIDE = 16  # shapes smaller than this never carry a digit
CONTAINER_MIN_SIDE = 30  # smallest square/circle/sign another object may sit inside


@dataclass(frozen=True)
class Nuisances:
    """What a difficulty does to a scene: ranges the per-object draws are taken from.

    `Nuisances.at(d)` is the one mapping from difficulty to nuisances (docs/world.md lists
    it); `make_scene` draws every object's size, contrast, pose and text inside them.
    """

    max_shapes: int            # shapes per scene: uniform in 1..max_shapes
    side: tuple[float, float]  # a shape's longest side, px
    font: tuple[int, int]      # sign font size, px (cap height ~0.7 of it)
    fade: float                # an object's color is blended up to this far into the background
    text_fade: float           # text ink is blended up to this far into its plate or shape
    overlap: float             # largest share of a shape's box another shape may cover
    rotation: float            # shapes are rotated by up to +- this many degrees
    blur: float                # Gaussian blur sigma drawn in [0, blur] px (0: no blur)
    noise: float               # pixel noise standard deviation (0..255 scale)
    clutter: float             # mean number of distractor lines and blobs (Poisson)
    digit_rate: float          # probability that a shape big enough carries a digit
    inside_rate: float         # probability of one shape placed inside a container

    @staticmethod
    def at(difficulty: float) -> "Nuisances":
        d = float(np.clip(difficulty, 0.0, 1.0))
        return Nuisances(
            max_shapes=3 + round(3 * d),
            side=(26 - 15 * d, 44 - 24 * d),
            font=(round(14 - 4 * d), round(19 - 6 * d)),
            fade=0.55 * d,
            text_fade=0.35 * d,
            overlap=0.05 + 0.45 * max(0.0, d - 0.3) / 0.7,
            rotation=15 * d,
            blur=0.9 * d if d > 0.5 else 0.0,
            noise=2 + 18 * d ** 1.5,
            clutter=7 * d if d > 0.3 else 0.0,
            digit_rate=0.35,
            inside_rate=0.2,
        )


@dataclass(frozen=True)
class Spec:
    """A pattern over objects: None matches anything. As a requirement it fixes what is
    given (`text=""` asks for no text) and draws the rest."""

    shape: str | None = None
    color: str | None = None
    text: str | None = None
    size: str | None = None

    @staticmethod
    def of(x: "Spec | tuple | dict") -> "Spec":
        """A Spec from a Spec, a (shape, color) tuple or a dict of its fields."""
        if isinstance(x, Spec):
            spec = x
        elif isinstance(x, dict):
            spec = Spec(**x)
        else:
            spec = Spec(*x)
        if spec.shape is not None and spec.shape not in CATEGORIES:
            raise ValueError(f"unknown shape {spec.shape!r}; known: {list(CATEGORIES)}")
        if spec.color is not None and spec.color not in COLORS:
            raise ValueError(f"unknown color {spec.color!r}; known: {list(COLORS)}")
        if spec.size not in (None, "small", "large"):
            raise ValueError(f"size must be 'small' or 'large', got {spec.size!r}")
        return spec

    def matches(self, obj: "SceneObject") -> bool:
        return ((self.shape is None or obj.shape == self.shape)
                and (self.color is None or obj.color == self.color)
                and (self.text is None or (obj.text or "") == self.text)
                and (self.size is None or obj.size == self.size))


@dataclass(frozen=True)
class SceneObject:
    """One drawn object and its ground truth (docs/world.md, `objects`)."""

    shape: str                          # one of CATEGORIES
    color: str                          # one of COLORS (a sign's plate color)
    box: tuple[int, int, int, int]      # left, lower, right, upper; y up; end-exclusive
    depth: float                        # DEPTH_REF / longest side (a container's if inside)
    text: str | None = None             # the word/number on a sign, the digit on a shape
    text_box: tuple[int, int, int, int] | None = None  # the text's ink, DSL coordinates
    contrast: float = 1.0               # share of the palette color kept (1 - fade)
    text_contrast: float | None = None  # share of the ink color kept
    visible: float = 1.0                # share of the object's pixels not covered later
    rotation: float = 0.0               # degrees, counter-clockwise on screen
    inside: int | None = None           # index of the object it lies inside, if any
    z: int = 0                          # drawing order: higher is drawn later (nearer)

    @property
    def side(self) -> int:
        """The longest side of the box, px."""
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])

    @property
    def size(self) -> str:
        """'small' or 'large', from the longest side of the box."""
        return "small" if self.side <= SMALL_MAX_SIDE else "large"


@dataclass
class Scene:
    """An image (H, W, 3 uint8, row 0 at the top) and its ground truth."""

    image: np.ndarray
    objects: list[SceneObject] = field(default_factory=list)
    difficulty: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    clutter: list[dict] = field(default_factory=list)

    def count(self, shape: str | None = None, color: str | None = None) -> int:
        return sum(Spec(shape, color).matches(o) for o in self.objects)

    def find(self, spec: Spec | tuple | dict) -> list[SceneObject]:
        """The objects matching a pattern, in index order."""
        s = Spec.of(spec)
        return [o for o in self.objects if s.matches(o)]


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


# -- drawing the pieces --------------------------------------------------------------------
def _background(rng: np.random.Generator, d: float) -> np.ndarray:
    """A muted base colour with low-frequency texture; more texture when harder."""
    base = rng.uniform(90, 190) + rng.uniform(-25, 25, size=3)
    grid = rng.normal(0, 12 + 30 * d, size=(6, 6, 3))
    tex = Image.fromarray(np.clip(grid + 128, 0, 255).astype(np.uint8)).resize(
        (SIZE, SIZE), Image.BICUBIC
    )
    img = base + (np.asarray(tex, dtype=np.float32) - 128.0)
    return np.clip(img, 0, 255)


def _clutter_item(rng: np.random.Generator) -> dict:
    """One distractor outside the vocabulary: a line or an irregular blob (array coords)."""
    color = tuple(int(c) for c in rng.integers(30, 230, size=3))
    if rng.random() < 0.5:
        pts = [tuple(p) for p in rng.uniform(0, SIZE, size=(2, 2))]
        return {"kind": "line", "points": pts, "color": color, "width": int(rng.integers(1, 4))}
    cx, cy = rng.uniform(0, SIZE, size=2)
    k = int(rng.integers(3, 7))
    ang = np.sort(rng.uniform(0, 2 * math.pi, size=k))
    rad = rng.uniform(2, 8, size=k)
    pts = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(ang, rad)]
    return {"kind": "blob", "points": pts, "color": color, "width": 0}


def _draw_clutter(draw: ImageDraw.ImageDraw, item: dict, fill=None) -> None:
    fill = item["color"] if fill is None else fill
    if item["kind"] == "line":
        draw.line(item["points"], fill=fill, width=item["width"])
    else:
        draw.polygon(item["points"], fill=fill)


def _faded(rng, rgb, toward, fade_max: float, jitter: float) -> tuple[tuple[int, int, int], float]:
    """`rgb` blended up to `fade_max` towards `toward`, jittered; and the share kept."""
    alpha = float(rng.uniform(0, fade_max)) if fade_max > 0 else 0.0
    noise = rng.normal(0, jitter, size=3)
    out = (1 - alpha) * np.asarray(rgb, float) + alpha * np.asarray(toward, float) + noise
    return tuple(int(v) for v in np.clip(out, 0, 255)), 1.0 - alpha


def _ink_for(rgb) -> tuple[int, int, int]:
    """Dark ink on light colors, light ink on dark ones (by luma)."""
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return INK["dark"] if luma > 140 else INK["light"]


# -- planning objects ----------------------------------------------------------------------
@dataclass
class _Plan:
    """An object being placed: what it is and its geometry in array coordinates."""

    shape: str
    color: str
    text: str | None
    side: float = 0.0      # shapes: longest side; signs: font size
    cx: float = 0.0
    cy: float = 0.0
    angle: float = 0.0
    size_of: tuple[float, float] = (0.0, 0.0)  # signs: plate width, height
    inside: int | None = None

    def extent(self) -> tuple[float, float, float, float]:
        """(x0, row0, x1, row1) of what is drawn, end-exclusive."""
        if self.shape == SIGN:
            w, h = self.size_of
            return self.cx - w / 2, self.cy - h / 2, self.cx + w / 2, self.cy + h / 2
        pts = self.polygon()
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return min(xs), min(ys), max(xs) + 1, max(ys) + 1

    def polygon(self) -> list:
        return shape_polygon(self.shape, self.cx, self.cy, self.side, self.angle)


def _sign_size(text: str, font_size: int) -> tuple[float, float]:
    x0, y0, x1, y1 = text_extent(text, font_size)
    h = CAP_HEIGHT * font_size + 0.8 * font_size + 2
    return max((x1 - x0) + 1.2 * font_size + 2, 1.6 * h), h


def _side_range(nz: Nuisances, size: str | None) -> tuple[float, float]:
    lo, hi = nz.side
    if size == "small":
        return min(lo, 14.0), min(hi, SMALL_MAX_SIDE - 0.5)
    if size == "large":
        return max(lo, SMALL_MAX_SIDE + 1.5), max(hi, SMALL_MAX_SIDE + 8.0)
    return lo, hi


def _random_text(rng, shape: str, side: float, nz: Nuisances) -> str | None:
    if shape == SIGN:
        return str(rng.choice(WORDS)) if rng.random() < 0.7 else str(rng.choice(SIGN_NUMBERS))
    if side >= DIGIT_MIN_SIDE and rng.random() < nz.digit_rate:
        return str(rng.choice(DIGITS))
    return None


def _plan(rng, spec: Spec, nz: Nuisances) -> _Plan:
    """Draw what `spec` leaves open: color, size, text, pose."""
    color = spec.color or COLORS[rng.integers(len(COLORS))]
    if spec.shape == SIGN:
        fsize = int(rng.integers(nz.font[0], nz.font[1] + 1))
        text = spec.text or _random_text(rng, SIGN, 0, nz)
        w, h = _sign_size(text, fsize)
        if spec.size is not None and (max(w, h) <= SMALL_MAX_SIDE) != (spec.size == "small"):
            fsize = 7 if spec.size == "small" else max(fsize, 12)
            w, h = _sign_size(text, fsize)
        return _Plan(SIGN, color, text, float(fsize), size_of=(w, h))
    side = float(rng.uniform(*_side_range(nz, spec.size)))
    text = spec.text if spec.text is not None else _random_text(rng, spec.shape, side, nz)
    angle = math.radians(rng.uniform(-nz.rotation, nz.rotation)) if spec.shape != "circle" else 0.0
    return _Plan(spec.shape, color, text or None, side, angle=angle)


def _random_spec(rng, forbid: Sequence[Spec], shape: str | None = None) -> Spec:
    """A random shape (or `shape`) and color not matching any forbidden pattern."""
    for _ in range(200):
        s = shape or SHAPES[rng.integers(len(SHAPES))]
        c = COLORS[rng.integers(len(COLORS))]
        if not any(f.text is None and f.size is None and Spec(f.shape, f.color).matches(
                SceneObject(s, c, (0, 0, 1, 1), 1.0)) for f in forbid):
            return Spec(s, c)
    raise ValueError(f"forbid excludes every object: {list(forbid)}")


def _covered(a, b) -> float:
    """The share of box a's area that box b covers."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = max(1e-9, (a[2] - a[0]) * (a[3] - a[1]))
    return ix * iy / area


def _fits(p: _Plan, placed: list[_Plan], nz: Nuisances) -> bool:
    """Inside the image; signs touch nothing (a 2 px gap); shapes overlap shapes at most
    `nz.overlap` of either box, and never contain one another."""
    e = p.extent()
    if e[0] < 1 or e[1] < 1 or e[2] > SIZE - 1 or e[3] > SIZE - 1:
        return False
    for q in placed:
        f = q.extent()
        if SIGN in (p.shape, q.shape) or q.inside is not None:
            g = (f[0] - 2, f[1] - 2, f[2] + 2, f[3] + 2)
            if _covered(e, g) > 0:
                return False
        elif max(_covered(e, f), _covered(f, e)) > nz.overlap or _covered(e, f) >= 0.999:
            return False
    return True


def _place(rng, p: _Plan, placed: list[_Plan], nz: Nuisances, tries: int = 40) -> bool:
    for _ in range(tries):
        x0, y0, x1, y1 = _Plan(**{**p.__dict__, "cx": 0.0, "cy": 0.0}).extent()
        p.cx = float(rng.uniform(1 - x0, SIZE - 1 - x1)) if x1 - x0 < SIZE - 2 else SIZE / 2
        p.cy = float(rng.uniform(1 - y0, SIZE - 1 - y1)) if y1 - y0 < SIZE - 2 else SIZE / 2
        if _fits(p, placed, nz):
            return True
    return False


def _place_inside(rng, plans: list[_Plan], forbid: Sequence[Spec], nz: Nuisances) -> None:
    """Put one small shape inside a large square, circle or sign-free container."""
    hosts = [i for i, p in enumerate(plans) if p.shape in ("square", "circle")
             and p.side >= CONTAINER_MIN_SIDE and p.text is None and p.inside is None]
    if not hosts:
        return
    h = plans[hosts[int(rng.integers(len(hosts)))]]
    for _ in range(20):
        spec = _random_spec(rng, forbid)
        inner = _Plan(spec.shape, spec.color, None, float(rng.uniform(0.3, 0.42) * h.side),
                      inside=plans.index(h))
        if spec.color != h.color and not any(f.matches(_as_object(inner)) for f in forbid):
            break
    else:
        return
    room = (0.5 if h.shape == "square" else 0.35) * h.side - inner.side / 2
    inner.cx = h.cx + float(rng.uniform(-1, 1)) * max(0.0, room) * 0.5
    inner.cy = h.cy + float(rng.uniform(-1, 1)) * max(0.0, room) * 0.5
    plans.append(inner)


# -- the scene -----------------------------------------------------------------------------
def make_scene(
    rng: np.random.Generator,
    difficulty: float,
    require: Sequence[Spec | tuple | dict] = (),
    forbid: Sequence[Spec | tuple | dict] = (),
    n_objects: int | None = None,
    n_signs: int | None = None,
) -> Scene:
    """Draw one scene.

    `require` lists objects that must appear (a `Spec`, a (shape, color) tuple or a dict;
    unset fields are drawn); the other objects are drawn at random but never match a
    `forbid` pattern (None fields match anything, so ("circle", None) forbids circles).
    `n_objects` (shapes, default uniform in 1..max_shapes) and `n_signs` (default 0, 1
    or 2 with probabilities 0.45, 0.4, 0.15) count the required ones too. A required
    object that finds no room is still drawn (it may then overlap others).
    """
    d = float(np.clip(difficulty, 0.0, 1.0))
    nz = Nuisances.at(d)
    req, forb = [Spec.of(r) for r in require], [Spec.of(f) for f in forbid]
    if any(r.shape is None for r in req):
        raise ValueError("every required object needs a shape")
    plans = _plans(rng, d, nz, req, forb, n_objects, n_signs)
    bg = _background(rng, d)
    img = Image.fromarray(bg.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    clutter = [_clutter_item(rng) for _ in range(int(rng.poisson(nz.clutter)))]
    front = [c for c in clutter if d > 0.6 and rng.random() < 0.3]
    for c in clutter:
        if not any(c is f for f in front):
            _draw_clutter(draw, c)
    order = _drawing_order(plans)
    drawn = [_draw_object(draw, rng, plans[i], bg, nz) for i in order]
    for c in front:
        _draw_clutter(draw, c)
    visible = _visibility([plans[i] for i in order], front)
    objects = _ground_truth(plans, order, drawn, visible)
    blur = float(rng.uniform(0, nz.blur)) if nz.blur > 0 else 0.0
    if blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(radius=blur))
    arr = np.asarray(img, dtype=np.float32)
    arr = arr + rng.normal(0, nz.noise, size=arr.shape)
    items = [_clutter_record(c, any(c is f for f in front)) for c in clutter]
    return Scene(np.clip(arr, 0, 255).astype(np.uint8), objects, d, round(blur, 3),
                 round(nz.noise, 3), items)


def _plans(rng, d, nz, req, forb, n_objects, n_signs) -> list[_Plan]:
    """Every object's plan, placed: required ones first, then random shapes and signs."""
    n_req_shapes = sum(r.shape != SIGN for r in req)
    if n_objects is None:
        n_objects = int(rng.integers(1, nz.max_shapes + 1))
    if n_signs is None:
        n_signs = int(rng.choice(3, p=(0.45, 0.4, 0.15)))
    n_req_signs = len(req) - n_req_shapes
    todo = [(r, True) for r in req]
    todo += [(None, False)] * max(0, n_objects - n_req_shapes)
    todo += [(Spec(SIGN), False)] * max(0, n_signs - n_req_signs)
    plans: list[_Plan] = []
    for spec, required in todo:
        p = _plan(rng, spec, nz) if required else _allowed_plan(rng, spec, nz, forb)
        if _place(rng, p, plans, nz) or required:
            plans.append(p)
    if rng.random() < nz.inside_rate:
        _place_inside(rng, plans, forb, nz)
    return plans


def _allowed_plan(rng, spec: Spec | None, nz: Nuisances, forbid: Sequence[Spec]) -> _Plan:
    """A random plan (a shape when `spec` is None, else of `spec`) matching no forbidden
    pattern."""
    for _ in range(200):
        s = spec or _random_spec(rng, forbid)
        p = _plan(rng, Spec(s.shape, s.color if spec is None else None), nz)
        if not any(f.matches(_as_object(p)) for f in forbid):
            return p
    raise ValueError(f"forbid excludes every object: {list(forbid)}")


def _as_object(p: _Plan) -> SceneObject:
    """A stand-in object with the plan's category, color, text and size (for patterns)."""
    x0, y0, x1, y1 = p.extent() if p.shape == SIGN else (0, 0, p.side, p.side)
    return SceneObject(p.shape, p.color, (0, 0, math.ceil(x1 - x0), math.ceil(y1 - y0)), 1.0,
                       text=p.text)


def _depth_of(p: _Plan, plans: list[_Plan]) -> float:
    """DEPTH_REF / the longest side of the object's box (its container's, when inside)."""
    host = plans[p.inside] if p.inside is not None else p
    left, lower, right, upper = _dsl_box(*host.extent())
    return DEPTH_REF / max(1, right - left, upper - lower)


def _drawing_order(plans: list[_Plan]) -> list[int]:
    """Far to near (painter's algorithm); an inside object right after its container."""
    key = lambda i: (-_depth_of(plans[i], plans), plans[i].inside is not None, i)  # noqa: E731
    return sorted(range(len(plans)), key=key)


def _draw_object(draw, rng, p: _Plan, bg: np.ndarray, nz: Nuisances) -> dict:
    """Draw one object; returns its contrasts and text ink box (array coords)."""
    local = bg[int(np.clip(p.cy, 0, SIZE - 1)), int(np.clip(p.cx, 0, SIZE - 1))]
    rgb, contrast = _faded(rng, PALETTE[p.color], local, nz.fade, 6 + 16 * nz.fade / 0.55)
    if p.shape == SIGN:
        x0, y0, x1, y1 = p.extent()
        edge = tuple(int(v * 0.6) for v in rgb)
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=rgb, outline=edge)
    else:
        draw.polygon(p.polygon(), fill=rgb)
    out = {"contrast": round(contrast, 3), "text_contrast": None, "text_box": None}
    if p.text:
        ink, kept = _faded(rng, _ink_for(rgb), rgb, nz.text_fade, 4)
        size = int(p.side) if p.shape == SIGN else max(6, round(0.55 * p.side))
        cy = p.cy + (0.12 * p.side if p.shape == "triangle" else 0.0)
        out["text_box"] = draw_text(draw, p.text, p.cx, cy, size, ink)
        out["text_contrast"] = round(kept, 3)
    return out


def _mask(p: _Plan) -> np.ndarray:
    m = Image.new("L", (SIZE, SIZE), 0)
    dr = ImageDraw.Draw(m)
    if p.shape == SIGN:
        x0, y0, x1, y1 = p.extent()
        dr.rectangle([x0, y0, x1 - 1, y1 - 1], fill=1)
    else:
        dr.polygon(p.polygon(), fill=1)
    return np.asarray(m, bool)


def _visibility(ordered: list[_Plan], front: list[dict]) -> list[float]:
    """For objects in drawing order: the share of their pixels nothing later covers."""
    masks = [_mask(p) for p in ordered]
    cover = np.zeros((SIZE, SIZE), bool)
    if front:
        m = Image.new("L", (SIZE, SIZE), 0)
        for c in front:
            _draw_clutter(ImageDraw.Draw(m), c, fill=1)
        cover = np.asarray(m, bool).copy()
    out = [0.0] * len(masks)
    for k in range(len(masks) - 1, -1, -1):
        total = int(masks[k].sum())
        out[k] = round(float((masks[k] & ~cover).sum()) / max(1, total), 3)
        cover |= masks[k]
    return out


def _dsl_box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
    """Array extent (x, row, end-exclusive) -> integer DSL box clipped to the image."""
    left, top = max(0, int(x0)), max(0, int(y0))
    right, bottom = min(SIZE, int(math.ceil(x1))), min(SIZE, int(math.ceil(y1)))
    return left, SIZE - bottom, right, SIZE - top


def _ground_truth(plans, order, drawn, visible) -> list[SceneObject]:
    """SceneObjects in plan order (required objects first)."""
    z_of = {i: z for z, i in enumerate(order)}
    out = []
    for i, p in enumerate(plans):
        info = drawn[z_of[i]]
        tb = _dsl_box(*info["text_box"]) if info["text_box"] else None
        rot = round(-math.degrees(p.angle), 2) if p.shape not in (SIGN, "circle") else 0.0
        out.append(SceneObject(
            p.shape, p.color, _dsl_box(*p.extent()), round(_depth_of(p, plans), 4), p.text, tb,
            info["contrast"], info["text_contrast"], visible[z_of[i]], rot, p.inside, z_of[i]))
    return out


def _clutter_record(c: dict, in_front: bool) -> dict:
    xs, ys = [p[0] for p in c["points"]], [p[1] for p in c["points"]]
    pad = c["width"] / 2
    return {"kind": c["kind"], "box": list(_dsl_box(min(xs) - pad, min(ys) - pad,
                                                     max(xs) + pad + 1, max(ys) + pad + 1)),
            "in_front": in_front}


def with_objects(scene: Scene, objects: Iterable[SceneObject]) -> Scene:
    """A copy of the scene with other ground truth (e.g. after cropping)."""
    return replace(scene, objects=list(objects))
