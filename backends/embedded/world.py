"""The world as data: scenes written to a folder with their ground truth (docs/world.md).

`generate_world(WorldSettings(n, seed, difficulty), out)` writes `out/images/NNNNN.png`,
`out/scenes.jsonl` (one ground-truth record per image, `scene_record`) and
`out/world.json` (the settings and the vocabulary). Scene `i` is drawn from
`numpy.random.default_rng([seed, i])` alone, so it does not depend on `n`, and the same
settings give byte-identical files (for one numpy and Pillow version).

`relations(objects)` is the one definition of left of / above / near / inside, from the
boxes; `read_world(dir)` loads a written world back.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .scenes import (CATEGORIES, COLORS, EASY, HARD, PALETTE, SHAPES, SIZE, SMALL_MAX_SIDE,
                     Nuisances, Scene, SceneObject, make_scene)
from .text import CHARSET, DIGITS, SIGN_NUMBERS, WORDS

FORMAT_VERSION = 1
DIFFICULTIES = ("easy", "hard", "mixed")
REL_MARGIN = 4.0  # px: left of / above need the centres this far apart
NEAR_PX = 8.0  # px: near = edge distance (the DSL's distance()) at most this


@dataclass(frozen=True)
class WorldSettings:
    """What `fmprog world generate` draws: `n` scenes from `seed` at `difficulty` (easy,
    hard, mixed or a number in [0, 1])."""

    n: int
    seed: int = 0
    difficulty: str | float = "mixed"

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be a positive integer, got {self.n!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        object.__setattr__(self, "difficulty", parse_difficulty(self.difficulty))


def parse_difficulty(value: str | float) -> str | float:
    """'easy', 'hard', 'mixed' or a float in [0, 1] (also given as text)."""
    if isinstance(value, str) and value.strip().lower() in DIFFICULTIES:
        return value.strip().lower()
    try:
        d = float(value)
    except (TypeError, ValueError):
        d = math.nan
    if not 0.0 <= d <= 1.0:  # also rejects NaN
        raise ValueError(f"difficulty must be easy, hard, mixed or a number in [0, 1], "
                         f"got {value!r}")
    return d


def scene_difficulty(rng: np.random.Generator, difficulty: str | float) -> float:
    """A scene's difficulty: uniform in EASY or HARD; for 'mixed', easy or hard with
    probability 1/2 each; a number is used as it is."""
    if difficulty == "mixed":
        difficulty = "hard" if rng.random() < 0.5 else "easy"
    if difficulty in ("easy", "hard"):
        lo, hi = HARD if difficulty == "hard" else EASY
        return float(rng.uniform(lo, hi))
    return float(difficulty)


def scene_at(settings: WorldSettings, index: int) -> Scene:
    """Scene `index` of a world: depends on (seed, index, difficulty) only."""
    rng = np.random.default_rng([settings.seed, index])
    return make_scene(rng, scene_difficulty(rng, settings.difficulty))


# -- relations -------------------------------------------------------------------------------
def centre(box: Sequence[float]) -> tuple[float, float]:
    """(horizontal, vertical) centre of a DSL box, y up."""
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def edge_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Distance between the edges of two boxes, 0 when they overlap (the DSL's distance())."""
    dx = max(a[0] - b[2], b[0] - a[2], 0)
    dy = max(a[1] - b[3], b[1] - a[3], 0)
    return float(math.hypot(dx, dy))


def left_of(a: Sequence[float], b: Sequence[float]) -> bool:
    """a's centre is at least REL_MARGIN px left of b's."""
    return centre(b)[0] - centre(a)[0] >= REL_MARGIN


def above(a: Sequence[float], b: Sequence[float]) -> bool:
    """a's centre is at least REL_MARGIN px above b's (y up)."""
    return centre(a)[1] - centre(b)[1] >= REL_MARGIN


def near(a: Sequence[float], b: Sequence[float]) -> bool:
    """The boxes' edges are at most NEAR_PX apart."""
    return edge_distance(a, b) <= NEAR_PX


def inside(a: Sequence[float], b: Sequence[float]) -> bool:
    """Box a lies within box b and is smaller."""
    within = a[0] >= b[0] and a[1] >= b[1] and a[2] <= b[2] and a[3] <= b[3]
    return within and (a[2] - a[0]) * (a[3] - a[1]) < (b[2] - b[0]) * (b[3] - b[1])


