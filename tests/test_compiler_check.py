"""The checker, case by case: `check(src, *codes)` compiles a program and compares the
multiset of its diagnostic codes (errors and warnings) with `codes` (pyflakes style).

`body("...")` wraps statements in `def execute_command(image):` after
`image_patch = ImagePatch(image)`, so the first body line is line 3, column 4.
"""

from __future__ import annotations

import pytest

from helpers import LONG_ENTRY, body, check, compile_, messages, program

# -- every supported construct compiles, without any diagnostic ---------------------------
COMPILES = {
    "if-elif-else": "x = 1\nif x > 0:\n    y = 1\nelif x < 0:\n    y = 2\nelse:\n    y = 3\nreturn y",
    "if-without-else": "if image_patch.exists('cat'):\n    return 'cat'\nreturn 'none'",
    "one-line-if": "if image_patch.exists('cat'): return 'yes'\nreturn 'no'",
    "for": "n = 0\nfor cat in image_patch.find('cat'):\n    n += 1\nreturn n",
    "for-break-continue-else": (
        "for cat in image_patch.find('cat'):\n    if cat.exists('hat'):\n        break\n"
        "    if cat.exists('dog'):\n        continue\nelse:\n    return 'none'\nreturn 'some'"),
    "for-else-no-break": "for c in image_patch.find('cat'):\n    pass\nelse:\n    return 'done'",
    "return-in-for": "for cat in image_patch.find('cat'):\n    if cat.exists('hat'):\n        return 'yes'\nreturn 'no'",
    "return-in-nested-for": (
        "for a in image_patch.find('a'):\n    for b in image_patch.find('b'):\n"
        "        if distance(a, b) < 5:\n            return 'near'\nreturn 'far'"),
    "while": "i = 0\nwhile i < 3:\n    i += 1\nreturn str(i)",
    "while-break-else": "i = 0\nwhile i < 10:\n    if i == 3:\n        break\n    i = i + 1\nelse:\n    i = -1\nreturn i",
    "while-true-return": "while True:\n    return 1",
    "and-or-not": "a = image_patch.exists('a') and image_patch.exists('b') or not image_patch.exists('c')\nreturn bool_to_yesno(a)",
    "chained-comparison": "x = image_patch.width\nreturn bool_to_yesno(1 < x <= 5 != 4)",
    "arithmetic": "x = (1 + 2) * 3 - 4 / 5 // 6 % 7 ** 2\nreturn -x + abs(x) + round(x, 2)",
    "float-and-bool-arithmetic": "return image_patch.horizontal_center / 2 + True",
    "string-concat": "return 'a' + 'b' * 2 + image_patch.simple_query('q')",
    "subscripts": "xs = [1, 2, 3]\nreturn xs[0] + xs[-1] + xs[len(xs) - 1]",
    "slices": "xs = [1, 2, 3]\nys = xs[1:] + xs[:2] + xs[::-1] + xs[0:3:2]\nreturn ys",
    "string-index-and-slice": "s = image_patch.simple_query('q')\nreturn s[0] + s[1:3]",
    "tuple-unpacking": "a, b = 1, 2\n(c, d) = (b, a)\n[e, f] = [c, d]\nreturn e + f",
    "unpacking-in-for": "for i, cat in enumerate(image_patch.find('cat')):\n    if i > 1:\n        return cat\nreturn image_patch",
    "chained-assignment": "x = y = 3\nreturn x + y",
    "annotated-assignment": "x: int = 1\nreturn x",
    "augmented-assignment": "x = 1\nx += 2\nx -= 1\nx *= 3\nx /= 2\nx //= 1\nx %= 5\nx **= 2\nreturn x",
    "augmented-subscript": "xs = [1]\nxs[0] += 1\nreturn xs",
    "subscript-assignment": "d = {}\nd['k'] = image_patch.simple_query('q')\nreturn d",
    "list-comprehension": "cats = image_patch.find('cat')\nreturn [c for c in cats if c.exists('hat')]",
    "set-comprehension": "return {c.simple_query('color?') for c in image_patch.find('cat')}",
    "dict-comprehension": "return {c.simple_query('n'): c for c in image_patch.find('cat') if c.width > 10}",
    "generator-expression": "return sum(c.width for c in image_patch.find('cat') if c.height > 2)",
    "generator-in-any": "return bool_to_yesno(any(c.exists('hat') for c in image_patch.find('cat')))",
    "nested-comprehension": "return [b for a in image_patch.find('a') for b in a.find('b') if b.width > 1]",
    "comprehension-closure": "t = 3\nreturn [c for c in image_patch.find('a') if c.width > t]",
    "lambda-sort-key": "cats = image_patch.find('cat')\ncats.sort(key=lambda c: c.horizontal_center)\nreturn cats",
    "lambda-sorted-key": "return sorted(image_patch.find('cat'), key=lambda c: c.compute_depth(), reverse=True)",
    "lambda-min-max-key": (
        "cats = image_patch.find('cat')\nif len(cats) == 0:\n    return None\n"
        "return max(cats, key=lambda c: distance(c, min(cats, key=lambda d: d.left)))"),
    "lambda-called": "f = lambda x: x + 1\nreturn f(1)",
    "f-string": "n = 3\nreturn f'there are {n} cats, {n:.2f} {n!r} {{literal}}'",
    "f-string-with-call": "return f\"{image_patch.simple_query('what?')} and {len(image_patch.find('a'))}\"",
    "str-format": "return '{} and {}'.format(1, image_patch.simple_query('q'))",
    "str-methods": "a = image_patch.simple_query('q').lower().strip()\nreturn a.startswith('y') or 'yes' in a.split()",
    "ternary": "return 'a' if image_patch.exists('a') else image_patch.simple_query('b')",
    "literals": "a = [1, 2]\nb = {'k': 1}\nc = (1, 2)\nd = {1, 2}\ne = []\nf = {}\ng = ()\nreturn a, b, c, d, e, f, g",
    "none-true-false": "x = None\nif x is None and True:\n    return False\nreturn x is not None",
    "membership": "return bool_to_yesno('a' in image_patch.simple_query('q') and 1 not in [2])",
    "builtins": "xs = list(range(3))\nreturn len(xs) + sum(xs) + min(xs) + max(1, 2) + int('1') + int(float('2.5'))",
    "zip-reversed-set": "return [a + b for a, b in zip([1], reversed([2]))] + sorted(set([3]))",
    "list-methods": "xs = []\nxs.append(1)\nxs.extend([2])\nxs.insert(0, 3)\nxs.reverse()\nreturn xs.pop()",
    "dict-methods": "d = {'a': 1}\nreturn d.get('a', 0) + len(d.keys()) + sum(d.values())",
    "all-neural-methods": (
        "a = image_patch.find('x')\nb = image_patch.exists('x')\nc = image_patch.verify_property('x', 'red')\n"
        "d = image_patch.query('q')\ne = image_patch.simple_query('q')\nf = image_patch.best_text_match(['a', 'b'])\n"
        "g = image_patch.compute_depth()\nh = image_patch.llm_query('q', long_answer=False)\nreturn a, b, c, d, e, f, g, h"),
    "dsl-functions": (
        "a = llm_query('who?')\nb = best_image_match(image_patch.find('x'), ['red x'])\n"
        "c = coerce_to_numeric('3')\nreturn a, b, c, bool_to_yesno(True)"),
    "patch-attributes": (
        "p = image_patch\nreturn p.left + p.lower + p.right + p.upper + p.width + p.height"
        " + p.horizontal_center + p.vertical_center"),
    "crop-and-overlap": "c = image_patch.crop(0, 0, 10, 10)\nreturn bool_to_yesno(c.overlaps_with(1, 2, 3, 4))",
    "image-patch-with-box": "return ImagePatch(image, 0, 0, 5, 5)",
    "assert": "assert image_patch.exists('x'), 'needs an x'\nreturn 1",
    "pass-and-docstring": "'''A docstring.'''\npass\nreturn 1",
    "print": "print('debug', 1, sep='-')\nreturn 1",
    "return-bare": "if image_patch.exists('a'):\n    return\nreturn 1",
}


