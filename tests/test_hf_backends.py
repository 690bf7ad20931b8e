"""The transformers adapters on tiny random models built here, saved, and loaded back.

Each model is made from a config (tens of thousands of parameters), written with
`save_pretrained` into a temporary directory, and read by the adapter with
`local_files_only=True`: this runs the real loading and inference code, offline.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from fmprog.backends import hf
from fmprog.backends.base import BackendError, Box, Call
from fmprog.backends.config import load_config
from fmprog.backends.geometry import nms, pixel_box_to_dsl
from fmprog.backends.hf import property_question, read_yes_no

try:
    import torch
    import transformers
except ImportError:
    transformers = None
needs_hf = pytest.mark.skipif(transformers is None, reason="transformers is not installed "
                              "(pip install -e '.[transformers]')")

H, W = 48, 64
SMALL = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
VISION = dict(SMALL, image_size=32, patch_size=8)


def _bytes_to_unicode() -> list[str]:
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


def _clip_tokenizer(d: Path):
    """A byte-level CLIP tokenizer without merges: 514 tokens, ids of specials < 514."""
    chars = _bytes_to_unicode()
    vocab = {t: i for i, t in enumerate(chars + [c + "</w>" for c in chars]
                                        + ["<|startoftext|>", "<|endoftext|>"])}
    (d / "vocab.json").write_text(json.dumps(vocab))
    (d / "merges.txt").write_text("#version: 0.2\n")
    tok = transformers.CLIPTokenizer(str(d / "vocab.json"), str(d / "merges.txt"),
                                     pad_token="<|endoftext|>", model_max_length=16)
    text = dict(SMALL, vocab_size=len(vocab), max_position_embeddings=16,
                bos_token_id=len(vocab) - 2, eos_token_id=len(vocab) - 1,
                pad_token_id=len(vocab) - 1)
    return tok, text


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """Directories of tiny OwlViT, BLIP-VQA, CLIP and GPT-2 models (and Depth Anything)."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf_models")
    dirs = {k: root / k for k in ("owlvit", "blip", "clip", "gpt2", "depth")}
    for d in dirs.values():
        d.mkdir()
    transformers.utils.logging.set_verbosity_error()  # no torchvision notices
    transformers.utils.logging.disable_progress_bar()

    tok, text = _clip_tokenizer(dirs["owlvit"])
    cfg = transformers.OwlViTConfig(text_config=text, vision_config=VISION, projection_dim=16)
    owl = transformers.OwlViTForObjectDetection(cfg)
    with torch.no_grad():  # boxes = the prior alone: one box per 8 x 8 patch, a 4 x 4 grid
        owl.box_head.dense2.weight.zero_()
        owl.box_head.dense2.bias.zero_()
    owl.save_pretrained(dirs["owlvit"])
    ip = transformers.OwlViTImageProcessor(size={"height": 32, "width": 32},
                                           crop_size={"height": 32, "width": 32})
    transformers.OwlViTProcessor(image_processor=ip, tokenizer=tok).save_pretrained(dirs["owlvit"])

    tok, text = _clip_tokenizer(dirs["clip"])
    cfg = transformers.CLIPConfig(text_config=text, vision_config=VISION, projection_dim=8)
    transformers.CLIPModel(cfg).save_pretrained(dirs["clip"])
    ip = transformers.CLIPImageProcessor(size={"shortest_edge": 32},
                                         crop_size={"height": 32, "width": 32})
    transformers.CLIPProcessor(image_processor=ip, tokenizer=tok).save_pretrained(dirs["clip"])

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "yes", "no", "is", "the",
             "cat", "red", "what", "color", "?"]
    (dirs["blip"] / "vocab.txt").write_text("\n".join(words) + "\n")
    tok = transformers.BertTokenizer(str(dirs["blip"] / "vocab.txt"), bos_token="[DEC]",
                                     model_max_length=32)
    text = dict(SMALL, vocab_size=len(words), max_position_embeddings=32, bos_token_id=5,
                sep_token_id=3, pad_token_id=0, encoder_hidden_size=16)
    cfg = transformers.BlipConfig(text_config=text, vision_config=VISION, projection_dim=16)
    transformers.BlipForQuestionAnswering(cfg).save_pretrained(dirs["blip"])
    ip = transformers.BlipImageProcessor(size={"height": 32, "width": 32})
    transformers.BlipProcessor(image_processor=ip, tokenizer=tok).save_pretrained(dirs["blip"])

    vocab = {c: i for i, c in enumerate(_bytes_to_unicode())}
    vocab["<|endoftext|>"] = len(vocab)
    (dirs["gpt2"] / "vocab.json").write_text(json.dumps(vocab))
    (dirs["gpt2"] / "merges.txt").write_text("#version: 0.2\n")
    tok = transformers.GPT2Tokenizer(str(dirs["gpt2"] / "vocab.json"),
                                     str(dirs["gpt2"] / "merges.txt"))
    cfg = transformers.GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=16, n_layer=1,
                                  n_head=2, bos_token_id=256, eos_token_id=256)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(dirs["gpt2"])
    tok.save_pretrained(dirs["gpt2"])

    backbone = transformers.Dinov2Config(**SMALL, image_size=28, patch_size=14,
                                         out_features=["stage1"], reshape_hidden_states=False)
    cfg = transformers.DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=16,
                                           neck_hidden_sizes=[8], reassemble_factors=[1],
                                           fusion_hidden_size=8, head_hidden_size=8)
    transformers.DepthAnythingForDepthEstimation(cfg).save_pretrained(dirs["depth"])
    transformers.DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=False,
                                   do_pad=False).save_pretrained(dirs["depth"])
    return dirs