def relations(objects: Sequence[SceneObject]) -> dict[str, list[list[int]]]:
    """Every true relation as [i, j] index pairs: left_of and above (i is left of / above
    j), near (symmetric, i < j), inside (i inside j)."""
    out: dict[str, list[list[int]]] = {"left_of": [], "above": [], "near": [], "inside": []}
    for i, a in enumerate(objects):
        for j, b in enumerate(objects):
            if i == j:
                continue
            for name, rule in (("left_of", left_of), ("above", above), ("inside", inside)):
                if rule(a.box, b.box):
                    out[name].append([i, j])
            if i < j and near(a.box, b.box):
                out["near"].append([i, j])
    return out


# -- records -------------------------------------------------------------------------------
def object_record(o: SceneObject, index: int) -> dict:
    """One object's ground truth as JSON-able data (docs/world.md, `objects`)."""
    return {
        "id": index, "shape": o.shape, "color": o.color, "box": list(o.box), "side": o.side,
        "size": o.size, "depth": o.depth, "text": o.text,
        "text_box": list(o.text_box) if o.text_box else None, "contrast": o.contrast,
        "text_contrast": o.text_contrast, "visible": o.visible, "rotation": o.rotation,
        "inside": o.inside, "z": o.z,
    }


def scene_record(scene: Scene, index: int, image: str, seed: int | None = None) -> dict:
    """A scene's ground truth: one line of scenes.jsonl (docs/world.md)."""
    h, w = scene.image.shape[:2]
    return {
        "image": image, "index": index, "seed": seed, "width": w, "height": h,
        "difficulty": round(scene.difficulty, 4),
        "nuisances": {"blur": scene.blur, "noise": scene.noise, "clutter": len(scene.clutter)},
        "objects": [object_record(o, i) for i, o in enumerate(scene.objects)],
        "clutter": scene.clutter,
        "relations": relations(scene.objects),
    }


def object_from_record(r: dict) -> SceneObject:
    tb = r.get("text_box")
    return SceneObject(r["shape"], r["color"], tuple(r["box"]), r["depth"], r.get("text"),
                       tuple(tb) if tb else None, r.get("contrast", 1.0), r.get("text_contrast"),
                       r.get("visible", 1.0), r.get("rotation", 0.0), r.get("inside"),
                       r.get("z", 0))


def vocabulary() -> dict:
    """What world.json lists: the categories, colors, words and thresholds of the world."""
    return {"shapes": list(SHAPES), "categories": list(CATEGORIES), "colors": list(COLORS),
            "palette": {k: list(v) for k, v in PALETTE.items()}, "words": list(WORDS),
            "sign_numbers": [SIGN_NUMBERS[0], SIGN_NUMBERS[-1]], "digits": list(DIGITS),
            "charset": CHARSET, "small_max_side": SMALL_MAX_SIDE, "rel_margin": REL_MARGIN,
            "near_px": NEAR_PX, "easy": list(EASY), "hard": list(HARD), "size": SIZE}


# -- writing and reading -------------------------------------------------------------------
def write_png(image: np.ndarray, path: Path) -> None:
    """PNG without metadata: the same pixels give the same bytes."""
    from PIL import Image

    Image.fromarray(image).save(path, format="PNG", optimize=False, compress_level=6)


def generate_world(settings: WorldSettings, out: str | Path, progress: bool = False) -> Path:
    """Write the scenes of `settings` to `out` (created; existing files are replaced)."""
    from tqdm import tqdm

    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(settings.n - 1)))
    lines = []
    for i in tqdm(range(settings.n), disable=not progress, unit="img", mininterval=0.5,
                  dynamic_ncols=True, desc="world"):
        scene = scene_at(settings, i)
        name = f"images/{i:0{width}d}.png"
        write_png(scene.image, out / name)
        lines.append(json.dumps(scene_record(scene, i, name, settings.seed)))
    (out / "scenes.jsonl").write_text("".join(line + "\n" for line in lines))
    info = {"format": FORMAT_VERSION, "n": settings.n, "seed": settings.seed,
            "difficulty": settings.difficulty, "nuisances_at_0": Nuisances.at(0).__dict__,
            "nuisances_at_1": Nuisances.at(1).__dict__, **vocabulary()}
    (out / "world.json").write_text(json.dumps(info, indent=1) + "\n")
    return out


def read_world(folder: str | Path) -> Iterator[tuple[dict, np.ndarray]]:
    """(record, image) for every line of `folder/scenes.jsonl`."""
    from PIL import Image

    folder = Path(folder)
    path = folder / "scenes.jsonl"
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON: {e.msg}") from None
        with Image.open(folder / rec["image"]) as im:
            yield rec, np.asarray(im.convert("RGB"))
