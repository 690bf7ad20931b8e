"""Streams of a benchmark query: seeded scenes drawn by a recipe, labelled by the rule.

A stream is split into blocks of `one_in` images; each block holds exactly one image of
the query's *rare class* (a positive of a yes/no query, an N/A distractor of an open-form
one) at a position drawn from `default_rng([suite seed, query seed, 0, block])`. Image
`i` is drawn from `default_rng([suite seed, query seed, 1, i])` alone: one of the
recipe's cases for its class (chosen by weight), a difficulty (hard with probability
`hard_share`), a scene from `scenes.make_scene`, and its label from the rule on the
scene's ground-truth record. A scene whose label is undecided or of the other class is
drawn again from the same generator. So image `i` does not depend on the stream's length:
a stream of 40 is the first 40 images of the stream of 1000, and a stream is extended in
place, byte for byte what a fresh generation writes. With `balance` (open-form), each
answer image first draws its target label uniformly from that list and is drawn again
until the rule gives it, so no single answer dominates a stream.

A case (docs/benchmarks.md, "Generation recipes") is {"weight", "require", "forbid",
"n_objects", "n_signs", "difficulty"}; a required object's field may be a value, a list
(one drawn), {"not": value or list} (drawn from the rest of the field's values) or, for
text, {"range": [lo, hi]} (a number drawn as text) or {"kind": "word" or "number"};
"repeat": k or [lo, hi] asks for several. A difficulty is easy, hard, mixed (hard with
probability `hard_share`) or [lo, hi] (uniform).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fmprog.backends.embedded.scenes import COLORS, EASY, HARD, SHAPES, SIGN, Spec, make_scene
from fmprog.backends.embedded.text import DIGITS, SIGN_NUMBERS, WORDS
from fmprog.backends.embedded.world import scene_record, write_png

from .labels import NA, RuleError, label

STREAM_FORMAT = 1
MAX_DRAWS = 400  # draws per image before a recipe is declared unable to make its class
CASE_KEYS = ("weight", "require", "forbid", "n_objects", "n_signs", "difficulty")
SPEC_KEYS = ("shape", "color", "text", "size", "repeat")
DOMAINS = {"shape": SHAPES + (SIGN,), "color": COLORS, "size": ("small", "large")}


class RecipeError(ValueError):
    """A recipe that does not follow the format, or that cannot make what it must."""


@dataclass(frozen=True)
class StreamSpec:
    """What a query's stream is drawn from (the part of its definition that makes it)."""

    query: str
    rule: dict
    recipe: dict            # {class: [case, ...]}: binary "yes"/"no", open-form "answer"/"n/a"
    binary: bool
    suite_seed: int
    seed: int
    one_in: int             # one image of the rare class per block of this many
    hard_share: float = 0.5
    balance: tuple[str, ...] = ()  # open-form: answer images spread evenly over these labels

    @property
    def rare(self) -> str:
        return "yes" if self.binary else NA

    def definition(self) -> dict:
        return {"format": STREAM_FORMAT, "query": self.query, "rule": self.rule,
                "recipe": self.recipe, "binary": self.binary, "suite_seed": self.suite_seed,
                "seed": self.seed, "one_in": self.one_in, "hard_share": self.hard_share,
                "balance": list(self.balance)}

    def digest(self) -> str:
        text = json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


# -- checking --------------------------------------------------------------------------------
def check_recipe(recipe: Any, binary: bool, where: str) -> None:
    """Raise RecipeError unless the recipe has a list of cases for each class."""
    classes = ("yes", "no") if binary else ("answer", NA)
    if not isinstance(recipe, dict) or set(recipe) != set(classes):
        raise RecipeError(f"{where}: an object with the classes {list(classes)}, got "
                          f"{sorted(recipe) if isinstance(recipe, dict) else recipe!r}")
    for cls in classes:
        cases = recipe[cls]
        if not isinstance(cases, list) or not cases:
            raise RecipeError(f"{where}.{cls}: a non-empty list of cases")
        for i, case in enumerate(cases):
            _check_case(case, f"{where}.{cls}[{i}]")


def _check_case(case: Any, where: str) -> None:
    if not isinstance(case, dict):
        raise RecipeError(f"{where}: a case must be an object, got {case!r}")
    extra = sorted(set(case) - set(CASE_KEYS))
    if extra:
        raise RecipeError(f"{where}: unknown key(s) {extra}; known: {list(CASE_KEYS)}")
    if not isinstance(case.get("weight", 1), (int, float)) or case.get("weight", 1) <= 0:
        raise RecipeError(f"{where}.weight: a positive number, got {case.get('weight')!r}")
    for k in ("n_objects", "n_signs"):
        if k in case:
            _check_range(case[k], f"{where}.{k}")
    d = case.get("difficulty", "mixed")
    ranged = isinstance(d, list) and len(d) == 2 and all(isinstance(x, (int, float)) for x in d) \
        and 0 <= d[0] <= d[1] <= 1
    if d not in ("easy", "hard", "mixed") and not ranged:
        raise RecipeError(f"{where}.difficulty: easy, hard, mixed or [lo, hi] in [0, 1], got {d!r}")
    for key in ("require", "forbid"):
        for j, spec in enumerate(case.get(key, [])):
            _check_spec(spec, f"{where}.{key}[{j}]", key == "require")


