"""Checks made before the first input, so a misconfigured run fails at once with every
problem named instead of failing on every input:

- every kind the program's call sites need has a pool (`llm_query@5:11 needs an llm
  backend`, with how to get one);
- every member of a pool can serve the operations of the sites routed to it (an image
  classifier cannot answer `simple_query`);
- every backend answers its health check (an HTTP server is up and serves its model).
"""

from __future__ import annotations

from fmprog.backends.base import BackendError, Pools
from fmprog.compiler.ir import Graph

from .neural import op_of


class PreflightError(Exception):
    """The run cannot start; `problems` lists each reason on its own line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def site_label(node) -> str:
    """`method@line:col`, how a call site is named in messages (the position of the
    method's name, as in the site id)."""
    return f"{node.meta['method']}@{node.meta['site'].rsplit('@', 1)[-1]}"


def _hint(kind: str) -> str:
    if kind != "llm":
        return f"add a {kind} entry to the backend configuration (--backends; see docs/backends.md)"
    try:
        from fmprog.backends.config import llm_pool_hint
    except ImportError:
        return "add an llm entry to the backend configuration (--backends; see docs/backends.md)"
    return llm_pool_hint()


def preflight(graph: Graph, pools: Pools, health: bool = True) -> None:
    """Raise PreflightError listing every problem found (nothing when all is well)."""
    problems: list[str] = []
    used: dict[str, set[str]] = {}
    for node in graph.neural_sites():
        kind = node.meta["kind"]
        if not pools.has(kind):
            article = "an" if kind in ("llm", "image_text_matching") else "a"  # as spoken
            problems.append(f"{site_label(node)} needs {article} {kind} backend, and none is "
                            f"configured: {_hint(kind)}")
            continue
        op = op_of(node.target)
        for b in pools.pool(kind):
            if not b.supports(op):
                problems.append(f"{site_label(node)} may be routed to {kind} backend {b.name!r}, "
                                f"which cannot serve {node.meta['method']}() (the {op} operation)")
        used.setdefault(kind, set()).add(op)
    if health:
        for kind in used:
            for b in pools.pool(kind):
                try:
                    b.health()
                except BackendError as e:
                    problems.append(f"{kind} backend {b.name!r} fails its health check: {e}")
                except Exception as e:  # an adapter's own bug, named as the backend's
                    problems.append(f"{kind} backend {b.name!r} fails its health check: "
                                    f"{type(e).__name__}: {e}")
    if problems:
        raise PreflightError(problems)
