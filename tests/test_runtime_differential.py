"""The graph interpreter against plain Python on the same deterministic fake backends:
the same value, or the same kind of error at the same line, over the whole dev corpus."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fmprog.backends.base import KINDS
from fmprog.backends.fake import FakeBackend
from fmprog.compiler import compile_source
from fmprog.runtime.errors import ProgramError
from fmprog.runtime.interpreter import FixedInterpreter
from reference import run_python
from test_compiler_properties import body_program, statements

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "llm-programs-dev.jsonl"
IMAGES = [np.random.default_rng(s).integers(0, 255, (48 + 8 * s, 64, 3), dtype=np.uint8) for s in range(3)]


def _norm(v):
    if isinstance(v, np.ndarray):
        return ("array", v.shape)
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
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
    # a name never bound, read in a comprehension, a generator or a lambda: a free variable
    # there, so NameError (Python 3.11), not UnboundLocalError
    "free-variable-in-comprehension": '''
def execute_command(image):
    p = ImagePatch(image)
    if p.exists("dog"):
        n = 1
    return [n for _ in range(2)]
''',
    "free-variable-in-generator": '''
def execute_command(image):
    p = ImagePatch(image)
    if p.exists("dog"):
        n = 1
    return sum(n for _ in range(2))
''',
    "free-variable-in-lambda": '''
def execute_command(image):
    p = ImagePatch(image)
    if p.exists("dog"):
        n = 1
    return sorted([3, 1], key=lambda x: x + n)
''',
    "free-variable-in-nested-iterable": '''
def execute_command(image):
    p = ImagePatch(image)
    if p.exists("dog"):
        ys = [1]
    return [x + y for x in range(2) for y in ys]
''',
    "unbound-in-first-iterable": '''
def execute_command(image):
    p = ImagePatch(image)
    if p.exists("dog"):
        ys = [1]
    return [y for y in ys]
''',
    "isinstance": '''
def execute_command(image):
    p = ImagePatch(image)
    f = ImagePatch
    q = f(image)
    return [isinstance(p, ImagePatch), isinstance(q, ImagePatch), isinstance(p.find("x"), list),
            isinstance("a", (list, str)), isinstance(1, ImagePatch), isinstance(p.crop(0, 0, 5, 5), ImagePatch)]
''',
    "set-pop-and-tuple-methods": '''
def execute_command(image):
    s = {3, 1, 2}
    t = (1, 2, 2)
    return s.pop(), s, t.count(2), t.index(2)
''',
    "functions-as-values": '''
def execute_command(image):
    xs = ["bb", "a", "ccc"]
    return sorted(xs, key=len), list(map(str, [1, 2])), max([-3, 2], key=abs), len
''',
    "crop-with-no-area": '''
def execute_command(image):
    p = ImagePatch(image)
    q = p.crop(10, 10, 10, 20)
    return q.width
''',
    "crop-outside-the-image": '''
def execute_command(image):
    p = ImagePatch(image)
    return p.crop(p.width + 5, 0, p.width + 9, 4).height
''',
    "float-coordinates": '''
def execute_command(image):
    p = ImagePatch(image)
    q = p.crop(1.7, 0.2, 10.9, 10.5)
    boxes = [q.left, q.lower, q.right, q.upper]
    return boxes, ImagePatch(image, 1.5, 0, 10, 10)
''',
    "coerce-to-numeric": '''
def execute_command(image):
    words = ["3", "three", "twenty five", "3.5 m", "10-15", "-4 degrees", "yes", "1,000"]
    return [coerce_to_numeric(w) for w in words], to_numeric("two point five")
''',
    "coerce-to-numeric-no-string": '''
def execute_command(image):
    return coerce_to_numeric("none", no_string=True)
''',
    "distance-as-viper": '''
def execute_command(image):
    p = ImagePatch(image)
    a, b, c = p.crop(0, 0, 10, 10), p.crop(5, 5, 15, 15), p.crop(30, 0, 40, 10)
    return distance(a, b), distance(a, c), distance(a, a), distance(2.5, -1)
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


# -- generated programs: the statement grammar of test_compiler_properties -------------------------
class _Budget(Exception):
    """The plain-Python run took too many steps (a generated endless loop)."""


def python_run_bounded(src, image, backends, steps=20_000):
    import sys

    count = [0]

    def tracer(frame, event, arg):
        if frame.f_code.co_filename == "<fmprog-reference>":
            count[0] += 1
            if count[0] > steps:
                raise _Budget()
        return tracer

    sys.settrace(tracer)
    try:
        return run_python(src, image, backends, possible_answers=["yes", "no"])
    finally:
        sys.settrace(None)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # Python's own, compiling odd generated code
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(statements(), min_size=1, max_size=5), st.integers(0, 3))
def test_generated_programs_graph_equals_python(stmts, seed):
    src = body_program(stmts)
    c = compile_source(src)
    assume(c.ok)
    backends = {k: FakeBackend(f"gen-{k}-{seed}", 1, k) for k in KINDS}
    image = IMAGES[seed % len(IMAGES)]
    ref = python_run_bounded(src, image, backends)
    if ref[0] == "error" and ref[1][0] == "_Budget":
        assume(False)  # an endless loop in Python: the graph stops it at its bounds
    got = graph_run(c.graph, image, backends)
    if got[0] == "error" and got[1][0] in ("IterationLimit", "Timeout", "ResourceLimit"):
        assume(False)  # beyond the graph's bounds: plain Python has none
    assert same(ref, got), (ref, got, src)
