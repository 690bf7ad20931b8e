"""The op vocabulary is declared once (compiler/opset.py): lowering emits only declared
targets, lint refuses any other, the interpreter implements and accounts every one, and the
tables derived from grammars/ stay derived."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fmprog.compiler import compile_source
from fmprog.compiler.ir import Graph, IRError, Op
from fmprog.compiler.opset import Cost, families, registry
from fmprog.grammars import dsl
from fmprog.runtime import ops
from fmprog.runtime.limits import ACCOUNTS
from helpers import compiled_corpus

SMALL = "def execute_command(image):\n    return 1 + 2\n"


def corrupt(target: str, **changes) -> dict:
    data = compile_source(SMALL).graph.to_json()
    node = next(n for n in data["nodes"] if n["op"] == "pure")
    node["target"] = target
    node.update(changes)
    return data


def test_unknown_pure_target_is_refused_when_loading_a_graph():
    with pytest.raises(IRError, match=r"unknown pure op 'binop:@@'"):
        Graph.from_json(corrupt("binop:@@"))


@pytest.mark.parametrize("target, changes, words", [
    ("binop:+", {"args": [0]}, "takes 2 arguments, got 1"),
    ("getitem", {"args": [0, 1, 0]}, "takes 2 arguments, got 3"),
    ("attr", {"args": [0]}, "needs meta 'name'"),
    ("builtin:eval", {}, "unknown pure op 'builtin:eval'"),
    ("method:__class__", {}, "unknown pure op"),
])
def test_lint_checks_arity_and_meta_against_the_registry(target, changes, words):
    with pytest.raises(IRError, match=words):
        Graph.from_json(corrupt(target, **changes))


def test_cli_refuses_a_graph_with_an_unknown_op(tmp_path):
    f = tmp_path / "g.json"
    f.write_text(json.dumps(corrupt("binop:@@")))
    out = subprocess.run([sys.executable, "-m", "fmprog", "compile", str(f)], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown pure op 'binop:@@'" in out.stderr and "Traceback" not in out.stderr


def test_every_family_has_an_implementation_and_every_cost_an_accounting():
    assert families() == set(ops.IMPLEMENTATIONS)
    assert set(ACCOUNTS) == set(Cost)


def test_every_target_the_corpus_emits_is_declared():
    graphs = [c.graph for _, c in compiled_corpus() if c.graph is not None]
    if not graphs:
        pytest.skip("corpus not found")
    used = {n.target for g in graphs for n in g.nodes if n.op is Op.PURE}
    assert used <= set(registry())
    assert len(used) > 30


def test_dsl_names_are_the_registry_names():
    d = dsl.load()
    assert {t[8:] for t in registry() if t.startswith("builtin:")} == set(d.builtins)
    math = d.modules["math"]
    assert {t[5:] for t in registry() if t.startswith("math:")} == set(math.methods) | set(math.attributes)
    methods = {m for spec in d.types.values() for m in spec.methods} | {
        n for n, s in d.patch.methods.items() if not s.neural}
    assert {t[7:] for t in registry() if t.startswith("method:")} == methods


def test_tables_derived_from_the_dsl():
    from fmprog.runtime import builtins as B
    from fmprog.runtime.values import ImagePatch

    d = dsl.load()
    assert B.patch_attributes() == set(d.patch.attributes)
    for name, sig in d.patch.methods.items():  # the reference harness's model calls, from the stub
        assert callable(getattr(ImagePatch, name)), name
    assert d.entry_names >= {"ImagePatch", "VideoSegment", "llm_query", "bool_to_yesno", "distance",
                             "best_image_match", "coerce_to_numeric", "to_numeric"}
    prompt = d.prompt()
    for name in d.builtins:  # the prompt's builtin list is the table's (filter and map had drifted out)
        assert f" {name}," in prompt.replace("\n", " ") or f" {name}." in prompt.replace("\n", " "), name


def test_compiling_does_not_import_networkx():
    code = ("import sys\nfrom fmprog.compiler import compile_source\n"
            f"assert compile_source({SMALL!r}).ok\nprint('networkx' in sys.modules)\n"
            "from fmprog.compiler import compile_source as c\nc(" + repr(SMALL) + ").graph.nx\n"
            "print('networkx' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_parse_without_validation_gives_the_same_trees():
    import libcst as cst

    from fmprog.compiler import _parse_unvalidated
    from helpers import corpus

    sources = [r["program"] for r in corpus()[:300]] or [SMALL]
    for src in sources:
        try:
            expected = cst.parse_module(src)
        except Exception as e:
            with pytest.raises(type(e)):
                _parse_unvalidated(src)
            continue
        assert _parse_unvalidated(src).deep_equals(expected)
    with pytest.raises(cst.CSTValidationError):  # and validation is back on for everyone else
        cst.Name("not a name")


def test_unvalidated_parsing_for_a_batch_is_reentrant_and_restored():
    import libcst as cst

    from fmprog.compiler import unvalidated_parsing

    with unvalidated_parsing():
        with unvalidated_parsing():
            assert compile_source(SMALL).ok
        cst.Name("unchecked inside the batch")  # no validation while the batch runs
    with pytest.raises(cst.CSTValidationError):
        cst.Name("checked again after it")
