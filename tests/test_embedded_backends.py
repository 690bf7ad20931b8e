"""The embedded default backends: committed ONNX nets, scenes, streams, odd inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fmprog.backends.base import Box, Pools
from fmprog.backends.embedded import default_backends, generate_stream
from fmprog.backends.embedded.onnx_nets import load_meta, session
from fmprog.backends.embedded.scenes import COLORS, PALETTE, SHAPES, SIZE, make_scene
from fmprog.backends.geometry import as_image, crop_box, iou, rows_of
from fmprog.backends.embedded.vocab import parse_name, question_intent


@pytest.fixture(scope="module")
def pools() -> Pools:
    return Pools(default_backends())


def _square_on_top() -> np.ndarray:
    """A plain grey image with one red square in rows 10..50, columns 20..60."""
    img = np.full((128, 128, 3), 140, np.uint8)
    img[10:50, 20:60] = PALETTE["red"]
    return img


def test_pool_kinds_sizes_and_costs(pools):
    assert [b.name for b in pools.pool("detection")] == ["det-small", "det-large"]
    assert [b.name for b in pools.pool("vqa")] == ["vqa-small", "vqa-large"]
    assert [b.name for b in pools.pool("image_text_matching")] == ["itm-small", "itm-large"]
    assert [b.name for b in pools.pool("depth")] == ["depth-heuristic"]
    small, large = pools.costs("detection")
    assert 0 < small and large >= 5 * small


def test_onnx_files_run_on_cpu_by_default():
    meta = load_meta()
    for name, spec in meta["nets"].items():
        from fmprog.backends.embedded.onnx_nets import MODELS_DIR

        sess = session(str(MODELS_DIR / spec["file"]), "cpu")
        assert sess.get_providers() == ["CPUExecutionProvider"]
        s = spec["input_size"]
        outs = sess.run(None, {sess.get_inputs()[0].name: np.zeros((2, 3, s, s), np.float32)})
        assert all(o.shape[0] == 2 and np.isfinite(o).all() for o in outs), name


def test_large_detector_recall_on_easy_scenes(pools):
    det = pools.pool("detection")[-1]
    rng = np.random.default_rng(123)
    hits = total = 0
    for _ in range(20):
        scene = make_scene(rng, 0.1)
        for shape in {o.shape for o in scene.objects}:
            boxes = det.detect(scene.image, shape)
            for o in scene.objects:
                if o.shape == shape:
                    total += 1
                    hits += any(iou(b, o.box) >= 0.5 for b in boxes)
    assert hits / total >= 0.9


def test_boxes_are_y_up(pools):
    img = _square_on_top()
    for det in pools.pool("detection"):
        (box,) = det.detect(img, "square")
        assert box.upper > box.lower and box.lower > 64  # near the top: large y
        assert iou(box, (20, 128 - 50, 60, 128 - 10)) >= 0.5
        pixels = crop_box(img, (box.left, box.lower, box.right, box.upper))
        assert np.abs(pixels.mean((0, 1)) - PALETTE["red"]).max() < 40


def test_scene_boxes_are_y_up():
    scene = make_scene(np.random.default_rng(1), 0.0)
    for o in scene.objects:
        top, bottom, left, right = rows_of(o.box, SIZE)
        cy, cx = (top + bottom) // 2, (left + right) // 2
        assert np.abs(scene.image[cy, cx].astype(int) - PALETTE[o.color]).max() < 60
        assert o.box[1] < o.box[3] and o.box[0] < o.box[2]


def test_color_and_queries_on_a_clear_square(pools):
    img = _square_on_top()
    for vqa in pools.pool("vqa"):
        assert vqa.verify_property(img, "square", "red")
        assert not vqa.verify_property(img, "square", "blue")
        assert vqa.query(img, "What color is the square?") == "red"
        assert vqa.query(img, "How many squares are there?") == "1"
        assert vqa.query(img, "Is there a square?") == "yes"
        assert vqa.query(img, "Is there a star?") == "no"
        assert vqa.query(img, "What shape is the red object?") == "square"
    itm = pools.pool("image_text_matching")[-1]
    scores = itm.match_scores([img[10:50, 20:60]], ["red square", "blue circle", "a dog"])
    assert scores.shape == (1, 3) and scores[0, 0] > scores[0, 1]


def test_unknown_names_and_properties_do_not_crash(pools):
    img = _square_on_top()
    assert pools.pool("detection")[0].detect(img, "dog") == []
    vqa = pools.pool("vqa")[0]
    assert vqa.verify_property(img, "dog", "fluffy") is False
    assert isinstance(vqa.query(img, "Why is the sky blue?"), str)


ODD = [np.zeros((1, 1, 3), np.uint8), np.zeros((0, 5, 3), np.uint8),
       np.random.default_rng(0).integers(0, 255, (40, 30), dtype=np.uint8),
       np.full((20, 50, 4), 200, np.uint8), np.random.default_rng(1).random((17, 9, 3)),
       np.zeros((3, 300, 1), np.int32), np.zeros((8, 8, 2), np.uint8)]


@pytest.mark.parametrize("image", ODD, ids=lambda a: f"{a.shape}-{a.dtype}")
def test_odd_arrays_do_not_crash(pools, image):
    for det in pools.pool("detection"):
        assert isinstance(det.detect(image, "circle"), list)
    for vqa in pools.pool("vqa"):
        assert isinstance(vqa.verify_property(image, "circle", "red"), bool)
        assert isinstance(vqa.query(image, "what color is the circle?"), str)
    for itm in pools.pool("image_text_matching"):
        assert itm.match_scores([image, image], ["red", "star"]).shape == (2, 2)
    assert np.isfinite(pools.pool("depth")[0].depth(image))


def test_as_image():
    assert as_image(np.ones((2, 2))).shape == (2, 2, 3)
    assert as_image(np.ones((2, 2, 3), np.float32)).max() == 255
    assert as_image(np.full((2, 2, 4), 7, np.uint8)).tolist() == [[[7] * 3] * 2] * 2
    with pytest.raises(ValueError):
        as_image(np.zeros(5))


def test_depth_heuristic_bigger_is_nearer(pools):
    depth = pools.pool("depth")[0]
    near, far = np.zeros((40, 40, 3), np.uint8), np.zeros((12, 12, 3), np.uint8)
    assert depth.depth(near) < depth.depth(far)


@pytest.mark.parametrize("question", ["red_circle", "square_color"])
def test_generate_stream_is_deterministic_and_balanced(tmp_path, question):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_stream(a, 12, seed=5, question=question)
    generate_stream(b, 12, seed=5, question=question)
    generate_stream(c, 12, seed=6, question=question)
    assert (a / "labels.jsonl").read_text() == (b / "labels.jsonl").read_text()
    assert (a / "images/00007.png").read_bytes() == (b / "images/00007.png").read_bytes()
    assert (a / "images/00007.png").read_bytes() != (c / "images/00007.png").read_bytes()
    rows = [json.loads(line) for line in (a / "labels.jsonl").read_text().splitlines()]
    assert [r["image"] for r in rows] == [f"images/{i:05d}.png" for i in range(12)]
    labels = [r["label"] for r in rows]
    if question == "red_circle":
        assert labels.count("yes") == labels.count("no") == 6
    else:
        assert sorted(set(labels)) == sorted(COLORS) and all(labels.count(x) == 2 for x in COLORS)


def test_vocabulary():
    assert parse_name("small red balls").shapes == ("circle",)
    assert parse_name("small red balls").color == "red"
    assert parse_name("objects").shapes == SHAPES
    assert parse_name("dog").shapes == ()
    assert question_intent("How many stars are there?") == ("count", "stars are there")
    assert question_intent("What color is the square?")[0] == "color"
    assert question_intent("Is there a blue diamond?") == ("exists", "a blue diamond")
    assert question_intent("Is the circle red?") == ("verify", "the circle red")
