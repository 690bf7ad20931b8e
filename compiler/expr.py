"""Lowering of expressions: each `expr_<CSTType>` returns (node id, static type).

Anything without an `expr_` method is reported as an unsupported construct: nothing is
accepted silently. Short-circuit operators and conditional expressions become BRANCH and
MERGE nodes, so a neural call on the right of `and` fires only when Python would run it.
"""

from __future__ import annotations

import libcst as cst

from . import types as T
from .calls import CallLowering
from . import opset as P
from .ir import Op

Val = tuple[int, str]

BINOPS = {
    cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/", cst.FloorDivide: "//",
    cst.Modulo: "%", cst.Power: "**", cst.BitAnd: "&", cst.BitOr: "|", cst.BitXor: "^",
    cst.LeftShift: "<<", cst.RightShift: ">>",
}
UNOPS = {cst.Not: "not", cst.Minus: "-", cst.Plus: "+", cst.BitInvert: "~"}
CMPOPS = {
    cst.Equal: "==", cst.NotEqual: "!=", cst.LessThan: "<", cst.LessThanEqual: "<=",
    cst.GreaterThan: ">", cst.GreaterThanEqual: ">=", cst.In: "in", cst.NotIn: "not in",
    cst.Is: "is", cst.IsNot: "is not",
}
ORDERING = {"<", "<=", ">", ">="}
CONST_TYPES = {bool: T.BOOL, int: T.INT, float: T.FLOAT, str: T.STR, type(None): T.NONE}
NAMED_CONSTS = {"True": (True, T.BOOL), "False": (False, T.BOOL), "None": (None, T.NONE)}


