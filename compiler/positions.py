"""Source positions for every CST node, computed in one code-generation pass.

`libcst.metadata.PositionProvider` gives the same ranges, but through `MetadataWrapper`
it deep-copies the tree and builds `CodePosition` objects: about 2-5 ms per program,
several times the parse. This state records plain tuples keyed by `id(node)` and skips the
regex split of tokens that hold no newline: about 0.4 ms. The ranges equal
PositionProvider's (syntactic positions; tests/test_positions.py checks it).
"""

from __future__ import annotations

import libcst as cst
from libcst._nodes.internal import CodegenState

from .diagnostics import CodeRange


class _Syntactic:
    """A cheap stand-in for PositionProvider's `record_syntactic_position` manager."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state, node, start_node, end_node):
        self.state, self.node = state, node
        self.start_node, self.end_node = start_node, end_node

    def __enter__(self):
        self.start = (self.state.line, self.state.column)

    def __exit__(self, *exc):
        state, pos = self.state, self.state.positions
        start = pos[id(self.start_node)][:2] if self.start_node is not None else self.start
        end = pos[id(self.end_node)][2:] if self.end_node is not None else (state.line, state.column)
        pos[id(self.node)] = start + end
        return False


class _PositionState(CodegenState):
    def __init__(self, module: cst.Module):
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.line, self.column = 1, 0
        self.positions: dict[int, tuple[int, int, int, int]] = {}
        self._stack: list[tuple[int, int]] = []

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            segments = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            self.line += len(segments) - 1
            self.column = len(segments[-1])
        else:
            self.column += len(value)

    def before_codegen(self, node) -> None:
        self._stack.append((self.line, self.column))

    def after_codegen(self, node) -> None:
        start = self._stack.pop()
        key = id(node)
        if key not in self.positions:  # a syntactic position, if recorded, wins
            self.positions[key] = start + (self.line, self.column)

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _Syntactic(self, node, start_node, end_node)


def codegen_positions(module: cst.Module) -> dict[int, tuple[int, int, int, int]]:
    state = _PositionState(module)
    module._codegen(state)
    return state.positions


_new_range = tuple.__new__  # CodeRange(*p) goes through a Python-level __new__: avoid it


class Positions:
    """Maps CST nodes of one module to their `CodeRange`. Keep the module alive.

    Ranges come from `fastpos` (CPython's ast, paired with the CST) when it covers the
    node, else from code generation, computed once for the whole module on the first
    miss so that all ranges of a module come from one source.
    """

    def __init__(self, module: cst.Module, source: str | None = None, fast: bool = True, tree=None):
        from .fastpos import ast_positions

        self._module = module  # ids are only valid while the nodes live
        self._pos = ast_positions(source, module, tree) if fast and source is not None else None
        self.fast = self._pos is not None
        if self._pos is None:
            self._pos = codegen_positions(module)

    def fast_table(self) -> dict:
        """The ranges known now (id(node) -> 4-tuple): a miss there is answered by indexing."""
        return self._pos if self.fast else {}

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        p = self._pos.get(id(node))
        if p is not None:
            return _new_range(CodeRange, p)
        if self.fast:
            self._pos, self.fast = codegen_positions(self._module), False
            p = self._pos.get(id(node))
        return _new_range(CodeRange, p) if p else CodeRange(1, 0, 1, 0)