@pytest.mark.parametrize("text", COMPILES.values(), ids=COMPILES.keys())
def test_construct_compiles(text):
    check(body(text))


def test_import_math():
    check(program("""
        import math
        def execute_command(image):
            p = ImagePatch(image)
            return math.sqrt(p.width) + math.pi + math.floor(2.5) + math.hypot(3, 4)
    """))


def test_both_entry_signatures():
    check("def execute_command(image):\n    return ImagePatch(image).simple_query('q')\n")
    check(LONG_ENTRY + "    p = ImagePatch(image)\n    return p.best_text_match(possible_answers, query)\n")
    check(body("return llm_query(query) + bool_to_yesno(distance(image_patch, image_patch) < 1)", entry=LONG_ENTRY))


def test_viper_hook_signature():
    check("def execute_command(image, my_fig, time_wait_between_lines, syntax):\n    return 1\n")


def test_module_docstring_allowed():
    check('"""A program."""\nimport math\n\ndef execute_command(image):\n    return math.e\n')


# -- refusals: each gets its code, and the message names what is refused ------------------
ENTRY_RET = "def execute_command(image):\n    return 1\n"
REFUSALS = [
    # (id, program, code, message fragment)
    ("import-os", "import os\n" + ENTRY_RET, "forbidden-import", "'os'"),
    ("from-import", "from math import sqrt\n" + ENTRY_RET, "import-form", "write `import math` and use math."),
    ("import-as", "import math as m\n" + ENTRY_RET, "import-form", "`import math as m` is not supported"),
    ("import-in-body", body("import numpy as np\nreturn 1"), "forbidden-import", "'numpy'"),
    ("exec", body("exec('x = 1')\nreturn 1"), "forbidden-call", "'exec'"),
    ("eval", body("return eval('1')"), "forbidden-call", "'eval'"),
    ("open", body("f = open('x')\nreturn 1"), "forbidden-call", "'open'"),
    ("compile", body("return compile('1', 'f', 'eval')"), "forbidden-call", "'compile'"),
    ("__import__", body("return __import__('os')"), "forbidden-call", "'__import__'"),
    ("getattr", body("return getattr(image_patch, 'find')"), "forbidden-call", "'getattr'"),
    ("setattr", body("setattr(image_patch, 'x', 1)\nreturn 1"), "forbidden-call", "'setattr'"),
    ("type", body("return type(image_patch)"), "forbidden-call", "'type'"),
    ("eval-as-value", body("f = eval\nreturn 1"), "forbidden-call", "'eval'"),
    ("dunder-class", body("return image_patch.__class__"), "dunder-attribute", "'__class__'"),
    ("dunder-dict", body("return image_patch.__dict__"), "dunder-attribute", "'__dict__'"),
    ("dunder-method", body("return image_patch.__init__(image)"), "dunder-attribute", "'__init__'"),
    ("global", body("global x\nreturn 1"), "unsupported-construct", "global"),
    ("nonlocal", body("nonlocal x\nreturn 1"), "unsupported-construct", "nonlocal"),
    ("class", body("class A:\n    pass\nreturn 1"), "unsupported-construct", "class"),
    ("nested-def", body("def helper(x):\n    return x\nreturn 1"), "unsupported-construct", "nested function"),
    ("helper-def", ENTRY_RET + "def helper(x):\n    return x\n", "unsupported-construct", "'helper'"),
    ("with", body("with image_patch as p:\n    pass\nreturn 1"), "unsupported-construct", "with"),
    ("yield", body("yield 1\nreturn 1"), "unsupported-construct", "yield"),
    ("yield-expr", body("x = yield\nreturn x"), "unsupported-construct", "yield"),
    ("await", body("return await image_patch.find('x')"), "unsupported-construct", "await"),
    ("try-except", body("try:\n    pass\nexcept Exception:\n    pass\nreturn 1"), "try-unsupported", "try/except"),
    ("video", body("v = VideoSegment(image)\nreturn v"), "video-unsupported", "VideoSegment"),
    ("video-long-entry", body("return VideoSegment(image)", entry=LONG_ENTRY), "video-unsupported", "VideoSegment"),
    ("walrus", body("return (x := 3)"), "unsupported-construct", ":="),
    ("del", body("del image_patch\nreturn 1"), "unsupported-construct", "del"),
    ("raise", body("if image_patch.exists('x'):\n    raise ValueError('x')\nreturn 1"), "unsupported-construct", "raise"),
    ("match", body("match 1:\n    case 1:\n        pass\nreturn 1"), "unsupported-construct", "match"),
    ("break-outside-loop", body("if image_patch.exists('x'):\n    break\nreturn 1"), "unsupported-construct", "'break' outside a loop"),
    ("star-args", body("return max(*[1, 2])"), "unsupported-construct", "unpacking"),
    ("star-display", body("return [*image_patch.find('a')]"), "unsupported-construct", "unpacking"),
    ("lambda-default", body("f = lambda x=1: x\nreturn 1"), "unsupported-construct", "lambda"),
    ("bytes", body("return b'x'"), "unsupported-construct", "bytes"),
    ("complex", body("return 1j"), "unsupported-construct", "complex"),
    ("ellipsis", body("return ..."), "unsupported-construct", "'...'"),
    ("method-as-value", body("return image_patch.simple_query"), "unsupported-construct", "method used as a value"),
    ("assign-attribute", body("image_patch.left = 3\nreturn 1"), "assign-target", "'left'"),
    ("top-level-statement", "x = 1\n" + ENTRY_RET, "top-level-statement", "top level"),
    ("async-entry", "async def execute_command(image):\n    return 1\n", "unsupported-construct", "async"),
    ("unknown-parameter", "def execute_command(image, foo):\n    return 1\n", "entry-signature", "'foo'"),
    ("star-parameters", "def execute_command(*args):\n    return 1\n", "entry-signature", "*args"),
]


