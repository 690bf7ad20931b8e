"""The embedded default backends: committed ONNX nets in three tiers, batching,
confidences, text reading, scenes, streams, odd inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from fmprog.backends.base import Call, Pools, Result
from fmprog.backends.embedded import default_backends, generate_stream
from fmprog.backends.embedded.models import TIERS
from fmprog.backends.embedded.onnx_nets import MODELS_DIR, load_meta, session
from fmprog.backends.embedded.scenes import COLORS, PALETTE, SHAPES, SIGN, SIZE, Spec, make_scene
from fmprog.backends.embedded.text import draw_text
from fmprog.backends.embedded.vocab import parse_name, question_intent, text_target
from fmprog.backends.geometry import as_image, crop_box, iou, rows_of

KINDS = ("detection", "vqa", "image_text_matching")


@pytest.fixture(scope="module")
def pools() -> Pools:
    return Pools(default_backends())


def _square_on_top() -> np.ndarray:
    """A plain grey image with one red square in rows 10..50, columns 20..60."""
    img = np.full((128, 128, 3), 140, np.uint8)
    img[10:50, 20:60] = PALETTE["red"]
    return img


def _sign_image(text: str, color: str = "blue") -> np.ndarray:
    """A grey image with one clear sign carrying `text`, left of centre."""
    img = Image.new("RGB", (128, 128), (150, 150, 150))
    d = ImageDraw.Draw(img)
    d.rectangle([14, 50, 84, 76], fill=PALETTE[color], outline=(20, 40, 120))
    draw_text(d, text, 49, 63, 17, (245, 245, 245))
    return np.asarray(img)


def test_pool_kinds_tiers_and_costs(pools):
    for kind, prefix in zip(KINDS, ("det", "vqa", "itm")):
        assert [b.name for b in pools.pool(kind)] == [f"{prefix}-{t}" for t in TIERS]
        tiny, small, large = pools.costs(kind)
        assert 0 < tiny < small < large and large >= 50 * tiny
    assert [b.name for b in pools.pool("depth")] == ["depth-heuristic"]


def test_onnx_files_run_on_cpu_with_a_batch_axis():
    meta = load_meta()
    for name, spec in meta["nets"].items():
        sess = session(str(MODELS_DIR / spec["file"]), "cpu")
        assert sess.get_providers() == ["CPUExecutionProvider"]
        shape = (3, spec["height"], spec["width"]) if "height" in spec else (3, spec["input_size"], spec["input_size"])
        outs = sess.run(None, {sess.get_inputs()[0].name: np.zeros((3, *shape), np.float32)})
        assert all(o.shape[0] == 3 and np.isfinite(o).all() for o in outs), name


def test_describe_and_identity(pools):
    ids = set()
    for b in pools.all():
        if b.kind == "depth":
            continue
        d = b.describe()
        assert d["provider"] == "CPUExecutionProvider" and d["device"] == "cpu" and d["loaded"]
        assert b.identity().startswith(type(b).__name__) and len(b.fingerprint) == 16
        ids.add(b.identity())
    assert len(ids) == 9


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
        assert box.upper > box.lower and box.lower > 64, det.name  # near the top: large y
        assert iou(box, (20, 128 - 50, 60, 128 - 10)) >= 0.5, det.name
        pixels = crop_box(img, (box.left, box.lower, box.right, box.upper))
        assert np.abs(pixels.mean((0, 1)) - PALETTE["red"]).max() < 40


def test_color_and_queries_on_a_clear_square(pools):
    img = _square_on_top()
    for vqa in pools.pool("vqa"):
        assert vqa.verify_property(img, "square", "red"), vqa.name
        assert not vqa.verify_property(img, "square", "blue"), vqa.name
        assert vqa.query(img, "What color is the square?") == "red"
        assert vqa.query(img, "How many squares are there?") == "1"
        assert vqa.query(img, "Is there a square?") == "yes"
        assert vqa.query(img, "Is there a star?") == "no"
        assert vqa.query(img, "What shape is the red object?") == "square"
    itm = pools.pool("image_text_matching")[-1]
    scores = itm.match_scores([img[10:50, 20:60]], ["red square", "blue circle", "a dog"])
    assert scores.shape == (1, 3) and scores[0, 0] > scores[0, 1]


@pytest.mark.parametrize("tier", range(3), ids=TIERS)
def test_every_tier_reads_a_clear_sign(pools, tier):
    img = _sign_image("STOP")
    det, vqa, itm = (pools.pool(k)[tier] for k in KINDS)
    (sign,) = det.detect(img, "sign")
    assert sign.left < 64 and iou(sign, (14, 128 - 77, 85, 128 - 50)) >= 0.5
    assert vqa.query(img, "What does the sign say?") == "STOP"
    assert vqa.query(img, "Is there a sign that says stop?") == "yes"
    assert vqa.query(img, "Is there a sign that says EXIT?") == "no"
    assert vqa.verify_property(img, "sign", "says STOP") and not vqa.verify_property(img, "sign", "says GO")
    crop = crop_box(img, sign.xyxy)
    scores = itm.match_scores([crop], ["EXIT", "STOP", "OPEN", "BANK"])
    assert int(np.argmax(scores)) == 1


def test_large_tier_reads_numbers_and_digits(pools):
    vqa = pools.pool("vqa")[-1]
    assert vqa.query(_sign_image("42", "red"), "What number is on the sign?") == "42"
    img = np.full((128, 128, 3), 150, np.uint8)
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    d.ellipse([30, 30, 74, 74], fill=PALETTE["blue"])
    draw_text(d, "7", 52, 52, 24, (245, 245, 245))
    assert vqa.query(np.asarray(pil), "What number is on the circle?") == "7"


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
        assert isinstance(vqa.query(image, "what does the sign say?"), str)
    for itm in pools.pool("image_text_matching"):
        assert itm.match_scores([image, image], ["red", "star", "STOP"]).shape == (2, 3)
    assert np.isfinite(pools.pool("depth")[0].depth(image))


# -- batching and confidences ------------------------------------------------------------------
QUESTIONS = ["What color is the square?", "How many objects are there?", "Is there a red circle?",
             "What does the sign say?", "What number is on the triangle?", "Is the star blue?",
             "Does the sign say STOP?", "What shape is the small object?", "What is this?"]


def _calls(seed: int, n: int) -> dict[str, list[Call]]:
    rng = np.random.default_rng(seed)
    scenes = [make_scene(rng, float(rng.uniform()), require=[Spec(SIGN)]) for _ in range(n)]
    crops = [crop_box(s.image, s.objects[int(rng.integers(len(s.objects)))].box) for s in scenes]
    names = ["circle", "red objects", "sign", "small star", "object", "dog", "big blue shape"]
    return {
        "detection": [Call("detect", (s.image,), {"object_name": names[i % len(names)]})
                      for i, s in enumerate(scenes)] + [Call("detect", (ODD[0],), {"object_name": "circle"})],
        "vqa": [Call("query", (im,), {"question": QUESTIONS[i % len(QUESTIONS)]})
                for i, im in enumerate([s.image for s in scenes] + crops)]
        + [Call("verify_property", (c,), {"object_name": "object", "property": p})
           for c, p in zip(crops, ["red", "says STOP", "square", "small", "blue star"])],
        "image_text_matching": [Call("match_scores", (c, s.image), {"texts": ["STOP", "red circle", "7"]})
                                for c, s in zip(crops, scenes)],
    }


@pytest.mark.parametrize("kind", KINDS)
def test_batch_answers_equal_single_answers(pools, kind):
    calls = _calls(7, 10)[kind]
    for b in pools.pool(kind):
        together = b.serve(calls)
        alone = [b.serve([c])[0] for c in calls]
        for t, a in zip(together, alone):
            assert isinstance(t, Result) and isinstance(a, Result)
            if isinstance(t.value, np.ndarray):
                assert np.array_equal(t.value, a.value) and t.confidence == a.confidence
            else:
                assert (t.value, t.confidence) == (a.value, a.confidence), b.name


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000))
def test_confidences_are_probabilities(pools, seed):
    for kind, calls in _calls(seed, 3).items():
        for b in pools.pool(kind):
            for r in b.serve(calls):
                assert isinstance(r, Result) and 0.0 <= r.confidence <= 1.0, (b.name, r)


def test_detection_confidence_is_lower_on_hard_images(pools):
    det = pools.pool("detection")[0]
    rng = np.random.default_rng(3)
    conf = {}
    for d in (0.0, 1.0):
        calls = [Call("detect", (make_scene(rng, d).image,), {"object_name": "object"}) for _ in range(20)]
        conf[d] = np.mean([r.confidence for r in det.serve(calls)])
    assert conf[0.0] > conf[1.0]


# -- the rest ------------------------------------------------------------------------------
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
    assert depth.serve([Call("depth", (near,))])[0].confidence == 1.0


def test_scene_boxes_are_y_up():
    scene = make_scene(np.random.default_rng(1), 0.0, n_signs=0)
    for o in scene.objects:
        top, bottom, left, right = rows_of(o.box, SIZE)
        assert o.box[1] < o.box[3] and o.box[0] < o.box[2]
        if o.text is None and o.shape != "triangle" and o.visible == 1.0:
            cy, cx = (top + bottom) // 2, (left + right) // 2
            assert np.abs(scene.image[cy, cx].astype(int) - PALETTE[o.color]).max() < 60


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
    assert parse_name("shapes").shapes == SHAPES
    assert SIGN in parse_name("objects").shapes and parse_name("signboard").shapes == (SIGN,)
    assert parse_name("dog").shapes == ()
    assert parse_name("red sign that says STOP") == parse_name("red sign")
    assert text_target("sign that says Stop") == "STOP" and text_target("blue star") is None
    assert question_intent("How many stars are there?") == ("count", "stars are there")
    assert question_intent("What color is the square?")[0] == "color"
    assert question_intent("Is there a blue diamond?") == ("exists", "a blue diamond")
    assert question_intent("Is the circle red?") == ("verify", "the circle red")
    assert question_intent("What does the sign say?") == ("read", "the sign")
    assert question_intent("What number is on the red circle?") == ("read", "the red circle")
    assert question_intent("Does the sign say EXIT?") == ("says", "the sign")