@pytest.fixture(scope="session")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def detector(models):
    return hf.HFDetector("owlvit-tiny", models["owlvit"], threshold=0.0, nms_iou=None)


# --- helpers that need no model ---------------------------------------------------------

def test_pixel_box_to_dsl_flips_y_and_clips():
    # a box over the top 10 rows, columns 5..20, of a 40 x 60 image
    assert pixel_box_to_dsl(5, 0, 20, 10, 40, 60, 0.7) == Box(5, 30, 20, 40, 0.7)
    # partly outside: clipped to the image
    assert pixel_box_to_dsl(-10, -5, 70, 50, 40, 60) == Box(0, 0, 60, 40, 1.0)
    assert pixel_box_to_dsl(70, 0, 80, 10, 40, 60) is None


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = [Box(0, 0, 10, 10, 0.9), Box(1, 1, 10, 10, 0.8), Box(20, 20, 30, 30, 0.5)]
    assert nms(boxes, 0.5) == [boxes[0], boxes[2]]


@pytest.mark.parametrize("answer, expected", [
    ("yes", True), ("Yes, it is.", True), (" TRUE", True), ("no", False),
    ("not really, yes", False), ("", False), ("?", False)])
def test_read_yes_no(answer, expected):
    assert read_yes_no(answer) is expected


def test_missing_model_dir_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        hf.HFDetector("x", tmp_path / "nope", cost=1.0)
    with pytest.raises(ValueError, match="config.json"):
        hf.HFDetector("x", tmp_path, cost=1.0)
    with pytest.raises(ValueError, match="does not exist"):
        hf.HFCausalLM("x", "openai-community/gpt2", cost=1.0)  # a hub id is not fetched


# --- the adapters on tiny models --------------------------------------------------------

@needs_hf
def test_detector_boxes_in_dsl_coordinates(detector, image):
    assert detector.kind == "detection"
    assert 0 < detector.cost < 1  # parameters in millions, counted from the model
    boxes = detector.detect(image, "cat")
    assert boxes and all(isinstance(b, Box) for b in boxes)
    for b in boxes:
        assert all(isinstance(v, int) for v in (b.left, b.lower, b.right, b.upper))
        assert 0 <= b.left < b.right <= W and 0 <= b.lower < b.upper <= H
    assert [b.score for b in boxes] == sorted((b.score for b in boxes), reverse=True)


