"""Golden IR dumps: each `goldens/<name>.py` compiles to the graph written in `<name>.ir`.

Regenerate after an intended change with

    FMPROG_UPDATE_GOLDENS=1 python -m pytest tests/test_ir_golden.py

and review the diff of the .ir files like code.
"""

from __future__ import annotations

import difflib
import os

import pytest

from helpers import GOLDENS, check

PROGRAMS = sorted(GOLDENS.glob("*.py"))
UPDATE = os.environ.get("FMPROG_UPDATE_GOLDENS") == "1"


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_golden(path):
    c = check(path.read_text(), filename=path.name)  # goldens compile without any diagnostic
    dump = c.graph.dump()
    expected_path = path.with_suffix(".ir")
    if UPDATE:
        expected_path.write_text(dump)
        return
    if not expected_path.exists():
        pytest.fail(f"{expected_path.name} is missing: run with FMPROG_UPDATE_GOLDENS=1")
    expected = expected_path.read_text()
    if dump != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), dump.splitlines(True),
                                            f"{expected_path.name} (expected)", f"{path.name} (compiled)"))
        pytest.fail(f"IR of {path.name} changed (FMPROG_UPDATE_GOLDENS=1 to accept):\n{diff}", pytrace=False)


def test_goldens_are_paired():
    assert len(PROGRAMS) >= 8
    orphans = [p.name for p in GOLDENS.glob("*.ir") if not p.with_suffix(".py").exists()]
    assert not orphans, f"golden dumps without a program: {orphans}"


def test_dump_is_deterministic():
    for path in PROGRAMS:
        a = check(path.read_text()).graph.dump()
        b = check(path.read_text()).graph.dump()
        assert a == b
