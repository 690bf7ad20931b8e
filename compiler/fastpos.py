"""Source ranges from CPython's `ast`, paired with the libcst tree node by node.

Why: positions through libcst code generation cost about 40% of a libcst parse (every
token and whitespace node is visited in Python), while `ast.parse` runs in C at about 8%.
The CST stays the only tree the compiler reads; `ast` only tells where its nodes are.
Pairing walks both trees in step (they have the same shape for statements and
expressions); any node it cannot pair (say, the parts of an implicitly concatenated string)
is simply absent, and `Positions` falls back to code generation for the whole module on
the first such request. tests/test_positions.py checks both give the same starts.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings

import libcst as cst

from .dispatch import MethodTable


class Mismatch(Exception):
    """The two trees do not have the same shape here: use the slow path."""


class _Columns:
    """ast columns are UTF-8 byte offsets; CodeRange columns are characters."""

    def __init__(self, source: str):
        self.source = source
        self.ascii = source.isascii()

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.source.splitlines(keepends=True)

    def __call__(self, line: int, byte_col: int) -> int:
        if self.ascii or line > len(self.lines):
            return byte_col
        text = self.lines[line - 1]
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", "replace"))


class Pairing:
    def __init__(self, source: str):
        self.col = _Columns(source)
        self.ascii = self.col.ascii
        self.out: dict[int, tuple[int, int, int, int]] = {}

    def put(self, c: cst.CSTNode, a: ast.AST) -> None:
        if self.col.ascii:  # bytes are characters: the common case, kept cheap
            self.out[id(c)] = (a.lineno, a.col_offset, a.end_lineno, a.end_col_offset)
            return
        col = self.col
        self.out[id(c)] = (a.lineno, col(a.lineno, a.col_offset), a.end_lineno, col(a.end_lineno, a.end_col_offset))

    # -- statements ----------------------------------------------------------------------
    def module(self, m: cst.Module, a: ast.Module) -> None:
        self.body(m.body, a.body)

    def body(self, stmts, astmts: list) -> None:
        flat = []
        for s in stmts:
            if type(s) is cst.SimpleStatementLine:  # not isinstance: libcst classes are ABCs, slow to test
                flat += [(small, s) for small in s.body]
            else:
                flat.append((s, None))
        if len(flat) != len(astmts):
            raise Mismatch("statement count")
        for (c, line), a in zip(flat, astmts):
            if line is not None and c is line.body[0]:
                self.put(line, a)
            self.stmt(c, a)

    def suite(self, suite: cst.BaseSuite, astmts: list) -> None:
        if type(suite) is cst.SimpleStatementSuite:
            if len(suite.body) != len(astmts):
                raise Mismatch("suite")
            for c, a in zip(suite.body, astmts):
                self.stmt(c, a)
        else:
            self.body(suite.body, astmts)

    def stmt(self, c: cst.CSTNode, a: ast.AST) -> None:
        if self.ascii:  # put(), inlined for the common case
            self.out[id(c)] = (a.lineno, a.col_offset, a.end_lineno, a.end_col_offset)
        else:
            self.put(c, a)
        handler = _STATEMENTS[type(c)]
        if handler is not None:
            handler(self, c, a)

    def s_Expr(self, c, a):
        self.expr(c.value, a.value)

    def s_Return(self, c, a):
        if c.value is not None:
            self.expr(c.value, a.value)

    def s_Assign(self, c, a):
        if len(c.targets) != len(a.targets):
            raise Mismatch("assign")
        for t, at in zip(c.targets, a.targets):
            self.expr(t.target, at)
        self.expr(c.value, a.value)

    def s_AnnAssign(self, c, a):
        self.expr(c.target, a.target)
        if c.value is not None:
            self.expr(c.value, a.value)

    def s_AugAssign(self, c, a):
        self.expr(c.target, a.target)
        self.expr(c.value, a.value)

    def s_Assert(self, c, a):
        self.expr(c.test, a.test)
        if c.msg is not None:
            self.expr(c.msg, a.msg)

    def s_Import(self, c, a):
        for alias, aa in zip(c.names, a.names):
            self.put(alias, aa)

    def s_If(self, c, a):
        self.expr(c.test, a.test)
        self.suite(c.body, a.body)
        if isinstance(c.orelse, cst.If):
            self.stmt(c.orelse, a.orelse[0])
        elif c.orelse is not None:
            self.suite(c.orelse.body, a.orelse)

    def s_For(self, c, a):
        self.expr(c.target, a.target)
        self.expr(c.iter, a.iter)
        self.suite(c.body, a.body)
        if c.orelse is not None:
            self.suite(c.orelse.body, a.orelse)

    def s_While(self, c, a):
        self.expr(c.test, a.test)
        self.suite(c.body, a.body)
        if c.orelse is not None:
            self.suite(c.orelse.body, a.orelse)

    def s_FunctionDef(self, c, a):
        # the name follows `def` and its whitespace (on the same line: a line break there
        # is a syntax error), so no need to read the line's text
        start = self.col(a.lineno, a.col_offset) + 3 + len(c.whitespace_after_def.value)
        self.out[id(c.name)] = (a.lineno, start, a.lineno, start + len(c.name.value))
        params = [*c.params.posonly_params, *c.params.params]
        aparams = [*a.args.posonlyargs, *a.args.args]
        if len(params) != len(aparams):
            raise Mismatch("params")
        for p, ap in zip(params, aparams):
            self.put(p, ap)
        defaults = [p.default for p in params if p.default is not None]
        for d, ad in zip(defaults, a.args.defaults):
            self.expr(d, ad)
        self.suite(c.body, a.body)

    # -- expressions ---------------------------------------------------------------------
    def expr(self, c: cst.CSTNode, a: ast.AST) -> None:
        if a is None:
            raise Mismatch("missing expression")
        if self.ascii:  # put(), inlined: this runs for nearly every node
            self.out[id(c)] = (a.lineno, a.col_offset, a.end_lineno, a.end_col_offset)
        else:
            self.put(c, a)
        handler = _EXPRESSIONS[type(c)]
        if handler is not None:
            handler(self, c, a)

    def e_Attribute(self, c, a):
        self.expr(c.value, a.value)
        end = self.col(a.end_lineno, a.end_col_offset)  # the name ends the attribute
        self.out[id(c.attr)] = (a.end_lineno, end - len(c.attr.value), a.end_lineno, end)

    def e_Call(self, c, a):
        self.expr(c.func, a.func)
        pos = [arg for arg in c.args if arg.keyword is None and arg.star != "**"]
        kws = [arg for arg in c.args if arg.keyword is not None or arg.star == "**"]
        if len(pos) != len(a.args) or len(kws) != len(a.keywords):
            raise Mismatch("call arguments")
        for arg, aa in zip(pos, a.args):
            self.expr(arg.value, aa.value if isinstance(aa, ast.Starred) and arg.star else aa)
        for arg, ak in zip(kws, a.keywords):
            self.put(arg, ak)
            self.expr(arg.value, ak.value)

    def e_Subscript(self, c, a):
        self.expr(c.value, a.value)
        if len(c.slice) == 1:
            self.slice(c.slice[0].slice, a.slice)
        elif isinstance(a.slice, ast.Tuple) and len(a.slice.elts) == len(c.slice):
            for el, ae in zip(c.slice, a.slice.elts):
                self.slice(el.slice, ae)

    def slice(self, c, a):
        if type(c) is cst.Index:
            self.expr(c.value, a)
        elif isinstance(a, ast.Slice):
            self.put(c, a)
            for part, ap in ((c.lower, a.lower), (c.upper, a.upper), (c.step, a.step)):
                if part is not None:
                    self.expr(part, ap)

    def e_BinaryOperation(self, c, a):
        self.expr(c.left, a.left)
        self.expr(c.right, a.right)

    def e_UnaryOperation(self, c, a):
        self.expr(c.expression, a.operand)

    def e_BooleanOperation(self, c, a):
        # ast flattens `a and b and c` into one BoolOp; libcst nests it to the left.
        operands, op = [], type(c.operator)
        node = c
        chain = []
        while isinstance(node, cst.BooleanOperation) and type(node.operator) is op and (node is c or not node.lpar):
            chain.append(node)
            operands.append(node.right)
            node = node.left
        operands.append(node)
        operands.reverse()
        if len(operands) != len(a.values):
            raise Mismatch("boolean operation")
        for o, ao in zip(operands, a.values):
            self.expr(o, ao)
        for inner in chain[1:]:  # `a and b` inside `a and b and c`: from its left to its right
            left, right = _leftmost(inner), inner.right
            line, col = self.out[id(left)][:2]
            end_line, end_col = self.out[id(right)][2:]
            # the operands' own parentheses belong to this span (one character each)
            self.out[id(inner)] = (line, col - len(left.lpar), end_line, end_col + len(right.rpar))

    def e_Comparison(self, c, a):
        self.expr(c.left, a.left)
        if len(c.comparisons) != len(a.comparators):
            raise Mismatch("comparison")
        for t, ac in zip(c.comparisons, a.comparators):
            self.expr(t.comparator, ac)

    def e_IfExp(self, c, a):
        self.expr(c.test, a.test)
        self.expr(c.body, a.body)
        self.expr(c.orelse, a.orelse)

    def elements(self, c, elts):
        if len(c.elements) != len(elts):
            raise Mismatch("elements")
        for el, ae in zip(c.elements, elts):
            self.put(el, ae)
            self.expr(el.value, ae.value if type(el) is cst.StarredElement else ae)

    def e_List(self, c, a):
        self.elements(c, a.elts)

    e_Set = e_List

    def e_Tuple(self, c, a):
        self.elements(c, a.elts)
        if c.lpar and c.rpar:  # ast counts a tuple's parentheses, libcst does not
            line, col, end_line, end_col = self.out[id(c)]
            self.out[id(c)] = (line, col + 1, end_line, end_col - 1)

    def e_Dict(self, c, a):
        if len(c.elements) != len(a.keys):
            raise Mismatch("dict")
        for el, k, v in zip(c.elements, a.keys, a.values):
            if isinstance(el, cst.DictElement):
                self.expr(el.key, k)
            self.expr(el.value, v)

    def comprehension(self, c, a):
        comp, gens = c.for_in, a.generators
        for g in gens:
            if comp is None:
                raise Mismatch("comprehension")
            self.expr(comp.target, g.target)
            self.expr(comp.iter, g.iter)
            if len(comp.ifs) != len(g.ifs):
                raise Mismatch("comprehension ifs")
            for cond, ai in zip(comp.ifs, g.ifs):
                self.expr(cond.test, ai)
            comp = comp.inner_for_in

    def e_ListComp(self, c, a):
        self.comprehension(c, a)
        self.expr(c.elt, a.elt)

    e_SetComp = e_GeneratorExp = e_ListComp

    def e_DictComp(self, c, a):
        self.comprehension(c, a)
        self.expr(c.key, a.key)
        self.expr(c.value, a.value)

    def e_Lambda(self, c, a):
        params = c.params.params
        if len(params) == len(a.args.args):
            for p, ap in zip(params, a.args.args):
                self.put(p, ap)
        self.expr(c.body, a.body)

    def e_FormattedString(self, c, a):
        parts = [p for p in c.parts if isinstance(p, cst.FormattedStringExpression)]
        values = [v for v in a.values if isinstance(v, ast.FormattedValue)]
        if len(parts) == len(values):
            for p, v in zip(parts, values):
                if a.lineno <= v.value.lineno <= a.end_lineno:
                    self.expr(p.expression, v.value)


_STATEMENTS, _EXPRESSIONS = MethodTable(Pairing, "s_"), MethodTable(Pairing, "e_")


def _leftmost(node: cst.CSTNode) -> cst.CSTNode:
    while isinstance(node, cst.BooleanOperation) and not node.lpar:
        node = node.left
    return node


# Python's parser warns about odd code (`1if x else y`); a checked program's text is data, so
# its warnings are not printed. The filter names only the file name given to ast.parse here.
PARSE_NAME = "<fmprog-program>"
warnings.filterwarnings("ignore", category=SyntaxWarning, module=re.escape(PARSE_NAME))


def parse_python(source: str) -> ast.Module | SyntaxError | None:
    """CPython's own tree of the text; its SyntaxError when it refuses the text (libcst
    reads newer grammar, such as 3.12 f-strings); None when it cannot say (NUL bytes)."""
    try:
        return ast.parse(source, PARSE_NAME)
    except SyntaxError as e:
        return e
    except (ValueError, RecursionError, MemoryError):
        return None


def ast_positions(source: str, module: cst.Module, tree: ast.Module | None = None) -> dict | None:
    """Ranges keyed by id(CST node), or None when the fast path cannot be used."""
    if tree is None:
        tree = parse_python(source)
        if not isinstance(tree, ast.Module):
            return None
    pairing = Pairing(source)
    try:
        pairing.module(module, tree)
    except (Mismatch, AttributeError, IndexError, TypeError, RecursionError):
        return None
    return pairing.out
