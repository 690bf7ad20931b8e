"""Drawings of a graph: DOT text, or SVG/PNG rendered with matplotlib (no graphviz needed).

Neural nodes are drawn as red boxes labelled with their call-site id, branches as
diamonds; data edges are solid, control edges dashed, loop/lambda regions are clusters.
"""

from __future__ import annotations

from .ir import Graph, Node, Op

COLORS = {Op.NEURAL: "#e4572e", Op.BRANCH: "#f3a712", Op.MERGE: "#a8c686", Op.LOOP: "#669bbc",
          Op.LAMBDA: "#669bbc", Op.INPUT: "#dddddd", Op.OUTPUT: "#dddddd", Op.CONST: "#f5f5f5",
          Op.PURE: "#ffffff"}


def label(n: Node) -> str:
    if n.op is Op.NEURAL:
        return n.meta["site"]
    if n.op is Op.CONST:
        return repr(n.meta.get("value", "unbound"))[:24]
    extra = n.meta.get("name") or n.meta.get("key") or ""
    return f"{n.op.value} {n.target}" + (f" {extra}" if extra else "")


def to_dot(g: Graph) -> str:
    lines = [f'digraph "{g.name}" {{', "  rankdir=TB; node [fontname=Helvetica fontsize=10 style=filled];"]

    def emit_region(region, indent):
        for n in g.nodes:
            if n.region != region:
                continue
            shape = {Op.NEURAL: "box", Op.BRANCH: "diamond", Op.MERGE: "invtriangle"}.get(n.op, "ellipse")
            text = label(n).replace('"', '\\"')
            lines.append(f'{indent}n{n.id} [label="%{n.id} {text}" shape={shape} fillcolor="{COLORS[n.op]}"];')
            if n.op in (Op.LOOP, Op.LAMBDA):
                lines.append(f'{indent}subgraph cluster_{n.id} {{ label="%{n.id} {n.target} body"; style=dashed;')
                emit_region(n.id, indent + "  ")
                lines.append(f"{indent}}}")

    emit_region(None, "  ")
    for u, v, d in g.nx.edges(data=True):
        if "data" in d:
            lines.append(f"  n{u} -> n{v};")
        if "control" in d or "select" in d:
            polarity = d.get("control", d.get("select"))
            lines.append(f'  n{u} -> n{v} [style=dashed color=gray label="{"T" if polarity else "F"}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(g: Graph, path: str) -> None:
    """Write an SVG or PNG (by extension): a layered drawing, one layer per dependency depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    G = g.nx
    depth: dict[int, int] = {}
    for n in nx.topological_sort(G):
        preds = [p for p in G.predecessors(n) if "region" not in G.edges[p, n] or len(G.edges[p, n]) > 1]
        depth[n] = 1 + max((depth[p] for p in preds), default=-1)
    layers: dict[int, list[int]] = {}
    for n, d in depth.items():
        layers.setdefault(d, []).append(n)
    pos = {n: (i - len(ns) / 2, -d) for d, ns in layers.items() for i, n in enumerate(sorted(ns))}
    width = max(len(ns) for ns in layers.values())
    fig, ax = plt.subplots(figsize=(max(8, width * 2.2), max(6, len(layers) * 0.9)))
    data = [(u, v) for u, v, d in G.edges(data=True) if "data" in d]
    control = [(u, v) for u, v, d in G.edges(data=True) if ("control" in d or "select" in d) and "data" not in d]
    nx.draw_networkx_edges(G, pos, edgelist=data, ax=ax, arrows=True, alpha=0.6)
    nx.draw_networkx_edges(G, pos, edgelist=control, ax=ax, style="dashed", edge_color="gray", alpha=0.5)
    for n in g.nodes:
        x, y = pos[n.id]
        ax.text(x, y, f"%{n.id} {label(n)}", ha="center", va="center", fontsize=7,
                bbox=dict(boxstyle="round" if n.op is not Op.NEURAL else "square",
                          fc=COLORS[n.op], ec="black" if n.op is Op.NEURAL else "gray"))
    ax.set_title(f"{g.name}: {len(g.nodes)} nodes, {len(g.neural_sites())} neural call sites (red)")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
