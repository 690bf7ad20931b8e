"""The ONNX-file backends on small graphs written here with `onnx.helper`.

The graphs compute known functions of the image (mean colour, channel mean), so the
answers are checked exactly: a red image is "red", the median of a grey image is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from fmprog.backends.base import BackendError, Call
from fmprog.backends.onnx_files import (OnnxClassifier, OnnxDepth, OnnxDetector, load_labels,
                                        make_session)
from fmprog.backends.onnx_proto import parameter_count

onnx = pytest.importorskip("onnx", reason="writing test models needs the onnx package")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

COLORS = ["red", "green", "blue"]


def save(tmp_path, name, nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture
def color_nchw(tmp_path):
    """(N, 3, 8, 8) float -> logits (N, 3) = 10 * mean colour: argmax is the dominant channel."""
    return save(tmp_path, "color_nchw",
                [helper.make_node("ReduceMean", ["image"], ["m"], axes=[2, 3], keepdims=0),
                 helper.make_node("MatMul", ["m", "w"], ["logits"])],
                [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 8, 8])],
                [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3])],
                [numpy_helper.from_array(10 * np.eye(3, dtype=np.float32), "w")])


@pytest.fixture
def color_nhwc_uint8(tmp_path):
    """(1, 8, 8, 3) uint8, batch fixed to 1 -> logits (1, 3) = mean colour / 25.5."""
    return save(tmp_path, "color_nhwc",
                [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
                 helper.make_node("ReduceMean", ["f"], ["m"], axes=[1, 2], keepdims=0),
                 helper.make_node("MatMul", ["m", "w"], ["logits"])],
                [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 8, 8, 3])],
                [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
                [numpy_helper.from_array(np.eye(3, dtype=np.float32) / 25.5, "w")])


def solid(rgb, h=20, w=30):
    return np.full((h, w, 3), rgb, dtype=np.uint8)


RED, GREEN, BLUE = solid((200, 0, 0)), solid((0, 200, 0)), solid((0, 0, 200))


def test_classifier_verify_property(color_nchw):
    c = OnnxClassifier("color", color_nchw, labels=COLORS)
    assert c.kind == "vqa" and c.input_size == (8, 8) and c.layout == "NCHW"
    assert c.providers == ["CPUExecutionProvider"]
    assert c.cost == pytest.approx(9 / 1e6)  # the 3 x 3 weight, in millions
    assert c.verify_property(RED, "car", "red") is True
    assert c.verify_property(RED, "car", "Blue") is False
    with pytest.raises(BackendError, match="among its labels"):
        c.verify_property(RED, "car", "shiny")
    with pytest.raises(NotImplementedError):
        c.match_scores([RED], ["red"])


def test_classifier_match_scores(color_nchw):
    c = OnnxClassifier("color", color_nchw, labels=COLORS, kind="image_text_matching",
                       cost=3.0)
    scores = c.match_scores([RED, GREEN, BLUE], ["blue", "red"])
    assert scores.shape == (3, 2) and scores.dtype == np.float32 and c.cost == 3.0
    assert scores.argmax(axis=1).tolist() == [1, 0, 0] and scores[2, 0] > 0.9
    assert c.match_scores([], ["red"]).shape == (0, 1)
    with pytest.raises(BackendError):
        c.match_scores([RED], ["a car"])
    with pytest.raises(NotImplementedError):
        c.verify_property(RED, "car", "red")


def test_uint8_nhwc_fixed_batch(color_nhwc_uint8, tmp_path):
    (tmp_path / "labels.txt").write_text("red\ngreen\n\nblue\n")
    c = OnnxClassifier("c", color_nhwc_uint8, labels=tmp_path / "labels.txt",
                       kind="image_text_matching", activation="none")
    assert c.layout == "NHWC" and c.labels == COLORS
    scores = c.match_scores([RED, BLUE], COLORS)  # one run per image: batch is fixed to 1
    np.testing.assert_allclose(scores, [[200 / 25.5, 0, 0], [0, 0, 200 / 25.5]], rtol=1e-5)


def test_sigmoid_threshold_and_object_specific_label(color_nchw):
    c = OnnxClassifier("c", color_nchw, labels=["car red", "green", "blue"],
                       activation="sigmoid", threshold=0.99)
    assert c.verify_property(RED, "car", "red") is True  # "car red" is looked up first
    assert c.verify_property(solid((30, 0, 0)), "car", "red") is False  # sigmoid(10*30/255)


def test_detector_boxes_are_y_up(tmp_path):
    """Two fixed boxes (cx, cy, w, h; y down): one in the top-left quarter, one bottom-right."""
    boxes = np.array([[[0.25, 0.25, 0.5, 0.5], [0.75, 0.75, 0.5, 0.5]]], dtype=np.float32)
    logits = np.array([[[5.0, -5.0], [-5.0, 5.0]]], dtype=np.float32)  # labels cat, dog
    path = save(tmp_path, "det",
                [helper.make_node("Shape", ["image"], ["s"]),
                 helper.make_node("Constant", [], ["logits"],
                                  value=numpy_helper.from_array(logits)),
                 helper.make_node("Constant", [], ["pred_boxes"],
                                  value=numpy_helper.from_array(boxes))],
                [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2, 2]),
                 helper.make_tensor_value_info("pred_boxes", TensorProto.FLOAT, [1, 2, 4]),
                 helper.make_tensor_value_info("s", TensorProto.INT64, [4])])
    d = OnnxDetector("det", path, labels=["cat", "dog"], threshold=0.5)
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    (cat,) = d.detect(image, "cat")
    assert (cat.left, cat.lower, cat.right, cat.upper) == (0, 20, 30, 40)  # top-left
    (dog,) = d.detect(image, "Dog")
    assert (dog.left, dog.lower, dog.right, dog.upper) == (30, 0, 60, 20)  # bottom-right
    assert cat.score == pytest.approx(1 / (1 + np.exp(-5)))
    with pytest.raises(BackendError):
        d.detect(image, "horse")
    with pytest.raises(ValueError, match="lack"):
        OnnxDetector("det", path, labels=["cat", "dog"], boxes_output="boxes")


def test_depth_median(tmp_path):
    path = save(tmp_path, "depth",
                [helper.make_node("ReduceMean", ["image"], ["depth"], axes=[1], keepdims=0)],
                [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])],
                [helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, "h", "w"])])
    with pytest.raises(ValueError, match="input_size"):
        OnnxDepth("d", path)
    grey = solid((51, 51, 51))
    assert OnnxDepth("d", path, input_size=[16, 16], output="depth").depth(grey) == \
        pytest.approx(0.2)
    assert OnnxDepth("d", path, input_size=[16, 16]).depth(grey) == pytest.approx(5.0)


def test_devices(color_nchw):
    with pytest.raises(ValueError, match="device"):
        make_session(color_nchw, "tpu")
    s = make_session(color_nchw, "auto")  # CUDA only when the session confirms it
    assert s.get_providers()[0] in ("CUDAExecutionProvider", "CPUExecutionProvider")
    if s.get_providers()[0] == "CPUExecutionProvider":
        with pytest.raises(ValueError, match=r"device 'cuda' is not available \(onnxruntime "
                                             r"cannot run CUDAExecutionProvider here: .*\); "
                                             r"use 'cpu' or 'auto'"):
            make_session(color_nchw, "cuda")


def test_describe_reports_the_provider_the_session_runs_on(color_nchw):
    c = OnnxClassifier("c", color_nchw, labels=COLORS, device="auto")
    provider = c.session.get_providers()[0]
    assert c.describe() == {"device": "cpu" if provider == "CPUExecutionProvider" else "cuda",
                            "provider": provider, "loaded": True}


def test_a_classifier_supports_only_the_ops_of_its_kind(color_nchw):
    """A classifier asked a free-form question cannot answer: preflight sees it."""
    vqa = OnnxClassifier("c", color_nchw, labels=COLORS)
    assert vqa.supports("verify_property") and not vqa.supports("query")
    itm = OnnxClassifier("c", color_nchw, labels=COLORS, kind="image_text_matching")
    assert itm.supports("match_scores") and not itm.supports("verify_property")
    (err,) = vqa.serve([Call("query", (RED,), {"question": "what colour?"})])
    assert isinstance(err, BackendError) and "does not serve the query operation" in str(err)


def test_cost_counts_initializers_with_external_data(tmp_path):
    """Weights saved outside the .onnx file still count: the dims are in the model."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.random((66, 300), dtype=np.float32), "w1"),
               numpy_helper.from_array(rng.random((300,), dtype=np.float32).astype(np.float16),
                                       "b1")]
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["m"], axes=[2, 3], keepdims=0),
         helper.make_node("Tile", ["m", "reps"], ["t"]),
         helper.make_node("MatMul", ["t", "w1"], ["h"]),
         helper.make_node("Cast", ["b1"], ["b"], to=TensorProto.FLOAT),
         helper.make_node("Add", ["h", "b"], ["logits"])], "ext",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 300])],
        weights + [numpy_helper.from_array(np.array([1, 22], dtype=np.int64), "reps")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "ext.onnx"
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.weights", size_threshold=64)  # small "reps" stays inline
    expected = 66 * 300 + 300 + 2
    assert (tmp_path / "ext.weights").stat().st_size > 66 * 300 * 4
    assert path.stat().st_size < 2000  # the .onnx file holds no weights: size / 4 is wrong
    assert parameter_count(path) == expected
    loaded = onnx.load(str(path), load_external_data=False)
    assert sum(int(np.prod(t.dims)) for t in loaded.graph.initializer) == expected
    c = OnnxClassifier("ext", path, labels=[f"l{i}" for i in range(300)], activation="none")
    assert c.cost == pytest.approx(expected / 1e6)
    assert c.scores([RED]).shape == (1, 300)  # the session reads the external data


def test_cost_counts_subgraph_initializers(tmp_path):
    then = helper.make_graph([helper.make_node("Identity", ["a"], ["y"])], "then", [],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5])],
                             [numpy_helper.from_array(np.ones(5, np.float32), "a")])
    other = helper.make_graph([helper.make_node("Identity", ["b"], ["y"])], "else", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5])],
                              [numpy_helper.from_array(np.zeros(5, np.float32), "b")])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)], "if",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5])],
        [numpy_helper.from_array(np.ones((2, 3), np.float32), "unused")])
    path = tmp_path / "if.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert parameter_count(path) == 6 + 5 + 5


