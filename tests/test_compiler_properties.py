"""Properties of the compiler on generated programs (hypothesis).

Programs come from a small grammar of statements and expressions over the DSL and the
Python subset (valid and invalid ones: refused constructs, unknown names and methods,
wrong arities, bad types), and from random text and byte mutations of real programs.
Whatever the input: `compile_source` returns (never raises), reports no `internal`
diagnostic, and when the program is ok its graph lints and survives the JSON round trip.
"""

from __future__ import annotations

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from fmprog.compiler import compile_source
from fmprog.compiler.diagnostics import CODES
from helpers import GOLDENS, assert_same_graph, corpus, round_trip

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Internal errors from compiler bugs that strict xfail tests track (delete an entry when its
# bug is fixed): the generators skip such inputs instead of failing on them again and again.
KNOWN_BUGS: dict[str, str] = {}  # none open


def assert_compiles_cleanly(src: str, skip_known_bugs: bool = False) -> None:
    c = compile_source(src, "gen.py")  # must not raise
    internal = [d.format("gen.py") for d in c.diagnostics if d.code == "internal"]
    if skip_known_bugs and internal and all(any(k in m for k in KNOWN_BUGS) for m in internal):
        assume(False)
    assert not internal, "\n".join(internal) + "\n--- source:\n" + src
    for d in c.diagnostics:
        assert d.code in CODES and d.range.line >= 1 and d.range.col >= 0, d
        assert d.format("gen.py").startswith(f"gen.py:{d.range.line}:") and d.to_json()["code"] == d.code
    if c.ok:
        c.graph.lint()
        assert_same_graph(c.graph, round_trip(c.graph))
        assert not any(d.is_error for d in c.diagnostics)
    else:
        assert c.graph is None and c.errors


# -- a grammar of programs ---------------------------------------------------------------------
# Mostly valid programs (so that the "ok" properties get exercised), with a few invalid pieces
# mixed in: refused constructs, unknown names and methods, wrong arities and types.
NAMES = ["image_patch", "x", "y", "cats", "cat", "i", "n", "answer", "image"]
PROLOGUE = [
    "image_patch = ImagePatch(image)", "x = 1", "y = 'red'", "cats = image_patch.find('cat')",
    "cat = image_patch", "i = 0", "n = 2.5", "answer = image_patch.simple_query('what?')",
]
STRINGS = ["'cat'", "'dog'", '"red"', "'What color is it?'", "''", "'a b'"]
PATCH_CALLS = ["find('cat')", "exists('dog')", "simple_query('what?')", "query('q')", "compute_depth()",
               "verify_property('cat', 'red')", "best_text_match(['a', 'b'])", "llm_query('who?')",
               "crop(0, 0, 10, 10)", "overlaps_with(1, 2, 3, 4)", "width", "horizontal_center", "left"]
CALLS = ["len({})", "min({})", "max({})", "sorted({})", "sum({})", "abs({})", "any({})", "all({})", "list({})",
         "str({})", "int({})", "bool({})", "bool_to_yesno({})", "distance({}, image_patch)", "llm_query({})",
         "best_image_match({}, ['red'])", "coerce_to_numeric({})", "enumerate({})", "reversed({})", "set({})",
         "range({})", "round({})", "print({})", "ImagePatch(image)"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**"]
CMPOPS = ["<", "<=", ">", ">=", "==", "!=", "in", "not in", "is", "is not"]
# Each of these is wrong somewhere: refused, unknown, badly typed or not even Python.
INVALID = [
    "(y := 3)", "await x", "(yield x)", "[*cats]", "b'raw'", "1j", "...", "x.__dict__", "eval('1')",
    "open('f')", "getattr(x, 'y')", "VideoSegment(image)", "foo", "undefined_function(x)", "image_patch.contains('a')",
    "image_patch.simple_best_text_match(['a'])", "image_patch.overlaps(1, 2, 3, 4)", "image_patch.distance_to(cat)",
    "image_patch.color", "cats.find('a')", "cats.simple_query('q')", "n[0]", "image_patch.find()",
    "image_patch.exists('a', 'b')", "len()", "math.sqrt(4)", "image.find('x')", "x(", "lambda: (", "1 +", "'unterminated",
    "image_patch.__class__", "(lambda x=1: x)", "query", "possible_answers", "cats[0].colour",
]

atoms = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(STRINGS),
    st.integers(-3, 300).map(str),
    st.sampled_from(["0.5", "1e3", "True", "False", "None"]),
    st.sampled_from(PATCH_CALLS).map(lambda c: "image_patch." + c),
)


def extend(inner):
    args = st.lists(inner, min_size=1, max_size=3).map(", ".join)
    return st.one_of(
        st.tuples(st.sampled_from(["cat", "image_patch", "cats[0]"]), st.sampled_from(PATCH_CALLS)).map(".".join),
        st.tuples(inner, st.sampled_from(PATCH_CALLS)).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(st.sampled_from(CALLS), inner).map(lambda t: t[0].format(t[1])),
        st.tuples(st.sampled_from(["min", "max", "sorted"]), inner).map(
            lambda t: f"{t[0]}(cats, key=lambda c: {t[1]})"),
        st.tuples(inner, st.sampled_from(BINOPS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, st.sampled_from(CMPOPS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} < {t[1]} <= {t[2]})"),
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["not ", "-", "+"]), inner).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(st.sampled_from(["cats", "answer", "[1, 2]"]), st.sampled_from(["[0]", "[-1]", "[1:]", "[:2]", "[::-1]", "[i]"])).map("".join),
        args.map(lambda a: f"[{a}]"), args.map(lambda a: f"({a},)"), args.map(lambda a: f"{{{a}}}"),
        st.tuples(inner, inner).map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        st.tuples(inner, inner).map(lambda t: f"[{t[0]} for c in cats if {t[1]}]"),
        inner.map(lambda e: f"sum({e} for c in cats)"),
        inner.map(lambda e: f"{{c.simple_query('n'): {e} for c in cats}}"),
        st.just("[b for a in cats for b in a.find('hat')]"),
        st.tuples(atoms, atoms).map(lambda t: f'f"{{{t[0]}}} and {{{t[1]}!r:>3}}"'),
        st.tuples(inner, inner).map(lambda t: f"'{{}} {{}}'.format({t[0]}, {t[1]})"),
        st.sampled_from(INVALID),
    )