def _check_range(v: Any, where: str) -> None:
    ok = isinstance(v, int) and v >= 0 or (isinstance(v, list) and len(v) == 2
                                            and all(isinstance(x, int) and x >= 0 for x in v) and v[0] <= v[1])
    if not ok:
        raise RecipeError(f"{where}: a count or [min, max], got {v!r}")


def _check_spec(spec: Any, where: str, required: bool) -> None:
    if not isinstance(spec, dict):
        raise RecipeError(f"{where}: an object with {list(SPEC_KEYS)}, got {spec!r}")
    extra = sorted(set(spec) - set(SPEC_KEYS if required else SPEC_KEYS[:4]))
    if extra:
        raise RecipeError(f"{where}: unknown key(s) {extra}")
    if required and "shape" not in spec:
        raise RecipeError(f"{where}: a required object needs a 'shape'")
    if "repeat" in spec:
        _check_range(spec["repeat"], f"{where}.repeat")
    for k, v in spec.items():
        if k in DOMAINS:
            values = _expand_values(v, DOMAINS[k], f"{where}.{k}", required)
            bad = [x for x in values if x is not None and x not in DOMAINS[k]]
            if bad:
                raise RecipeError(f"{where}.{k}: {bad} not among {list(DOMAINS[k])}")
        elif k == "text" and not (v is None or isinstance(v, (str, list))
                                  or (required and isinstance(v, dict) and len(v) == 1
                                      and set(v) <= {"not", "range", "kind"})):
            raise RecipeError(f"{where}.text: a text, a list, {{'not': ...}}, {{'range': [lo, hi]}} "
                              "or {'kind': 'word' or 'number'}")


def _expand_values(v: Any, domain: Sequence[str], where: str, required: bool) -> list:
    if isinstance(v, dict):
        if not required or set(v) != {"not"}:
            raise RecipeError(f"{where}: {{'not': ...}} is the only object form (in require only)")
        return list(v["not"]) if isinstance(v["not"], list) else [v["not"]]
    return v if isinstance(v, list) else [v]


# -- drawing ---------------------------------------------------------------------------------
def _pick(rng: np.random.Generator, v: Any, domain: Sequence[str]) -> Any:
    if isinstance(v, list):
        return v[int(rng.integers(len(v)))]
    if isinstance(v, dict) and "not" in v:
        banned = v["not"] if isinstance(v["not"], list) else [v["not"]]
        rest = [x for x in domain if x not in banned]
        return rest[int(rng.integers(len(rest)))]
    if isinstance(v, dict) and "range" in v:
        lo, hi = v["range"]
        return str(int(rng.integers(lo, hi + 1)))
    if isinstance(v, dict) and "kind" in v:
        pool = WORDS if v["kind"] == "word" else SIGN_NUMBERS
        return pool[int(rng.integers(len(pool)))]
    return v


def _text_domain(shape: str) -> Sequence[str]:
    return WORDS + SIGN_NUMBERS if shape == SIGN else DIGITS


def _count(rng: np.random.Generator, v: Any) -> int:
    return int(rng.integers(v[0], v[1] + 1)) if isinstance(v, list) else int(v)


def draw_specs(rng: np.random.Generator, specs: Sequence[dict]) -> list[Spec]:
    """The required objects of a case, each field drawn."""
    out = []
    for spec in specs:
        for _ in range(_count(rng, spec.get("repeat", 1))):
            shape = _pick(rng, spec["shape"], DOMAINS["shape"])
            color = _pick(rng, spec.get("color"), COLORS)
            size = _pick(rng, spec.get("size"), DOMAINS["size"])
            text = _pick(rng, spec.get("text"), _text_domain(shape))
            out.append(Spec(shape, color, text, size))
    return out


def forbid_specs(specs: Sequence[dict]) -> list[Spec]:
    """Forbidden patterns; a list in a field forbids each of its values."""
    out = []
    for spec in specs:
        fields = [spec.get(k) if isinstance(spec.get(k), list) else [spec.get(k)] for k in SPEC_KEYS[:4]]
        out += [Spec(*combo) for combo in itertools.product(*fields)]
    return out


