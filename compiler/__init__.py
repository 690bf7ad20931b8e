"""The fmprog compiler: LLM-written program text -> diagnostics and a checked graph IR.

    result = compile_source(text, "prog.py")
    result.ok, result.diagnostics, result.graph

The pipeline is a plain list of named passes (`PASSES`); each takes and returns the
`Compilation` state. No pass executes the program. An exception inside a pass is a
compiler bug: it becomes an `internal` diagnostic, never a traceback for the user.
"""

from __future__ import annotations

import hashlib
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import libcst as cst
from libcst._nodes.base import CSTNode

from . import guard as _guard
from .diagnostics import CodeRange, Diagnostic
from .fastpos import parse_python
from .ir import Graph
from .lower import Lowerer
from .positions import Positions

DEPTH_LIMIT = 6000

__all__ = ["compile_source", "compile_file", "Compilation", "Diagnostic", "Graph", "PASSES", "unvalidated_parsing"]


@dataclass
class Compilation:
    source: str
    filename: str = "<program>"
    module: cst.Module | None = None
    positions: object = None
    graph: Graph | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.graph is not None and not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def neural_sites(self) -> list[str]:
        return [n.meta["site"] for n in self.graph.neural_sites()] if self.graph is not None else []


def screen(c: Compilation) -> Compilation:
    """Refuse, before libcst sees it, a text whose parse would cost out of proportion."""
    problem = _guard.check(c.source)
    if problem is not None:
        c.diagnostics.append(Diagnostic.make("too-complex", problem[1], detail=problem[0]))
    return c


def parse(c: Compilation) -> Compilation:
    try:
        c.source.isascii() or c.source.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: no parser can read it
        line = c.source.count("\n", 0, e.start) + 1
        col = e.start - (c.source.rfind("\n", 0, e.start) + 1)
        c.diagnostics.append(Diagnostic.make("syntax", CodeRange(line, col, line, col + 1),
                                             detail="the text is not valid Unicode (a lone surrogate)"))
        return c
    try:
        c.module = _parse_unvalidated(c.source)
    except (cst.ParserSyntaxError, cst.CSTValidationError) as e:
        c.diagnostics.append(_syntax_error(c.source, e))
    except RecursionError:
        c.diagnostics.append(_too_deep())
    return c


_VALIDATE = CSTNode.__dict__["__post_init__"]


def _no_validation(self) -> None:
    pass


def _parse_unvalidated(source: str) -> cst.Module:
    """libcst.parse_module without libcst's validation of each node it builds (about a tenth
    of a parse), which is redundant for the nodes its own parser builds from text; its own
    comment says so ("PERF: ... avoid validating the tree when parsing a file"). CPython reads
    the text again in `locate`; trees are equal either way (tests/test_opset.py). Another
    thread building libcst nodes by hand meanwhile would skip validation too."""
    with unvalidated_parsing():
        return cst.parse_module(source)


@contextmanager
def unvalidated_parsing():
    """Keep libcst's node validation off for a whole batch of compiles (`fmprog check
    --jsonl`): switching it per program resets Python's method caches of every libcst node
    class, which costs the compile after it up to a tenth. Re-entrant."""
    if CSTNode.__dict__["__post_init__"] is _no_validation:
        yield
        return
    CSTNode.__post_init__ = _no_validation
    try:
        yield
    finally:
        CSTNode.__post_init__ = _VALIDATE


def _syntax_error(source: str, e: Exception) -> Diagnostic:
    """Locate a syntax error as Python's own parser does (libcst's raw_line is often the
    next line, and its tokenizer errors have no position); libcst's words otherwise."""
    py = parse_python(source)
    if isinstance(py, SyntaxError) and py.lineno:
        return _python_syntax_error(py)
    message = getattr(e, "message", None) or str(e)
    detail = message.strip().splitlines()[0] if message.strip() else "invalid syntax"
    line, col = max(1, getattr(e, "raw_line", 1)), max(0, getattr(e, "raw_column", 0))
    return Diagnostic.make("syntax", CodeRange(line, col, line, col + 1), detail=detail)


def _python_syntax_error(py: SyntaxError) -> Diagnostic:
    line, col = py.lineno, max(0, (py.offset or 1) - 1)
    end_line = py.end_lineno or line
    end_col = max(col + 1, (py.end_offset or col + 2) - 1) if end_line == line else (py.end_offset or 1) - 1
    return Diagnostic.make("syntax", CodeRange(line, col, end_line, end_col), detail=py.msg)


def locate(c: Compilation) -> Compilation:
    """Source ranges, from CPython's parse of the text; a text CPython refuses (libcst reads
    newer grammar than this Python) is a syntax error, as Python would report it."""
    tree = parse_python(c.source)
    if isinstance(tree, SyntaxError):
        c.diagnostics.append(_python_syntax_error(tree) if tree.lineno else
                             Diagnostic.make("syntax", CodeRange(1, 0, 1, 1), detail=tree.msg))
        return c
    c.positions = Positions(c.module, c.source, tree=tree)
    return c


def lower(c: Compilation) -> Compilation:
    lowerer = Lowerer(c.module, c.source, c.positions)
    lowerer.lower_module()
    c.diagnostics += lowerer.diagnostics
    graph = lowerer.graph
    graph.meta["source_sha256"] = hashlib.sha256(c.source.encode("utf-8", "surrogatepass")).hexdigest()
    c.graph = graph if not any(d.is_error for d in c.diagnostics) else None
    return c


def lint_graph(c: Compilation) -> Compilation:
    c.graph.lint()
    return c


PASSES: list[tuple[str, Callable[[Compilation], Compilation]]] = [
    ("guard", screen),
    ("parse", parse),
    ("locate", locate),
    ("lower", lower),
    ("lint", lint_graph),
]


def compile_source(source: str, filename: str = "<program>") -> Compilation:
    """Run every pass; stop at the first that leaves errors. Never raises."""
    c = Compilation(source, filename)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, DEPTH_LIMIT))  # long flat expressions nest deeply in the CST
    try:
        return _run_passes(c)
    finally:
        sys.setrecursionlimit(limit)


def _run_passes(c: Compilation) -> Compilation:
    for name, run in PASSES:
        seen = len(c.diagnostics)
        try:
            c = run(c)
        except (RecursionError, MemoryError):
            c.diagnostics.append(_too_deep())
        except Exception as e:  # a compiler bug must not reach the user as a traceback
            detail = f"{name}: {type(e).__name__}: {e}"
            c.diagnostics.append(Diagnostic.make("internal", _where(e), detail=detail))
        if any(d.severity == "error" for d in c.diagnostics[seen:]):  # earlier passes left none
            c.graph = None
            break
    if len(c.diagnostics) > 1:
        c.diagnostics.sort(key=lambda d: (d.range.line, d.range.col))
    return c


def _too_deep() -> Diagnostic:
    return Diagnostic.make("too-complex", CodeRange(1, 0, 1, 0), detail="it nests too deeply for the parser")


def _where(e: Exception) -> CodeRange:
    node = getattr(e, "node", None)
    return node.range if node is not None else CodeRange(1, 0, 1, 0)


def compile_file(path: str) -> Compilation:
    with open(path, encoding="utf-8", errors="replace") as f:
        return compile_source(f.read(), path)