class ExprLowering(CallLowering):
    def expr(self, node: cst.BaseExpression, hint: tuple[str, ...] = ()) -> Val:
        method = self._expr_methods[type(node)]
        if method is None:
            return self.unsupported(node, _describe(node))
        if hint and isinstance(node, cst.Lambda):
            return self.expr_Lambda(node, hint)
        return method(self, node)

    # -- atoms -------------------------------------------------------------------------
    def const(self, value, node: cst.CSTNode) -> Val:
        return self.emit(Op.CONST, "const", node, value=value), CONST_TYPES.get(type(value), T.ANY)

    # int()/float() read Python's literal forms (0x1F, 1_000, 1e-3) directly; libcst's
    # evaluated_value compiles each literal with ast.literal_eval, a large part of a compile.
    def expr_Integer(self, node: cst.Integer) -> Val:
        try:
            return self.const(int(node.value, 0), node)
        except ValueError:  # "007": Python refuses it too
            return self.error("bad-literal", node, detail=f"invalid integer {node.value!r}")

    def expr_Float(self, node: cst.Float) -> Val:
        return self.const(float(node.value), node)

    def expr_SimpleString(self, node: cst.SimpleString) -> Val:
        raw = node.value
        if "\\" not in raw and raw[0] in "'\"":  # no prefix, no escapes: skip literal_eval
            q = 3 if raw[:3] in ('"""', "'''") else 1
            return self.const(raw[q:-q], node)
        try:
            value = node.evaluated_value
        except (ValueError, SyntaxError) as e:
            return self.error("bad-literal", node, detail=str(e).splitlines()[0])
        if isinstance(value, bytes):
            return self.unsupported(node, "a bytes literal")
        return self.const(value, node)

    def expr_ConcatenatedString(self, node: cst.ConcatenatedString) -> Val:
        left, right = self.expr(node.left), self.expr(node.right)
        return self.emit(Op.PURE, P.BINOP["+"], node, (left[0], right[0])), T.STR

    def expr_FormattedString(self, node: cst.FormattedString) -> Val:
        parts, args = [], []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value.replace("{{", "{").replace("}}", "}"))
                continue
            spec = ""
            for s in part.format_spec or ():
                if not isinstance(s, cst.FormattedStringText):
                    return self.unsupported(s, "a computed format spec in an f-string")
                spec += s.value
            args.append(self.expr(part.expression)[0])
            parts.append({"conversion": part.conversion or "", "spec": spec})
        return self.emit(Op.PURE, P.FORMAT, node, args, parts=parts), T.STR

    def expr_Name(self, node: cst.Name) -> Val:
        name = node.value
        b = self.flow.env.get(name)
        if b is not None:
            if b.maybe_unbound:  # check at the read, where Python would raise
                self.report("maybe-undefined", node, name=name)
                return self.emit(Op.PURE, P.LOAD, node, (b.node,), name=name), b.type
            return b.node, b.type
        if name in NAMED_CONSTS:
            value, _ = NAMED_CONSTS[name]
            return self.const(value, node)
        return self.global_name(node)

    def global_name(self, node: cst.Name) -> Val:
        """A DSL or builtin name used as a value (not called)."""
        name = node.value
        if name == "math" and self.math_imported:
            return self.emit(Op.PURE, P.MODULE_MATH, node), T.MATH
        if name == "ImagePatch":
            return self.emit(Op.PURE, P.FN, node, name="ImagePatch"), T.PATCH_CLASS
        if name in self.dsl.functions or name in self.dsl.builtins:
            if name in self.forbidden:
                return self.forbidden_call(node, name)
            return self.emit(Op.PURE, P.FN, node, name=name), "func:" + name
        return self.undefined(node, name)

    # -- attributes and subscripts -----------------------------------------------------
    def expr_Attribute(self, node: cst.Attribute) -> Val:
        name = node.attr.value
        if name.startswith("__"):
            return self.error("dunder-attribute", node, name=name)
        if isinstance(node.value, cst.Name) and node.value.value == "math" and "math" not in self.flow.env:
            return self.math_constant(node, name)
        obj, t = self.expr(node.value)
        patch = self.dsl.patch
        if t == T.ERROR:
            return self.placeholder(node)
        if t == T.PATCH:
            if name in patch.attributes:
                return self.emit(Op.PURE, P.ATTR, node, (obj,), name=name), T.from_annotation(patch.attributes[name])
            if name in patch.methods:
                return self.unsupported(node, "a method used as a value (call it)")
            return self.error("unknown-attribute", node, type="ImagePatch", name=name,
                              hint=self.patch_hint(name))
        if t in T.SCALAR or T.value_class(t) or t == T.IMAGE:
            return self.error("unknown-attribute", node, type=f"'{T.describe(t)}'", name=name,
                              hint=self.patch_hint(name) if T.is_list(t) else "")
        if t == T.ANY and name in patch.attributes:
            return self.emit(Op.PURE, P.ATTR, node, (obj,), name=name), T.from_annotation(patch.attributes[name])
        if t == T.ANY:
            return self.error("unknown-attribute", node, type="value", name=name, hint=self.patch_hint(name))
        return self.error("unknown-attribute", node, type=f"'{T.describe(t)}'", name=name, hint="")

    def math_constant(self, node: cst.Attribute, name: str) -> Val:
        math = self.dsl.modules["math"]
        if not self.math_imported:
            return self.undefined(node.value, "math")
        if name in math.attributes:
            return self.emit(Op.PURE, P.MATH + name, node), T.FLOAT
        if name in math.methods:
            return self.emit(Op.PURE, P.FN, node, name="math." + name), "func:math." + name
        from .diagnostics import hint

        return self.error("unknown-function", node, module="math", name=name,
                          hint=hint(name, [*math.attributes, *math.methods]))

    def expr_Subscript(self, node: cst.Subscript) -> Val:
        obj, t = self.expr(node.value)
        if t == T.ERROR:
            for el in node.slice:
                if isinstance(el.slice, cst.Index):
                    self.expr(el.slice.value)
            return self.placeholder(node)
        if len(node.slice) != 1:
            return self.unsupported(node, "a subscript with several indices")
        sl = node.slice[0].slice
        if t in T.SCALAR or t in (T.PATCH, T.IMAGE):
            return self.error("type-error", node, detail=f"'{T.describe(t)}' object is not subscriptable")
        if isinstance(sl, cst.Slice):
            parts = [self.expr(p)[0] if p is not None else self.const(None, sl)[0]
                     for p in (sl.lower, sl.upper, sl.step)]
            return self.emit(Op.PURE, P.SLICE, node, (obj, *parts)), (t if T.is_list(t) or t == T.STR else T.ANY)
        self.warn_unchecked_index(node, sl.value)
        index, it = self.expr(sl.value)
        if (T.is_list(t) or t == T.STR) and it in (T.STR, T.FLOAT, T.PATCH, T.NONE):
            return self.error("type-error", node, detail=f"{T.describe(t)} indices must be integers, not {T.describe(it)}")
        return self.emit(Op.PURE, P.GETITEM, node, (obj, index)), T.elem(t) if t != T.TUPLE else T.ANY

    def warn_unchecked_index(self, node: cst.Subscript, index: cst.BaseExpression) -> None:
        literal = isinstance(index, cst.Integer) or (
            isinstance(index, cst.UnaryOperation) and isinstance(index.expression, cst.Integer))
        if not literal:
            return
        value = node.value
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "find":
            self.report("unchecked-index", node, name=self.text(value))
            return
        if not isinstance(value, cst.Name):
            return
        b = self.flow.env.get(value.value)
        if b is not None and b.from_find and value.value not in self.length_checked:
            self.report("unchecked-index", node, name=value.value)

    # -- operators ---------------------------------------------------------------------
    def expr_BinaryOperation(self, node: cst.BinaryOperation) -> Val:
        op = BINOPS.get(type(node.operator))
        if op is None:
            return self.unsupported(node, f"the operator {type(node.operator).__name__}")
        (a, ta), (b, tb) = self.expr(node.left), self.expr(node.right)
        t = _binop_type(op, ta, tb)
        if t is None:
            return self.error("type-error", node, detail=(
                f"unsupported operand types for {op}: '{T.describe(ta)}' and '{T.describe(tb)}'"))
        return self.emit(Op.PURE, P.BINOP[op], node, (a, b)), t

    def expr_UnaryOperation(self, node: cst.UnaryOperation) -> Val:
        op = UNOPS[type(node.operator)]
        v, t = self.expr(node.expression)
        if t == T.ERROR:
            return self.placeholder(node)
        if op != "not" and t in (T.STR, T.PATCH, T.NONE) or op != "not" and T.is_list(t):
            return self.error("type-error", node, detail=f"bad operand type for unary {op}: '{T.describe(t)}'")
        return self.emit(Op.PURE, P.UNOP[op], node, (v,)), (T.BOOL if op == "not" else t)

    def expr_BooleanOperation(self, node: cst.BooleanOperation) -> Val:
        is_and = isinstance(node.operator, cst.And)
        left, tl = self.expr(node.left)
        b = self.emit(Op.BRANCH, "and" if is_and else "or", node, (left,))
        outer = self.flow.guard
        self.flow.guard = outer + ((b, is_and),)
        right, tr = self.expr(node.right)
        self.flow.guard = outer
        when = [((b, not is_and),), ((b, is_and),)]
        return self.emit(Op.MERGE, "and" if is_and else "or", node, (left, right), when=when), T.join(tl, tr)

    def expr_Comparison(self, node: cst.Comparison) -> Val:
        left, tl = self.expr(node.left)
        return self.compare(node, left, tl, list(node.comparisons))

    def compare(self, node: cst.Comparison, left: int, tl: str, rest: list) -> Val:
        target = rest[0]
        op = CMPOPS[type(target.operator)]
        right, tr = self.expr(target.comparator)
        if T.ERROR in (tl, tr):
            return self.placeholder(node)
        if op in ORDERING and (T.PATCH in (tl, tr) or T.NONE in (tl, tr)):
            return self.error("type-error", node, detail=(
                f"'{op}' not supported between '{T.describe(tl)}' and '{T.describe(tr)}'"))
        if op in ("in", "not in") and (tr in T.SCALAR or tr == T.PATCH):
            return self.error("type-error", node, detail=f"argument of type '{T.describe(tr)}' is not iterable")
        result = self.emit(Op.PURE, P.CMP[op], node, (left, right))
        if len(rest) == 1:
            return result, T.BOOL
        b = self.emit(Op.BRANCH, "and", node, (result,))
        outer = self.flow.guard
        self.flow.guard = outer + ((b, True),)
        tail, _ = self.compare(node, right, tr, rest[1:])
        self.flow.guard = outer
        return self.emit(Op.MERGE, "and", node, (result, tail), when=[((b, False),), ((b, True),)]), T.BOOL

    def expr_IfExp(self, node: cst.IfExp) -> Val:
        cond, _ = self.expr(node.test)
        b = self.emit(Op.BRANCH, "ifexp", node, (cond,))
        outer = self.flow.guard
        self.flow.guard = outer + ((b, True),)
        yes, ty = self.expr(node.body)
        self.flow.guard = outer + ((b, False),)
        no, tn = self.expr(node.orelse)
        self.flow.guard = outer
        return self.emit(Op.MERGE, "ifexp", node, (yes, no), when=[((b, True),), ((b, False),)]), T.join(ty, tn)

    # -- displays ----------------------------------------------------------------------
    def elements(self, node) -> list[Val]:
        vals = []
        for el in node.elements:
            if isinstance(el, cst.StarredElement):
                self.unsupported(el, "unpacking with * in a display")
                continue
            vals.append(self.expr(el.value))
        return vals

    def expr_List(self, node: cst.List) -> Val:
        vals = self.elements(node)
        t = T.ANY
        for i, (_, vt) in enumerate(vals):
            t = vt if i == 0 else T.join(t, vt)
        return self.emit(Op.PURE, P.LIST, node, [v for v, _ in vals]), T.list_of(t)

    def expr_Tuple(self, node: cst.Tuple) -> Val:
        return self.emit(Op.PURE, P.TUPLE, node, [v for v, _ in self.elements(node)]), T.TUPLE

    def expr_Set(self, node: cst.Set) -> Val:
        return self.emit(Op.PURE, P.SET, node, [v for v, _ in self.elements(node)]), T.SET

    def expr_Dict(self, node: cst.Dict) -> Val:
        args = []
        for el in node.elements:
            if not isinstance(el, cst.DictElement):
                return self.unsupported(el, "unpacking with ** in a dict display")
            args += [self.expr(el.key)[0], self.expr(el.value)[0]]
        return self.emit(Op.PURE, P.DICT, node, args), T.DICT

    def expr_Call(self, node: cst.Call) -> Val:
        return self.call(node)