def _difficulty(rng: np.random.Generator, mode: Any, hard_share: float) -> float:
    if isinstance(mode, list):
        return float(rng.uniform(mode[0], mode[1]))
    hard = mode == "hard" or (mode == "mixed" and rng.random() < hard_share)
    lo, hi = HARD if hard else EASY
    return float(rng.uniform(lo, hi))


def draw_case(rng: np.random.Generator, cases: Sequence[dict], hard_share: float):
    """One scene of one of the cases (chosen by weight)."""
    weights = np.array([float(c.get("weight", 1)) for c in cases])
    case = cases[int(rng.choice(len(cases), p=weights / weights.sum()))]
    d = _difficulty(rng, case.get("difficulty", "mixed"), hard_share)
    n_obj = _count(rng, case["n_objects"]) if "n_objects" in case else None
    n_signs = _count(rng, case["n_signs"]) if "n_signs" in case else None
    return make_scene(rng, d, require=draw_specs(rng, case.get("require", [])),
                      forbid=forbid_specs(case.get("forbid", [])), n_objects=n_obj, n_signs=n_signs)


def rare_positions(spec: StreamSpec, block: int) -> int:
    """The offset of the rare-class image inside block `block`."""
    rng = np.random.default_rng([spec.suite_seed, spec.seed, 0, block])
    return int(rng.integers(spec.one_in))


def wanted_class(spec: StreamSpec, i: int) -> str:
    """'rare' or 'common' for image i."""
    return "rare" if rare_positions(spec, i // spec.one_in) == i % spec.one_in else "common"


def _fits(spec: StreamSpec, cls: str, lab: str | None, target: str | None) -> bool:
    if lab is None:
        return False
    if spec.binary and lab not in ("yes", "no"):
        raise RuleError(f"query {spec.query!r}: a yes/no rule gave {lab!r}")
    if target is not None:
        return lab == target
    return (lab == spec.rare) == (cls == "rare")


def draw_item(spec: StreamSpec, i: int, image_name: str):
    """(scene, record, label) of image i of the stream."""
    cls = wanted_class(spec, i)
    key = spec.rare if cls == "rare" else ("no" if spec.binary else "answer")
    cases = spec.recipe[key]
    rng = np.random.default_rng([spec.suite_seed, spec.seed, 1, i])
    target = None
    if spec.balance and cls == "common":
        target = spec.balance[int(rng.integers(len(spec.balance)))]
    for _ in range(MAX_DRAWS):
        scene = draw_case(rng, cases, spec.hard_share)
        record = scene_record(scene, i, image_name, spec.seed)
        lab = label(spec.rule, record)
        if _fits(spec, cls, lab, target):
            return scene, record, lab
    wanted = repr(target) if target else "so" if cls == "rare" else "otherwise"
    raise RecipeError(f"query {spec.query!r}: the recipe's {key!r} cases gave no scene labelled "
                      f"{wanted} by the rule in {MAX_DRAWS} draws (image {i})")


# -- writing and reusing ---------------------------------------------------------------------
def image_name(i: int) -> str:
    return f"images/{i:05d}.png"


def _read_info(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "stream.json").read_text())
    except (OSError, ValueError):
        return None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines(keepends=True)
    except OSError:
        return []


def ensure_stream(spec: StreamSpec, n: int, folder: str | Path, progress: bool = False) -> Path:
    """`folder` holding at least the first `n` images of the stream (images/*.png,
    labels.jsonl rows {"image", "label"}, scenes.jsonl ground truth, stream.json with the
    definition's hash): reused when the hash matches, extended when shorter, written
    afresh otherwise."""
    from tqdm import tqdm

    folder = Path(folder)
    digest = spec.digest()
    info = _read_info(folder)
    labels, scenes = _lines(folder / "labels.jsonl"), _lines(folder / "scenes.jsonl")
    have = 0
    if info and info.get("definition") == digest and len(labels) == len(scenes) == info.get("n"):
        have = next((i for i in range(min(n, info["n"])) if not (folder / image_name(i)).is_file()),
                    info["n"])
        if have >= n:
            return folder
    if have == 0:
        for old in (folder / "images").glob("*.png"):
            old.unlink()
    labels, scenes = labels[:have], scenes[:have]
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(have, n), disable=not progress, unit="img", desc=f"stream {spec.query}",
                  mininterval=0.5, dynamic_ncols=True, leave=False):
        scene, record, lab = draw_item(spec, i, image_name(i))
        write_png(scene.image, folder / image_name(i))
        labels.append(json.dumps({"image": image_name(i), "label": lab}) + "\n")
        scenes.append(json.dumps(record) + "\n")
    (folder / "labels.jsonl").write_text("".join(labels))
    (folder / "scenes.jsonl").write_text("".join(scenes))
    meta = {"definition": digest, "n": len(labels), **spec.definition()}
    (folder / "stream.json").write_text(json.dumps(meta, indent=1) + "\n")
    return folder
