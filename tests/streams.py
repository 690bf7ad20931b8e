"""Shared helpers of the serving tests: small image streams, programs and fake pools."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from fmprog.backends.base import Pools
from fmprog.backends.fake import FakeBackend
from fmprog.compiler import compile_source
from fmprog.runtime.inputs import load_inputs
from fmprog.runtime.service import serve
from fmprog.runtime.settings import RunSettings

PROGRAM = '''def execute_command(image):
    image_patch = ImagePatch(image)
    dogs = image_patch.find("dog")
    if len(dogs) == 0:
        return "no"
    return bool_to_yesno(dogs[0].verify_property("dog", "brown"))
'''

# verify_property fires once per found dog: a site in a loop
LOOP_PROGRAM = '''def execute_command(image):
    image_patch = ImagePatch(image)
    for dog in image_patch.find("dog"):
        if dog.verify_property("dog", "brown"):
            return "yes"
    return "no"
'''


def make_stream(root: Path, n: int, corrupt=(), unlabeled=(), size=(32, 48)) -> tuple[Path, Path]:
    """`n` random images in root/images and root/labels.jsonl (yes on odd inputs)."""
    d = root / "images"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    labels = []
    for i in range(n):
        p = d / f"{i:04d}.png"
        if i in corrupt:
            p.write_bytes(b"not a png at all")
        else:
            Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(p)
        if i not in unlabeled:
            labels.append({"image": p.name, "label": "yes" if i % 2 else "no"})
    (root / "labels.jsonl").write_text("\n".join(json.dumps(r) for r in labels) + "\n")
    return d, root / "labels.jsonl"


def fakes(kinds=("detection", "vqa"), costs=(1.0, 5.0), cls=FakeBackend, **kw) -> list[FakeBackend]:
    return [cls(f"{k[:3]}-{i}", c, k, **kw) for k in kinds for i, c in enumerate(costs)]


def run(root: Path, pools, n=12, program=PROGRAM, db="runs.sqlite", images=None, **settings):
    """Serve `program` over a fresh stream of `n` images (or `images`): RunResult."""
    images, labels = images or make_stream(root, n)
    items = load_inputs(images, labels).items
    graph = compile_source(program).graph
    settings = RunSettings(**{"policy": "structured", "cost_weight": 0.1, "backend_timeout": 2.0, **settings})
    pools = pools if isinstance(pools, Pools) else Pools(pools)
    return serve(graph, items, pools, settings, str(root / db))


def answers(rows: list[dict], keys=("item", "answer", "correct", "cost", "reward", "error_kind")) -> list[tuple]:
    return [tuple(r[k] for k in keys) for r in rows]