@needs_hf
def test_detector_boxes_follow_the_prior_with_y_up(detector, image):
    """With a zeroed box head, OwlViT's boxes are its prior: for the patch in grid row r
    (counted from the top) and column c of the 4 x 4 grid, the box centred on the patch's
    bottom-right corner, one patch in size. On a 48 x 64 image that is pixel columns
    16c+8 .. 16c+24 and rows 12r+6 .. 12r+18 (y down), clipped; in DSL coordinates the
    rows flip: lower = 48 - (12r + 18), upper = 48 - (12r + 6).
    """
    boxes = detector.detect(image, "cat")
    expected = {(16 * c + 8, max(0, H - (12 * r + 18)), min(W, 16 * c + 24), H - (12 * r + 6))
                for r in range(4) for c in range(4)}
    assert {(b.left, b.lower, b.right, b.upper) for b in boxes} == expected
    top_row = [b for b in boxes if b.upper == H - 6]  # pixel rows 6 .. 18
    assert len(top_row) == 4 and all(b.lower == H - 18 for b in top_row)


@needs_hf
def test_detector_matches_the_processor_output_flipped(detector, image):
    """The best box equals the processor's pixel box (y down), flipped to y up."""
    inputs = detector._inputs(text=[["a photo of a cat"]], images=hf._pil(image),
                              truncation=True)
    with torch.inference_mode():
        out = detector.model(**inputs)
    raw = detector.processor.post_process_grounded_object_detection(
        out, threshold=0.0, target_sizes=torch.tensor([[H, W]]))[0]
    expected = [pixel_box_to_dsl(*xyxy, H, W, s)
                for xyxy, s in zip(raw["boxes"].tolist(), raw["scores"].tolist())]
    expected = sorted((b for b in expected if b is not None), key=lambda b: -b.score)
    assert detector.detect(image, "cat")[0] == expected[0]


@needs_hf
def test_detector_threshold_and_nms(models, image):
    none = hf.HFDetector("d", models["owlvit"], cost=5.0, threshold=1.01)
    assert none.cost == 5.0 and none._model is None  # explicit cost: loaded on first use
    assert none.detect(image, "cat") == []
    few = hf.HFDetector("d", models["owlvit"], cost=5.0, threshold=0.0, nms_iou=0.1,
                        max_detections=3)
    assert 1 <= len(few.detect(image, "cat")) <= 3


@needs_hf
def test_vqa_query_and_verify_property(models, image, monkeypatch):
    vqa = hf.HFVQA("blip-tiny", models["blip"], max_new_tokens=4)
    assert vqa.kind == "vqa" and vqa.cost > 0
    answer = vqa.query(image, "what color is the cat?")
    assert isinstance(answer, str)
    assert isinstance(vqa.verify_property(image, "cat", "red"), bool)
    asked = []
    monkeypatch.setattr(vqa, "query", lambda im, q: asked.append(q) or "yes")
    assert vqa.verify_property(image, "cat", "red") is True
    assert asked == [property_question("cat", "red")] == ["Is the cat red?"]


@needs_hf
def test_matcher_scores_shape(models, image):
    clip = hf.HFMatcher("clip-tiny", models["clip"])
    assert clip.kind == "image_text_matching"
    other = np.zeros((10, 20, 3), dtype=np.uint8)
    scores = clip.match_scores([image, other, image], ["cat", "a red dog"])
    assert isinstance(scores, np.ndarray) and scores.shape == (3, 2)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores[0], scores[2], rtol=1e-5)
    assert clip.match_scores([], ["cat"]).shape == (0, 1)


