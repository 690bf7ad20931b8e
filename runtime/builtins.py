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

from .errors import ResourceLimit
from .limits import LIMITS
from .values import FunctionValue, ImagePatch

MAX_RANGE = LIMITS.max_items


def bool_to_yesno(bool_answer) -> str:
    return "yes" if bool_answer else "no"


def distance(patch_a, patch_b) -> float:
    """Distance between the edges of two patches (0 when they overlap), or of two numbers."""
    if isinstance(patch_a, ImagePatch) and isinstance(patch_b, ImagePatch):
        dx = max(patch_a.left - patch_b.right, patch_b.left - patch_a.right, 0)
        dy = max(patch_a.lower - patch_b.upper, patch_b.lower - patch_a.upper, 0)
        return float(math.hypot(dx, dy))
    return float(abs(patch_a - patch_b))


NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


def coerce_to_numeric(string_: Any, no_string: bool = False) -> float:
    """The number in a string: "3", "three", "3.5 m"; raises ValueError if none."""
    if isinstance(string_, (int, float)):
        return string_
    text = str(string_).strip().lower()
    m = re.search(r"-?\d+(\.\d+)?", text.replace(",", ""))
    if m:
        return float(m.group())
    for word, value in NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            return float(value)
    if no_string:
        raise ValueError(f"no number in {string_!r}")
    return float("nan")


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


DSL_FUNCTIONS = {
    "bool_to_yesno": bool_to_yesno,
    "distance": distance,
    "coerce_to_numeric": coerce_to_numeric,
    "to_numeric": coerce_to_numeric,
}

BUILTINS = {name: getattr(py, name) for name in (
    "len", "min", "max", "sorted", "sum", "abs", "any", "all", "enumerate", "zip", "int",
    "float", "str", "bool", "list", "set", "dict", "tuple", "round", "next", "reversed",
    "isinstance", "filter", "map")}
BUILTINS["range"] = safe_range
BUILTINS["print"] = safe_print
BUILTINS["isinstance"] = safe_isinstance

MATH = {name: getattr(math, name) for name in (
    "sqrt", "floor", "ceil", "fabs", "hypot", "atan2", "atan", "degrees", "radians", "exp",
    "log", "pow", "isclose", "dist")}
MATH_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}


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
    from fmprog.grammars import dsl

    return frozenset(dsl.load().patch.attributes)


def canonical(name: str) -> str:
    """A DSL function's canonical name (`to_numeric` -> `coerce_to_numeric`)."""
    from fmprog.grammars import dsl

    return dsl.load().functions[name].canonical


def _value_methods(names: set[str], cls: type) -> dict[str, Any]:
    return {n: getattr(cls, n) for n in names}


def method_table() -> dict[type, dict[str, Any]]:
    """Methods a program may call on each run-time type, from python_subset.pyi."""
    from fmprog.grammars import dsl

    d = dsl.load()
    table = {
        py.str: _value_methods(set(d.types["str"].methods), py.str),
        py.list: _value_methods(set(d.types["list"].methods), py.list),
        py.dict: _value_methods(set(d.types["dict"].methods), py.dict),
        py.set: _value_methods(set(d.types["set"].methods), py.set),
        py.tuple: {"index": py.tuple.index, "count": py.tuple.count},
        ImagePatch: {"crop": ImagePatch.crop, "overlaps_with": ImagePatch.overlaps_with},
    }
    table[py.str]["format"] = safe_format
    return table
