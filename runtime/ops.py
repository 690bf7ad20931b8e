"""Implementations of PURE nodes, resolved once per node from the op registry.

`IMPLEMENTATIONS` has one factory per op family of compiler/opset.py (fixed targets such as
`getitem`, and prefixes such as `binop`); `resolve(node, ctx)` builds the node's function and
wraps it with the accounting of its op's Cost (runtime/limits.py). A target the registry does
not declare is an error when the graph is loaded (lint), not a silent no-op.
"""

from __future__ import annotations

import operator
from itertools import islice
from typing import Any, Callable

from fmprog.compiler.ir import Node
from fmprog.compiler.opset import registry

from . import builtins as B
from .limits import LIMITS, Meter, format_field, metered
from .values import FunctionValue, ImagePatch, LoopResult, patch_class, program_patch

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
    if isinstance(recv, ImagePatch) and name in B.patch_attributes():
        return getattr(recv, name)
    raise AttributeError(f"'{type(recv).__name__}' object has no attribute '{name}'")


def unpack(value, n: int) -> tuple:
    """`a, b = value`, as Python: at most n + 1 items are taken from it."""
    items = tuple(islice(iter(value), n + 1))
    if len(items) > n:
        raise ValueError(f"too many values to unpack (expected {n})")
    if len(items) < n:
        raise ValueError(f"not enough values to unpack (expected {n}, got {len(items)})")
    return items


CONVERSIONS = {"": lambda v: v, "r": repr, "s": str, "a": ascii}


def format_parts(parts: list, meter_of: Callable[[], Meter]) -> Callable:
    """An f-string: literal text and fields; each field checked (width, size) before it is formatted."""

    def run(*values):
        meter = meter_of()
        out, it, total = [], iter(values), 0
        for p in parts:
            if isinstance(p, str):
                out.append(p)
                total += len(p)
                continue
            value, conversion = next(it), p["conversion"]
            total += format_field(meter, value, p["spec"]) * (10 if conversion == "a" else 1)  # ascii() escapes
            if total > meter.limits.max_str:
                meter.string(total)
            value = CONVERSIONS[conversion](value)
            if total > meter.limits.max_str:
                meter.string(total)
            out.append(format(value, p["spec"]))
        text = "".join(out)
        meter.string(len(text), not text.isascii())
        return text

    return run


def setitem(obj, key, value) -> None:
    if not isinstance(obj, (list, dict)):
        raise TypeError(f"'{type(obj).__name__}' object does not support item assignment")
    obj[key] = value


def check_assert(cond, msg=None) -> None:
    if not cond:
        raise AssertionError(msg) if msg is not None else AssertionError()


def call_value(fn, *args, **kwargs):
    if not callable(fn):
        raise TypeError(f"'{type(fn).__name__}' object is not callable")
    return fn(*args, **kwargs)


def function_value(name: str, meter_of: Callable[[], Meter]) -> Any:
    """A DSL or builtin function used as a value."""
    if name == "ImagePatch":
        return patch_class()
    if name.startswith("math."):
        target, fn = "math:" + name[5:], B.MATH[name[5:]]
    elif name in B.BUILTINS:
        target, fn = "builtin:" + name, B.BUILTINS[name]
    elif name in B.DSL_FUNCTIONS:
        target, fn = "dsl:" + B.canonical(name), B.DSL_FUNCTIONS[name]
    else:
        raise TypeError(f"'{name}' cannot be used as a value")
    accounted = metered(registry()[target].cost, fn, meter_of)

    def call(*args, **kwargs):
        meter = meter_of()
        meter.tick()
        value = accounted(*args, **kwargs)
        if type(value).__name__ == "ndarray":
            meter.array(value)
        return value

    return FunctionValue(fn, call)


def _project(result: LoopResult, key: str):
    return result.project(key)


def _math(name: str) -> Callable:
    if name in B.MATH_CONSTANTS:
        value = B.MATH_CONSTANTS[name]
        return lambda: value
    return B.MATH[name]


def _method(name: str) -> Callable:
    return lambda recv, *a, **k: call_method(recv, name, *a, **k)


def _dsl(name: str, ctx) -> Callable:
    if name == "ImagePatch":
        return lambda *a, **k: program_patch(*a, **k, ctx=ctx)
    return B.DSL_FUNCTIONS[name]


Factory = Callable[[Node, str, Any, Callable[[], Meter]], Callable]
IMPLEMENTATIONS: dict[str, Factory] = {
    "attr": lambda n, _, ctx, m: lambda obj: get_attribute(obj, n.meta["name"]),
    "getitem": lambda n, _, ctx, m: operator.getitem,
    "slice": lambda n, _, ctx, m: lambda obj, lo, hi, step: obj[lo:hi:step],
    "setitem": lambda n, _, ctx, m: setitem,
    "unpack": lambda n, _, ctx, m: lambda v: unpack(v, n.meta["n"]),
    "item": lambda n, _, ctx, m: lambda v: v[n.meta["index"]],
    "project": lambda n, _, ctx, m: lambda r: _project(r, n.meta["key"]),
    "load": lambda n, _, ctx, m: lambda v: v,  # its argument was checked to be bound: see Interpreter.args
    "assert": lambda n, _, ctx, m: check_assert,
    "list": lambda n, _, ctx, m: lambda *a: list(a),
    "tuple": lambda n, _, ctx, m: lambda *a: tuple(a),
    "set": lambda n, _, ctx, m: lambda *a: set(a),
    "dict": lambda n, _, ctx, m: lambda *a: dict(zip(a[::2], a[1::2])),
    "format": lambda n, _, ctx, m: format_parts(n.meta.get("parts", []), m),
    "fn": lambda n, _, ctx, m: lambda: function_value(n.meta["name"], m),
    "call_value": lambda n, _, ctx, m: call_value,
    "any_path": lambda n, _, ctx, m: None,  # reads guards, not values: the interpreter evaluates it
    "module": lambda n, _, ctx, m: lambda: None,
    "binop": lambda n, name, ctx, m: BINARY[name],
    "inplace": lambda n, name, ctx, m: INPLACE[name],
    "unop": lambda n, name, ctx, m: UNARY[name],
    "cmp": lambda n, name, ctx, m: COMPARE[name],
    "builtin": lambda n, name, ctx, m: B.BUILTINS[name],
    "method": lambda n, name, ctx, m: _method(name),
    "math": lambda n, name, ctx, m: _math(name),
    "dsl": lambda n, name, ctx, m: _dsl(name, ctx),
}


def _no_meter() -> Meter:
    return Meter(LIMITS, 1 << 62, None)


def resolve(node: Node, ctx=None) -> Callable:
    """The function computing a PURE node from its argument values, with its accounting.
    `ctx.meter` is the current run's Meter (a fresh, unbounded one when there is no ctx)."""
    op = registry().get(node.target)
    if op is None:
        raise KeyError(f"no implementation for pure op {node.target!r}")
    meter_of = (lambda: ctx.meter) if ctx is not None else _no_meter
    fn = IMPLEMENTATIONS[op.family](node, node.target.partition(":")[2], ctx, meter_of)
    return metered(op.cost, fn, meter_of) if fn is not None else None
