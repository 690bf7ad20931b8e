"""Lowering and checking of calls: DSL functions, builtins, methods, math, lambdas.

Which node a call becomes is decided here: a neural method of a patch becomes a NEURAL
node with a call-site id; everything else a PURE node whose target names the operation.
Arity and the argument types that are certain are checked against the DSL signatures.
"""

from __future__ import annotations

import libcst as cst

from . import types as T
from .diagnostics import hint
from . import opset as P
from .ir import Op
from .regions import RegionLowering

# The return-type rules of python_subset.pyi, computed from the first argument's type.
RULES = {
    "Elem": lambda ts: T.elem(ts[0]) if len(ts) == 1 else _join_all(ts),
    "Same": lambda ts: ts[0] if ts else T.ANY,
    "ListOfElem": lambda ts: T.list_of(T.elem(ts[0])) if ts else "list[any]",
}


def _runs_anyway(t: str, expected: str) -> bool:
    """Python would not raise here (any value has a truth value; a str is iterable)."""
    return expected == T.BOOL or (T.is_list(expected) and t == T.STR)


def _format_fields(template: str):
    """The field names of a str.format template, nested ones (in specs) included."""
    import string

    for _, field, spec, _ in string.Formatter().parse(template):
        if field is not None:
            yield field
        if spec:
            yield from _format_fields(spec)


_EXPECTED: dict[int, tuple] = {}


def _expected(sig) -> tuple[list, dict]:
    """A signature's (param, expected type) pairs, positional and by name, computed once."""
    found = _EXPECTED.get(id(sig))
    if found is None or found[0] is not sig:
        pairs = [(p, T.from_annotation(p.type)) for p in sig.params]
        positional = [pair for pair in pairs if pair[0] in sig.shape[1]]
        found = _EXPECTED[id(sig)] = (sig, positional, {p.name: (p, e) for p, e in pairs})
    return found[1], found[2]


def _join_all(ts: list[str]) -> str:
    t = ts[0] if ts else T.ANY
    for x in ts[1:]:
        t = T.join(t, x)
    return t


