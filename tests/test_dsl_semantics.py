"""The DSL's semantics where they follow ViperGPT (cvlab-columbia/viper, image_patch.py) and
Python 3.11 (docs/dsl-semantics.md), through the interpreter: exact values and errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fmprog.backends.base import Backend

from fmprog.compiler import compile_source
from fmprog.runtime.errors import ProgramError
from fmprog.runtime.interpreter import FixedInterpreter

IMAGE = np.zeros((60, 80, 3), np.uint8)  # 80 wide, 60 high


def run(body: str):
    c = compile_source("def execute_command(image):\n    p = ImagePatch(image)\n    " + body + "\n")
    assert c.ok, [d.format("p") for d in c.diagnostics]
    return FixedInterpreter(c.graph, {}).run({"image": IMAGE})


def error(body: str) -> ProgramError:
    with pytest.raises(ProgramError) as e:
        run(body)
    return e.value


@pytest.mark.parametrize("body", [
    "return p.crop(10, 10, 10, 20)",  # no width
    "return p.crop(0, 30, 20, 30)",  # no height
    "return p.crop(90, 0, 99, 10)",  # outside the image: clamped to nothing
    "return ImagePatch(image, 5, 5, 5, 9)",
])
def test_a_patch_with_no_area_is_an_error(body):
    e = error(body)
    assert (e.kind, e.message, e.range.line) == ("ValueError", "ImagePatch has no area", 3)


def test_crop_truncates_float_coordinates_as_viper():
    assert run("q = p.crop(1.7, 0.2, 10.9, 10.5)\n    return [q.left, q.lower, q.right, q.upper]") == [1, 0, 10, 10]
    assert run("q = p.crop(10, 10, 30, 30).crop(-0.5, 0, 5.5, 5)\n    return [q.left, q.right]") == [10, 15]


def test_image_patch_needs_integer_coordinates_as_viper():
    e = error("return ImagePatch(image, 1.5, 0, 10, 10)")
    assert e.kind == "TypeError" and "slice indices must be integers" in e.message
    assert run("q = ImagePatch(image, True, 0, 10, 10)\n    return q.left") == 1


@pytest.mark.parametrize("text, value", [
    ("'3'", 3), ("'three'", 3), ("'twenty five'", 25), ("'one hundred and five'", 105),
    ("'two point five'", 2.5), ("'3.5 m'", 3.5), ("'10-15'", 10), ("'-4 degrees'", -4), ("'1,000'", 1000),
    ("'3 cats and 4 dogs'", 34), ("'yes'", "yes"), ("''", ""),
])
def test_coerce_to_numeric_as_viper(text, value):
    got = run(f"return coerce_to_numeric({text})")
    assert got == value and type(got) is type(value)


def test_coerce_to_numeric_without_a_number():
    e = error("return coerce_to_numeric('none', no_string=True)")
    assert e.kind == "ValueError"
    e = error("return coerce_to_numeric({}.get(0, 3.5))")  # not a string: ViperGPT calls .lower() on it
    assert e.kind == "AttributeError"


def test_distance_as_viper():
    got = run("a, b, c = p.crop(0, 0, 10, 10), p.crop(5, 5, 15, 15), p.crop(30, 0, 40, 10)\n"
              "    return distance(a, b), distance(a, c), distance(a, a), distance(2.5, -1)")
    assert got == (-25 / 175, 20.0, -1.0, 3.5)


def test_isinstance_of_image_patch():
    assert run("f = ImagePatch\n    return [isinstance(p, ImagePatch), isinstance(f(image), ImagePatch), "
               "isinstance(1, ImagePatch), isinstance(p, (list, str))]") == [True, True, False, False]


def test_set_pop_and_tuple_methods_are_the_language():
    assert run("s = {3}\n    t = (1, 2, 2)\n    return s.pop(), t.count(2), t.index(2)") == (3, 2, 1)


@pytest.mark.parametrize("body, kind", [
    ("if p.exists('x'):\n        n = 1\n    return [n for _ in range(2)]", "NameError"),
    ("if p.exists('x'):\n        n = 1\n    return (lambda: n)()", "NameError"),
    ("if p.exists('x'):\n        ys = [1]\n    return [y for y in ys]", "UnboundLocalError"),
    ("for i in range(2):\n        if i > 0:\n            return m\n        m = 1\n    return 0", "ok"),
])
def test_unbound_names_as_python_3_11(body, kind):
    c = compile_source("def execute_command(image):\n    p = ImagePatch(image)\n    " + body + "\n")
    try:
        FixedInterpreter(c.graph, {"detection": _Nothing()}).run({"image": IMAGE})
        got = "ok"
    except ProgramError as e:
        got = e.kind
        assert "free variable" in e.message if kind == "NameError" else "local variable" in e.message
    assert got == kind


class _Nothing(Backend):
    """A detector that finds nothing: `exists` is False."""

    kind = "detection"

    def __init__(self):
        super().__init__("nothing", 1.0)

    def detect(self, image, name):
        return []


@pytest.mark.parametrize("body, code", [
    ("return 1\n    x = (yield 2)", "unsupported-construct"),
    ("return 1\n    x = await p", "unsupported-construct"),
    ("return 1\n    break", "unsupported-construct"),
])
def test_unreachable_code_that_changes_the_function_is_refused(body, code):
    c = compile_source("def execute_command(image):\n    p = ImagePatch(image)\n    " + body + "\n")
    assert [d.code for d in c.diagnostics] == ["unreachable", code]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 reads nested quotes in f-strings")
def test_text_this_python_refuses_is_a_syntax_error():
    c = compile_source('def execute_command(image):\n    return f"{image} and {"red"!r:>3}"\n')
    assert [(d.code, d.range.line) for d in c.diagnostics] == [("syntax", 2)]
