"""The static types of the checker: small strings, joined to "any" when unsure.

Types are plain strings ("int", "str", "patch", "list[patch]", ...) because the checker
only needs equality, element access and a join; "any" is the top type and never
produces an error. Only facts that hold on every run become diagnostics.
"""

from __future__ import annotations

import functools

ANY, INT, FLOAT, BOOL, STR, NONE = "any", "int", "float", "bool", "str", "none"
PATCH, IMAGE, DICT, TUPLE, SET = "patch", "image", "dict", "tuple", "set"
MATH, PATCH_CLASS, LAMBDA, UNBOUND = "module:math", "class:ImagePatch", "lambda", "unbound"
NUMBER = "number"
ERROR = "error"  # the value of an expression that already has an error: never reported again
NUMERIC = frozenset({INT, FLOAT, BOOL, NUMBER})
SCALAR = frozenset({INT, FLOAT, BOOL, NUMBER, NONE})

_ANNOTATIONS = {
    "int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "None": NONE, "ImagePatch": PATCH,
    "Image": IMAGE, "dict": DICT, "tuple": TUPLE, "set": SET, "Number": NUMBER, "list": "list[any]",
    "Iterable": "iterable", "Callable": "callable",
}


def list_of(t: str) -> str:
    return f"list[{t}]"


def is_list(t: str) -> bool:
    return t.startswith("list[")


def elem(t: str) -> str:
    """Element type of an iterable type; "any" when unknown."""
    if is_list(t):
        return t[5:-1]
    if t == STR:
        return STR
    return ANY


@functools.lru_cache(maxsize=None)
def from_annotation(text: str) -> str:
    """A type from a stub annotation (`list[ImagePatch]` -> `list[patch]`)."""
    if text.startswith("list[") and text.endswith("]"):
        return list_of(from_annotation(text[5:-1]))
    return _ANNOTATIONS.get(text, ANY)


def join(a: str, b: str) -> str:
    if ERROR in (a, b):
        return ERROR
    if a == b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return NUMBER
    if is_list(a) and is_list(b):
        return list_of(join(elem(a), elem(b)))
    return ANY


def describe(t: str) -> str:
    """How a type reads in a message."""
    names = {PATCH: "ImagePatch", NONE: "None", MATH: "module 'math'", PATCH_CLASS: "class ImagePatch"}
    if is_list(t):
        return f"list[{describe(elem(t))}]" if elem(t) != ANY else "list"
    return names.get(t, t)


def iterable(t: str) -> bool:
    """False only for types that are certainly not iterable."""
    return t not in SCALAR and t not in (PATCH, IMAGE, MATH, PATCH_CLASS, LAMBDA)


def value_class(t: str) -> str | None:
    """The python_subset class whose methods a value of type t has."""
    if is_list(t):
        return "list"
    return {STR: "str", DICT: "dict", SET: "set", TUPLE: "tuple"}.get(t)


def may_be(t: str, expected: str) -> bool:
    """False only when a value of type t can never be accepted where `expected` is."""
    if t in (ANY, ERROR) or expected == ANY or t == expected:
        return True
    if expected == "callable":
        return t in (LAMBDA, "callable") or t.startswith("func:")
    if expected in NUMERIC:
        return t in NUMERIC
    if is_list(expected):
        return is_list(t) and may_be(elem(t), elem(expected))
    if expected == "iterable":
        return iterable(t)
    return False
