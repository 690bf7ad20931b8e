"""IR verification: each op kind's rule in one table, plus the structural invariants."""

from __future__ import annotations

from typing import Callable

from .ir import LOOP_KINDS, REGIONS, Graph, IRError, Node, Op
from .opset import registry, shapes


def _const(n: Node) -> str | None:
    return None if n.target == "unbound" or "value" in n.meta else "constant without a value"


def _neural(n: Node) -> str | None:
    return None if n.meta.get("site") and n.meta.get("kind") else "neural node without site or kind"


def _merge(n: Node) -> str | None:
    if not n.args or len(n.meta.get("when", ())) != len(n.args):
        return "merge needs one guard per candidate"
    return None


def _one_arg(n: Node) -> str | None:
    return None if len(n.args) == 1 else f"{n.op.value} takes exactly one argument"


def _loop(n: Node) -> str | None:
    return None if n.target in LOOP_KINDS else f"unknown loop kind {n.target!r}"


def _pure(n: Node, ops: dict) -> str | None:
    """The target is declared in compiler/opset.py, with its arity and meta keys."""
    op = ops.get(n.target)
    if op is None:
        return f"unknown pure op {n.target!r}"
    if op.arity is not None:
        low, high = op.arity
        if len(n.args) < low or (high is not None and len(n.args) > high):
            return f"pure op {n.target!r} takes {low}{'' if high == low else '+' if high is None else f'-{high}'} " \
                   f"arguments, got {len(n.args)}"
        if n.kwargs:
            return f"pure op {n.target!r} takes no keyword arguments"
    for key in op.meta:
        if key not in n.meta:
            return f"pure op {n.target!r} needs meta {key!r}"
    return None


def _none(n: Node) -> str | None:
    return None


RULES: dict[Op, Callable[[Node], str | None]] = {
    Op.INPUT: _none,
    Op.CONST: _const,
    Op.PURE: _none,  # checked against the op registry in lint()
    Op.NEURAL: _neural,
    Op.BRANCH: _one_arg,
    Op.MERGE: _merge,
    Op.LOOP: _loop,
    Op.LAMBDA: _none,
    Op.OUTPUT: _one_arg,
}


def lint(g: Graph) -> None:
    """Raise IRError at the first node that breaks an invariant."""
    scopes: list[frozenset] = []  # scopes[i]: the regions node i lives in (its chain)
    sites: set[str] = set()
    outs = []
    pure_shapes = shapes()
    pure, neural, merge, output = Op.PURE, Op.NEURAL, Op.MERGE, Op.OUTPUT
    for i, n in enumerate(g.nodes):
        if n.id != i:
            raise IRError(n, f"node id {n.id} at position {i}")
        op = n.op
        if op.__class__ is not Op:
            raise IRError(n, f"unknown op {op!r}")
        if n.region is None:  # top level, most nodes: what it reads must be top level too
            scopes.append(_TOP)
            for a in n.args:
                if not (0 <= a < i and scopes[a] is _TOP):
                    _check_visible(g, n, a, scopes, "argument")  # raises with the reason
        else:
            scope = _scope(g, n, scopes)
            scopes.append(scope)
            for a in n.args:
                if not (0 <= a < i and scopes[a] <= scope):
                    _check_visible(g, n, a, scopes, "argument")
        for _, a in n.kwargs:
            if not (0 <= a < i and scopes[a] <= scopes[i]):
                _check_visible(g, n, a, scopes, "argument")
        if n.guard or op is merge or n.target == "any_path":
            _check_conditions(g, n, scopes)
        if op is pure:  # inlined: most nodes are pure
            shape = pure_shapes.get(n.target)
            if shape is None or not shape[0] <= len(n.args) <= shape[1] or (n.kwargs and not shape[3]) \
                    or (shape[2] and not all(k in n.meta for k in shape[2])):
                raise IRError(n, _pure(n, registry()))
        else:
            rule = RULES[op]
            if rule is not _none:
                problem = rule(n)
                if problem:
                    raise IRError(n, problem)
        if op is neural:
            if n.meta["site"] in sites:
                raise IRError(n, f"duplicate call site {n.meta['site']!r}")
            sites.add(n.meta["site"])
        elif op is output and n.region is None:
            outs.append(n)
        if n.range.line < 1:
            raise IRError(n, "node without a source range")
    if len(outs) != 1 or outs[0].target != "return":
        raise IRError(outs[0] if outs else None, "the program needs exactly one top-level return output")


def _check_conditions(g: Graph, n: Node, scopes: list[frozenset]) -> None:
    nodes, scope, branch = g.nodes, scopes[n.id], Op.BRANCH
    for b in _condition_branches(n):
        if not (0 <= b < n.id and scopes[b] <= scope):
            _check_visible(g, n, b, scopes, "guard")  # raises with the reason
        if nodes[b].op is not branch:
            raise IRError(n, f"guard refers to %{b}, which is not a branch")


def _condition_branches(n: Node):
    """Every branch a node's execution or value depends on: its guard, and the path
    conditions in a merge's `when` or an any_path's `paths`."""
    for b, _ in n.guard:
        yield b
    for conj in n.meta.get("when", ()) if n.op is Op.MERGE else ():
        for b, _ in conj:
            yield b
    for conj in n.meta.get("paths", ()) if n.target == "any_path" else ():
        for b, _ in conj:
            yield b


_TOP: frozenset = frozenset()  # the scope of top-level nodes, shared


def _scope(g: Graph, n: Node, scopes: list[frozenset]) -> frozenset:
    if n.region is None:
        return _TOP
    if not (0 <= n.region < n.id) or g.nodes[n.region].op not in REGIONS:
        raise IRError(n, f"region %{n.region} is not an earlier loop or lambda")
    return scopes[n.region] | {n.region}


def _check_visible(g: Graph, n: Node, a: int, scopes: list[frozenset], what: str) -> None:
    if not (0 <= a < n.id):
        raise IRError(n, f"{what} %{a} is not defined before use")
    if not scopes[a] <= scopes[n.id]:
        raise IRError(n, f"{what} %{a} lives in a region that does not enclose this node")
