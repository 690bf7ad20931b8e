"""`fmprog check --dry-run`: failing paths found with their location and outcomes."""

import json
import subprocess
import sys

from fmprog.compiler import compile_source
from fmprog.runtime.dryrun import dry_run

UNSAFE = '''def execute_command(image):
    image_patch = ImagePatch(image)
    dogs = image_patch.find("dog")
    dog = dogs[0]
    if dog.verify_property("dog", "brown"):
        return "yes"
    n = int(dog.simple_query("How many legs?"))
    if n > 3:
        return "many"
'''

SAFE = '''def execute_command(image):
    image_patch = ImagePatch(image)
    dogs = image_patch.find("dog")
    if len(dogs) == 0:
        return "no"
    return bool_to_yesno(dogs[0].verify_property("dog", "brown"))
'''


def findings(src):
    return {(f.kind, f.range.line, f.range.col): f for f in dry_run(compile_source(src).graph).findings}


def test_reports_each_failing_path_with_location_and_outcomes():
    found = findings(UNSAFE)
    assert set(found) == {("IndexError", 4, 10), ("ValueError", 7, 8), ("NoAnswer", 1, 4)}
    assert found[("IndexError", 4, 10)].path == ['find("dog")@3:23 -> 0 patches']
    assert any("-> 'yes'" in step for step in found[("ValueError", 7, 8)].path)


def test_safe_program_has_no_findings():
    report = dry_run(compile_source(SAFE).graph)
    assert report.findings == [] and report.complete and report.paths == 1 + 2 + 2  # find: 0 | 1 -> T,F | 3 -> T,F


def test_budget_bounds_the_search():
    src = '''def execute_command(image):
    p = ImagePatch(image)
    return [q.verify_property("x", "y") for q in p.find("a") + p.find("b") + p.find("c")]
'''
    report = dry_run(compile_source(src).graph, max_paths=20)
    assert report.paths == 20 and not report.complete


def test_cli_json_gains_dry_run_findings(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(UNSAFE)
    out = subprocess.run([sys.executable, "-m", "fmprog", "check", "--dry-run", "--format", "json", str(f)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    row = json.loads(out.stdout.splitlines()[0])
    codes = {(d["code"], d["line"], d["col"]) for d in row["diagnostics"]}
    assert ("dry-run", 4, 10) in codes and not row["ok"]
    text = subprocess.run([sys.executable, "-m", "fmprog", "check", "--dry-run", str(f)],
                          capture_output=True, text=True).stdout
    assert f"{f}:4:10: error dry-run: IndexError" in text


def test_dry_run_budgets_are_validated(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(SAFE)
    for flag in (["--dry-run-seconds", "0"], ["--max-paths", "0"]):
        out = subprocess.run([sys.executable, "-m", "fmprog", "check", "--dry-run", *flag, str(f)],
                             capture_output=True, text=True)
        assert out.returncode == 2 and "must be positive" in out.stderr


def test_a_complete_dry_run_says_so_in_json(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(SAFE)
    out = subprocess.run([sys.executable, "-m", "fmprog", "check", "--dry-run", "--format", "json", str(f)],
                         capture_output=True, text=True)
    row, summary = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["dry_run"]["complete"] and row["dry_run"]["stopped_by"] is None and row["dry_run"]["paths"] == 5
    assert summary["summary"]["dry_runs_incomplete"] == 0
