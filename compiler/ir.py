"""The graph IR: a closed set of op kinds, nodes with source ranges, a networkx DiGraph.

The DiGraph is built on first use (`Graph.nx`: drawing, analyses, tests); compiling and
running need only the node list, so networkx is not even imported until then.

A program is a dataflow graph. Nodes are numbered in program order, which is also a valid
execution order (every node comes after its inputs); effects (list.append, neural calls)
happen in that order, as in Python. Control is data too: a BRANCH node holds the truth of
a condition, and every node carries a `guard`, the conjunction of (branch id, polarity)
literals under which it runs, relative to its region. Loops, comprehensions and lambdas
are regions: a LOOP or LAMBDA node owns the nodes whose `region` is its id; the region's
INPUT nodes receive the iteration's values and its OUTPUT nodes hand values back.

Edges of the networkx graph: `data` (argument slots), `control` (guard literal ->
guarded node), `select` (a branch whose truth a merge or any_path reads) and `region`
(region node -> member). Mutating operations (list.sort, append, setitem) have no edge to
later readers: program order is the effect order, so passes must keep node order. `Graph.lint()` checks the invariants.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from .diagnostics import CodeRange

if TYPE_CHECKING:
    import networkx as nx

SCHEMA = "fmprog-graph/1"

Guard = tuple[tuple[int, bool], ...]


class Op(str, enum.Enum):
    """The closed set of node kinds."""

    INPUT = "input"  # a program parameter, or a region's per-iteration value
    CONST = "const"  # a literal (meta.value); target "unbound" marks a name not yet bound
    PURE = "pure"  # a symbolic operation, resolved by target at run time
    NEURAL = "neural"  # a model call site (meta.site, meta.kind)
    BRANCH = "branch"  # the truth of args[0]; guards refer to it
    MERGE = "merge"  # args[i] where meta.when[i] holds (a phi)
    LOOP = "loop"  # a loop or comprehension region (target: for, while, listcomp, ...)
    LAMBDA = "lambda"  # a lambda region, evaluates to a callable
    OUTPUT = "output"  # the program's result, or a region's output (target names it)


REGIONS = (Op.LOOP, Op.LAMBDA)
LOOP_KINDS = ("for", "while", "listcomp", "setcomp", "dictcomp", "genexp")


@dataclass(slots=True, eq=True)
class Node:
    id: int
    op: Op
    target: str
    args: tuple[int, ...] = ()
    kwargs: tuple[tuple[str, int], ...] = ()
    guard: Guard = ()
    region: int | None = None
    range: CodeRange = CodeRange(1, 0, 1, 0)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"%{self.id}"

    def inputs(self) -> Iterator[int]:
        yield from self.args
        for _, a in self.kwargs:
            yield a

    def to_json(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "op": self.op.value, "target": self.target}
        if self.args:
            d["args"] = list(self.args)
        if self.kwargs:
            d["kwargs"] = {k: v for k, v in self.kwargs}
        if self.guard:
            d["guard"] = [[b, p] for b, p in self.guard]
        if self.region is not None:
            d["region"] = self.region
        d["range"] = list(self.range)
        if self.meta:
            d["meta"] = _meta_to_json(self.meta)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Node":
        return cls(
            id=d["id"],
            op=Op(d["op"]),
            target=d["target"],
            args=tuple(d.get("args", ())),
            kwargs=tuple(d.get("kwargs", {}).items()),
            guard=tuple((b, p) for b, p in d.get("guard", ())),
            region=d.get("region"),
            range=CodeRange(*d["range"]),
            meta=_meta_from_json(d.get("meta", {})),
        )

    def __str__(self) -> str:
        args = ", ".join(f"%{a}" for a in self.args)
        kw = "".join(f", {k}=%{v}" for k, v in self.kwargs)
        guard = " if " + " & ".join(("" if p else "!") + f"%{b}" for b, p in self.guard) if self.guard else ""
        region = f" in %{self.region}" if self.region is not None else ""
        meta = " " + " ".join(f"{k}={_short(v)}" for k, v in sorted(self.meta.items())) if self.meta else ""
        r = self.range
        return f"%{self.id} = {self.op.value} {self.target}({args}{kw}){guard}{region}{meta}  @{r.line}:{r.col}"


def _short(v: Any) -> str:
    return repr(v) if not isinstance(v, list) else "[" + ", ".join(_short(x) for x in v) + "]"


def _meta_to_json(meta: dict) -> dict:
    out = {}
    for k, v in meta.items():
        if k == "when":
            v = [[[b, p] for b, p in g] for g in v]
        elif k == "paths":
            v = [[[b, p] for b, p in g] for g in v]
        elif k == "value" and isinstance(v, (complex, bytes)):
            raise ValueError(f"constant {v!r} cannot be serialized")
        out[k] = v
    return out


def _meta_from_json(meta: dict) -> dict:
    out = dict(meta)
    for k in ("when", "paths"):
        if k in out:
            out[k] = [tuple((b, p) for b, p in g) for g in out[k]]
    return out


class IRError(Exception):
    """An invariant of the IR does not hold (a compiler bug, or a corrupt graph file)."""

    def __init__(self, node: Node | None, message: str):
        where = f" at {node} " if node is not None else ""
        super().__init__(f"{message}{where}")
        self.node = node


@dataclass
class Graph:
    """A program's graph: `nodes` in program order (node i has id i) and its DiGraph."""

    name: str = "execute_command"
    nodes: list[Node] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    _nx: "nx.DiGraph | None" = field(default=None, repr=False, compare=False)

    def add(self, op: Op, target: str, args=(), kwargs=(), guard: Guard = (), region=None,
            range: CodeRange = CodeRange(1, 0, 1, 0), **meta) -> Node:
        node = Node(len(self.nodes), op, target, tuple(args), tuple(kwargs), guard, region, range, meta)
        self.nodes.append(node)
        if self._nx is not None:
            self._nx = None  # the networkx view is rebuilt on next use
        return node

    # -- views -----------------------------------------------------------------------
    @property
    def nx(self) -> "nx.DiGraph":
        """The networkx view: node attribute `node`, edges typed data/control/region."""
        if self._nx is None:
            self._nx = self._build_nx()
        return self._nx

    def _build_nx(self) -> "nx.DiGraph":
        import networkx as nx  # only here: importing it costs more than compiling a program

        g = nx.DiGraph(name=self.name)
        g.add_nodes_from((n.id, {"node": n, "op": n.op.value}) for n in self.nodes)
        edges: dict[tuple[int, int], dict] = {}
        for n in self.nodes:
            for slot, a in enumerate(n.args):
                edges.setdefault((a, n.id), {}).setdefault("data", []).append(slot)
            for k, a in n.kwargs:
                edges.setdefault((a, n.id), {}).setdefault("data", []).append(k)
            for b, p in n.guard:
                edges.setdefault((b, n.id), {})["control"] = p
            for conj in n.meta.get("when", ()) if n.op is Op.MERGE else n.meta.get("paths", ()):
                for b, p in conj:  # a merge's choice depends on these branches
                    edges.setdefault((b, n.id), {}).setdefault("select", p)
            if n.region is not None:
                edges.setdefault((n.region, n.id), {})["region"] = True
        g.add_edges_from((u, v, d) for (u, v), d in edges.items())
        return g

    def region_nodes(self, region: int | None) -> list[Node]:
        return [n for n in self.nodes if n.region == region]

    def neural_sites(self) -> list[Node]:
        return [n for n in self.nodes if n.op is Op.NEURAL]

    def outputs(self, region: int | None) -> dict[str, Node]:
        return {n.target: n for n in self.nodes if n.op is Op.OUTPUT and n.region == region}

    def dump(self) -> str:
        """A readable, stable text form (used by the golden tests)."""
        return "\n".join(str(n) for n in self.nodes) + "\n"

    # -- serialization ---------------------------------------------------------------
    def to_json(self) -> dict:
        return {"schema": SCHEMA, "name": self.name, "meta": self.meta,
                "nodes": [n.to_json() for n in self.nodes]}

    @classmethod
    def from_json(cls, d: dict) -> "Graph":
        if d.get("schema") != SCHEMA:
            raise IRError(None, f"unsupported graph schema {d.get('schema')!r} (expected {SCHEMA!r})")
        g = cls(name=d["name"], nodes=[Node.from_json(n) for n in d["nodes"]], meta=dict(d.get("meta", {})))
        g.lint()
        return g

    # -- invariants ------------------------------------------------------------------
    def lint(self) -> None:
        """Check the invariants; raise IRError naming the first node that breaks one."""
        from .lint import lint

        lint(self)
