"""State and helpers shared by the lowering mixins (statements, expressions, calls, regions)."""

from __future__ import annotations

import functools

import libcst as cst

from fmprog.grammars import dsl as dsl_module

from . import types as T
from .diagnostics import CodeRange, Diagnostic, hint
from .dispatch import MethodTable
from .ir import Graph, Node, Op
from .positions import Positions

_new_range = tuple.__new__  # CodeRange(*p) goes through a Python-level __new__: avoid it
from .scope import Flow, Frame

# Calls that would let a program run or inspect code, or reach the outside world.
FORBIDDEN = frozenset({
    "exec", "eval", "compile", "open", "__import__", "getattr", "setattr", "delattr", "hasattr",
    "globals", "locals", "vars", "dir", "input", "breakpoint", "exit", "quit", "help", "memoryview",
    "type", "object", "super", "classmethod", "staticmethod", "property",
})


# "Did you mean" hints over the program's own names cost a fuzzy match against every
# name: after this many diagnostics a program gets no more of them.
HINTED_DIAGNOSTICS = 50


class LoweringBase:
    """One program's lowering state. Subclasses add statements, expressions and calls."""

    forbidden = FORBIDDEN

    def __init_subclass__(cls, **kwargs):
        # each class dispatches to its own (possibly overriding) methods
        super().__init_subclass__(**kwargs)
        cls._expr_methods = MethodTable(cls, "expr_")
        cls._stmt_methods = MethodTable(cls, "stmt_")
        cls._small_methods = MethodTable(cls, "small_")

    def __init__(self, module: cst.Module, source: str, positions: Positions):
        self.dsl = dsl_module.load()
        self.module = module
        self.source = source
        self.pos = positions
        self.ranges = positions.fast_table()  # id(node) -> (line, col, end_line, end_col), for emit
        self.graph = Graph()
        self.diagnostics: list[Diagnostic] = []
        self.region: int | None = None
        self.flow = Flow({}, ())
        self.frame = Frame(None)
        self.math_imported = False
        self.length_checked: set[str] = set()
        self.scoped_names: set[str] = set()  # bound only inside comprehensions / lambdas

    # -- emitting nodes ----------------------------------------------------------------
    def emit(self, op: Op, target: str, node: cst.CSTNode, args=(), kwargs=(), **meta) -> int:
        # Graph.add's work, inlined: this runs for every node of every program compiled.
        nodes = self.graph.nodes
        nid = len(nodes)
        r = self.ranges.get(id(node))
        r = _new_range(CodeRange, r) if r is not None else self.range_miss(node)
        nodes.append(Node(nid, op, target, tuple(args), tuple(kwargs), self.flow.guard, self.region, r, meta))
        return nid

    def range_miss(self, node: cst.CSTNode) -> CodeRange:
        r = self.pos[node]  # may switch the module to code-generated ranges: take those from now on
        self.ranges = self.pos.fast_table()
        return r

    def placeholder(self, node: cst.CSTNode) -> tuple[int, str]:
        """A stand-in value after an error, so checking can go on; its type is ERROR, on
        which no further error is reported (one mistake, one diagnostic)."""
        return self.emit(Op.CONST, "const", node, value=None), T.ERROR

    # -- diagnostics -------------------------------------------------------------------
    def report(self, code: str, node: cst.CSTNode, **args) -> None:
        self.diagnostics.append(Diagnostic.make(code, self.pos[node], **args))

    def report_at(self, code: str, where: CodeRange, **args) -> None:
        self.diagnostics.append(Diagnostic.make(code, where, **args))

    def error(self, code: str, node: cst.CSTNode, **args) -> tuple[int, str]:
        self.report(code, node, **args)
        return self.placeholder(node)

    def unsupported(self, node: cst.CSTNode, what: str) -> tuple[int, str]:
        return self.error("unsupported-construct", node, what=what)

    def forbidden_call(self, node: cst.CSTNode, name: str) -> tuple[int, str]:
        return self.error("forbidden-call", node, name=name)

    def undefined(self, node: cst.CSTNode, name: str) -> tuple[int, str]:
        if name in self.forbidden:
            return self.forbidden_call(node, name)
        if name == "VideoSegment":
            return self.error("video-unsupported", node)
        suffix = ""
        if len(self.diagnostics) < HINTED_DIAGNOSTICS:
            suffix = hint(name, [*self.flow.env, *self.dsl.functions, *self.dsl.builtins, "ImagePatch"])
        if name == "math":
            suffix = "; add `import math` first"
        if name in self.scoped_names:
            return self.error("comprehension-name", node, name=name, hint="")
        if name in self.dsl.patch.methods:
            suffix = f"; '{name}' is an ImagePatch method: call it on a patch, e.g. image_patch.{name}(...)"
        return self.error("undefined-name", node, name=name, hint=suffix)

    def patch_hint(self, name: str) -> str:
        """"Did you mean" over ImagePatch methods and attributes and the DSL functions."""
        p = self.dsl.patch
        for sig in p.methods.values():
            if name in sig.synonyms:
                return f"; did you mean '{sig.name}'?"
        for sig in self.dsl.functions.values():
            if name in sig.synonyms:
                return f"; did you mean the function '{sig.name}(...)'?"
        found = hint(name, [*p.methods, *p.attributes])
        found = found or hint(name, list(self.dsl.functions)).replace("did you mean '", "did you mean the function '")
        return found or "; properties of objects are asked of a model: use verify_property(...) or simple_query(...)"

    # -- source text -------------------------------------------------------------------
    @functools.cached_property
    def lines(self) -> list[str]:
        return self.source.splitlines(keepends=True)

    def text(self, node: cst.CSTNode, limit: int = 40) -> str:
        """The source text of a node (for call-site ids), shortened to `limit` chars."""
        r = self.pos[node]
        if r.line == r.end_line:
            s = self.lines[r.line - 1][r.col:r.end_col]
        else:
            s = self.lines[r.line - 1][r.col:] + "".join(self.lines[r.line:r.end_line - 1]) \
                + self.lines[r.end_line - 1][:r.end_col]
            s = " ".join(s.split())
        return s if len(s) <= limit else s[: limit - 3] + "..."
