"""The lowering's bookkeeping: name bindings, control flows and exit frames."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from .ir import Guard


@dataclass(slots=True)
class Binding:
    """What a name holds at one point: the node that made it and its static type."""

    node: int
    type: str
    maybe_unbound: bool = False
    from_find: bool = False  # the value came straight from find(): may be empty


@dataclass(slots=True)
class Flow:
    """One live path: the bindings on it and the guard (relative to the region) it runs under."""

    env: dict[str, Binding]
    guard: Guard

    def fork(self, literal: tuple[int, bool]) -> "Flow":
        return Flow(dict(self.env), self.guard + (literal,))


@dataclass
class Frame:
    """Where a function or loop body can leave: returns, breaks, continues, while-stops."""

    region: int | None
    returns: list[tuple[Guard, int, str]] = field(default_factory=list)  # guard, value, type
    breaks: list[Flow] = field(default_factory=list)
    continues: list[Flow] = field(default_factory=list)
    stops: list[Flow] = field(default_factory=list)
    in_loop: bool = False


def _assigned_in(node: cst.CSTNode, names: set[str]) -> None:
    if isinstance(node, cst.SimpleStatementLine):
        for small in node.body:
            _assigned_in(small, names)
    elif isinstance(node, cst.Assign):
        for t in node.targets:
            target_names(t.target, names)
    elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
        target_names(node.target, names)
    elif isinstance(node, (cst.For, cst.While)):
        if isinstance(node, cst.For):
            target_names(node.target, names)
        _assigned_block(node.body, names)
        if node.orelse is not None:
            _assigned_block(node.orelse.body, names)
    elif isinstance(node, cst.If):
        _assigned_block(node.body, names)
        if node.orelse is not None:
            if isinstance(node.orelse, cst.If):
                _assigned_in(node.orelse, names)
            else:
                _assigned_block(node.orelse.body, names)
    elif isinstance(node, cst.Import):
        for alias in node.names:
            if isinstance(alias.name, cst.Name):
                names.add(alias.name.value)


def suite_assigned_names(suite: cst.BaseSuite) -> set[str]:
    """Names an indented block or a one-line suite (re)binds."""
    names: set[str] = set()
    _assigned_block(suite, names)
    return names


def _assigned_block(block: cst.BaseSuite, names: set[str]) -> None:
    body = block.body
    if isinstance(block, cst.SimpleStatementSuite):
        for small in body:
            _assigned_in(small, names)
    else:
        for s in body:
            _assigned_in(s, names)


def target_names(target: cst.BaseExpression, names: set[str]) -> set[str]:
    if isinstance(target, cst.Name):
        names.add(target.value)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            target_names(el.value, names)
    elif isinstance(target, cst.StarredElement):
        target_names(target.value, names)
    return names


def refused_bindings(stmt: cst.BaseCompoundStatement) -> set[str]:
    """Names a statement fmprog refuses (try, with, def, class) would have bound."""
    names: set[str] = set()
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        names.add(stmt.name.value)
        return names
    for attr in ("body", "orelse", "finalbody"):
        part = getattr(stmt, attr, None)
        if part is not None:
            _assigned_block(part.body if isinstance(part, (cst.Else, cst.Finally)) else part, names)
    for handler in getattr(stmt, "handlers", ()):
        _assigned_block(handler.body, names)
        if handler.name is not None:
            target_names(handler.name.name, names)
    for item in getattr(stmt, "items", ()):
        if item.asname is not None:
            target_names(item.asname.name, names)
    return names
