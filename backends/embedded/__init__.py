"""The embedded default backends: small vision networks trained and shipped in the repo.

No pretrained detector, VQA or CLIP model is available offline, so fmprog trains its own
on generated scenes of coloured shapes (`scenes.py`, `train.py`) and runs the exported
ONNX files (`backends/models/`) with onnxruntime. See docs/embedded-models.md.

- `default_backends()`: the pool: detection, vqa and image-text matching in a small and a
  large size, plus the `depth-heuristic` (a geometric rule, not a learned model).
- `generate_stream(out_dir, n, seed, hard_fraction, question)`: a labelled image stream
  for a demo question answered by a program in `examples/shapes/`.
"""

from __future__ import annotations

from pathlib import Path

from .stream import QUESTIONS, generate_stream

__all__ = ["QUESTIONS", "default_backends", "generate_stream"]


def default_backends(models_dir: str | Path | None = None, device: str | None = None) -> list:
    """The embedded pool, cheapest first within each kind.

    `device="cuda"` (or env `FMPROG_EMBEDDED_DEVICE=cuda`) runs the nets on the GPU when
    onnxruntime can; the default is CPU.
    """
    from .models import DepthHeuristic, EmbeddedDetection, EmbeddedMatching, EmbeddedVQA
    from .onnx_nets import MODELS_DIR

    where = models_dir or MODELS_DIR
    return [
        cls(size, where, device)
        for cls in (EmbeddedDetection, EmbeddedVQA, EmbeddedMatching)
        for size in ("small", "large")
    ] + [DepthHeuristic()]
