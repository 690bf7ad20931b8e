"""The representative programs the tiers are measured with, and their labelled items.

Each `Program` is a ViperGPT-style program (its DSL `source`, as an LLM would write it),
the same logic as a Python function over `Patch` (the DSL's ImagePatch semantics over
the backends: `find` crops sub-patches in the parent's coordinates, the other methods ask
the backend about the patch's pixels, as runtime/neural.py does), and a generator of
items (scene, label, possible answers) whose label the scene's ground truth decides.
Together they cover existence, attributes, counting, relations, text reading and
matching; every call site of a program is served by the same tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..geometry import crop_box
from .scenes import COLORS, DIGIT_MIN_SIDE, SHAPES, SIGN, Scene, Spec, make_scene, sample_difficulty
from .stream import scene_for
from .text import WORDS, normalise_text
from .world import REL_MARGIN, left_of


class Patch:
    """An image crop with the DSL's neural methods, served by one backend per kind."""

    def __init__(self, image: np.ndarray, backends: dict, box=None):
        self.image, self.backends = image, backends
        h, w = image.shape[:2]
        self.left, self.lower, self.right, self.upper = box or (0, 0, w, h)

    @property
    def cropped_image(self) -> np.ndarray:
        return crop_box(self.image, (self.left, self.lower, self.right, self.upper))

    @property
    def horizontal_center(self) -> float:
        return (self.left + self.right) / 2

    @property
    def vertical_center(self) -> float:
        return (self.lower + self.upper) / 2

    def find(self, name: str) -> list["Patch"]:
        boxes = self.backends["detection"].detect(self.cropped_image, name)
        return [Patch(self.image, self.backends, (self.left + b.left, self.lower + b.lower,
                                                  self.left + b.right, self.lower + b.upper))
                for b in boxes]

    def exists(self, name: str) -> bool:
        return len(self.find(name)) > 0

    def verify_property(self, name: str, prop: str) -> bool:
        return bool(self.backends["vqa"].verify_property(self.cropped_image, name, prop))

    def simple_query(self, question: str) -> str:
        return str(self.backends["vqa"].query(self.cropped_image, question))

    def best_text_match(self, options: Sequence[str]) -> str:
        scores = np.asarray(self.backends["image_text_matching"].match_scores(
            [self.cropped_image], list(options))).reshape(-1)
        return list(options)[int(np.argmax(scores))]


@dataclass(frozen=True)
class Program:
    """A question, its program (DSL source and the same logic over `Patch`) and items."""

    name: str
    question: str
    source: str
    run: Callable[[Patch, list], str]
    items: Callable[[np.random.Generator, float], tuple[Scene, str, list]]
    kinds: tuple[str, ...] = field(default=("detection", "vqa"))


def answer_matches(answer: str, label: str) -> bool:
    """Answers compare as normalised text (case, spaces and punctuation ignored)."""
    return normalise_text(answer) == normalise_text(label)


# -- the programs ------------------------------------------------------------------------
def _red_circle(p: Patch, _) -> str:
    for circle in p.find("circle"):
        if circle.verify_property("circle", "red"):
            return "yes"
    return "no"


def _square_color(p: Patch, _) -> str:
    squares = p.find("square")
    target = squares[0] if squares else p
    return target.simple_query("What color is the square?")


def _count_stars(p: Patch, _) -> str:
    return str(len(p.find("star")))


def _circle_left(p: Patch, _) -> str:
    circles, squares = p.find("circle"), p.find("square")
    if not circles or not squares:
        return "no"
    return "yes" if circles[0].horizontal_center < squares[0].horizontal_center else "no"


def _sign_text(p: Patch, _) -> str:
    signs = p.find("sign")
    target = signs[0] if signs else p
    return target.simple_query("What does the sign say?")


def _triangle_number(p: Patch, _) -> str:
    triangles = p.find("triangle")
    target = triangles[0] if triangles else p
    return target.simple_query("What number is on the triangle?")


def _sign_word(p: Patch, options: list) -> str:
    signs = p.find("sign")
    target = signs[0] if signs else p
    return target.best_text_match(options)


def _red_shape(p: Patch, _) -> str:
    objects = p.find("red object")
    target = objects[0] if objects else p
    return target.best_text_match(list(SHAPES))


def _stop_sign(p: Patch, _) -> str:
    for sign in p.find("sign"):
        if sign.verify_property("sign", "says STOP"):
            return "yes"
    return "no"


# -- their items ---------------------------------------------------------------------------
def _yes_no(rng) -> str:
    return "yes" if rng.random() < 0.5 else "no"


def _items_red_circle(rng, d):
    label = _yes_no(rng)
    return scene_for("red_circle", label, rng, d), label, []


def _items_square_color(rng, d):
    label = str(rng.choice(COLORS))
    return scene_for("square_color", label, rng, d), label, []


def _items_count(rng, d):
    k = int(rng.integers(0, 4))
    n = max(k, int(rng.integers(1, 5)))
    scene = make_scene(rng, d, require=[("star", None)] * k, forbid=[("star", None)], n_objects=n)
    return scene, str(k), []