expressions = st.recursive(atoms, extend, max_leaves=6)
targets = st.one_of(st.sampled_from(NAMES[1:]), st.sampled_from(["a, b", "x, (y, i)", "answer"]),
                    st.sampled_from(["cats[0]", "image_patch.left", "[c, *rest]", "x + 1"]))
REFUSED_STATEMENTS = ["global x", "nonlocal x", "del x", "raise ValueError()", "import os", "from math import sqrt",
                      "import math", "yield x", "exec('x')", "x = 1; y = 2", "break", "continue"]


@st.composite
def statements(draw, depth: int = 0, in_loop: bool = False) -> list[str]:
    """One statement as a list of lines (indented relative to its block)."""
    e = lambda: draw(expressions)  # noqa: E731
    simple = [
        lambda: [f"{draw(targets)} = {e()}"],
        lambda: [f"{draw(st.sampled_from(NAMES[1:]))} = {e()}"],
        lambda: [f"{draw(st.sampled_from(['x', 'i', 'n', 'y']))} {draw(st.sampled_from(['+=', '-=', '*=', '//=']))} {e()}"],
        lambda: [f"x: int = {e()}"],
        lambda: [e()],
        lambda: [f"return {e()}"],
        lambda: ["pass"],
        lambda: [f"assert {e()}"],
        lambda: [draw(st.sampled_from(REFUSED_STATEMENTS))],
    ]
    if in_loop:
        simple.append(lambda: [draw(st.sampled_from(["break", "continue"]))])
    if depth >= 2:
        return draw(st.sampled_from(simple))()

    def block(loop=in_loop) -> list[str]:
        stmts = draw(st.lists(statements(depth + 1, loop), min_size=1, max_size=3))
        return ["    " + line for s in stmts for line in s]

    compound = [
        lambda: [f"if {e()}:", *block()] + (["else:", *block()] if draw(st.booleans()) else []),
        lambda: [f"if {e()}:", *block(), f"elif {e()}:", *block(), "else:", *block()],
        lambda: [f"for {draw(targets)} in {e()}:", *block(True)] + (["else:", *block()] if draw(st.booleans()) else []),
        lambda: ["for c in cats:", *block(True)],
        lambda: [f"while {e()}:", *block(True)],
        lambda: [f"if {e()}: return {e()}"],
        lambda: draw(st.sampled_from([["try:", "    pass", "except Exception:", "    pass"],
                                      ["with x as f:", "    pass"], ["def helper(c):", "    return c"],
                                      ["class A:", "    pass"]])),
    ]
    return draw(st.sampled_from(simple + compound))()


ENTRIES = [
    "def execute_command(image):",
    "def execute_command(image) -> str:",
    "def execute_command_42(image, possible_answers, query, ImagePatch, VideoSegment, llm_query, "
    "bool_to_yesno, distance, best_image_match):",
    "def execute_command(image, my_fig, time_wait_between_lines, syntax):",
    "def execute_command(image, extra):",
    "def main(image):",
    "async def execute_command(image):",
]


