"""Words the embedded backends understand: object names, attributes, text, template questions.

`parse_name("small red balls")` -> `Phrase(shapes=("circle",), color="red", size="small")`.
A name with a generic noun ("object", "thing") or only attributes matches every category
(the shapes and signs); "shape" matches the five shapes only; a name with none of these
(e.g. "dog") matches nothing, so `find` returns [] instead of guessing.
`text_target("sign that says STOP")` -> ("sign", "STOP"): the text a phrase asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .scenes import CATEGORIES, COLORS, SHAPES, SIGN
from .text import normalise_text

SHAPE_WORDS = {
    "circle": "circle", "ball": "circle", "disk": "circle", "disc": "circle", "dot": "circle",
    "round": "circle", "ring": "circle", "sphere": "circle", "oval": "circle", "spot": "circle",
    "square": "square", "box": "square", "rectangle": "square", "block": "square",
    "cube": "square", "tile": "square", "quadrilateral": "square",
    "triangle": "triangle", "triangular": "triangle", "pyramid": "triangle", "wedge": "triangle",
    "star": "star", "pentagram": "star", "asterisk": "star",
    "diamond": "diamond", "rhombus": "diamond", "lozenge": "diamond", "kite": "diamond",
    "sign": SIGN, "signboard": SIGN, "board": SIGN, "plate": SIGN, "placard": SIGN,
    "plaque": SIGN, "banner": SIGN, "poster": SIGN, "signpost": SIGN, "notice": SIGN,
}
GENERIC_WORDS = {"object", "thing", "item", "one", "entity", "it", "this", "that",
                 "something", "anything"}
SHAPE_GENERIC_WORDS = {"shape", "figure", "form"}  # the five shapes, not signs
COLOR_WORDS = {c: c for c in COLORS} | {
    "violet": "purple", "magenta": "purple", "lilac": "purple", "lavender": "purple",
    "gold": "yellow", "golden": "yellow", "crimson": "red", "scarlet": "red",
    "navy": "blue", "cyan": "blue", "teal": "green", "lime": "green", "amber": "orange",
}
SIZE_WORDS = {"small": "small", "little": "small", "tiny": "small", "smaller": "small",
              "big": "large", "large": "large", "huge": "large", "bigger": "large",
              "larger": "large"}
TEXT_WORDS = {"text", "word", "words", "number", "numbers", "digit", "digits", "written",
              "writing", "say", "says", "read", "reads", "label", "labeled", "labelled",
              "letters", "sign", "name", "numeral"}
STOP_WORDS = {"a", "an", "the", "of", "on", "in", "with", "that", "which", "is", "are",
              "there", "picture", "image", "photo", "what", "does", "do", "its", "and"}


@dataclass(frozen=True)
class Phrase:
    """What a noun phrase or property asks for; `shapes` is empty when it names nothing."""

    shapes: tuple[str, ...] = ()
    color: str | None = None
    size: str | None = None
    shape_word: str | None = None  # the explicit category named, if any

    @property
    def known(self) -> bool:
        return bool(self.shapes)


def words(text: str) -> list[str]:
    """Lower-case words, each in singular form when a plural is recognised."""
    return [_singular(w) for w in re.findall(r"[a-z]+", str(text).lower())]


def _singular(w: str) -> str:
    for suffix, repl in (("ies", "y"), ("xes", "x"), ("ses", "s"), ("s", "")):
        base = w[: -len(suffix)] + repl
        known = base in SHAPE_WORDS or base in GENERIC_WORDS or base in SHAPE_GENERIC_WORDS
        if w.endswith(suffix) and known:
            return base
    return w


def parse_name(text: str) -> Phrase:
    """The categories, color and size a name like 'red circle' or 'big objects' refers to."""
    shape = color = size = None
    generic = shapes_only = False
    for w in words(strip_text_target(text)):
        if w in SHAPE_WORDS and shape is None:
            shape = SHAPE_WORDS[w]
        elif w in COLOR_WORDS and color is None:
            color = COLOR_WORDS[w]
        elif w in SIZE_WORDS and size is None:
            size = SIZE_WORDS[w]
        elif w in GENERIC_WORDS:
            generic = True
        elif w in SHAPE_GENERIC_WORDS:
            shapes_only = True
    if shape:
        return Phrase((shape,), color, size, shape)
    if shapes_only:
        return Phrase(SHAPES, color, size, None)
    if generic or color or size:
        return Phrase(CATEGORIES, color, size, None)
    return Phrase()


def attributes(text: str) -> list[tuple[str, str]]:
    """Every attribute word in `text` as (kind, value), kind in shape/color/size; the
    text a phrase asks for (`text_target`) is not searched for attribute words."""
    found = []
    for w in words(strip_text_target(text)):
        for kind, table in (("shape", SHAPE_WORDS), ("color", COLOR_WORDS), ("size", SIZE_WORDS)):
            if w in table:
                found.append((kind, table[w]))
    return found


_TARGET = re.compile(
    r"\b(?:that |which )?(?:says|say|saying|reads|read|reading|with the (?:text|word|words|"
    r"number|digit)|the (?:word|text)|labell?ed|written|number|digit)\s+['\"]?([A-Za-z0-9][A-Za-z0-9 ]*)",
    re.IGNORECASE)
_QUOTED = re.compile(r"['\"]([A-Za-z0-9 ]+)['\"]")


def text_target(text: str) -> str | None:
    """The text a phrase asks for, normalised ('sign that says Stop' -> 'STOP', 'the
    number 7' -> '7', "'EXIT'" -> 'EXIT'); None when it asks for none. Attribute and
    filler words after the text are not part of it."""
    m = _QUOTED.search(str(text)) or _TARGET.search(str(text))
    if not m:
        return None
    return normalise_text(" ".join(_target_words(m.group(1)))) or None


def _target_words(group: str) -> list[str]:
    """The words of a matched text that are the text (not filler or vocabulary)."""
    return [w for w in group.split() if w.lower() not in STOP_WORDS | {"it"}
            and _singular(w.lower()) not in SHAPE_WORDS and w.lower() not in COLOR_WORDS]


def strip_text_target(text: str) -> str:
    """The phrase without the text it asks for ('red sign that says STOP' -> 'red sign')."""
    s = str(text)
    m = _QUOTED.search(s) or _TARGET.search(s)
    if not m or text_target(s) is None:
        return s
    target = set(_target_words(m.group(1)))
    rest = [w for w in m.group(1).split() if w not in target]
    return " ".join([s[: m.start()].strip(), *rest, s[m.end():].strip()]).strip()


def content_words(text: str) -> str:
    """The words of an option that are neither vocabulary nor filler ('STOP', 'the word
    EXIT' -> 'EXIT', 'red circle' -> ''): what must be read to score it."""
    target = text_target(text)
    if target:
        return target
    known = set(SHAPE_WORDS) | GENERIC_WORDS | SHAPE_GENERIC_WORDS | set(COLOR_WORDS) \
        | set(SIZE_WORDS) | TEXT_WORDS | STOP_WORDS
    kept = [w for w in re.findall(r"[A-Za-z0-9]+", str(text)) if _singular(w.lower()) not in known]
    return normalise_text(" ".join(kept))


INTENTS = ("count", "read", "says", "color", "shape", "size", "exists", "verify", "describe")
_RULES = [
    ("count", r"^(?:how many|what is the number of|count(?: the)?)\s*(.*)"),
    ("read", r"^what (?:does|do)\s+(.*?)\s+(?:say|read)\b"),
    ("read", r"^what (?:is|s) (?:written|printed|the text|the word|the number|the digit)"
             r"(?: written| printed)?(?: on| in)?\s*(.*)"),
    ("read", r"^(?:what|which) (?:number|digit|word|text|letters)\s+(?:is|are|appears?)"
             r"(?: written| printed)?(?: on| in)?\s*(.*)"),
    ("read", r"^read\s*(.*)"),
    ("says", r"^(?:does|do)\s+(.*?)\s+(?:say|read)s?\s+.*"),
    ("color", r"(?:what|which) colou?r\s*(.*)|colou?r of\s*(.*)"),
    ("shape", r"(?:what|which) (?:shape|kind of shape|type of shape)\s*(.*)|shape of\s*(.*)"),
    ("size", r"(?:what size|how (?:big|large|small))\s*(.*)|size of\s*(.*)"),
    ("exists", r"^(?:is there|are there|is any|are any|does the image (?:contain|have)"
               r"|do you see|can you see)\s*(.*)"),
    ("verify", r"^(?:is|are|does|do)\s+(.*)"),
    ("describe", r"^(?:what|which)\b\s*(.*)"),
]


def question_intent(question: str) -> tuple[str, str]:
    """(intent, rest) with intent in `INTENTS`: `read` asks for the text of `rest` ("What
    does the sign say?"), `says` checks it ("Does the sign say STOP?")."""
    q = " ".join(re.findall(r"[a-z0-9]+", str(question).lower()))
    for intent, pattern in _RULES:
        m = re.search(pattern, q)
        if m:
            return intent, next((g for g in m.groups() if g), "")
    return "describe", q


def asks_for_digits(question: str) -> bool:
    """Whether a question asks for a number ('What number is on ...', 'Which digit ...')."""
    return bool(re.search(r"\b(?:number|digit|numeral)s?\b", str(question).lower()))
