"""The world's contract (docs/world.md): determinism, ground truth, relations, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmprog.backends.embedded.scenes import (CATEGORIES, COLORS, DEPTH_REF, PALETTE, SHAPES, SIGN,
                                             SIZE, SMALL_MAX_SIDE, Nuisances, Spec, make_scene)
from fmprog.backends.embedded.text import CHARSET, DIGITS, SIGN_NUMBERS, WORDS, normalise_text
from fmprog.backends.embedded.world import (WorldSettings, above, edge_distance, generate_world,
                                            inside, left_of, near, object_from_record,
                                            object_record, read_world, relations, scene_at)
from fmprog.backends.geometry import rows_of
from fmprog.cli import main


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_same_settings_write_byte_identical_files(tmp_path):
    a = generate_world(WorldSettings(6, seed=3), tmp_path / "a")
    b = generate_world(WorldSettings(6, seed=3), tmp_path / "b")
    c = generate_world(WorldSettings(6, seed=4), tmp_path / "c")
    assert _files(a) == _files(b)
    assert _files(a)["scenes.jsonl"] != _files(c)["scenes.jsonl"]
    assert sorted(_files(a)) == ["images/00000.png", "images/00001.png", "images/00002.png",
                                 "images/00003.png", "images/00004.png", "images/00005.png",
                                 "scenes.jsonl", "world.json"]


def test_scene_i_does_not_depend_on_n(tmp_path):
    short = _files(generate_world(WorldSettings(2, seed=9, difficulty="hard"), tmp_path / "s"))
    long = _files(generate_world(WorldSettings(4, seed=9, difficulty="hard"), tmp_path / "l"))
    assert short["images/00001.png"] == long["images/00001.png"]
    assert short["scenes.jsonl"].splitlines() == long["scenes.jsonl"].splitlines()[:2]


def test_read_world_gives_back_records_and_pixels(tmp_path):
    s = WorldSettings(3, seed=1, difficulty=0.8)
    generate_world(s, tmp_path)
    for i, (rec, image) in enumerate(read_world(tmp_path)):
        scene = scene_at(s, i)
        assert np.array_equal(image, scene.image)
        assert [object_from_record(o) for o in rec["objects"]] == scene.objects
        assert rec["relations"] == relations(scene.objects)
    info = json.loads((tmp_path / "world.json").read_text())
    assert info["n"] == 3 and info["difficulty"] == 0.8 and info["words"] == list(WORDS)


def test_cli_generate(tmp_path, capsys):
    out = tmp_path / "w"
    assert main(["world", "generate", "--n", "3", "--seed", "1", "--out", str(out), "--quiet"]) == 0
    assert "wrote 3 images" in capsys.readouterr().out
    rows = [json.loads(line) for line in (out / "scenes.jsonl").read_text().splitlines()]
    assert [r["image"] for r in rows] == ["images/00000.png", "images/00001.png", "images/00002.png"]
    assert all((out / r["image"]).exists() for r in rows)


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "n must be a positive integer, got 0"),
    (["--n", "2", "--difficulty", "medium"],
     "difficulty must be easy, hard, mixed or a number in [0, 1], got 'medium'"),
    (["--n", "2", "--difficulty", "1.5"],
     "difficulty must be easy, hard, mixed or a number in [0, 1], got '1.5'"),
    (["--n", "2", "--seed", "-1"], "seed must be a non-negative integer, got -1"),
])
def test_cli_bad_settings_are_usage_errors(tmp_path, capsys, args, message):
    assert main(["world", "generate", *args, "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == f"fmprog: error: {message}"


def test_cli_unwritable_output_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["world", "generate", "--n", "1", "--out", str(blocker / "sub")]) == 2
    assert "cannot write to" in capsys.readouterr().err


def test_world_help_lists_generate(capsys):
    with pytest.raises(SystemExit):
        main(["world", "generate", "--help"])
    assert "scenes.jsonl" in capsys.readouterr().out


# -- ground truth ----------------------------------------------------------------------------
def _check_object(o, scene):
    left, lower, right, upper = o.box
    assert 0 <= left < right <= SIZE and 0 <= lower < upper <= SIZE
    assert o.shape in CATEGORIES and o.color in COLORS
    assert o.side == max(right - left, upper - lower)
    assert o.size == ("small" if o.side <= SMALL_MAX_SIDE else "large")
    host = scene.objects[o.inside] if o.inside is not None else o
    assert o.depth == pytest.approx(DEPTH_REF / host.side, abs=1e-3)
    assert 0.0 <= o.visible <= 1.0 and 0.0 <= o.contrast <= 1.0
    if o.text is None:
        assert o.text_box is None
        return
    assert set(o.text) <= set(CHARSET) and normalise_text(o.text) == o.text
    assert o.text in (WORDS + SIGN_NUMBERS if o.shape == SIGN else DIGITS)
    tl, tlo, tr, tup = o.text_box
    assert left <= tl < tr <= right and lower <= tlo < tup <= upper


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.floats(0, 1))
def test_ground_truth_is_consistent(seed, d):
    scene = make_scene(np.random.default_rng(seed), d)
    assert scene.image.shape == (SIZE, SIZE, 3) and scene.image.dtype == np.uint8
    for o in scene.objects:
        _check_object(o, scene)
    signs = [o for o in scene.objects if o.shape == SIGN]
    for s in signs:  # signs touch nothing
        assert all(edge_distance(s.box, o.box) > 0 for o in scene.objects if o is not s)
    assert sorted(o.z for o in scene.objects) == list(range(len(scene.objects)))


def test_easy_objects_show_their_palette_color():
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(30):
        scene = make_scene(rng, 0.0, n_signs=0)
        for o in scene.objects:
            if o.text or o.visible < 1.0 or o.inside is not None or any(
                    p.inside == scene.objects.index(o) for p in scene.objects):
                continue
            top, bottom, left, right = rows_of(o.box, SIZE)
            cy, cx = (top + bottom) // 2, (left + right) // 2
            if o.shape == "triangle":
                cy += (bottom - top) // 6
            assert np.abs(scene.image[cy, cx].astype(int) - PALETTE[o.color]).max() < 40
            checked += 1
    assert checked > 20


def test_signs_carry_text_drawn_in_contrasting_ink():
    scene = make_scene(np.random.default_rng(2), 0.0, require=[Spec(SIGN, "blue", "HOTEL")])
    (sign,) = scene.find(Spec(SIGN, "blue", "HOTEL"))
    top, bottom, left, right = rows_of(sign.text_box, SIZE)
    ink = scene.image[top:bottom, left:right].astype(int)
    assert ink.max() > 200 and np.abs(ink.mean(axis=(0, 1)) - PALETTE["blue"]).max() > 15


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.floats(0, 1),
       want=st.tuples(st.sampled_from(CATEGORIES), st.sampled_from(COLORS)),
       ban=st.tuples(st.sampled_from(SHAPES), st.none() | st.sampled_from(COLORS)))
def test_requirements_and_forbidden_patterns_hold(seed, d, want, ban):
    if want[0] == ban[0] and ban[1] in (None, want[1]):
        return  # a requirement that is also forbidden: the requirement wins, nothing to test
    scene = make_scene(np.random.default_rng(seed), d, require=[want], forbid=[ban])
    assert scene.objects[0].shape == want[0] and scene.objects[0].color == want[1]
    assert not scene.find(Spec(*ban))


def test_required_text_and_size():
    rng = np.random.default_rng(0)
    for d in (0.0, 1.0):
        scene = make_scene(rng, d, require=[Spec("circle", "red", "7", "large"),
                                            Spec("star", size="small"), Spec(SIGN, text="EXIT")])
        circle, star, sign = scene.objects[:3]
        assert (circle.text, circle.size, star.size, sign.text) == ("7", "large", "small", "EXIT")


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError, match="unknown shape 'dog'"):
        make_scene(np.random.default_rng(0), 0.5, require=[("dog", "red")])
    with pytest.raises(ValueError, match="unknown color 'pink'"):
        make_scene(np.random.default_rng(0), 0.5, forbid=[("circle", "pink")])
    with pytest.raises(ValueError, match="every required object needs a shape"):
        make_scene(np.random.default_rng(0), 0.5, require=[Spec(color="red")])


def test_object_records_round_trip():
    scene = make_scene(np.random.default_rng(11), 0.9, n_signs=2)
    for i, o in enumerate(scene.objects):
        rec = json.loads(json.dumps(object_record(o, i)))
        assert object_from_record(rec) == o and rec["id"] == i


def test_nuisances_grow_with_difficulty():
    easy, hard = Nuisances.at(0.0), Nuisances.at(1.0)
    assert easy.side[0] > hard.side[1] > SMALL_MAX_SIDE - 3
    assert easy.fade == easy.blur == easy.clutter == 0 and hard.fade > 0.5
    assert easy.noise < hard.noise and easy.overlap < hard.overlap and easy.font[0] > hard.font[1] - 4


# -- relations -------------------------------------------------------------------------------
box = st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(1, 28), st.integers(1, 28)).map(
    lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))


@given(a=box, b=box)
def test_relation_rules(a, b):
    assert not (left_of(a, b) and left_of(b, a))
    assert not (above(a, b) and above(b, a))
    assert near(a, b) == near(b, a)
    if inside(a, b):
        assert edge_distance(a, b) == 0 and not inside(b, a)
    ca, cb = (a[0] + a[2]) / 2, (b[0] + b[2]) / 2
    assert left_of(a, b) == (cb - ca >= 4)


def test_relations_lists_every_true_pair():
    scene = make_scene(np.random.default_rng(4), 0.5, n_objects=5)
    rel = relations(scene.objects)
    boxes = [o.box for o in scene.objects]
    n = len(boxes)
    assert rel["left_of"] == [[i, j] for i in range(n) for j in range(n) if i != j and left_of(boxes[i], boxes[j])]
    assert rel["near"] == [[i, j] for i in range(n) for j in range(i + 1, n) if near(boxes[i], boxes[j])]


def test_inside_objects_are_inside_their_container():
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(200):
        scene = make_scene(rng, 0.1)
        for i, o in enumerate(scene.objects):
            if o.inside is not None:
                assert [i, o.inside] in relations(scene.objects)["inside"]
                assert o.z > scene.objects[o.inside].z and o.color != scene.objects[o.inside].color
                found += 1
    assert found >= 5