@needs_hf
def test_causal_lm_complete(models):
    lm = hf.HFCausalLM("gpt2-tiny", models["gpt2"], max_new_tokens=6, max_new_tokens_short=2)
    assert lm.kind == "llm" and lm.cost > 0
    long = lm.complete("hello")
    short = lm.complete("hello", long_answer=False)
    assert isinstance(long, str) and isinstance(short, str)
    assert "\n" not in short
    assert lm.complete("hello") == long  # greedy: deterministic


@needs_hf
def test_depth_is_a_float(models, image):
    depth = hf.HFDepth("depth-tiny", models["depth"])
    assert depth.kind == "depth"
    d = depth.depth(image)
    assert isinstance(d, float) and np.isfinite(d) and d > 0
    assert isinstance(hf.HFDepth("d", models["depth"], cost=1, output="depth").depth(image),
                      float)


@needs_hf
def test_bad_image_is_a_backend_error(detector):
    with pytest.raises(BackendError):
        detector.detect(np.zeros((4, 4), dtype=np.uint8), "cat")
    with pytest.raises(BackendError):
        detector.detect(np.zeros((4, 4, 3), dtype=np.float32), "cat")


@needs_hf
def test_hf_entries_in_a_config_file(models, tmp_path):
    """type "hf" builds each kind's adapter; model paths are relative to the file."""
    entries = [
        {"name": "owl", "kind": "detection", "type": "hf", "model": "m/owlvit", "threshold": 0.2},
        {"name": "blip", "kind": "vqa", "type": "hf", "model": "m/blip", "cost": 400},
        {"name": "clip", "kind": "image_text_matching", "type": "hf", "model": "m/clip"},
        {"name": "gpt2", "kind": "llm", "type": "hf", "model": "m/gpt2", "cost": 124},
        {"name": "dep", "kind": "depth", "type": "hf", "model": "m/depth", "cost": 25},
    ]
    (tmp_path / "m").symlink_to(next(iter(models.values())).parent)
    (tmp_path / "backends.json").write_text(json.dumps(entries))
    backends = load_config(tmp_path / "backends.json")
    assert [type(b).__name__ for b in backends] == [
        "HFDetector", "HFVQA", "HFMatcher", "HFCausalLM", "HFDepth"]
    assert backends[0].threshold == 0.2 and backends[1].cost == 400
    bad = [{"name": "owl", "kind": "detection", "type": "hf", "model": "m/owlvit", "thresh": 1}]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"bad.json: entry 0 \('owl'\): unknown option 'thresh' "
                                         r"for hf detection \(did you mean 'threshold'\?\)"):
        load_config(tmp_path / "bad.json")


@needs_hf
def test_device_and_dtype_are_checked_when_the_file_is_loaded(models, tmp_path):
    """A device torch cannot use fails at load, naming file, entry and what to write."""
    def load(**options):
        entry = {"name": "blip", "kind": "vqa", "type": "hf", "model": str(models["blip"]),
                 "cost": 400, **options}
        (tmp_path / "b.yaml").write_text(json.dumps([entry]))
        return load_config(tmp_path / "b.yaml")[0]

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"b.yaml: entry 0 \('blip'\): device 'cuda' is not "
                                             r"available \(torch has no CUDA here\); use 'cpu' "
                                             r"or 'auto'$"):
            load(device="cuda")
        assert load(device="auto").describe()["device"] == "cpu"
    assert load(dtype="fp16").dtype_name == "float16"
    assert load(dtype="bf16").dtype_name == "bfloat16"
    with pytest.raises(ValueError, match=r"entry 0 \('blip'\): dtype 'int8' is not one of "):
        load(dtype="int8")


@needs_hf
def test_describe_before_and_after_the_lazy_load(models, image):
    vqa = hf.HFVQA("blip", models["blip"], cost=400, dtype="bfloat16")
    assert vqa.describe() == {"device": "cpu", "provider": "torch", "loaded": False}
    vqa.query(image, "what color is the cat?")
    assert vqa.describe() == {"device": "cpu", "provider": "torch", "loaded": True,
                              "dtype": "bfloat16"}


