"""Labelled image streams for the demo questions, labels from the scene ground truth.

`generate_stream(out_dir, n, seed)` writes `out_dir/images/00000.png ...`,
`out_dir/labels.jsonl` (one `{"image", "label", "hard"}` object per line) and
`out_dir/stream.json` (the question, its program and the settings). Labels are balanced:
yes/no half each for "red_circle", every color equally often for "square_color".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .scenes import COLORS, Scene, make_scene, sample_difficulty


@dataclass(frozen=True)
class Question:
    """A demo question, the program answering it (repo-relative) and its answer set."""

    text: str
    program: str
    answers: tuple[str, ...]


QUESTIONS = {
    "red_circle": Question(
        "Is there a red circle?", "examples/shapes/red_circle.py", ("yes", "no")),
    "square_color": Question(
        "What color is the square?", "examples/shapes/square_color.py", COLORS),
}


def scene_for(question: str, label: str, rng: np.random.Generator, d: float) -> Scene:
    """A scene whose ground truth answers `question` with `label`, with near misses."""
    if question == "red_circle":
        if label == "yes":
            return make_scene(rng, d, require=[("circle", "red")])
        misses = []
        if rng.random() < 0.6:
            misses.append(("circle", str(rng.choice([c for c in COLORS if c != "red"]))))
        if rng.random() < 0.6:
            misses.append((str(rng.choice(["square", "triangle", "star", "diamond"])), "red"))
        return make_scene(rng, d, require=misses, forbid=[("circle", "red")])
    if question == "square_color":
        return make_scene(rng, d, require=[("square", label)], forbid=[("square", None)])
    raise ValueError(f"unknown question {question!r}; known: {sorted(QUESTIONS)}")


def stream_items(question: str, n: int, seed: int, hard_fraction: float = 0.5):
    """`n` (scene, label) pairs; each scene is hard with probability `hard_fraction`."""
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}; known: {sorted(QUESTIONS)}")
    rng = np.random.default_rng(seed)
    answers = QUESTIONS[question].answers
    labels = [answers[i % len(answers)] for i in range(n)]
    labels = [labels[i] for i in rng.permutation(n)]
    items = []
    for label in labels:
        d = sample_difficulty(rng, hard=bool(rng.random() < hard_fraction))
        items.append((scene_for(question, label, rng, d), label))
    return items


def generate_stream(out_dir: str | Path, n: int, seed: int, hard_fraction: float = 0.5,
                    question: str = "red_circle") -> None:
    """Write a labelled stream of `n` generated PNG images for a demo question."""
    from PIL import Image

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (scene, label) in enumerate(stream_items(question, n, seed, hard_fraction)):
        name = f"images/{i:05d}.png"
        Image.fromarray(scene.image).save(out / name, optimize=False)
        lines.append(json.dumps({"image": name, "label": label, "hard": scene.difficulty >= 0.5}))
    (out / "labels.jsonl").write_text("".join(line + "\n" for line in lines))
    q = QUESTIONS[question]
    info = {"question": q.text, "program": q.program, "answers": list(q.answers), "n": n,
            "seed": seed, "hard_fraction": hard_fraction, "name": question}
    (out / "stream.json").write_text(json.dumps(info, indent=1) + "\n")
