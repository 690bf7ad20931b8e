"""Implementations of PURE nodes, resolved once per node from its target and meta.

`resolve(node)` returns a plain function of the node's argument values. Every target the
lowering can emit has a resolver here; an unknown target is an error at load time, not a
silent no-op.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from fmprog.compiler.ir import Node

from . import builtins as B
from .values import ImagePatch, LoopResult

BINARY = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "&": operator.and_,
    "|": operator.or_, "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
}
INPLACE = {
    "+": operator.iadd, "-": operator.isub, "*": operator.imul, "/": operator.itruediv,
    "//": operator.ifloordiv, "%": operator.imod, "**": operator.ipow, "&": operator.iand,
    "|": operator.ior, "^": operator.ixor,
}
UNARY = {"not": operator.not_, "-": operator.neg, "+": operator.pos, "~": operator.invert}
COMPARE = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
    "is": operator.is_, "is not": operator.is_not,
}
PATCH_ATTRIBUTES = frozenset({"left", "lower", "right", "upper", "width", "height",
                              "horizontal_center", "vertical_center", "cropped_image"})
MAX_POWER_EXPONENT = 10_000


def _power(a, b):
    if isinstance(b, int) and abs(b) > MAX_POWER_EXPONENT:
        raise ValueError(f"exponent {b} is over the limit of {MAX_POWER_EXPONENT}")
    return a ** b


BINARY["**"] = _power

_METHODS: dict | None = None


def methods() -> dict:
    global _METHODS
    if _METHODS is None:
        _METHODS = B.method_table()
    return _METHODS


def call_method(recv: Any, name: str, *args, **kwargs):
    """`recv.name(...)` for the methods the DSL allows on recv's type, nothing else."""
    table = methods().get(type(recv))
    fn = table.get(name) if table is not None else None
    if fn is None:
        raise AttributeError(f"'{type(recv).__name__}' object has no attribute '{name}'")
    return fn(recv, *args, **kwargs)


def get_attribute(recv: Any, name: str):
    if isinstance(recv, ImagePatch) and name in PATCH_ATTRIBUTES:
        return getattr(recv, name)
    raise AttributeError(f"'{type(recv).__name__}' object has no attribute '{name}'")


def unpack(value, n: int) -> tuple:
    items = tuple(value)
    if len(items) != n:
        raise ValueError(f"expected {n} values to unpack, got {len(items)}")
    return items


def format_parts(parts: list) -> Callable:
    conversions = {"": lambda v: v, "r": repr, "s": str, "a": ascii}

    def run(*values):
        out, it = [], iter(values)
        for p in parts:
            if isinstance(p, str):
                out.append(p)
            else:
                out.append(format(conversions[p["conversion"]](next(it)), p["spec"]))
        return "".join(out)

    return run


def setitem(obj, key, value) -> None:
    if not isinstance(obj, (list, dict)):
        raise TypeError(f"'{type(obj).__name__}' object does not support item assignment")
    obj[key] = value


def check_assert(cond, msg=None) -> None:
    if not cond:
        raise AssertionError(msg) if msg is not None else AssertionError()


def function_value(name: str) -> Any:
    """A DSL or builtin function used as a value (`key=len`, `map(str, xs)`)."""
    if name in B.BUILTINS:
        return B.BUILTINS[name]
    if name in B.DSL_FUNCTIONS:
        return B.DSL_FUNCTIONS[name]
    if name.startswith("math."):
        return B.MATH[name[5:]]
    if name == "ImagePatch":
        return ImagePatch
    raise TypeError(f"'{name}' cannot be used as a value")


def call_value(fn, *args, **kwargs):
    if not callable(fn):
        raise TypeError(f"'{type(fn).__name__}' object is not callable")
    return fn(*args, **kwargs)


def _prefixed(target: str, node: Node) -> Callable | None:
    kind, _, name = target.partition(":")
    if kind == "binop":
        return BINARY[name]
    if kind == "inplace":
        return INPLACE[name]
    if kind == "unop":
        return UNARY[name]
    if kind == "cmp":
        return COMPARE[name]
    if kind == "builtin":
        return B.BUILTINS[name]
    if kind == "dsl" and name in B.DSL_FUNCTIONS:
        return B.DSL_FUNCTIONS[name]
    if kind == "math":
        if name in B.MATH_CONSTANTS:
            value = B.MATH_CONSTANTS[name]
            return lambda: value
        return B.MATH[name]
    if kind == "method":
        return lambda recv, *a, **k: call_method(recv, name, *a, **k)
    return None


def resolve(node: Node, ctx=None) -> Callable:
    """The function computing a PURE node from its argument values."""
    t, meta = node.target, node.meta
    simple = {
        "attr": lambda obj: get_attribute(obj, meta["name"]),
        "getitem": operator.getitem,
        "slice": lambda obj, lo, hi, step: obj[lo:hi:step],
        "setitem": setitem,
        "unpack": lambda v: unpack(v, meta["n"]),
        "item": lambda v: v[meta["index"]],
        "list": lambda *a: list(a),
        "tuple": lambda *a: tuple(a),
        "set": lambda *a: set(a),
        "dict": lambda *a: dict(zip(a[::2], a[1::2])),
        "format": format_parts(meta.get("parts", [])),
        "project": lambda r: _project(r, meta["key"]),
        "assert": check_assert,
        "load": lambda v: v,  # its argument was checked to be bound: see Interpreter.args
        "fn": lambda: function_value(meta["name"]),
        "module:math": lambda: None,
        "call_value": call_value,
        "dsl:ImagePatch": lambda *a, **k: ImagePatch(*a, **k, ctx=ctx),
    }
    fn = simple.get(t) or _prefixed(t, node)
    if fn is None:
        raise KeyError(f"no implementation for pure op {t!r}")
    return fn


def _project(result: LoopResult, key: str):
    return result.project(key)