@needs_hf
def test_load_and_inference_failures_name_the_backend(models, tmp_path, image):
    """A broken model directory fails on its first call with a BackendError naming the
    backend and the directory; a failing forward pass names them too."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "blip"}')
    lazy = hf.HFVQA("blip-broken", broken, cost=1)
    (err,) = lazy.serve([Call("query", (image,), {"question": "q"})])
    assert isinstance(err, BackendError)
    assert str(err).startswith(f"blip-broken: cannot load the model in {broken}: ")
    with pytest.raises(BackendError, match="blip-broken: cannot load the model"):
        hf.HFVQA("blip-broken", broken)  # no cost: loads when built, fails there

    lm = hf.HFCausalLM("gpt2-tiny", models["gpt2"], cost=1, max_new_tokens=100)
    (err,) = lm.serve([Call("complete", (), {"prompt": "x" * 80, "long_answer": True})])
    assert isinstance(err, BackendError)  # 80 + 100 tokens > the 64 positions of the model
    assert str(err).startswith(f"gpt2-tiny ({models['gpt2']}): complete failed: ")
    (err,) = lm.serve([Call("complete", (), {"prompt": 3, "long_answer": True})])
    assert str(err).startswith("gpt2-tiny (")


@needs_hf
def test_short_answers_are_the_first_non_empty_line(models, monkeypatch):
    lm = hf.HFCausalLM("gpt2-tiny", models["gpt2"], cost=1, max_new_tokens=4)
    tok = lm.processor
    monkeypatch.setattr(type(tok), "decode", lambda self, *a, **k: "\n\n  Paris.  \nBecause")
    assert lm.complete("capital?", long_answer=False) == "Paris."
    assert lm.complete("capital?") == "Paris.  \nBecause"


@needs_hf
def test_onnx_clip_export_matches_transformers(models, image, tmp_path):
    """An ONNX export of the tiny CLIP, run by OnnxCLIP, agrees with the transformers model."""
    pytest.importorskip("onnx", reason="exporting to ONNX needs the onnx package")
    from fmprog.backends.onnx_files import OnnxCLIP

    model = transformers.CLIPModel.from_pretrained(models["clip"], attn_implementation="eager")

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model.eval()

        def forward(self, input_ids, attention_mask, pixel_values):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          pixel_values=pixel_values).logits_per_image

    ids = torch.tensor([[512, 66, 513], [512, 67, 513]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Logits(), (ids, torch.ones_like(ids), torch.zeros(1, 3, 32, 32)),
            str(tmp_path / "clip.onnx"), dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask", "pixel_values"],
            output_names=["logits_per_image"],
            dynamic_axes={"input_ids": {0: "t", 1: "l"}, "attention_mask": {0: "t", 1: "l"},
                          "pixel_values": {0: "n"}, "logits_per_image": {0: "n", 1: "t"}})
    proc = transformers.CLIPProcessor.from_pretrained(models["clip"])
    onnx_clip = OnnxCLIP("clip-onnx", tmp_path / "clip.onnx", tokenizer=models["clip"],
                         max_length=16, mean=proc.image_processor.image_mean,
                         std=proc.image_processor.image_std)
    assert onnx_clip.providers == ["CPUExecutionProvider"]
    got = onnx_clip.match_scores([image], ["cat", "a dog"])
    assert got.shape == (1, 2)
    # same pixels as OnnxCLIP (a plain resize to 32 x 32), the processor's tokens
    pixels = torch.from_numpy(onnx_clip._pixels([image]))
    tokens = proc.tokenizer(["a photo of cat", "a photo of a dog"], padding=True,
                            return_tensors="pt")
    with torch.inference_mode():
        ref = model(**tokens, pixel_values=pixels).logits_per_image.numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