def test_parameter_count_of_a_file_that_is_not_onnx(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    (tmp_path / "junk.onnx").write_bytes(b"\x3a\xff\xff\xff\x0f")
    for name in ("empty.onnx", "junk.onnx"):
        with pytest.raises(ValueError, match="not an ONNX model"):
            parameter_count(tmp_path / name)


def test_bad_settings(color_nchw, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        OnnxClassifier("c", tmp_path / "nope.onnx", labels=COLORS)
    with pytest.raises(ValueError, match="serves"):
        OnnxClassifier("c", color_nchw, labels=COLORS, kind="detection")
    with pytest.raises(ValueError, match="activation"):
        OnnxClassifier("c", color_nchw, labels=COLORS, activation="relu")
    with pytest.raises(ValueError, match="duplicates"):
        load_labels(["a", "a"])
    c = OnnxClassifier("c", color_nchw, labels=["a", "b"])
    with pytest.raises(BackendError, match="does not match"):
        c.verify_property(RED, "x", "a")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=4), max_size=5))
def test_parameter_count_matches_onnx_for_any_shapes(tmp_path_factory, shapes):
    inits = [numpy_helper.from_array(np.zeros(s, np.float32), f"w{i}") for i, s in enumerate(shapes)]
    graph = helper.make_graph([], "g", [], [], inits)
    path = tmp_path_factory.mktemp("shapes") / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert parameter_count(path) == sum(int(np.prod(s)) for s in shapes)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=64))
def test_parameter_count_of_any_bytes_is_a_count_or_a_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("junk") / "m.onnx"
    path.write_bytes(data)
    try:
        assert parameter_count(path) >= 0
    except ValueError as e:
        assert "not an ONNX model" in str(e)