class CallLowering(RegionLowering):
    def call(self, node: cst.Call):
        for a in node.args:
            if a.star:
                return self.unsupported(a, "argument unpacking with * or **")
        func = node.func
        if type(func) is cst.Name and func.value not in self.flow.env:
            return self.call_name(node, func.value)
        if type(func) is cst.Attribute:
            name = func.attr.value
            if name.startswith("__"):
                return self.error("dunder-attribute", func, name=name)
            if type(func.value) is cst.Name and func.value.value == "math" and "math" not in self.flow.env:
                return self.call_math(node, name)
            return self.call_method(node, self.expr(func.value), name)
        callee, t = self.expr(func)
        if t == T.ERROR:
            self.arguments(node)
            return self.placeholder(node)
        if t in T.SCALAR or t in (T.STR, T.PATCH, T.IMAGE) or T.is_list(t):
            return self.error("not-callable", node, type=f"'{T.describe(t)}'")
        pos, kw = self.arguments(node)
        return self.emit(Op.PURE, P.CALL_VALUE, node, (callee, *[v for v, _ in pos]),
                         [(k, v) for k, (v, _) in kw]), T.ANY

    def arguments(self, node: cst.Call, key_hint: str | None = None):
        """Lower the arguments in source order; a `key=lambda` gets its parameter's type."""
        pos, kw = [], []
        for a in node.args:
            if a.keyword is None:
                pos.append(self.expr(a.value))
                continue
            hint_types = ()
            if a.keyword.value == "key":
                elem = key_hint if key_hint is not None else (T.elem(pos[0][1]) if pos else T.ANY)
                hint_types = (elem,)
            kw.append((a.keyword.value, self.expr(a.value, hint_types)))
        return pos, kw

    def check_call(self, node: cst.Call, sig, pos, kw) -> bool:
        """Arity and certain argument-type errors; True when the call is fine."""
        problem = sig.bind_error(len(pos), tuple(k for k, _ in kw))
        if problem:
            self.report("arity", node, detail=problem)
            return False
        positional, by_name = _expected(sig)
        bound = [(p, e, t) for (p, e), (_, t) in zip(positional, pos) if t != T.ANY]
        bound += [(*by_name[k], t) for k, (_, t) in kw if k in by_name and t != T.ANY]
        for p, expected, t in bound:
            if T.may_be(t, expected):
                continue
            if _runs_anyway(t, expected):
                self.report("suspicious-argument", node, name=sig.name, param=p.name,
                            expected=T.describe(expected), got=T.describe(t))
            else:
                self.report("type-error", node, detail=(
                    f"{sig.name}() argument '{p.name}' must be {T.describe(expected)}, not {T.describe(t)}"))
                return False
        return True

    # -- free functions ------------------------------------------------------------------
    def call_name(self, node: cst.Call, name: str):
        if name in self.forbidden:
            return self.forbidden_call(node, name)
        if name == "ImagePatch":
            pos, kw = self.arguments(node)
            self.check_call(node, self.dsl.patch.init, pos, kw)
            return self.pure(node, P.IMAGE_PATCH, pos, kw), T.PATCH
        sig = self.dsl.functions.get(name)
        if sig is not None:
            pos, kw = self.arguments(node)
            if not self.check_call(node, sig, pos, kw):
                return self.placeholder(node)
            if sig.neural:
                return self.neural(node, sig, name, None, pos, kw)
            return self.pure(node, P.DSL + sig.canonical, pos, kw), T.from_annotation(sig.returns)
        sig = self.dsl.builtins.get(name)
        if sig is not None:
            return self.call_builtin(node, sig)
        if name in ("True", "False", "None"):
            return self.error("not-callable", node, type=f"'{name}'")
        return self.undefined(node.func, name)

    def call_builtin(self, node: cst.Call, sig):
        pos, kw = self.arguments(node)
        if not self.check_call(node, sig, pos, kw):
            return self.placeholder(node)
        name = sig.name
        if name == "len":
            t = pos[0][1]
            if t in T.SCALAR or t in (T.PATCH, T.IMAGE):
                return self.error("type-error", node, detail=f"object of type '{T.describe(t)}' has no len()")
            arg = node.args[0].value
            if type(arg) is cst.Name:
                self.length_checked.add(arg.value)
        rule = RULES.get(sig.returns)
        t = rule([t for _, t in pos]) if rule else T.from_annotation(sig.returns)
        return self.pure(node, P.BUILTIN + name, pos, kw), t

    def call_math(self, node: cst.Call, name: str):
        if not self.math_imported:
            return self.undefined(node.func.value, "math")
        math = self.dsl.modules["math"]
        sig = math.methods.get(name)
        if sig is None:
            return self.error("unknown-function", node.func, module="math", name=name,
                              hint=hint(name, list(math.methods)))
        pos, kw = self.arguments(node)
        if not self.check_call(node, sig, pos, kw):
            return self.placeholder(node)
        return self.pure(node, P.MATH + name, pos, kw), T.from_annotation(sig.returns)

    # -- methods -----------------------------------------------------------------------
    def call_method(self, node: cst.Call, receiver, name: str):
        recv, t = receiver
        patch = self.dsl.patch
        cls = T.value_class(t)
        if t == T.ERROR:
            self.arguments(node)
            return self.placeholder(node)
        if t == T.PATCH or (t == T.ANY and name in patch.methods):
            sig = patch.methods.get(name)
            if sig is None:
                return self.unknown_patch_method(node, name)
            pos, kw = self.arguments(node)
            if not self.check_call(node, sig, pos, kw):
                return self.placeholder(node)
            if sig.neural:
                return self.neural(node, sig, name, recv, pos, kw)
            return self.pure(node, P.METHOD + name, [(recv, t), *pos], kw), T.from_annotation(sig.returns)
        if cls is not None:
            return self.value_method(node, recv, t, cls, name)
        if t == T.ANY:
            owners = [c for c, spec in self.dsl.types.items() if name in spec.methods]
            if not owners:
                return self.error("unknown-method", node.func, type="value", name=name, hint=self.patch_hint(name))
            pos, kw = self.arguments(node)
            sig = self.dsl.types[owners[0]].methods[name]
            rule = RULES.get(sig.returns)
            rt = T.ANY if len(owners) > 1 or rule else T.from_annotation(sig.returns)
            return self.pure(node, P.METHOD + name, [(recv, t), *pos], kw), rt
        suffix = f"; did you mean ImagePatch(image).{name}(...)?" if t == T.IMAGE and name in patch.methods else ""
        return self.error("unknown-method", node.func, type=f"'{T.describe(t)}'", name=name, hint=suffix)

    def unknown_patch_method(self, node: cst.Call, name: str):
        patch = self.dsl.patch
        if name in patch.attributes:
            return self.error("not-callable", node, type=f"ImagePatch.{name} ({patch.attributes[name]})")
        owners = [c for c, spec in self.dsl.types.items() if name in spec.methods]
        if owners:
            suffix = f"; '{name}' is a method of {owners[0]}, not of ImagePatch"
        else:
            suffix = self.patch_hint(name)
        return self.error("unknown-method", node.func, type="ImagePatch", name=name, hint=suffix)

    def value_method(self, node: cst.Call, recv: int, t: str, cls: str, name: str):
        spec = self.dsl.types[cls]
        sig = spec.methods.get(name)
        if sig is None:
            if name in self.dsl.patch.methods and T.elem(t) in (T.PATCH, T.ANY):
                return self.error("type-error", node.func, detail=(
                    f"'{name}' is an ImagePatch method, but this value is a {T.describe(t)}; "
                    "index it or loop over it first"))
            return self.error("unknown-method", node.func, type=cls, name=name, hint=hint(name, list(spec.methods)))
        if name == "format":
            self.check_format_fields(node.func.value)
        key_hint = T.elem(t) if name == "sort" else None
        pos, kw = self.arguments(node, key_hint)
        if not self.check_call(node, sig, pos, kw):
            return self.placeholder(node)
        rule = RULES.get(sig.returns)
        rt = rule([t]) if rule else T.from_annotation(sig.returns)
        return self.pure(node, P.METHOD + name, [(recv, t), *pos], kw), rt

    def check_format_fields(self, receiver: cst.BaseExpression) -> None:
        """`'{0.__class__}'.format(x)` reads attributes of its arguments: refused when the
        template is a literal (a computed one is checked at run time)."""
        if not isinstance(receiver, cst.SimpleString):
            return
        try:
            template = receiver.evaluated_value
            fields = list(_format_fields(str(template)))
        except (ValueError, SyntaxError):
            return  # a malformed template fails at run time, as in Python
        for field in fields:
            if "." in field or "[" in field:
                self.report("format-lookup", receiver, field=field)
                return

    # -- emitting ------------------------------------------------------------------------
    def pure(self, node: cst.Call, target: str, pos, kw) -> int:
        return self.emit(Op.PURE, target, node, [v for v, _ in pos], [(k, v) for k, (v, _) in kw])

    def neural(self, node: cst.Call, sig, written: str, recv: int | None, pos, kw):
        """A NEURAL node with a stable site id: method, argument text and position."""
        r = self.pos[node.func.attr] if type(node.func) is cst.Attribute else self.pos[node]
        args = ", ".join(
            (a.keyword.value + "=" if a.keyword is not None else "") + self.text(a.value) for a in node.args)
        site = f"{written}({args})@{r.line}:{r.col}"
        args_ids = ([recv] if recv is not None else []) + [v for v, _ in pos]
        nid = self.emit(Op.NEURAL, sig.canonical, node, args_ids, [(k, v) for k, (v, _) in kw],
                        site=site, kind=sig.neural, method=written, receiver=recv is not None)
        rt = T.from_annotation(sig.returns)
        if any(k == "return_index" for k, _ in kw):
            rt = T.ANY
        return nid, rt
