"""`fmprog backends`: the listing, `--check` and its exit codes, through `fmprog.cli.main`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from fmprog.backends.checks import check_backend, probe_call, probe_image
from fmprog.backends.fake import FakeBackend
from fmprog.cli import main


def run(capsys, *argv):
    code = main(["backends", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def free_port() -> int:
    with socket.socket() as s:  # free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "backends.yaml"
    path.write_text(f"""
- {{name: fake-det, kind: detection, type: fake, cost: 2}}
- {{name: fake-llm, kind: llm, type: fake}}
- name: remote
  kind: llm
  type: openai
  cost: 135
  base_url: http://127.0.0.1:{free_port()}/v1
  model: smollm2
  timeout: 1
""")
    return path


def test_default_lists_the_embedded_pool(capsys):
    code, out, err = run(capsys, "--format", "json")
    rows = json.loads(out)
    assert code == 0 and err == ""
    assert {r["kind"] for r in rows} >= {"detection", "vqa", "image_text_matching"}
    for r in rows:
        assert set(r) == {"name", "kind", "cost", "device", "provider", "loaded", "identity"}
        assert r["cost"] > 0 and isinstance(r["identity"], str)


def test_text_table(capsys, config):
    code, out, _ = run(capsys, "--backends", str(config))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["NAME", "KIND", "COST", "DEVICE", "PROVIDER", "LOADED"]
    assert lines[1].split() == ["fake-det", "detection", "2", "none", "fake", "yes"]
    assert lines[3].split()[:4] == ["remote", "llm", "135", "remote"]


def test_check_calls_each_backend_and_fails_with_1(capsys, config):
    code, out, _ = run(capsys, "--backends", str(config), "--check", "--format", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 1
    det = rows["fake-det"]["check"]
    assert det["ok"] and det["op"] == "detect" and det["error"] is None and det["seconds"] >= 0
    assert rows["fake-llm"]["check"]["op"] == "complete"
    remote = rows["remote"]["check"]
    assert not remote["ok"] and "remote: cannot reach http://127.0.0.1:" in remote["error"]


def test_check_text_lists_the_failures(capsys, config):
    code, out, _ = run(capsys, "--backends", str(config), "--check")
    assert code == 1
    assert "ok" in out.splitlines()[1] and "FAILED" in out.splitlines()[3]
    assert out.splitlines()[-1].startswith("remote: cannot reach http://127.0.0.1:")


def test_a_passing_check_exits_0(capsys, tmp_path):
    (tmp_path / "b.json").write_text(json.dumps([
        {"name": f"f-{k}", "kind": k, "type": "fake"}
        for k in ("detection", "vqa", "image_text_matching", "depth", "llm")]))
    code, out, _ = run(capsys, "--backends", str(tmp_path / "b.json"), "--check")
    assert code == 0 and out.count(" ok ") == 5


def test_configuration_errors_exit_2_naming_the_file(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- {name: x, kind: vqa, type: fake, cost: 0}\n")
    code, out, err = run(capsys, "--backends", str(path))
    assert (code, out) == (2, "")
    assert err == (f"fmprog: error: {path}: entry 0 ('x'): 'cost': input should be greater "
                   f"than 0 (got 0)\n")
    code, _, err = run(capsys, "--backends", str(tmp_path / "missing.yaml"))
    assert code == 2 and "missing.yaml: no such backend configuration file" in err


def test_help_and_usage_errors():
    r = subprocess.run([sys.executable, "-m", "fmprog", "backends", "--help"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    for option in ("--backends CONFIG", "--check", "--format {text,json}"):
        assert option in r.stdout
    r = subprocess.run([sys.executable, "-m", "fmprog", "backends", "--format", "xml"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_probe_call_uses_a_fixed_label_set():
    class Labelled(FakeBackend):
        labels = ["violet", "teal"]

    call = probe_call(Labelled("c", 1.0, "vqa"))
    assert call.op == "verify_property" and call.args["property"] == "violet"
    assert probe_call(Labelled("c", 1.0, "image_text_matching")).args == {"texts": ["violet"]}
    assert probe_call(FakeBackend("d", 1.0, "depth")).images[0].shape == probe_image().shape


def test_check_reports_whatever_raised():
    class Broken(FakeBackend):
        def health(self):
            raise OSError("disk on fire")

    result = check_backend(Broken("b", 1.0, "depth"))
    assert not result.ok and result.error == "OSError: disk on fire" and result.op is None
