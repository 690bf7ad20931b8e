"""Streams as users hand them over: a bad row is a recorded bad input with its file and
line and the stream goes on; labels are keyed by relative path; CSV through the csv
module; duplicate and garbage label lines are reported; huge images are refused before
they are decoded."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from fmprog.runtime.inputs import load_inputs, read_image, read_labels
from streams import fakes, run


def png(path, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((*size, 3), np.uint8)).save(path)
    return path


def test_bad_jsonl_rows_are_bad_inputs_with_their_lines(tmp_path):
    png(tmp_path / "a.png")
    png(tmp_path / "b.png")
    rows = tmp_path / "stream.jsonl"
    rows.write_bytes(b'{"image": "a.png", "label": "yes"}\n'
                     b'{"image": 5}\n'
                     b'not json\n'
                     b'[1, 2]\n'
                     b'{"image": "caf\xe9.png"}\n'
                     b'\n'
                     b'{"image": "b.png", "label": "no"}\n')
    items = load_inputs(rows).items
    assert [i.key for i in items if not i.problem] == ["a.png", "b.png"]
    problems = [i.problem for i in items if i.problem]
    assert problems == [
        f"{rows}:2: bad input row: \"image\" must be a path string, got 5",
        f"{rows}:3: bad input row: not JSON: Expecting value at column 1",
        f"{rows}:4: bad input row: a row must be a JSON object, got list",
        f"{rows}:5: bad input row: not UTF-8 (byte 0xe9 at column 15)",
    ]
    result = run(tmp_path, fakes(), images=(rows, None), policy="static-cheapest")
    kinds = [r["error_kind"] for r in result.rows]
    assert kinds == [None, "bad-input", "bad-input", "bad-input", "bad-input", None]
    assert result.rows[1]["error"].startswith(f"{rows}:2:")


def test_labels_are_keyed_by_relative_path(tmp_path):
    png(tmp_path / "imgs" / "dup1" / "x.png")
    png(tmp_path / "imgs" / "dup2" / "x.png")
    png(tmp_path / "imgs" / "solo.png")
    labels = tmp_path / "labels.csv"
    labels.write_text('dup1/x.png,yes\ndup2/x.png,no\nsolo.png,"red, mostly"\n')
    inputs = load_inputs(tmp_path / "imgs", labels)
    assert {i.key: i.label for i in inputs.items} == {"dup1/x.png": "yes", "dup2/x.png": "no",
                                                      "solo.png": "red, mostly"}
    assert inputs.warnings == []


def test_a_bare_name_labels_an_input_only_when_it_is_unique(tmp_path):
    png(tmp_path / "imgs" / "dup1" / "x.png")
    png(tmp_path / "imgs" / "dup2" / "x.png")
    png(tmp_path / "imgs" / "sub" / "y.png")
    labels = tmp_path / "labels.csv"
    labels.write_text("x.png,yes\ny.png,no\n")
    inputs = load_inputs(tmp_path / "imgs", labels)
    assert {i.key: i.label for i in inputs.items} == {"dup1/x.png": None, "dup2/x.png": None, "sub/y.png": "no"}
    assert any("match no input" in w and "'x.png'" in w for w in inputs.warnings)


def test_duplicate_and_garbage_label_lines_are_reported(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"image,label\na.png,yes\na.png,no\njust one field\nb.png,\xff\n,orphan\n")
    table, warnings = read_labels(labels)
    assert table == {"a.png": ("yes", 2)}
    assert warnings == [
        f"{labels}:3: duplicate label for 'a.png' (kept line 2)",
        f"{labels}:4: bad label line: expected 2 fields name,label, got 1",
        f"{labels}:5: bad label line: not UTF-8 (byte 0xff at column 7)",
        f"{labels}:6: bad label line: expected 2 fields name,label, got 2",
    ]


def test_jsonl_labels(tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"image": "a.png", "label": "yes"}\n{"id": "b", "label": 3}\n{"image": "c.png"}\n')
    table, warnings = read_labels(labels)
    assert table == {"a.png": ("yes", 1), "b": ("3", 2)}
    assert warnings == [f"{labels}:3: bad label line: no \"label\""]


def test_a_file_name_that_is_not_utf8_is_an_input(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    name = os.fsencode(str(d)) + b"/caf\xe9.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(open(name, "wb"), format="PNG")
    (item,) = load_inputs(d).items
    assert item.key == "caf\\xe9.png" and item.problem is None
    result = run(tmp_path, fakes(), images=(d, None), policy="static-cheapest")
    assert result.rows[0]["item"] == "caf\\xe9.png" and result.rows[0]["error_kind"] is None


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path):
    big = png(tmp_path / "big.png", size=(600, 500))
    with pytest.raises(ValueError, match=r"500x600 = 300,000 pixels, over the limit of 100,000"):
        read_image(big, max_pixels=100_000)
    assert read_image(big).shape == (600, 500, 3)
    rows = run(tmp_path, fakes(), images=(tmp_path, None), policy="static-cheapest", max_pixels=1000).rows
    assert rows[0]["error_kind"] == "image-error" and "over the limit" in rows[0]["error"]


def test_a_stream_of_bad_rows_only_still_runs(tmp_path):
    rows = tmp_path / "stream.jsonl"
    rows.write_text("\n".join(json.dumps(x) for x in [{"image": None}, {"label": "yes"}]) + "\n")
    result = run(tmp_path, fakes(), images=(rows, None), policy="static-cheapest")
    assert [r["error_kind"] for r in result.rows] == ["bad-input", "bad-input"]


NESTED = '''def execute_command(image):
    x = []
    for i in range(200):
        x = [x]
    return x
'''

HUGE = '''def execute_command(image):
    s = "ab"
    for i in range(18):
        s = s + s
    return [s, s, s]
'''


def test_an_answer_too_deep_or_too_large_is_recorded_and_the_stream_goes_on(tmp_path):
    for program in (NESTED, HUGE):
        rows = run(tmp_path, fakes(), n=3, program=program, policy="static-cheapest",
                   db=f"r{len(program)}.sqlite").rows
        assert [r["error_kind"] for r in rows] == ["AnswerTooLarge"] * 3
        assert any(w in rows[0]["error"] for w in ("nested deeper", "bytes as JSON, over"))


def test_an_unwritable_database_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    from streams import PROGRAM, make_stream

    images, labels = make_stream(tmp_path, 2)
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # unwritable as a folder even for root
    out = subprocess.run([sys.executable, "-m", "fmprog", "run", str(prog), "--images", str(images),
                          "--db", str(blocker / "r.sqlite")], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert f"fmprog: error: {blocker / 'r.sqlite'}: cannot open the run database" in out.stderr
    assert "Traceback" not in out.stderr
