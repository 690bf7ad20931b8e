"""Regions: lambdas and comprehensions (expressions), target binding, joins of flows.

A region is entered with a copy of the enclosing bindings (a closure sees the values of
its scope) and a fresh, empty guard: guards inside a region are relative to it.
"""

from __future__ import annotations

from contextlib import contextmanager
from itertools import compress
from operator import is_not

import libcst as cst

from . import types as T
from .base import LoweringBase
from . import opset as P
from .ir import Guard, Op
from .scope import Binding, Flow, Frame


class RegionLowering(LoweringBase):
    alive = True

    @contextmanager
    def in_region(self, region: int, frame: Frame | None = None):
        saved = (self.region, self.flow, self.frame, self.alive)
        self.region = region
        self.flow = Flow(dict(saved[1].env), ())
        self.frame = frame or Frame(region)
        self.alive = True
        try:
            yield
        finally:
            self.region, self.flow, self.frame, self.alive = saved

    # -- lambdas -----------------------------------------------------------------------
    def expr_Lambda(self, node: cst.Lambda, hint: tuple[str, ...] = ()):
        p = node.params
        if p.posonly_params or p.kwonly_params or not isinstance(p.star_arg, cst.MaybeSentinel) \
                or p.star_kwarg is not None or any(x.default is not None for x in p.params):
            return self.unsupported(node, "a lambda with default, keyword-only or * parameters")
        names = [x.name.value for x in p.params]
        lam = self.emit(Op.LAMBDA, "lambda", node, params=names)
        with self.in_region(lam):
            for i, param in enumerate(p.params):
                v = self.emit(Op.INPUT, "param:" + names[i], param)
                self.flow.env[names[i]] = Binding(v, hint[i] if i < len(hint) else T.ANY)
                self.scoped_names.add(names[i])
            body, _ = self.expr(node.body)
            self.emit(Op.OUTPUT, "result", node.body, (body,))
        return lam, T.LAMBDA

    # -- comprehensions ----------------------------------------------------------------
    def expr_ListComp(self, node: cst.ListComp):
        loop, t = self.comprehension(node, "listcomp", node.for_in, lambda: [("elt", *self.expr(node.elt))])
        return loop, T.list_of(t)

    def expr_SetComp(self, node: cst.SetComp):
        return self.comprehension(node, "setcomp", node.for_in, lambda: [("elt", *self.expr(node.elt))])[0], T.SET

    def expr_GeneratorExp(self, node: cst.GeneratorExp):
        loop, t = self.comprehension(node, "genexp", node.for_in, lambda: [("elt", *self.expr(node.elt))])
        return loop, T.list_of(t)  # iterating it yields elements of type t

    def expr_DictComp(self, node: cst.DictComp):
        def produce():
            return [("key", *self.expr(node.key)), ("value", *self.expr(node.value))]

        return self.comprehension(node, "dictcomp", node.for_in, produce)[0], T.DICT

    def comprehension(self, node, kind: str, comp: cst.CompFor, produce) -> tuple[int, str]:
        """A LOOP region per `for` clause; the innermost one outputs the element(s)."""
        if comp.asynchronous is not None:
            return self.unsupported(comp, "async comprehension")
        it, t = self.expr(comp.iter)
        if not T.iterable(t):
            self.report("type-error", comp.iter, detail=f"'{T.describe(t)}' object is not iterable")
        loop = self.emit(Op.LOOP, kind, node, (it,), carried=[])
        elt_type = T.ANY
        with self.in_region(loop):
            item = self.emit(Op.INPUT, "item", comp.target)
            self.bind_target(comp.target, item, T.elem(t), scoped=True)
            for cond in comp.ifs:
                c, _ = self.expr(cond.test)
                b = self.emit(Op.BRANCH, "if", cond.test, (c,))
                self.flow.guard += ((b, True),)
            if comp.inner_for_in is not None:
                inner, elt_type = self.comprehension(node, kind, comp.inner_for_in, produce)
                self.emit(Op.OUTPUT, "extend", node, (inner,))
            else:
                for name, v, vt in produce():
                    self.emit(Op.OUTPUT, name, node, (v,))
                    elt_type = vt
        return loop, elt_type

    # -- binding targets ---------------------------------------------------------------
    def bind_target(self, target: cst.BaseExpression, value: int, t: str, scoped: bool = False,
                    from_find: bool = False) -> None:
        if isinstance(target, cst.Name):
            self.flow.env[target.value] = Binding(value, t, from_find=from_find)
            if scoped:
                self.scoped_names.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if any(isinstance(e, cst.StarredElement) for e in elements):
                self.unsupported(target, "starred assignment")
                return
            whole = self.emit(Op.PURE, P.UNPACK, target, (value,), n=len(elements))
            for i, el in enumerate(elements):
                part = self.emit(Op.PURE, P.ITEM, el, (whole,), index=i)
                self.bind_target(el.value, part, T.ANY, scoped)
        elif isinstance(target, cst.Subscript) and not scoped:
            obj, _ = self.expr(target.value)
            if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
                self.unsupported(target, "assignment to a slice")
                return
            index, _ = self.expr(target.slice[0].slice.value)
            self.emit(Op.PURE, P.SETITEM, target, (obj, index, value))
        elif isinstance(target, cst.Attribute):
            self.report("assign-target", target, what=f"the attribute '{target.attr.value}'")
        else:
            self.report("assign-target", target, what=f"a {type(target).__name__}")

    # -- joins ---------------------------------------------------------------------------
    def any_path(self, paths: list[Guard], node: cst.CSTNode) -> int:
        """A bool node: does any of `paths` (guards relative to this region) hold?"""
        return self.emit(Op.PURE, P.ANY_PATH, node, paths=[tuple(p) for p in paths])

    def unbound(self, name: str, node: cst.CSTNode) -> Binding:
        guard, self.flow.guard = self.flow.guard, ()
        v = self.emit(Op.CONST, "unbound", node, name=name)
        self.flow.guard = guard
        return Binding(v, T.UNBOUND, maybe_unbound=True)

    def merge_binding(self, name: str, flows: list[Flow], base: int, node: cst.CSTNode) -> Binding:
        """One binding of `name` over flows that fork from a common guard prefix."""
        found = [f.env.get(name) for f in flows]
        first = found[0]
        if first is not None and all(b is not None and b.node == first.node for b in found):
            return first
        bs = [b if b is not None else self.unbound(name, node) for b in found]
        when = [f.guard[base:] for f in flows]
        if len(bs) == 1 and not when[0]:
            return bs[0]
        v = self.emit(Op.MERGE, "phi:" + name, node, [b.node for b in bs], when=when)
        t = bs[0].type
        for b in bs[1:]:
            t = b.type if t == T.UNBOUND else (t if b.type == T.UNBOUND else T.join(t, b.type))
        return Binding(v, t, maybe_unbound=any(b.maybe_unbound for b in bs),
                       from_find=all(b.from_find for b in bs))

    def join(self, flows: list[Flow], base: Guard, node: cst.CSTNode) -> None:
        """Continue after a fork: the live flows become one flow (or none: dead code)."""
        if not flows:
            self.alive = False
            return
        self.alive = True
        if len(flows) == 1:
            self.flow = flows[0]
            return
        n = len(base)
        rels = [f.guard[n:] for f in flows]
        self.flow = Flow({}, base)
        complete = len(rels) == 2 and all(len(r) == 1 for r in rels) and rels[0][0][0] == rels[1][0][0]
        if not complete:  # some paths left (return/break): continue under "any live path"
            reach = self.any_path(rels, node)
            b = self.emit(Op.BRANCH, "reach", node, (reach,))
            self.flow.guard = base + ((b, True),)
        self.flow.env = self.joined_env(flows, n, node)

    def joined_env(self, flows: list[Flow], base: int, node: cst.CSTNode) -> dict[str, Binding]:
        """Each name's binding after a join, in order of first appearance. Flows forked
        from one another share most Binding objects: when their names are the same, in the
        same order, only the names bound differently are merged (found at C speed, so a join
        costs little in a function with thousands of names)."""
        first = flows[0].env
        keys = list(first)
        if not all(list(f.env) == keys for f in flows[1:]):
            names = dict.fromkeys(k for f in flows for k in f.env)
            return {name: self.merge_binding(name, flows, base, node) for name in names}
        differ: set[str] = set()
        for f in flows[1:]:
            differ.update(compress(keys, map(is_not, first.values(), f.env.values())))
        env = dict(first)
        for name in compress(keys, map(differ.__contains__, keys)):
            env[name] = self.merge_binding(name, flows, base, node)
        return env
