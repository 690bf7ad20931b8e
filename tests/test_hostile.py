"""Hostile programs (resource bombs), each with the exact outcome it must get and a bound on
the time it may take. Peak memory is measured in benchmarks/hostile_check.py and
benchmarks/hostile_run.py, not here.

Check time: the guard refuses, before libcst, what would crash or stall the parser.
Run time: every bound (iterations, time, value sizes, the memory a run may allocate)
raises a located ProgramError that names the limit and its value.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmprog.compiler import compile_source
from fmprog.compiler.guard import Limits, check

ENTRY = "def execute_command(image):\n"
CHECK_SECONDS = 5.0  # the target is 2 s in a fresh process (benchmarks/hostile_check.py); slack for CI


def ret(expr: str) -> str:
    return ENTRY + "    return " + expr + "\n"


def timed_compile(src: str):
    t = time.perf_counter()
    c = compile_source(src, "bomb.py")
    seconds = time.perf_counter() - t
    assert seconds < CHECK_SECONDS, f"{seconds:.1f} s"
    return c


# -- check time: (source, line, col, words of the message) ---------------------------------------
COMPILE_BOMBS = {
    "brackets-1500": (ret("[" * 1500 + "]" * 1500), 2, 111, "brackets nested more than 100 deep"),
    "abs-1500": (ret("abs(" * 1500 + "1" + ")" * 1500), 2, 414, "brackets nested more than 100 deep"),
    "unary-minus-1500": (ret("-" * 1500 + "1"), 2, 210, "more than 200 levels of nesting"),
    "not-1500": (ret("not " * 1500 + "1"), 2, 807, "more than 200 levels of nesting"),
    "sum-6000": (ret("+".join(["1"] * 6000)), 2, 410, "more than 200 levels of nesting"),
    "attribute-chain-1000": (ret("image" + ".left" * 1000), 2, 1011, "more than 200 levels of nesting"),
    "statements-100000": (ENTRY + "    x=1\n" * 100_000, 5000, 5, "more than 20000 tokens"),
    "over-a-megabyte": (ENTRY + "    x = 1\n" * 110_000, 1, 0, "characters long (the limit is 1000000)"),
    "elif-3000": (ENTRY + "    if image:\n        x = 0\n" + "    elif image:\n        x = 1\n" * 3000, 399, 10,
                  "more than 200 levels of nesting"),
    "blocks": (ENTRY + "".join(" " * (i + 1) + "if image:\n" for i in range(300)), 200, 207,
               "more than 200 levels of nesting"),
    "fstring-brackets": (ret("f'{" + "[" * 1500 + "]" * 1500 + "}'"), 2, 113, "brackets nested more than 100"),
    # a `}` inside a string inside the field does not end the field
    "fstring-chain-behind-a-brace": (ret("f\"{'}' + " + "+".join(["1"] * 6000) + "}\""), 2, 411,
                                     "more than 200 levels of nesting"),
    "fstring-nested-spec": (ret("f'{1:{" + "(" * 200 + ")" * 200 + "}}'"), 2, 115, "brackets nested"),
    "adjacent-strings-1000": (ret(" ".join(["'a'"] * 1000)), 2, 807, "more than 200 levels of nesting"),
    "lambdas-1000": (ret("lambda: " * 1000 + "1"), 2, 809, "more than 200 levels of nesting"),
}


@pytest.mark.parametrize("name", COMPILE_BOMBS)
def test_compile_bomb_is_refused_with_a_location(name):
    src, line, col, words = COMPILE_BOMBS[name]
    c = timed_compile(src)
    assert [(d.code, d.range.line, d.range.col) for d in c.diagnostics] == [("too-complex", line, col)], \
        [d.format("bomb.py") for d in c.diagnostics]
    assert words in c.diagnostics[0].message and c.graph is None


LET_THROUGH = {
    "brackets-99": ret("[" * 99 + "]" * 99),
    "unary-minus-190": ret("-" * 190 + "1"),
    "sum-190": ret("+".join(["1"] * 190)),
    "nested-ifs-90": ENTRY + "".join("    " * (i + 1) + "if image:\n" for i in range(90)) + "    " * 91 + "return 1\n",
    "list-9000": ret("[" + ", ".join(["1"] * 9000) + "]"),
    "string-900kB": ret("'" + "a" * 900_000 + "'"),
    "fstring-prose": ret("f\"it's {image!r:>3} - (really) [sic] {{x}}: {'a' if image else 'b'}.\""),
}


@pytest.mark.parametrize("name", LET_THROUGH)
def test_large_but_reasonable_programs_compile(name):
    c = timed_compile(LET_THROUGH[name])
    assert c.ok, [d.format("p") for d in c.diagnostics]


def test_guard_limits_are_validated_settings():
    assert check(ret("[[1]]"), Limits(max_brackets=2)) is None
    why, where = check(ret("[[[1]]]"), Limits(max_brackets=2))
    assert why == "brackets nested more than 2 deep" and (where.line, where.col) == (2, 13)
    assert check(ret("-" * 50 + "1"), Limits(max_depth=20)) is None  # short: not scanned
    why, _ = check(ret("-" * 50 + "1"), Limits(max_depth=20, short_text=0))
    assert why.startswith("more than 20 levels of nesting")
    with pytest.raises(ValueError, match="max_depth must be at least 1"):
        Limits(max_depth=0)


def test_a_thousand_names_and_branches_compile_quickly():
    body = "".join(f"    v{i} = {i}\n" for i in range(2000))
    body += "".join(f"    if v{i} > 3:\n        v{(i * 7) % 2000} = {i}\n" for i in range(1000))
    assert timed_compile(ENTRY + body + "    return v0\n").ok


def test_many_undefined_names_among_many_names_compile_quickly():
    body = "".join(f"    v{i} = {i}\n" for i in range(2000)) + "".join(f"    y = u{i}\n" for i in range(1000))
    c = timed_compile(ENTRY + body + "    return y\n")
    assert [d.code for d in c.diagnostics] == ["undefined-name"] * 1000


def test_batch_with_bombs_finishes_with_its_summary(tmp_path):
    rows = [
        {"id": "nested-1500", "program": ret("[" * 1500 + "]" * 1500)},
        {"id": "statements-100000", "program": ENTRY + "    x=1\n" * 100_000 + "    return x\n"},
        {"id": "abs-1500", "program": ret("abs(" * 1500 + "1" + ")" * 1500)},
        {"id": "fine", "program": ret("1")},
    ]
    corpus = tmp_path / "bombs.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = subprocess.run([sys.executable, "-m", "fmprog", "check", "--jsonl", str(corpus), "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r.get("id") for r in lines[:4]] == ["nested-1500", "statements-100000", "abs-1500", "fine"]
    assert [r["diagnostics"][0]["code"] for r in lines[:3]] == ["too-complex"] * 3
    assert lines[4]["summary"]["programs"] == 4 and lines[4]["summary"]["ok"] == 1
    text = subprocess.run([sys.executable, "-m", "fmprog", "check", "--jsonl", str(corpus)],
                          capture_output=True, text=True, timeout=60)
    assert "4 programs: 1 ok, 3 with errors, 0 internal errors" in text.stderr


# -- format fields that look things up are refused at check time -----------------------------------
@pytest.mark.parametrize("template", ["{0.__class__}", "{x[0]}", "{:{w.real}}", "{0.left}"])
def test_format_lookups_refused_at_check_time(template):
    c = compile_source(ret(f"'{template}'.format(image, x=[1], w=3)"))
    assert [(d.code, d.range.line, d.range.col) for d in c.diagnostics] == [("format-lookup", 2, 11)]


def test_plain_format_fields_pass():
    assert compile_source(ret("'{} {0} {name:>3} {{x.y}}'.format(1, name=2)")).ok


# -- the guard's quick bound never clears what its scan would refuse -------------------------------
ATOMS = ["x", "1", "'('", "')'", '"]["', "f'{x}'", "f'{(x)}'", "x.y", "# ((\n"]
PREFIXES = ["-", "not ", "not(", "~", "lambda:", "await "]
INFIXES = [" + ", "-", " and ", " if x else ", "*", ".", " in ", "<", "if(x)else"]


def _bracketed(inner):
    return st.tuples(st.sampled_from(["()", "[]", "{}"]), st.sampled_from(["", "\n", "\n  "]), inner).map(
        lambda t: t[0][0] + t[1] + t[2] + t[1] + t[0][1])


EXPRESSIONS = st.recursive(st.sampled_from(ATOMS), lambda inner: st.one_of(
    _bracketed(inner),
    st.tuples(st.sampled_from(PREFIXES), inner).map(lambda t: t[0] + (f"({t[1]})" if t[0].endswith("(") else t[1])),
    st.tuples(inner, st.sampled_from(INFIXES), inner).map("".join)), max_leaves=80)
LINES = st.tuples(st.integers(0, 4), st.sampled_from(["", "if ", "elif ", "x = ", "return "]), EXPRESSIONS).map(
    lambda t: "    " * t[0] + t[1] + t[2] + (":" if t[1] in ("if ", "elif ") else ""))


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=6), st.integers(2, 30))
def test_quick_bound_is_an_upper_bound(lines, depth):
    from fmprog.compiler.guard import _quick_ok

    limits = Limits(max_depth=depth * 2, max_brackets=depth, short_text=0)
    text = "\n".join(lines) + "\n"
    if _quick_ok(text, limits):
        assert check(text, limits) is None, text
