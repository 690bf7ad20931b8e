"""The vocabulary of PURE ops, declared once: the lowering emits these targets, lint refuses
any other, and the interpreter resolves each to its implementation and its accounting.

A target is a fixed name (`getitem`) or `family:name` (`binop:+`, `builtin:len`); the
names of the builtin, method, math and dsl families are those of grammars/. Every op
declares its arity, the meta keys it needs, and its `Cost`: how the interpreter accounts
the time and the memory it may take (runtime/limits.py implements each Cost once).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass


class Cost(str, enum.Enum):
    """How an op's time and memory are bounded at run time."""

    SMALL = "small"  # constant time, a result no bigger than a constant or than an argument
    INDEX = "index"  # x[i]: constant time, but an image array indexed by a list is copied
    SCAN = "scan"  # time linear in an argument's size, no new storage (x in xs, str.count, sort)
    GROW = "grow"  # adds one item to a container in place (append, add, setitem)
    COPY = "copy"  # a result about the size of its first argument (sorted, str.lower, slices)
    TEXT = "text"  # the text form of its argument (str)
    ADD = "add"  # +: concatenation, or integer addition
    MUL = "mul"  # *: repetition, or integer product
    POW = "pow"  # **
    SHIFT = "shift"  # <<
    ROUND = "round"  # round(): an integer rounded to -n digits computes 10 ** n
    ARITH = "arith"  # other arithmetic and set algebra: no bigger than its operands together
    MOD = "mod"  # %: printf formatting of a str, else arithmetic
    UNION = "union"  # grows to at most all its arguments together (extend, update, union)
    SUM = "sum"  # sum(): repeated addition
    JOIN = "join"  # str.join
    REPLACE = "replace"  # str.replace
    TEMPLATE = "template"  # str.format
    FORMAT = "format"  # an f-string


@dataclass(frozen=True)
class PureOp:
    """One PURE target: `arity` is (min, max) arguments, max None for any number, or None
    where the DSL signature decides (the checker has bound the call already)."""

    target: str
    cost: Cost
    arity: tuple[int, int | None] | None = None
    meta: tuple[str, ...] = ()

    @property
    def family(self) -> str:
        """The prefix before ':' (`binop`), or the whole target for fixed ops."""
        return self.target.partition(":")[0] if ":" in self.target else self.target


# -- fixed targets: the names the lowering emits --------------------------------------------------
ATTR, GETITEM, SLICE, SETITEM = "attr", "getitem", "slice", "setitem"
UNPACK, ITEM, PROJECT, LOAD, ASSERT = "unpack", "item", "project", "load", "assert"
LIST, TUPLE, SET, DICT, FORMAT = "list", "tuple", "set", "dict", "format"
FN, CALL_VALUE, ANY_PATH, MODULE_MATH = "fn", "call_value", "any_path", "module:math"
IMAGE_PATCH = "dsl:ImagePatch"
# prefixes of the families whose names come from grammars/
BUILTIN, METHOD, MATH, DSL = "builtin:", "method:", "math:", "dsl:"

FIXED = (
    PureOp(ATTR, Cost.SMALL, (1, 1), ("name",)),
    PureOp(GETITEM, Cost.INDEX, (2, 2)),
    PureOp(SLICE, Cost.COPY, (4, 4)),
    PureOp(SETITEM, Cost.GROW, (3, 3)),
    PureOp(UNPACK, Cost.SMALL, (1, 1), ("n",)),
    PureOp(ITEM, Cost.SMALL, (1, 1), ("index",)),
    PureOp(PROJECT, Cost.SMALL, (1, 1), ("key",)),
    PureOp(LOAD, Cost.SMALL, (1, 1), ("name",)),
    PureOp(ASSERT, Cost.SMALL, (1, 2)),
    PureOp(LIST, Cost.COPY, (0, None)),  # displays: as many items as the source writes, run again in loops
    PureOp(TUPLE, Cost.COPY, (0, None)),
    PureOp(SET, Cost.COPY, (0, None)),
    PureOp(DICT, Cost.COPY, (0, None)),
    PureOp(FORMAT, Cost.FORMAT, (0, None), ("parts",)),
    PureOp(FN, Cost.SMALL, (0, 0), ("name",)),
    PureOp(CALL_VALUE, Cost.SMALL, (1, None)),  # the callee accounts for itself
    PureOp(ANY_PATH, Cost.SMALL, (0, 0), ("paths",)),
    PureOp(MODULE_MATH, Cost.SMALL, (0, 0)),
    PureOp(IMAGE_PATCH, Cost.SMALL),
)

# -- families of operators, keyed by the operator as written -------------------------------------
BINOP_COSTS = {
    "+": Cost.ADD, "-": Cost.ARITH, "*": Cost.MUL, "/": Cost.ARITH, "//": Cost.ARITH, "%": Cost.MOD,
    "**": Cost.POW, "&": Cost.ARITH, "|": Cost.ARITH, "^": Cost.ARITH, "<<": Cost.SHIFT, ">>": Cost.ARITH,
}
INPLACE_COSTS = {op: c for op, c in BINOP_COSTS.items() if op not in ("<<", ">>")}
UNOP_COSTS = {"not": Cost.SMALL, "-": Cost.SMALL, "+": Cost.SMALL, "~": Cost.SMALL}
CMP_COSTS = {op: Cost.SCAN for op in ("==", "!=", "<", "<=", ">", ">=", "in", "not in")}
CMP_COSTS.update({"is": Cost.SMALL, "is not": Cost.SMALL})

