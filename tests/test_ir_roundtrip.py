"""The graph IR: JSON round trip, lint on compiled and on corrupted graphs, call-site ids."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fmprog.compiler.diagnostics import CodeRange
from fmprog.compiler.ir import SCHEMA, Graph, IRError, Op
from helpers import GOLDENS, assert_same_graph, body, check, compile_, compiled_corpus, round_trip

GOLDEN_PROGRAMS = sorted(GOLDENS.glob("*.py"))


def graph_of(src: str) -> Graph:
    c = compile_(src)
    assert c.ok, [d.format("p") for d in c.diagnostics]
    return c.graph


# -- round trip -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", GOLDEN_PROGRAMS, ids=[p.stem for p in GOLDEN_PROGRAMS])
def test_golden_round_trip(path):
    g = graph_of(path.read_text())
    g2 = round_trip(g)
    assert_same_graph(g, g2)
    assert g2.dump() == g.dump()
    assert g2.to_json() == g.to_json()


def test_round_trip_of_every_compiling_corpus_program():
    rows = [(row, c) for row, c in compiled_corpus() if c.ok]
    if not rows:
        pytest.skip("corpus not found")
    failures = []
    for row, c in rows:
        try:
            assert_same_graph(c.graph, round_trip(c.graph))
        except (AssertionError, IRError, ValueError) as e:
            failures.append(f"{row['id']}: {type(e).__name__}: {str(e)[:200]}")
    assert not failures, "\n".join(failures)


def test_lint_passes_on_every_compiled_corpus_graph():
    graphs = [(row["id"], c.graph) for row, c in compiled_corpus() if c.graph is not None]
    if not graphs:
        pytest.skip("corpus not found")
    for _, g in graphs:
        g.lint()


def test_round_trip_of_awkward_constants():
    g = graph_of(body("return [1e400, -0.0, 10**30, 'é\\n\"', None, True, 0x1F, '']"))
    assert_same_graph(g, round_trip(g))


def test_json_is_plain_data():
    g = graph_of((GOLDENS / "for_break_else.py").read_text())
    d = g.to_json()
    assert d["schema"] == SCHEMA and d["name"] == "execute_command"
    assert json.loads(json.dumps(d)) == d  # nothing but JSON types
    assert d["meta"]["inputs"] == ["image"]
    assert len(d["meta"]["source_sha256"]) == 64


def test_from_json_rejects_other_schema():
    d = graph_of(body("return 1")).to_json()
    d["schema"] = "fmprog-graph/0"
    with pytest.raises(IRError, match="schema"):
        Graph.from_json(d)


def test_networkx_view():
    g = graph_of((GOLDENS / "comprehension.py").read_text())
    assert g.nx.number_of_nodes() == len(g.nodes)
    loop = next(n for n in g.nodes if n.op is Op.LOOP)
    members = [v for _, v, d in g.nx.out_edges(loop.id, data=True) if d.get("region")]
    assert members and all(g.nodes[v].region == loop.id for v in members)
    branch = next(n for n in g.nodes if n.op is Op.BRANCH)
    assert any("control" in d for _, _, d in g.nx.out_edges(branch.id, data=True))
    for u, v, d in g.nx.edges(data=True):
        assert u < v and d  # program order is an execution order; every edge is typed


# -- lint on corrupted graphs ------------------------------------------------------------------
@pytest.fixture
def merge_graph() -> Graph:
    return graph_of((GOLDENS / "if_else_merge.py").read_text())


def corrupt(g: Graph, i: int, **changes) -> Graph:
    nodes = list(g.nodes)
    nodes[i] = dataclasses.replace(nodes[i], **changes)
    return Graph(g.name, nodes, dict(g.meta))


def first(g: Graph, op: Op, after: int = -1):
    return next(n for n in g.nodes if n.op is op and n.id > after)


def test_lint_accepts_the_original(merge_graph):
    merge_graph.lint()


def test_lint_arg_pointing_forward(merge_graph):
    n = first(merge_graph, Op.NEURAL)
    with pytest.raises(IRError, match="not defined before use"):
        corrupt(merge_graph, n.id, args=(n.id + 1,)).lint()


def test_lint_arg_pointing_at_itself(merge_graph):
    n = first(merge_graph, Op.PURE)
    with pytest.raises(IRError, match="not defined before use"):
        corrupt(merge_graph, n.id, args=(n.id,)).lint()


def test_lint_guard_on_non_branch(merge_graph):
    neural = first(merge_graph, Op.NEURAL)  # the condition itself, not its branch
    const = first(merge_graph, Op.CONST, after=first(merge_graph, Op.BRANCH).id)
    with pytest.raises(IRError, match="not a branch"):
        corrupt(merge_graph, const.id, guard=((neural.id, True),)).lint()


def test_lint_duplicate_site(merge_graph):
    a, b = merge_graph.neural_sites()[:2]
    with pytest.raises(IRError, match="duplicate call site"):
        corrupt(merge_graph, b.id, meta={**b.meta, "site": a.meta["site"]}).lint()


def test_lint_neural_without_site(merge_graph):
    n = first(merge_graph, Op.NEURAL)
    meta = {k: v for k, v in n.meta.items() if k != "site"}
    with pytest.raises(IRError, match="site"):
        corrupt(merge_graph, n.id, meta=meta).lint()


def test_lint_other_invariants(merge_graph):
    g = merge_graph
    with pytest.raises(IRError, match="node id"):
        corrupt(g, 3, id=4).lint()
    with pytest.raises(IRError, match="not an earlier loop or lambda"):
        corrupt(g, 5, region=1).lint()
    merge = first(g, Op.MERGE)
    with pytest.raises(IRError, match="one guard per candidate"):
        corrupt(g, merge.id, meta={"when": merge.meta["when"][:1]}).lint()
    with pytest.raises(IRError, match="exactly one argument"):
        corrupt(g, first(g, Op.BRANCH).id, args=()).lint()
    with pytest.raises(IRError, match="without a value"):
        corrupt(g, first(g, Op.CONST).id, meta={}).lint()
    with pytest.raises(IRError, match="top-level return"):
        Graph(g.name, g.nodes[:-1], g.meta).lint()
    with pytest.raises(IRError, match="source range"):
        corrupt(g, 2, range=CodeRange(0, 0, 0, 0)).lint()


def test_lint_region_scoping():
    g = graph_of((GOLDENS / "comprehension.py").read_text())
    loop = first(g, Op.LOOP)
    inner = next(n for n in g.nodes if n.region == loop.id)
    outside = next(n for n in g.nodes if n.id > inner.id and n.region is None and n.op is Op.PURE)
    with pytest.raises(IRError, match="region that does not enclose"):
        corrupt(g, outside.id, args=(inner.id,)).lint()
    with pytest.raises(IRError, match="unknown loop kind"):
        corrupt(g, loop.id, target="repeat").lint()


def test_from_json_lints():
    d = graph_of((GOLDENS / "if_else_merge.py").read_text()).to_json()
    d["nodes"][4]["args"] = [9]
    with pytest.raises(IRError):
        Graph.from_json(d)


def test_lint_merge_condition_on_missing_branch(merge_graph):
    merge = first(merge_graph, Op.MERGE)
    when = [((99, True),)] + list(merge.meta["when"][1:])
    with pytest.raises(IRError):
        corrupt(merge_graph, merge.id, meta={"when": when}).lint()


# -- call-site ids -----------------------------------------------------------------------------
def sites(src: str) -> list[str]:
    return compile_(src).neural_sites


def test_identical_calls_on_different_lines_are_different_sites():
    s = sites(body("a = image_patch.simple_query('q')\nb = image_patch.simple_query('q')\nreturn a + b"))
    # the column is the method name's, so chained calls on one line differ too
    assert s == ["simple_query('q')@3:20", "simple_query('q')@4:20"]


def test_identical_calls_on_one_line_are_different_sites():
    s = sites(body("return image_patch.exists('a') or image_patch.exists('a')"))
    assert len(s) == len(set(s)) == 2


def test_fstring_arguments_do_not_collapse_sites():
    s = sites(body("""
        for name in ['cat', 'dog']:
            a = image_patch.simple_query(f"Is there a {name} in the picture, on the left side?")
            b = image_patch.simple_query(f"Is there a {name} in the picture, on the right side?")
        return 1
    """))
    assert len(s) == len(set(s)) == 2
    assert all(x.startswith('simple_query(f"Is there a {name}') for x in s)


def test_one_site_per_call_in_a_loop():
    s = sites(body("return [c.simple_query(f'what is {i}?') for i, c in enumerate(image_patch.find('cat'))]"))
    assert len(s) == 2  # find and simple_query: a call site, not a call


def test_site_ids_are_stable_across_recompiles():
    src = (GOLDENS / "nested_loops_return.py").read_text()
    first_ids = sites(src)
    assert first_ids and first_ids == sites(src) == sites(src)
    g = graph_of(src)
    assert [n.meta["site"] for n in round_trip(g).neural_sites()] == first_ids


def test_site_ids_name_the_method_and_the_position():
    s = sites(body("x = llm_query('who?')\nreturn image_patch.best_text_match(['a', 'b'], prefix='p')"))
    assert s == ["llm_query('who?')@3:8", "best_text_match(['a', 'b'], prefix='p')@4:23"]


def test_neural_kinds():
    g = graph_of(body("return image_patch.find('a'), image_patch.exists('a'), image_patch.simple_query('q'), "
                      "image_patch.compute_depth(), image_patch.best_text_match(['a']), llm_query('q')"))
    kinds = [(n.target, n.meta["kind"]) for n in g.neural_sites()]
    assert kinds == [("find", "detection"), ("exists", "detection"), ("query", "vqa"),
                     ("compute_depth", "depth"), ("best_text_match", "image_text_matching"), ("llm_query", "llm")]


def test_chained_identical_calls_are_different_sites():
    c = check(body("return image_patch.find('a')[0].find('a')"), "unchecked-index")
    assert len(set(c.neural_sites)) == 2