@pytest.mark.parametrize("src, code, fragment", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusal(src, code, fragment):
    c = check(src, code)
    assert fragment in c.diagnostics[0].message


def test_no_entry_point():
    c = compile_("import math\n")
    assert [d.code for d in c.errors] == ["no-entry-point"]
    check("", "no-entry-point")
    check("# just a comment\n", "no-entry-point")


# -- names ------------------------------------------------------------------------------
NAMES = [
    ("undefined", "return foo", ["undefined-name"]),
    ("undefined-in-call", "return foo(1)", ["undefined-name"]),
    ("typo-hint", "cat_patches = image_patch.find('cat')\nreturn len(cat_patchs)", ["undefined-name"]),
    ("listcomp-variable", "x = [c for c in image_patch.find('cat')]\nreturn c", ["comprehension-name"]),
    ("genexp-variable", "n = sum(c.width for c in image_patch.find('cat'))\nreturn c", ["comprehension-name"]),
    ("lambda-parameter", "xs = sorted([1], key=lambda k: k)\nreturn k", ["comprehension-name"]),
    ("math-not-imported", "return math.sqrt(2)", ["undefined-name"]),
    ("query-in-short-entry", "return query", ["undefined-name"]),
    ("maybe-undefined", "if image_patch.exists('x'):\n    y = 1\nreturn y", ["maybe-undefined"]),
    ("maybe-undefined-after-loop", "for c in image_patch.find('c'):\n    y = c\nreturn y", ["maybe-undefined"]),
    ("bound-on-every-path", "if image_patch.exists('x'):\n    y = 1\nelse:\n    y = 2\nreturn y", []),
    ("bound-where-alive", "if image_patch.exists('x'):\n    y = 1\nelse:\n    return 0\nreturn y", []),
]


@pytest.mark.parametrize("text, codes", [r[1:] for r in NAMES], ids=[r[0] for r in NAMES])
def test_names(text, codes):
    check(body(text), *codes)


def test_name_messages():
    assert messages(check(body("return foo"), "undefined-name"), "undefined-name") == ["undefined name 'foo'"]
    c = check(body("cat_patches = image_patch.find('cat')\nreturn len(cat_patchs)"), "undefined-name")
    assert "did you mean 'cat_patches'?" in c.diagnostics[0].message
    c = check(body("return math.pi"), "undefined-name")
    assert "import math" in c.diagnostics[0].message
    c = check(body("x = [c for c in 'ab']\nreturn c"), "comprehension-name")
    assert c.diagnostics[0].message.startswith("'c' is only bound inside a comprehension")


# -- unknown methods and attributes, with "did you mean" ---------------------------------
HINTS = [
    ("simple_best_text_match", "return image_patch.simple_best_text_match(['a', 'b'])", "unknown-method", "'best_text_match'"),
    ("contains", "return image_patch.contains('cat')", "unknown-method", "'exists'"),
    ("overlaps", "return image_patch.overlaps(1, 2, 3, 4)", "unknown-method", "'overlaps_with'"),
    ("distance_to", "return image_patch.distance_to(image_patch)", "unknown-method", "'distance(...)'"),
    ("distance_to-function", "return distance_to(image_patch, image_patch)", "undefined-name", "'distance'"),
    ("has_attribute", "return image_patch.has_attribute('red')", "unknown-method", "'verify_property'"),
    ("get_depth", "return image_patch.get_depth()", "unknown-method", "'compute_depth'"),
    ("ask", "return image_patch.ask('q')", "unknown-method", "'simple_query'"),
    ("list-method-on-patch", "return image_patch.append(1)", "unknown-method", "method of list"),
    ("method-on-image", "return image.find('cat')", "unknown-method", "ImagePatch(image).find"),
    ("attribute-color", "return image_patch.color", "unknown-attribute", "verify_property"),
    ("attribute-typo", "return image_patch.widht", "unknown-attribute", "'width'"),
    ("attribute-prefix", "return image_patch.simple", "unknown-attribute", "'simple_query'"),
    ("attribute-on-image", "return image.width", "unknown-attribute", "'width'"),
    ("attribute-of-found-patch", "for c in image_patch.find('c'):\n    return c.colour\nreturn 0", "unknown-attribute", "verify_property"),
    ("str-method-typo", "return image_patch.simple_query('q').lowr()", "unknown-method", "'lower'"),
]


@pytest.mark.parametrize("text, code, hint", [r[1:] for r in HINTS], ids=[r[0] for r in HINTS])
def test_did_you_mean(text, code, hint):
    c = check(body(text), code)
    assert hint in c.diagnostics[0].message, c.diagnostics[0].message


def test_unknown_math_function():
    c = check("import math\ndef execute_command(image):\n    return math.sqroot(4)\n", "unknown-function")
    assert "'sqrt'" in c.diagnostics[0].message


# -- arity and keywords -----------------------------------------------------------------
ARITY = {
    "missing-argument": ("return image_patch.find()", "missing required argument 'object_name'"),
    "too-many": ("return image_patch.find('a', 'b')", "takes 1 positional argument, got 2"),
    "unknown-keyword": ("return image_patch.exists(name='a')", "unexpected keyword argument 'name'"),
    "extra-keyword": ("return image_patch.best_text_match(['a'], prefix='x', foo=1)", "'foo'"),
    "duplicate-keyword": ("return image_patch.verify_property('a', object_name='b')", "multiple values"),
    "dsl-function": ("return bool_to_yesno()", "'bool_answer'"),
    "builtin": ("return len([1], [2])", "len() takes 1 positional argument, got 2"),
    "crop": ("return image_patch.crop(1, 2, 3)", "'upper'"),
    "image-patch": ("return ImagePatch()", "'image'"),
    "list-method": ("xs = []\nxs.append()\nreturn xs", "'item'"),
    "sorted-keyword": ("return sorted([1], keys=len)", "'keys'"),
}


@pytest.mark.parametrize("text, fragment", ARITY.values(), ids=ARITY.keys())
def test_arity(text, fragment):
    c = check(body(text), "arity")
    assert fragment in c.diagnostics[0].message, c.diagnostics[0].message


# -- static type errors (only facts that hold on every run) ------------------------------
TYPES = {
    "index-float": ("x = 1.5\nreturn x[0]", "'float' object is not subscriptable"),
    "index-patch": ("return image_patch[0]", "'ImagePatch' object is not subscriptable"),
    "index-with-str": ("xs = [1]\nreturn xs['a']", "indices must be integers"),
    "patch-method-on-list": ("cats = image_patch.find('cat')\nreturn cats.simple_query('q')", "index it or loop over it"),
    "find-on-list": ("cats = image_patch.find('cat')\nreturn cats.find('hat')", "'find' is an ImagePatch method"),
    "exists-on-find-result": ("return image_patch.find('cat').exists('hat')", "list[ImagePatch]"),
    "str-minus-int": ("return 'a' - 1", "unsupported operand types for -"),
    "patch-plus-int": ("return image_patch + 1", "'ImagePatch' and 'int'"),
    "augmented": ("x = 'a'\nx -= 1\nreturn x", "-="),
    "order-patches": ("return image_patch < image_patch", "'<' not supported"),
    "order-none": ("return None < 1", "'<' not supported"),
    "in-int": ("return 1 in 2", "not iterable"),
    "len-patch": ("return len(image_patch)", "len()"),
    "len-int": ("return len(3)", "len()"),
    "negate-str": ("return -'a'", "bad operand type for unary -"),
    "sorted-int": ("return sorted(1)", "must be iterable"),
    "query-int": ("return image_patch.simple_query(1)", "must be str, not int"),
    "exists-list": ("return image_patch.exists(['a'])", "must be str"),
    "call-int": ("x = 3\nreturn x()", None),
}


@pytest.mark.parametrize("text, fragment", TYPES.values(), ids=TYPES.keys())
def test_type_error(text, fragment):
    if fragment is None:
        check(body(text), "not-callable")
        return
    c = check(body(text), "type-error")
    assert fragment in c.diagnostics[0].message, c.diagnostics[0].message


def test_unknown_types_are_not_errors():
    """Values of unknown type ("any") never produce a type error."""
    check(body("x = llm_query('q')\ny = {}\nz = y.get('k')\nreturn z[0] + z.left"))
    check(body("d = {}\nreturn d['a'].find('x')"))


# -- warnings do not block -------------------------------------------------------------
WARNINGS = [
    ("unreachable", "return 1\nx = 2", ["unreachable"]),
    ("unreachable-after-break", "for i in range(3):\n    break\n    x = 1\nreturn 2", ["unreachable"]),
    ("unchecked-index", "cats = image_patch.find('cat')\nreturn cats[0]", ["unchecked-index"]),
    ("unchecked-negative-index", "cats = image_patch.find('cat')\nreturn cats[-1]", ["unchecked-index"]),
    ("unchecked-in-condition", "cats = image_patch.find('cat')\nif cats[0].exists('hat'):\n    return 'yes'\nreturn 'no'",
     ["unchecked-index"]),
    ("len-checked", "cats = image_patch.find('cat')\nif len(cats) == 0:\n    return None\nreturn cats[0]", []),
    ("len-checked-greater", "cats = image_patch.find('cat')\nif len(cats) > 0:\n    return cats[0]\nreturn None", []),
    ("truth-checked", "cats = image_patch.find('cat')\nif cats:\n    return cats[0]\nreturn None", []),
    ("not-truth-checked", "cats = image_patch.find('cat')\nif not cats:\n    return None\nreturn cats[-1]", []),
    ("slice-needs-no-check", "cats = image_patch.find('cat')\nreturn cats[1:]", []),
    ("variable-index-not-warned", "cats = image_patch.find('cat')\ni = 0\nreturn cats[i]", []),
    ("missing-return", "if image_patch.exists('a'):\n    return 'yes'", ["missing-return"]),
    ("missing-return-after-loop", "for c in image_patch.find('c'):\n    return c", ["missing-return"]),
    ("unused-result", "image_patch.find('cat')\nreturn 1", ["unused-result"]),
    ("suspicious-argument", "return bool_to_yesno(image_patch.simple_query('q'))", ["suspicious-argument"]),
    ("suspicious-content", "return best_image_match(image_patch.find('a'), 'red a')", ["suspicious-argument"]),
    ("two-warnings", "cats = image_patch.find('cat')\nreturn cats[0]\nreturn 2", ["unchecked-index", "unreachable"]),
]


@pytest.mark.parametrize("text, codes", [r[1:] for r in WARNINGS], ids=[r[0] for r in WARNINGS])
def test_warning(text, codes):
    c = check(body(text), *codes)
    assert c.ok and c.graph is not None
    assert all(d.severity == "warning" for d in c.diagnostics)


def test_warning_messages():
    c = check(body("cats = image_patch.find('cat')\nreturn cats[0]"), "unchecked-index")
    assert c.diagnostics[0].message == "'cats' comes from find() and may be empty: check its length before indexing"
    c = check(body("return 1\nreturn 2"), "unreachable")
    assert c.diagnostics[0].message == "unreachable code"


def test_errors_and_warnings_together():
    c = check(body("cats = image_patch.find('cat')\nx = cats[0]\nreturn foo"), "unchecked-index", "undefined-name")
    assert not c.ok and c.graph is None


def test_several_errors_are_all_reported():
    check(body("a = foo\nb = image_patch.contains('x')\nc = image_patch.find()\nreturn bar"),
          "undefined-name", "unknown-method", "arity", "undefined-name")


# -- positions ----------------------------------------------------------------------------
def ranges(src):
    return [(d.code, tuple(d.range)) for d in compile_(src).diagnostics]


def test_exact_positions():
    # line 3 is the first body line, column 4 its first character
    assert ranges(body("return foo")) == [("undefined-name", (3, 11, 3, 14))]
    assert ranges(body("x = 1\ny = image_patch.contains('cat')\nreturn y")) == [("unknown-method", (4, 8, 4, 28))]
    assert ranges(body("return image_patch.find()")) == [("arity", (3, 11, 3, 29))]
    assert ranges(body("x = 1.5\nreturn x[0]")) == [("type-error", (4, 11, 4, 15))]
    assert ranges(body("return image_patch.color")) == [("unknown-attribute", (3, 11, 3, 28))]
    assert ranges(body("return 1\nx = 2")) == [("unreachable", (4, 4, 4, 9))]
    assert ranges(body("cats = image_patch.find('a')\nreturn cats[0]")) == [("unchecked-index", (4, 11, 4, 18))]
    assert ranges("import os\ndef execute_command(image):\n    return 1\n") == [("forbidden-import", (1, 7, 1, 9))]
    assert ranges(body("if 1:\n    global x\nreturn 1")) == [("unsupported-construct", (4, 8, 4, 16))]


def test_positions_are_sorted():
    c = compile_(body("a = foo\nb = bar\nreturn baz"))
    assert [d.range.line for d in c.diagnostics] == [3, 4, 5]


def test_position_with_tabs_unicode_and_crlf():
    # columns count characters (as LibCST does), not bytes or tab stops
    assert ranges("def execute_command(image):\n    x = 'é'; return foo\n") == [("undefined-name", (2, 20, 2, 23))]
    assert ranges("def execute_command(image):\n\treturn foo\n") == [("undefined-name", (2, 8, 2, 11))]
    assert ranges("def execute_command(image):\r\n    x = 1\r\n    return foo\r\n") == [("undefined-name", (3, 11, 3, 14))]
    assert ranges("def execute_command(image):\n    return (1 +\n            foo)\n") == [("undefined-name", (3, 12, 3, 15))]


def test_syntax_error_position():
    c = check("def execute_command(image):\n    x = (1 +\n", "syntax")
    assert c.diagnostics[0].range.line >= 1


def test_format_and_json():
    c = compile_(body("return foo"), "dir/prog.py")
    d = c.diagnostics[0]
    assert d.format("dir/prog.py") == "dir/prog.py:3:11: error undefined-name: undefined name 'foo'"
    assert d.to_json() == {"line": 3, "col": 11, "end_line": 3, "end_col": 14, "severity": "error",
                           "code": "undefined-name", "message": "undefined name 'foo'"}
    w = compile_(body("return 1\nreturn 2")).diagnostics[0]
    assert w.format("p.py") == "p.py:4:4: warning unreachable: unreachable code"


# -- compiler bugs found in review, fixed: kept as regressions ---------------------------------
def test_fixed_unchecked_index_on_direct_find():
    check(body("return image_patch.find('cat')[0]"), "unchecked-index")


def test_fixed_distance_of_numbers():
    check(body("return distance(image_patch.horizontal_center, 3.0)"))


def test_fixed_for_over_int():
    check(body("for i in 3:\n    pass\nreturn 1"), "type-error")


def test_fixed_duplicate_parameter():
    check("def execute_command(image, image):\n    return 1\n", "entry-signature")


def test_fixed_no_cascade_after_forbidden_call():
    check(body("return open('f').read()"), "forbidden-call")


def test_fixed_no_cascade_after_undefined_name():
    check(body("return Image.open('x')"), "undefined-name")


def test_fixed_no_cascade_after_try():
    check(body("try:\n    x = 1\nexcept Exception:\n    x = 2\nreturn x"), "try-unsupported")


def test_fixed_image_patch_arity_message():
    c = check(body("return ImagePatch()"), "arity")
    assert c.diagnostics[0].message.startswith("ImagePatch()")


def test_fixed_tokenizer_error_position():
    c = check("def execute_command(image):\n    return `x`\n", "syntax")
    assert c.diagnostics[0].range.line == 2


def test_fixed_parser_error_line():
    c = check("def execute_command(image):\n    x = foo bar\n    return x\n", "syntax")
    assert c.diagnostics[0].range.line == 2