BINOP = {op: "binop:" + op for op in BINOP_COSTS}
INPLACE = {op: "inplace:" + op for op in INPLACE_COSTS}
UNOP = {op: "unop:" + op for op in UNOP_COSTS}
CMP = {op: "cmp:" + op for op in CMP_COSTS}

# -- families named by grammars/: each name's cost (every DSL name needs one) ------------------------
BUILTIN_COSTS = {
    "len": Cost.SMALL, "min": Cost.SCAN, "max": Cost.SCAN, "sorted": Cost.COPY, "sum": Cost.SUM,
    "abs": Cost.SMALL, "any": Cost.SCAN, "all": Cost.SCAN, "enumerate": Cost.SMALL, "range": Cost.SMALL,
    "zip": Cost.SMALL, "int": Cost.SMALL, "float": Cost.SMALL, "str": Cost.TEXT, "bool": Cost.SMALL,
    "list": Cost.COPY, "set": Cost.COPY, "dict": Cost.COPY, "tuple": Cost.COPY, "round": Cost.ROUND,
    "next": Cost.SMALL, "reversed": Cost.SMALL, "isinstance": Cost.SMALL, "print": Cost.SMALL,
    "filter": Cost.SMALL, "map": Cost.SMALL,  # lazy: whoever consumes them pays
}
# One cost per method name, whichever class has it (the target does not say which).
METHOD_COSTS = {
    "lower": Cost.COPY, "upper": Cost.COPY, "strip": Cost.COPY, "lstrip": Cost.COPY, "rstrip": Cost.COPY,
    "split": Cost.COPY, "join": Cost.JOIN, "replace": Cost.REPLACE, "startswith": Cost.SCAN,
    "endswith": Cost.SCAN, "format": Cost.TEMPLATE, "find": Cost.SCAN, "index": Cost.SCAN,
    "count": Cost.SCAN, "isdigit": Cost.SCAN, "isnumeric": Cost.SCAN, "isalpha": Cost.SCAN,
    "title": Cost.COPY, "capitalize": Cost.COPY,
    "append": Cost.GROW, "extend": Cost.UNION, "insert": Cost.GROW, "sort": Cost.SCAN, "reverse": Cost.SCAN,
    "pop": Cost.SMALL, "remove": Cost.SCAN, "copy": Cost.COPY, "clear": Cost.SMALL,
    "get": Cost.SMALL, "keys": Cost.SMALL, "values": Cost.SMALL, "items": Cost.SMALL, "update": Cost.UNION,
    "setdefault": Cost.GROW, "add": Cost.GROW, "union": Cost.UNION, "intersection": Cost.SCAN,
    "difference": Cost.SCAN, "discard": Cost.SMALL,
    "crop": Cost.SMALL, "overlaps_with": Cost.SMALL,
}
MATH_COSTS = {"dist": Cost.SCAN, "hypot": Cost.SCAN}  # the others: SMALL (floats)
DSL_COSTS = {"bool_to_yesno": Cost.SMALL, "distance": Cost.SMALL, "coerce_to_numeric": Cost.SCAN}


def _named(family: str, names, costs: dict[str, Cost], default: Cost | None = None) -> list[PureOp]:
    ops = []
    for name in names:
        cost = costs.get(name, default)
        if cost is None:
            raise KeyError(f"the DSL's {family} '{name}' has no cost in compiler/opset.py")
        ops.append(PureOp(f"{family}:{name}", cost))
    return ops


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, PureOp]:
    """Every PURE target, by target string."""
    from fmprog.grammars import dsl as dsl_module

    d = dsl_module.load()
    ops = list(FIXED)
    for table, costs, arity in ((BINOP, BINOP_COSTS, 2), (INPLACE, INPLACE_COSTS, 2), (UNOP, UNOP_COSTS, 1),
                                (CMP, CMP_COSTS, 2)):
        ops += [PureOp(table[op], cost, (arity, arity)) for op, cost in costs.items()]
    ops += _named("builtin", d.builtins, BUILTIN_COSTS)
    methods = {m for spec in d.types.values() for m in spec.methods}
    methods |= {n for n, s in d.patch.methods.items() if not s.neural}
    ops += _named("method", sorted(methods), METHOD_COSTS)
    math = d.modules["math"]
    ops += _named("math", math.methods, MATH_COSTS, Cost.SMALL)
    ops += [PureOp("math:" + name, Cost.SMALL, (0, 0)) for name in math.attributes]
    ops += _named("dsl", sorted({s.canonical for s in d.functions.values() if not s.neural}), DSL_COSTS)
    return {op.target: op for op in ops}


def families() -> set[str]:
    """The fixed targets and the family prefixes: what an implementation table must cover."""
    return {op.family for op in registry().values()}


@functools.lru_cache(maxsize=1)
def shapes() -> dict[str, tuple[int, int, tuple[str, ...], bool]]:
    """target -> (min args, max args, meta keys, keywords allowed): what lint checks, flat."""
    big = 1 << 30
    return {t: (op.arity[0], big if op.arity[1] is None else op.arity[1], op.meta, False) if op.arity is not None
            else (0, big, op.meta, True) for t, op in registry().items()}
