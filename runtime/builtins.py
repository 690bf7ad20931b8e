"""The run-time bindings of the DSL's symbolic functions, builtins and math.

Each table's keys must equal the names declared in grammars/ (tests check it), so the
checker and the runtime cannot drift apart. Nothing here gives a program a way to reach
code: `.format` refuses attribute and index lookups, and `range` is size-bounded (the other
bounds are runtime.limits' accounting around each call).
"""

from __future__ import annotations

import builtins as py
import functools
import math
import re
import string
from typing import Any

from fmprog.backends.geometry import iou

from .errors import ResourceLimit
from .limits import LIMITS
from .values import FunctionValue, ImagePatch

MAX_RANGE = LIMITS.max_items


def bool_to_yesno(bool_answer) -> str:
    return "yes" if bool_answer else "no"


def distance(patch_a, patch_b) -> float:
    """As ViperGPT's: the distance between the edges of two patches, or minus their IoU when
    they touch or overlap; between two numbers, the absolute difference."""
    if isinstance(patch_a, ImagePatch) and isinstance(patch_b, ImagePatch):
        dx = max(patch_a.left - patch_b.right, patch_b.left - patch_a.right, 0)
        dy = max(patch_a.lower - patch_b.upper, patch_b.lower - patch_a.upper, 0)
        gap = float(math.hypot(dx, dy))
        return gap if gap > 0 else -iou(patch_a.box(), patch_b.box())
    return abs(patch_a - patch_b)


# -- coerce_to_numeric, as ViperGPT's ------------------------------------------------------------
UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}


def word_number(text: str) -> int | float | None:
    """The number that number words in `text` spell ("three", "twenty five", "two point five"),
    other words ignored; None when there are none (what ViperGPT's word2number does, in short)."""
    words = [w for w in text.lower().replace("-", " ").split() if w in UNITS or w in TENS or w in SCALES
             or w in ("hundred", "point")]
    if not words or words == ["point"]:
        return None
    if "point" in words:
        whole, _, frac = " ".join(words).partition("point")
        digits = "".join(str(UNITS[w]) for w in frac.split() if w in UNITS and UNITS[w] < 10)
        return float(f"{word_number(whole) or 0}.{digits or 0}")
    total = current = 0
    for w in words:
        if w == "hundred":
            current = (current or 1) * 100
        elif w in SCALES:
            total, current = total + (current or 1) * SCALES[w], 0
        else:
            current += UNITS.get(w, TENS.get(w, 0))
    return total + current


def coerce_to_numeric(string_: Any, no_string: bool = False):
    """The number in a string, as ViperGPT's coerce_to_numeric: number words ("three"), else
    the digits, '.' and '-' it holds ("3.5 m" -> 3.5, "10-15" -> 10, "1,000" -> 1000); an int
    unless there is a decimal point. No number: the string itself, or ValueError if no_string."""
    if not isinstance(string_, str):  # ViperGPT's first step is string.lower()
        raise AttributeError(f"'{type(string_).__name__}' object has no attribute 'lower'")
    text = string_
    if text.strip().isdigit():
        try:
            return int(text)
        except ValueError:  # digits int() does not read ("²")
            pass
    words = word_number(text)
    if words is not None:
        return words
    kept = re.sub(r"[^0-9.\-]", "", text)
    negative = kept.startswith("-")
    kept = kept[1:] if negative else kept
    if "-" in kept:  # a range: its first number
        kept = kept.split("-")[0]
    kept = ("-" if negative else "") + kept
    try:
        return float(kept) if "." in kept else int(kept)
    except ValueError:
        if no_string:
            raise ValueError(f"no number in {text!r}") from None
        return string_


def safe_range(*args):
    r = py.range(*args)
    if len(r) > MAX_RANGE:
        raise ResourceLimit("ResourceLimit", f"a range of {len(r)} items is over the limit of {MAX_RANGE} (max_items)")
    return r


def safe_isinstance(obj, class_or_tuple) -> bool:
    """isinstance, where the classes may be function values (`isinstance(x, (list, str))`)."""
    if isinstance(class_or_tuple, tuple):
        class_or_tuple = tuple(c.fn if isinstance(c, FunctionValue) else c for c in class_or_tuple)
    elif isinstance(class_or_tuple, FunctionValue):
        class_or_tuple = class_or_tuple.fn
    return py.isinstance(obj, class_or_tuple)


def safe_print(*args, **kwargs) -> None:
    """print is a no-op: a served program has no console."""


# The implementations of the DSL's symbolic functions (by canonical name) and of the builtins
# that differ from Python's; which names exist is read from grammars/, as is every other table.
SYMBOLIC = {"bool_to_yesno": bool_to_yesno, "distance": distance, "coerce_to_numeric": coerce_to_numeric}
SAFE_BUILTINS = {"range": safe_range, "print": safe_print, "isinstance": safe_isinstance}


def _dsl():
    from fmprog.grammars import dsl

    return dsl.load()


DSL_FUNCTIONS = {name: SYMBOLIC[sig.canonical] for name, sig in _dsl().functions.items() if not sig.neural}
BUILTINS = {name: SAFE_BUILTINS.get(name) or getattr(py, name) for name in _dsl().builtins}
MATH = {name: getattr(math, name) for name in _dsl().modules["math"].methods}
MATH_CONSTANTS = {name: getattr(math, name) for name in _dsl().modules["math"].attributes}


class _SafeFormatter(string.Formatter):
    def get_field(self, field_name, args, kwargs):
        if "." in field_name or "[" in field_name:
            raise ValueError(f"format field {field_name!r}: attribute and index lookups are not allowed")
        return super().get_field(field_name, args, kwargs)


_FORMATTER = _SafeFormatter()


def safe_format(template: str, *args, **kwargs) -> str:
    return _FORMATTER.format(template, *args, **kwargs)


@functools.lru_cache(maxsize=1)
def patch_attributes() -> frozenset[str]:
    """The ImagePatch attributes a program may read: those viper.pyi declares."""
    return frozenset(_dsl().patch.attributes)


def canonical(name: str) -> str:
    """A DSL function's canonical name (`to_numeric` -> `coerce_to_numeric`)."""
    return _dsl().functions[name].canonical


def _value_methods(names: set[str], cls: type) -> dict[str, Any]:
    return {n: getattr(cls, n) for n in names}


def method_table() -> dict[type, dict[str, Any]]:
    """Methods a program may call on each run-time type, from python_subset.pyi and viper.pyi."""
    d = _dsl()
    table = {getattr(py, name): _value_methods(set(spec.methods), getattr(py, name)) for name, spec in d.types.items()}
    table[ImagePatch] = _value_methods({n for n, s in d.patch.methods.items() if not s.neural}, ImagePatch)
    table[py.str]["format"] = safe_format
    return table