def _items_left(rng, d):
    for _ in range(100):
        scene = make_scene(rng, d, require=[("circle", None), ("square", None)],
                           forbid=[("circle", None), ("square", None)])
        (c,), (s,) = scene.find(("circle", None)), scene.find(("square", None))
        dx = abs((c.box[0] + c.box[2]) - (s.box[0] + s.box[2])) / 2
        if dx >= 2.5 * REL_MARGIN:
            return scene, "yes" if left_of(c.box, s.box) else "no", []
    raise RuntimeError("no scene with a clear left/right relation in 100 draws")


def _items_sign_text(rng, d):
    scene = make_scene(rng, d, require=[Spec(SIGN)], n_signs=1)
    return scene, scene.find(Spec(SIGN))[0].text, []


def _items_triangle_number(rng, d):
    for _ in range(100):
        digit = str(int(rng.integers(0, 10)))
        scene = make_scene(rng, d, require=[Spec("triangle", text=digit)], forbid=[("triangle", None)])
        if scene.find(("triangle", None))[0].side >= DIGIT_MIN_SIDE:
            return scene, digit, []
    raise RuntimeError("no triangle large enough for a digit in 100 draws")


def _items_sign_word(rng, d):
    word = str(rng.choice(WORDS))
    scene = make_scene(rng, d, require=[Spec(SIGN, text=word)], n_signs=1)
    others = [w for w in WORDS if w != word]
    options = [word] + [str(w) for w in rng.choice(others, size=3, replace=False)]
    return scene, word, [options[i] for i in rng.permutation(4)]


def _items_red_shape(rng, d):
    shape = str(rng.choice(SHAPES))
    scene = make_scene(rng, d, require=[(shape, "red")], forbid=[Spec(color="red")])
    return scene, shape, []


def _items_stop(rng, d):
    label = _yes_no(rng)
    if label == "yes":
        scene = make_scene(rng, d, require=[Spec(SIGN, text="STOP")], n_signs=1)
    else:
        word = str(rng.choice([w for w in WORDS if w != "STOP"]))
        scene = make_scene(rng, d, require=[Spec(SIGN, text=word)], n_signs=1,
                           forbid=[Spec(SIGN, text="STOP")])
    return scene, label, []


def _src(*body: str, params: str = "image") -> str:
    lines = [f"def execute_command({params}):", "    image_patch = ImagePatch(image)"]
    return "\n".join(lines + [f"    {b}" for b in body]) + "\n"


PROGRAMS: dict[str, Program] = {p.name: p for p in (
    Program("exists_red_circle", "Is there a red circle?", _src(
        'for circle in image_patch.find("circle"):',
        '    if circle.verify_property("circle", "red"):',
        '        return "yes"', 'return "no"'), _red_circle, _items_red_circle),
    Program("square_color", "What color is the square?", _src(
        'squares = image_patch.find("square")',
        'target = squares[0] if squares else image_patch',
        'return target.simple_query("What color is the square?")'), _square_color,
        _items_square_color),
    Program("count_stars", "How many stars are there?", _src(
        'return str(len(image_patch.find("star")))'), _count_stars, _items_count, ("detection",)),
    Program("circle_left_of_square", "Is the circle to the left of the square?", _src(
        'circles, squares = image_patch.find("circle"), image_patch.find("square")',
        'if not circles or not squares:', '    return "no"',
        'return bool_to_yesno(circles[0].horizontal_center < squares[0].horizontal_center)'),
        _circle_left, _items_left, ("detection",)),
    Program("sign_text", "What does the sign say?", _src(
        'signs = image_patch.find("sign")', 'target = signs[0] if signs else image_patch',
        'return target.simple_query("What does the sign say?")'), _sign_text, _items_sign_text),
    Program("triangle_number", "What number is on the triangle?", _src(
        'triangles = image_patch.find("triangle")',
        'target = triangles[0] if triangles else image_patch',
        'return target.simple_query("What number is on the triangle?")'), _triangle_number,
        _items_triangle_number),
    Program("sign_word_choice", "Which word is on the sign? (4 options)", _src(
        'signs = image_patch.find("sign")', 'target = signs[0] if signs else image_patch',
        'return target.best_text_match(possible_answers)', params="image, possible_answers"),
        _sign_word, _items_sign_word, ("detection", "image_text_matching")),
    Program("red_object_shape", "What shape is the red object?", _src(
        'objects = image_patch.find("red object")',
        'target = objects[0] if objects else image_patch',
        'return target.best_text_match(["circle", "square", "triangle", "star", "diamond"])'),
        _red_shape, _items_red_shape, ("detection", "image_text_matching")),
    Program("stop_sign", "Is there a sign that says STOP?", _src(
        'for sign in image_patch.find("sign"):',
        '    if sign.verify_property("sign", "says STOP"):',
        '        return "yes"', 'return "no"'), _stop_sign, _items_stop),
)}


def program_items(program: Program, n: int, seed: int, hard: bool) -> list[tuple[Scene, str, list]]:
    """`n` labelled items of one difficulty range (seeded by program name and range)."""
    rng = np.random.default_rng([seed, int(hard), *program.name.encode()])
    return [program.items(rng, sample_difficulty(rng, hard)) for _ in range(n)]


def program_accuracy(program: Program, backends: dict, items) -> float:
    """The share of items the program answers right with these backends (one per kind)."""
    ok = [answer_matches(program.run(Patch(s.image, backends), opts), label)
          for s, label, opts in items]
    return float(np.mean(ok)) if ok else 0.0
