"""The command-line contract other tools rely on: output formats, JSON fields, exit codes."""

import json
import subprocess
import sys

import pytest

GOOD = '''def execute_command(image):
    image_patch = ImagePatch(image)
    dogs = image_patch.find("dog")
    if len(dogs) == 0:
        return "no"
    return dogs[0].simple_query(f"what color is the {'dog'}?")
'''
BAD = '''def execute_command(image):
    p = ImagePatch(image)
    return p.contains("dog")
'''


def fmprog(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "fmprog", *args], capture_output=True, text=True, input=stdin)


@pytest.fixture
def files(tmp_path):
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(GOOD)
    bad.write_text(BAD)
    return good, bad


def test_check_text_format_and_exit_codes(files):
    good, bad = files
    r = fmprog("check", str(good))
    assert r.returncode == 0 and r.stdout == ""
    r = fmprog("check", str(good), str(bad))
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"{bad}:3:11: error unknown-method: ImagePatch has no method 'contains'; did you mean 'exists'?"]


def test_check_usage_errors_exit_2(files, tmp_path):
    assert fmprog("check").returncode == 2
    assert fmprog("check", str(tmp_path / "missing.py")).returncode == 2
    assert fmprog("check", "--jsonl", str(files[0]), str(files[0])).returncode == 2
    assert fmprog("check", "--format", "yaml", str(files[0])).returncode == 2
    assert fmprog("nosuchcommand").returncode == 2


def test_check_jsonl_json_contract(tmp_path):
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": "a", "code": GOOD}, {"id": "b", "code": BAD}, {"code": "def execute_command(image:\n"}]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    r = fmprog("check", "--jsonl", str(corpus), "--field", "code", "--format", "json")
    assert r.returncode == 1
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o.get("id") for o in out[:3]] == ["a", "b", 3]  # the line number when no id
    assert set(out[0]) == {"id", "ok", "neural_sites", "diagnostics"}
    assert out[0]["ok"] and out[0]["neural_sites"] == [
        'find("dog")@3:23', "simple_query(f\"what color is the {'dog'}?\")@6:19"]
    d = out[1]["diagnostics"][0]
    assert set(d) == {"line", "col", "end_line", "end_col", "severity", "code", "message"}
    assert (d["line"], d["col"], d["severity"], d["code"]) == (3, 11, "error", "unknown-method")
    assert out[2]["diagnostics"][0]["code"] == "syntax" and not out[2]["ok"]
    summary = out[3]["summary"]
    assert set(summary) == {"programs", "ok", "with_errors", "internal_errors", "seconds"}
    assert (summary["programs"], summary["ok"], summary["with_errors"], summary["internal_errors"]) == (3, 1, 2, 0)


def test_compile_roundtrip_and_show(files, tmp_path):
    good, bad = files
    out = tmp_path / "g.json"
    assert fmprog("compile", str(good), "-o", str(out)).returncode == 0
    data = json.loads(out.read_text())
    assert data["schema"] == "fmprog-graph/1"
    from fmprog.compiler import compile_source
    from fmprog.compiler.ir import Graph

    assert Graph.from_json(data).nodes == compile_source(GOOD).graph.nodes
    r = fmprog("compile", str(bad))
    assert r.returncode == 1 and "unknown-method" in r.stderr
    for ext in ("svg", "dot"):
        target = tmp_path / f"g.{ext}"
        assert fmprog("show", str(out), "-o", str(target)).returncode == 0
        text = target.read_text()
        assert ("<svg" in text) if ext == "svg" else text.startswith('digraph "execute_command"')
        assert 'find(\\"dog\\")@3:23' in text or 'find("dog")@3:23' in text
    assert fmprog("show", str(good), "-o", str(tmp_path / "g.xyz")).returncode == 2


def test_dsl_prompt_is_derived_from_the_stub():
    r = fmprog("dsl", "--prompt")
    assert r.returncode == 0
    for needle in ("class ImagePatch:", "def find(self, object_name: str) -> list[ImagePatch]:",
                   "def bool_to_yesno(bool_answer: bool) -> str:", "execute_command"):
        assert needle in r.stdout
    assert "@neural" not in r.stdout and "also_called" not in r.stdout


def test_help_for_every_command():
    for cmd in ("check", "compile", "show", "dsl", "run", "demo"):
        r = fmprog(cmd, "--help")
        assert r.returncode == 0 and "usage: fmprog " + cmd in r.stdout