def body_program(stmts: list[list[str]], entry: str = ENTRIES[0], prologue=PROLOGUE) -> str:
    lines = [*prologue, *(line for s in stmts for line in s)]
    return entry + "\n" + "".join("    " + line + "\n" for line in lines)


@st.composite
def programs(draw) -> str:
    header = draw(st.sampled_from(["", "", "import math\n", "import os\n", '"""doc"""\n']))
    entry = draw(st.sampled_from(ENTRIES[:4] * 3 + ENTRIES[4:]))
    prologue = PROLOGUE if draw(st.booleans()) else PROLOGUE[:1]
    stmts = draw(st.lists(statements(), min_size=1, max_size=5))
    trailer = draw(st.sampled_from(["", "", "", "def helper(x):\n    return x\n", "x = 1\n"]))
    return header + body_program(stmts, entry, prologue) + trailer


@SETTINGS
@given(programs())
@example("def execute_command(image):\n    image_patch = ImagePatch(image)\n    return image_patch\n")
def test_generated_programs(src):
    assert_compiles_cleanly(src, skip_known_bugs=True)


@SETTINGS
@given(st.lists(statements(), min_size=1, max_size=5))
def test_generated_bodies_under_the_usual_prologue(stmts):
    assert_compiles_cleanly(body_program(stmts), skip_known_bugs=True)


def test_the_generator_reaches_ok_programs():
    """Guard against a generator that only ever produces errors."""
    found = {"ok": 0, "error": 0}

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(statements(), min_size=1, max_size=3))
    def sample(stmts):
        found["ok" if compile_source(body_program(stmts)).ok else "error"] += 1

    sample()
    assert found["ok"] >= 5 and found["error"] >= 5, found


# -- mutations of real programs ----------------------------------------------------------------
def seed_programs() -> list[str]:
    rows = [r["program"] for r in corpus() if r.get("parses")]
    return rows or [p.read_text() for p in sorted(GOLDENS.glob("*.py"))]


SEEDS = seed_programs()
SNIPPETS = ["(", ")", "[", "]", ":", "\n", "    ", "\t", "lambda", "yield", "'", '"', '"""', "\\", "#", "é",
            "\x00", "\r", "\ufeff", "if", "else", "for", "return", ".find(", "[0]", "__", "await ", "*", "=", ","]


@st.composite
def mutated(draw) -> str:
    src = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "snippet", "dup-line", "swap-lines", "indent", "truncate"]))
        i = draw(st.integers(0, len(src)))
        lines = src.split("\n")
        k = draw(st.integers(0, max(len(lines) - 1, 0)))
        j = draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "delete":
            src = src[:i] + src[i + draw(st.integers(1, 20)):]
        elif kind == "insert":
            src = src[:i] + draw(st.text(max_size=8)) + src[i:]
        elif kind == "snippet":
            src = src[:i] + draw(st.sampled_from(SNIPPETS)) + src[i:]
        elif kind == "dup-line":
            lines.insert(k, lines[k])
            src = "\n".join(lines)
        elif kind == "swap-lines":
            lines[k], lines[j] = lines[j], lines[k]
            src = "\n".join(lines)
        elif kind == "indent":
            lines[k] = draw(st.sampled_from(["", " ", "  ", "        ", "\t"])) + lines[k].lstrip()
            src = "\n".join(lines)
        else:
            src = src[:i]
    return src


@st.composite
def byte_mutated(draw) -> str:
    data = bytearray(draw(st.sampled_from(SEEDS)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if data:
            data[i] = draw(st.integers(0, 255))
    encoding = draw(st.sampled_from(["utf-8", "latin-1"]))
    return bytes(data).decode(encoding, errors="replace")


@SETTINGS
@given(mutated())
def test_text_mutations_of_real_programs(src):
    assert_compiles_cleanly(src, skip_known_bugs=True)


@SETTINGS
@given(byte_mutated())
def test_byte_mutations_of_real_programs(src):
    assert_compiles_cleanly(src, skip_known_bugs=True)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(src):
    assert_compiles_cleanly(src, skip_known_bugs=True)


# -- limits found in review, fixed: kept as regressions ---------------------------------------------
def test_long_flat_expression():
    assert_compiles_cleanly("def execute_command(image):\n    return " + " + ".join(["1"] * 600) + "\n")


def test_deep_nesting_is_a_user_error():
    assert_compiles_cleanly("def execute_command(image):\n    return " + "[" * 400 + "]" * 400 + "\n")


def test_lone_surrogate():
    assert_compiles_cleanly("def execute_command(image):\n    return '\udc80'\n")


def test_nul_in_string_literal():
    assert_compiles_cleanly("def execute_command(image):\n    return 'a\x00b'\n")
