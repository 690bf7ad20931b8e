"""The graph interpreter against plain Python on the same deterministic fake backends:
the same value, or the same kind of error at the same line, over the whole dev corpus."""

import json
from pathlib import Path

import numpy as np
import pytest

from fmprog.backends.base import KINDS
from fmprog.backends.fake import FakeBackend
from fmprog.compiler import compile_source
from fmprog.runtime.errors import ProgramError
from fmprog.runtime.interpreter import FixedInterpreter
from fmprog.runtime.reference import run_python

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "llm-programs-dev.jsonl"
IMAGES = [np.random.default_rng(s).integers(0, 255, (48 + 8 * s, 64, 3), dtype=np.uint8) for s in range(3)]


def _norm(v):
    if isinstance(v, np.ndarray):
        return ("array", v.shape)
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    return v


def graph_run(graph, image, backends, query=""):
    try:
        return "ok", FixedInterpreter(graph, backends).run(
            {"image": image, "query": query, "possible_answers": ["yes", "no"]})
    except ProgramError as e:
        return "error", (e.kind, e.range.line if e.range else None)


def same(a, b):
    return a[0] == b[0] and (_norm(a[1]) == _norm(b[1]) if a[0] == "ok" else a[1] == b[1])


def rows():
    if not CORPUS.exists():
        pytest.skip("the dev corpus is not beside the checkout")
    return [json.loads(line) for line in CORPUS.read_text().splitlines()]


@pytest.mark.parametrize("seed", [0, 1])
def test_corpus_graph_equals_python(seed):
    backends = {k: FakeBackend(f"fake-{k}-{seed}", 1, k) for k in KINDS}
    compared = mismatches = 0
    errors_seen = 0
    for row in rows():
        c = compile_source(row["program"])
        if not c.ok:
            continue
        for image in IMAGES:
            ref = run_python(row["program"], image, backends, query=row.get("query", ""),
                             possible_answers=["yes", "no"])
            got = graph_run(c.graph, image, backends, row.get("query", ""))
            compared += 1
            errors_seen += ref[0] == "error"
            if not same(ref, got):
                mismatches += 1
                print(row["id"], ref, got)
    assert compared > 2000
    assert errors_seen > 10  # the comparison covers failing programs too
    assert mismatches == 0


PROGRAMS = {
    "short-circuit": '''
def execute_command(image):
    p = ImagePatch(image)
    return p.exists("cat") and p.verify_property("cat", "black")
''',
    "loop-return-else": '''
def execute_command(image):
    p = ImagePatch(image)
    for i, d in enumerate(p.find("dog")):
        if d.verify_property("dog", "brown"):
            return i
    else:
        return -1
''',
    "while-break": '''
def execute_command(image):
    n = 0
    total = 0
    while True:
        n += 1
        if n > 5:
            break
        total += n
    return total
''',
    "comprehensions": '''
def execute_command(image):
    p = ImagePatch(image)
    xs = [d for d in p.find("dog") if d.exists("tail")]
    ys = {d.horizontal_center: len(p.find("cat")) for d in xs}
    return sorted(ys, key=lambda k: -k), any(q.exists("x") for q in xs), sum(x * y for x in range(3) for y in range(x))
''',
    "mutation-order": '''
def execute_command(image):
    xs = []
    for k in range(4):
        xs.append(k * k)
    ys = xs
    ys.sort(reverse=True)
    return xs, f"{xs[0]:>4}|{len(ys)!r}", "{} and {}".format(1, 2)
''',
    "name-error-on-path": '''
def execute_command(image):
    p = ImagePatch(image)
    if p.exists("dog"):
        found = 1
    return found
''',
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_constructs_graph_equals_python(name):
    src = PROGRAMS[name]
    c = compile_source(src)
    assert c.ok, [d.format("p") for d in c.diagnostics]
    for seed in range(6):
        backends = {k: FakeBackend(f"f{seed}-{k}", 1, k) for k in KINDS}
        image = np.random.default_rng(seed).integers(0, 255, (40, 60, 3), dtype=np.uint8)
        ref = run_python(src, image, backends)
        got = graph_run(c.graph, image, backends)
        assert same(ref, got), (ref, got)


def test_neural_calls_fire_only_where_python_runs_them():
    src = PROGRAMS["short-circuit"]
    c = compile_source(src)
    calls = {}

    class Counting(FakeBackend):
        def verify_property(self, *a):
            calls["verify"] = calls.get("verify", 0) + 1
            return super().verify_property(*a)

        def detect(self, image, name):
            return []  # nothing exists: verify_property must not run

    backends = {k: Counting("c", 1, k) for k in KINDS}
    assert FixedInterpreter(c.graph, backends).run({"image": IMAGES[0]}) is False
    assert calls == {}


def test_iteration_bound_and_time_limit():
    src = '''
def execute_command(image):
    n = 0
    while True:
        n += 1
    return n
'''
    c = compile_source(src)
    with pytest.raises(ProgramError) as e:
        FixedInterpreter(c.graph, {}, max_iterations=500).run({"image": IMAGES[0]})
    assert e.value.kind == "IterationLimit" and e.value.range.line == 4
    with pytest.raises(ProgramError) as e:
        FixedInterpreter(c.graph, {}, max_iterations=10**9, time_limit=0.05).run({"image": IMAGES[0]})
    assert e.value.kind == "Timeout"


def test_format_cannot_reach_attributes():
    assert [d.code for d in compile_source('def execute_command(image):\n    return "{0.__class__}".format(image)\n')
            .diagnostics] == ["format-lookup"]  # a literal template: refused at check time
    src = '''
def execute_command(image):
    template = "{0.__class__}"
    return template.format(image)
'''
    c = compile_source(src)
    with pytest.raises(ProgramError) as e:
        FixedInterpreter(c.graph, {}).run({"image": IMAGES[0]})
    assert e.value.kind == "ValueError" and e.value.range.line == 4


def test_runtime_tables_match_the_dsl():
    from fmprog.grammars import dsl
    from fmprog.runtime import builtins as B
    from fmprog.runtime import neural as N

    d = dsl.load()
    assert set(B.BUILTINS) == set(d.builtins)
    assert set(B.MATH) == set(d.modules["math"].methods)
    assert set(B.MATH_CONSTANTS) == set(d.modules["math"].attributes)
    symbolic = {n for n, s in d.functions.items() if not s.neural}
    assert set(B.DSL_FUNCTIONS) == symbolic
    neural = {s.canonical for s in d.patch.methods.values() if s.neural} | {
        s.canonical for s in d.functions.values() if s.neural}
    assert set(N.METHODS) == neural
