"""The embedded default backends: small vision networks trained and shipped in the repo.

No pretrained detector, VQA or CLIP model is available offline, so fmprog trains its own
on the generated world of shapes, signs and text (`scenes.py`, `world.py`, `train.py`)
and runs the exported ONNX files (`backends/models/`) with onnxruntime; text is read
with PP-OCRv4's ONNX networks (from rapidocr-onnxruntime, committed with a NOTICE). See
docs/embedded-models.md and docs/world.md.

- `default_backends()`: the pools: detection, vqa and image-text matching in three tiers
  (tiny, small, large; `det-tiny` ... `itm-large`), plus the `depth-heuristic` (a
  geometric rule, not a learned model).
- `generate_stream(out_dir, n, seed, hard_fraction, question)`: a labelled image stream
  for a demo question answered by a program in `examples/shapes/`.
"""

from __future__ import annotations

from pathlib import Path

from .stream import QUESTIONS, generate_stream

__all__ = ["QUESTIONS", "default_backends", "generate_stream"]


def default_backends(models_dir: str | Path | None = None, device: str | None = None) -> list:
    """The embedded pools, cheapest first within each kind.

    `device="cuda"` (or env `FMPROG_EMBEDDED_DEVICE=cuda`) runs the nets on the GPU when
    onnxruntime can; the default is CPU.
    """
    from .models import TIERS, DepthHeuristic, EmbeddedDetection, EmbeddedMatching, EmbeddedVQA
    from .onnx_nets import MODELS_DIR

    where = models_dir or MODELS_DIR
    return [
        cls(tier, where, device)
        for cls in (EmbeddedDetection, EmbeddedVQA, EmbeddedMatching)
        for tier in TIERS
    ] + [DepthHeuristic()]
