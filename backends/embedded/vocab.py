"""Words the embedded backends understand: object names, attributes, template questions.

`parse_name("small red balls")` -> `Phrase(shapes=("circle",), color="red", size="small")`.
A name with no shape word but a generic noun ("object", "thing") or only attributes
matches every shape; a name with neither (e.g. "dog") matches nothing, so `find` returns
[] instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .scenes import COLORS, SHAPES

SHAPE_WORDS = {
    "circle": "circle", "ball": "circle", "disk": "circle", "disc": "circle", "dot": "circle",
    "round": "circle", "ring": "circle", "sphere": "circle", "oval": "circle", "spot": "circle",
    "square": "square", "box": "square", "rectangle": "square", "block": "square",
    "cube": "square", "tile": "square", "quadrilateral": "square",
    "triangle": "triangle", "triangular": "triangle", "pyramid": "triangle", "wedge": "triangle",
    "star": "star", "pentagram": "star", "asterisk": "star",
    "diamond": "diamond", "rhombus": "diamond", "lozenge": "diamond", "kite": "diamond",
}
GENERIC_WORDS = {"object", "shape", "thing", "item", "figure", "one", "form", "entity", "it",
                 "this", "that", "something", "anything"}
COLOR_WORDS = {c: c for c in COLORS} | {
    "violet": "purple", "magenta": "purple", "lilac": "purple", "lavender": "purple",
    "gold": "yellow", "golden": "yellow", "crimson": "red", "scarlet": "red",
    "navy": "blue", "cyan": "blue", "teal": "green", "lime": "green", "amber": "orange",
}
SIZE_WORDS = {"small": "small", "little": "small", "tiny": "small", "smaller": "small",
              "big": "large", "large": "large", "huge": "large", "bigger": "large",
              "larger": "large"}


@dataclass(frozen=True)
class Phrase:
    """What a noun phrase or property asks for; `shapes` is empty when it names nothing."""

    shapes: tuple[str, ...] = ()
    color: str | None = None
    size: str | None = None
    shape_word: str | None = None  # the explicit shape named, if any

    @property
    def known(self) -> bool:
        return bool(self.shapes)


def words(text: str) -> list[str]:
    """Lower-case words, each in singular form when a plural is recognised."""
    return [_singular(w) for w in re.findall(r"[a-z]+", str(text).lower())]


def _singular(w: str) -> str:
    for suffix, repl in (("ies", "y"), ("xes", "x"), ("ses", "s"), ("s", "")):
        base = w[: -len(suffix)] + repl
        if w.endswith(suffix) and (base in SHAPE_WORDS or base in GENERIC_WORDS):
            return base
    return w


def parse_name(text: str) -> Phrase:
    """The shapes, color and size a name like 'red circle' or 'big objects' refers to."""
    shape = color = size = None
    generic = False
    for w in words(text):
        if w in SHAPE_WORDS and shape is None:
            shape = SHAPE_WORDS[w]
        elif w in COLOR_WORDS and color is None:
            color = COLOR_WORDS[w]
        elif w in SIZE_WORDS and size is None:
            size = SIZE_WORDS[w]
        elif w in GENERIC_WORDS:
            generic = True
    if shape:
        return Phrase((shape,), color, size, shape)
    if generic or color or size:
        return Phrase(SHAPES, color, size, None)
    return Phrase()


def attributes(text: str) -> list[tuple[str, str]]:
    """Every attribute word in `text` as (kind, value), kind in shape/color/size."""
    found = []
    for w in words(text):
        for kind, table in (("shape", SHAPE_WORDS), ("color", COLOR_WORDS), ("size", SIZE_WORDS)):
            if w in table:
                found.append((kind, table[w]))
    return found


def question_intent(question: str) -> tuple[str, str]:
    """(intent, rest) with intent in count/color/shape/size/exists/verify/describe."""
    q = " ".join(re.findall(r"[a-z]+", str(question).lower()))
    rules = [
        ("count", r"^(?:how many|what is the number of|count(?: the)?)\s*(.*)"),
        ("color", r"(?:what|which) colou?r\s*(.*)|colou?r of\s*(.*)"),
        ("shape", r"(?:what|which) (?:shape|kind of shape|type of shape)\s*(.*)|shape of\s*(.*)"),
        ("size", r"(?:what size|how (?:big|large|small))\s*(.*)|size of\s*(.*)"),
        ("exists", r"^(?:is there|are there|is any|are any|does the image (?:contain|have)"
                   r"|do you see|can you see)\s*(.*)"),
        ("verify", r"^(?:is|are|does|do)\s+(.*)"),
        ("describe", r"^(?:what|which)\b\s*(.*)"),
    ]
    for intent, pattern in rules:
        m = re.search(pattern, q)
        if m:
            return intent, next((g for g in m.groups() if g), "")
    return "describe", q
