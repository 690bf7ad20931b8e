"""Shared helpers of the compiler tests: a pyflakes-style `check`, program builders, the
corpus, and the JSON round trip of graphs."""

from __future__ import annotations

import functools
import json
import os
import textwrap
from pathlib import Path

import networkx as nx

from fmprog.compiler import Compilation, compile_source
from fmprog.compiler.diagnostics import CODES
from fmprog.compiler.ir import Graph

ROOT = Path(__file__).resolve().parents[1]
GOLDENS = Path(__file__).resolve().parent / "goldens"
CORPUS_NAME = "corpus/llm-programs-dev.jsonl"

ENTRY = "def execute_command(image):\n"
LONG_ENTRY = ("def execute_command_123(image, possible_answers, query, ImagePatch, VideoSegment, "
              "llm_query, bool_to_yesno, distance, best_image_match):\n")
# The first line of a `body()` program's body is line 3, at column 4.
BODY_LINE, BODY_COL = 3, 4


def body(text: str, entry: str = ENTRY) -> str:
    """A program whose entry function binds `image_patch` and then runs `text`."""
    text = textwrap.dedent(text).strip("\n")
    return entry + "    image_patch = ImagePatch(image)\n" + textwrap.indent(text, "    ") + "\n"


def program(text: str) -> str:
    """A whole program written indented inside a test."""
    return textwrap.dedent(text).lstrip("\n")


def compile_(src: str, filename: str = "prog.py") -> Compilation:
    return compile_source(src, filename)


def show(c: Compilation) -> str:
    return "\n".join(d.format(c.filename) for d in c.diagnostics) or "(no diagnostics)"


def check(src: str, *codes: str, filename: str = "prog.py") -> Compilation:
    """Compile `src` and compare the multiset of its diagnostic codes with `codes`.

    Also: no `internal` diagnostic unless asked for, every code is a known one, and
    the graph exists (and lints) exactly when there is no error.
    """
    c = compile_(src, filename)
    got = sorted(d.code for d in c.diagnostics)
    assert got == sorted(codes), f"expected {sorted(codes)}, got {got}:\n{show(c)}\n--- source:\n{src}"
    for d in c.diagnostics:
        assert d.code in CODES and d.severity in ("error", "warning"), d
        assert d.range.line >= 1 and d.range.col >= 0, d
    errors = any(d.is_error for d in c.diagnostics)
    assert c.ok is (not errors)
    assert (c.graph is None) is errors
    if c.graph is not None:
        c.graph.lint()
    return c


def messages(c: Compilation, code: str) -> list[str]:
    return [d.message for d in c.diagnostics if d.code == code]


# -- graphs -----------------------------------------------------------------------------
def round_trip(g: Graph) -> Graph:
    """to_json -> JSON text -> from_json (which lints)."""
    return Graph.from_json(json.loads(json.dumps(g.to_json())))


def assert_same_graph(a: Graph, b: Graph) -> None:
    assert a.name == b.name and a.meta == b.meta
    assert len(a.nodes) == len(b.nodes)
    for x, y in zip(a.nodes, b.nodes):
        assert x == y, f"\n{x}\n{y}"
    assert a.nodes == b.nodes
    assert sorted(a.nx.edges(data=True)) == sorted(b.nx.edges(data=True))
    assert nx.utils.graphs_equal(a.nx, b.nx)


# -- the corpus -------------------------------------------------------------------------
def corpus_path() -> Path | None:
    candidates = [os.environ.get("FMPROG_CORPUS"), ROOT / "shared" / CORPUS_NAME, ROOT.parent / "shared" / CORPUS_NAME]
    for p in candidates:
        if p and Path(p).is_file():
            return Path(p)
    return None


@functools.lru_cache(maxsize=1)
def corpus() -> tuple[dict, ...]:
    path = corpus_path()
    if path is None:
        return ()
    with open(path, encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())


@functools.lru_cache(maxsize=1)
def compiled_corpus() -> tuple[tuple[dict, Compilation], ...]:
    """Every corpus row with its compilation, computed once per test session."""
    return tuple((row, compile_source(row["program"], row["id"])) for row in corpus())