def _binop_type(op: str, a: str, b: str) -> str | None:
    """The result type, "any" when unsure, None for a certain TypeError."""
    if T.ERROR in (a, b):
        return T.ERROR
    if T.ANY in (a, b):
        return T.ANY
    if a in T.NUMERIC and b in T.NUMERIC and T.NONE not in (a, b):
        if op == "/":
            return T.FLOAT
        return T.INT if a in (T.INT, T.BOOL) and b in (T.INT, T.BOOL) else (T.FLOAT if T.FLOAT in (a, b) else T.NUMBER)
    if op == "+" and a == b and (a == T.STR or a == T.TUPLE or T.is_list(a)):
        return a
    if op == "+" and T.is_list(a) and T.is_list(b):
        return T.join(a, b)
    if op == "*" and ((a in (T.STR, T.TUPLE) or T.is_list(a)) and b in (T.INT, T.BOOL)):
        return a
    if op == "%" and a == T.STR:
        return T.STR
    if op in ("&", "|", "^", "-") and a == b == T.SET:
        return T.SET
    if op in ("&", "|", "^") and a == b == T.BOOL:
        return T.BOOL
    return None


def _describe(node: cst.CSTNode) -> str:
    names = {
        "NamedExpr": "an assignment expression (:=)", "Await": "await", "Yield": "yield",
        "Ellipsis": "'...'", "Imaginary": "a complex number", "StarredElement": "unpacking with *",
    }
    return names.get(type(node).__name__, f"the expression {type(node).__name__}")
