"""The fast (ast-paired) source ranges equal libcst's own, for every node the compiler asks
about; where pairing cannot cover a node, the code-generation path answers instead."""

import json
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from fmprog.compiler import Compilation, compile_source, parse
from fmprog.compiler.lower import Lowerer
from fmprog.compiler.positions import Positions, codegen_positions

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT.parents[1] / "shared" / "corpus" / "llm-programs-dev.jsonl"
TRICKY = [
    'def execute_command(image):\n    s = "é" + f"{image!r:>{3}}" "x" \'y\'\n    return (s, (1, 2), [*s], {**{}})\n',
    'def execute_command(image):\n    p = ImagePatch(image)\n    return p.find("ü😀")[0].find("ü😀") if p else (a and b and (c or d) and e)\n',
    "def execute_command(image):\n    xs = [x for x in range(3) if x if x > 0 for y in 'ab']\n    return {k: v for k, v in zip(xs, xs)}, (lambda a, b: a)(1, 2)\n",
    "def execute_command(image): return image[1:2, ::3]\n",
]


class Recording(Positions):
    def __getitem__(self, node):
        self.requested.append(node)
        return super().__getitem__(node)

    def fast_table(self):
        return {}  # no shortcut: every range the lowering asks for goes through __getitem__


def requested(source):
    c = parse(Compilation(source))
    p = Recording(c.module, source)
    p.requested = []
    Lowerer(c.module, source, p).lower_module()
    return c.module, p


def programs():
    rows = [json.loads(line)["program"] for line in CORPUS.read_text().splitlines()] if CORPUS.exists() else []
    return rows + [f.read_text() for f in sorted((ROOT / "goldens").glob("*.py"))] + TRICKY


def test_fast_ranges_equal_codegen_ranges():
    checked = fast = 0
    for src in programs():
        if not compile_source(src).diagnostics or parse(Compilation(src)).module is not None:
            try:
                module, p = requested(src)
            except Exception:
                continue
            slow = codegen_positions(module)
            for node in list(p.requested):
                assert Positions.__getitem__(p, node) == tuple(slow[id(node)]), (src, node)
                checked += 1
            fast += p.fast
    assert checked > 300  # the goldens and the tricky programs alone
    if CORPUS.exists():
        assert checked > 20_000 and fast > 700


def test_codegen_ranges_equal_position_provider():
    src = TRICKY[0] + TRICKY[2].replace("execute_command", "other")
    module = cst.parse_module(src)
    ours = codegen_positions(module)
    theirs = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    for node, r in theirs.items():
        if isinstance(node, cst.Module):
            continue
        assert ours[id(node)] == (r.start.line, r.start.column, r.end.line, r.end.column), node


@pytest.mark.parametrize("src", TRICKY)
def test_tricky_programs_get_the_same_diagnostics_either_way(src):
    fast = compile_source(src)
    module = cst.parse_module(src)
    slow = Lowerer(module, src, Positions(module, src, fast=False))
    slow.lower_module()
    assert [d.range for d in fast.diagnostics if d.code != "missing-return"] == \
        [d.range for d in slow.diagnostics if d.code != "missing-return"]
