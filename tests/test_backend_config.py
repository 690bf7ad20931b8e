"""Backend configuration files: valid files build backends, invalid ones name file and entry."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from fmprog.backends.base import Backend, Pools
from fmprog.backends.config import BACKEND_TYPES, build_backends, load_config, register_type
from fmprog.backends.openai_http import OpenAIChatBackend


class Fake(Backend):
    def __init__(self, name, kind, cost):
        super().__init__(name, cost)
        self.kind = kind


@pytest.fixture
def embedded(monkeypatch):
    """A stand-in for fmprog.backends.embedded, counting calls of default_backends()."""
    module = types.ModuleType("fmprog.backends.embedded")
    module.calls = 0

    def default_backends(models_dir=None, device=None):
        module.calls += 1
        module.device = device
        return [Fake("tiny-det", "detection", 0.1), Fake("small-det", "detection", 1.0),
                Fake("tiny-vqa", "vqa", 0.2)]

    module.default_backends = default_backends
    monkeypatch.setitem(sys.modules, "fmprog.backends.embedded", module)
    return module


def write(tmp_path, data, name="backends.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


OPENAI = {"name": "qwen-vl", "kind": "vqa", "type": "openai", "cost": 7000,
          "base_url": "http://127.0.0.1:8000/v1", "model": "Qwen/Qwen2.5-VL-7B-Instruct",
          "timeout": 30}


# --- valid files ------------------------------------------------------------------------

def test_embedded_and_openai_entries(tmp_path, embedded):
    path = write(tmp_path, [
        {"name": "tiny-det", "kind": "detection", "type": "embedded"},
        {"name": "tiny-vqa", "kind": "vqa", "type": "embedded", "cost": 0.5},
        OPENAI,
        {"name": "llm", "kind": "llm", "type": "openai", "cost": 135,
         "base_url": "http://localhost:8080/v1", "model": "smollm2", "api_key_env": "NO_KEY"},
    ])
    backends = load_config(path)
    assert [(b.name, b.kind, b.cost) for b in backends] == [
        ("tiny-det", "detection", 0.1), ("tiny-vqa", "vqa", 0.5), ("qwen-vl", "vqa", 7000),
        ("llm", "llm", 135)]
    assert embedded.calls == 1  # imported and called once per file, lazily
    remote = backends[2]
    assert isinstance(remote, OpenAIChatBackend) and remote.timeout == 30
    assert remote.url == "http://127.0.0.1:8000/v1/chat/completions"
    pools = Pools(backends)
    assert [b.name for b in pools.pool("vqa")] == ["tiny-vqa", "qwen-vl"]


def test_embedded_star_takes_every_backend_of_the_kind(tmp_path, embedded):
    backends = load_config(write(tmp_path, {"backends": [
        {"name": "*", "kind": "detection", "type": "embedded"}]}))
    assert [b.name for b in backends] == ["tiny-det", "small-det"]


def test_embedded_options_go_to_default_backends(tmp_path, embedded):
    backends = load_config(write(tmp_path, [
        {"name": "tiny-det", "kind": "detection", "type": "embedded", "device": "cuda"},
        {"name": "tiny-vqa", "kind": "vqa", "type": "embedded", "device": "cuda"}]))
    assert len(backends) == 2 and embedded.calls == 1 and embedded.device == "cuda"


def test_no_embedded_entry_imports_nothing(tmp_path, embedded):
    assert load_config(write(tmp_path, [OPENAI]))[0].name == "qwen-vl"
    assert load_config(write(tmp_path, [])) == []
    assert embedded.calls == 0


def test_onnx_entry_with_relative_paths(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["m"], axes=[2, 3], keepdims=0),
         helper.make_node("MatMul", ["m", "w"], ["logits"])], "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 4, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3])],
        [numpy_helper.from_array(np.eye(3, dtype=np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (tmp_path / "models").mkdir()
    onnx.save(model, str(tmp_path / "models" / "color.onnx"))
    (tmp_path / "models" / "colors.txt").write_text("red\ngreen\nblue\n")
    (tmp_path / "conf").mkdir()
    path = write(tmp_path / "conf", [
        {"name": "color", "kind": "vqa", "type": "onnx", "model": "../models/color.onnx",
         "labels": "../models/colors.txt", "threshold": 0.4},
        {"name": "color-itm", "kind": "image_text_matching", "type": "onnx",
         "model_type": "classifier", "model": "../models/color.onnx",
         "labels": ["red", "green", "blue"], "cost": 2}])
    vqa, itm = load_config(path)
    red = np.zeros((5, 5, 3), dtype=np.uint8)
    red[..., 0] = 255
    assert vqa.kind == "vqa" and vqa.verify_property(red, "ball", "red") is True
    assert itm.kind == "image_text_matching" and itm.cost == 2
    assert itm.match_scores([red], ["green", "red"]).argmax() == 1


def test_register_type(tmp_path):
    def factory(name, kind, cost, options, cache):
        return [Fake(name, kind, cost or options["size"])]

    register_type("custom", factory)
    try:
        (b,) = load_config(write(tmp_path, [{"name": "f", "kind": "depth", "type": "custom",
                                             "size": 3}]))
        assert (b.name, b.kind, b.cost) == ("f", "depth", 3)
        with pytest.raises(ValueError, match="already registered"):
            register_type("custom", factory)
    finally:
        del BACKEND_TYPES["custom"]


# --- invalid files: ValueError naming the file and the entry ----------------------------

def test_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match="no such backend configuration file"):
        load_config(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="cannot read the backend configuration"):
        load_config(tmp_path)
    with pytest.raises(ValueError, match=r"backends.json:2:\d+: invalid JSON"):
        load_config(write(tmp_path, '[\n {"name": }\n]'))
    with pytest.raises(ValueError, match="backends.json: expected a list of backend entries"):
        load_config(write(tmp_path, {"name": "x"}))


BAD_ENTRIES = [
    ("not an object", "an entry must be an object"),
    ({"kind": "vqa", "type": "openai"}, "missing 'name'"),
    ({"name": "x", "type": "openai"}, "missing 'kind'"),
    ({"name": "x", "kind": "vqa"}, "missing 'type'"),
    ({"name": "", "kind": "vqa", "type": "openai"}, "'name' must be a non-empty string"),
    ({"name": "x", "kind": "segmentation", "type": "openai"}, "unknown kind 'segmentation'"),
    ({"name": "x", "kind": "vqa", "type": "torchhub"}, "unknown type 'torchhub'"),
    ({**OPENAI, "cost": -1}, "'cost' must be a positive number"),
    ({**OPENAI, "cost": True}, "'cost' must be a positive number"),
    ({**OPENAI, "cost": "cheap"}, "'cost' must be a positive number"),
    ({k: v for k, v in OPENAI.items() if k != "cost"}, "needs an explicit 'cost'"),
    ({**OPENAI, "kind": "detection"}, "serves 'vqa' or 'llm'"),
    ({**OPENAI, "temprature": 0.5}, r"unknown option\(s\) \['temprature'\]"),
    ({k: v for k, v in OPENAI.items() if k != "model"}, r"needs option\(s\) \['model'\]"),
    ({**OPENAI, "base_url": "127.0.0.1:8000"}, "base_url must start with http"),
    ({"name": "x", "kind": "vqa", "type": "hf", "model": "no/such/dir"}, "does not exist"),
    ({"name": "x", "kind": "vqa", "type": "onnx", "model": "none.onnx", "labels": ["a"]},
     "ONNX file .* does not exist"),
    ({"name": "x", "kind": "llm", "type": "onnx", "model": "none.onnx"}, "serves"),
    ({"name": "x", "kind": "vqa", "type": "onnx", "model_type": "ssd", "model": "m.onnx"},
     "unknown model_type 'ssd'"),
    ({"name": "x", "kind": "vqa", "type": "embedded", "size": 3},
     r"unknown option\(s\) \['size'\] for type 'embedded'"),
    ({"name": "nope", "kind": "vqa", "type": "embedded"},
     r"no embedded vqa backend named 'nope'; known: \['tiny-vqa'\]"),
    ({"name": "*", "kind": "detection", "type": "embedded", "cost": 3}, "cannot be set"),
    ({"name": "tiny-vqa", "kind": "vqa", "type": "embedded"}, "already used by entry 0"),
]


@pytest.mark.parametrize("entry, message", BAD_ENTRIES)
def test_bad_entry(tmp_path, embedded, entry, message):
    path = write(tmp_path, [{"name": "tiny-vqa", "kind": "vqa", "type": "embedded"}, entry])
    with pytest.raises(ValueError, match=f"backends.json: entry 1.*{message}") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_embedded_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fmprog.backends.embedded", None)  # import fails
    with pytest.raises(ValueError, match="entry 0: the embedded backends cannot be imported"):
        load_config(write(tmp_path, [{"name": "a", "kind": "vqa", "type": "embedded"}]))


def test_build_backends_without_a_file():
    with pytest.raises(ValueError, match="<config>: entry 0: missing 'type'"):
        build_backends([{"name": "a", "kind": "vqa"}])
