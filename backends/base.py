"""The backend interface: what a model must offer to serve one kind of neural call.

A *kind* groups the DSL's neural methods by the model family that serves them (see
`grammars/viper.pyi`): detection serves `find`/`exists`, vqa serves `verify_property`/
`query`/`simple_query`, image_text_matching serves `best_text_match`/`best_image_match`,
depth serves `compute_depth`, llm serves `llm_query`. Backends of one kind form a *pool*
ordered by cost; a routing policy picks an index into the pool for every call site.

Images are numpy arrays of shape (H, W, 3), dtype uint8, RGB, row 0 at the top. Boxes use
the ViperGPT convention of the DSL: (left, lower, right, upper) with y growing upwards,
so `lower` is the bottom edge; a box in array rows is rows [H-upper, H-lower).
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from typing import Sequence

import numpy as np

KINDS = ("detection", "vqa", "image_text_matching", "depth", "llm")


class BackendError(RuntimeError):
    """A backend failed on one input: recorded in the trace, the stream goes on."""


@dataclass(frozen=True)
class Box:
    """A detection in DSL coordinates (y up): left, lower, right, upper, and a score."""

    left: int
    lower: int
    right: int
    upper: int
    score: float = 1.0


class Backend(ABC):
    """One model serving one kind of neural call.

    `cost` is the number the router pays per call (default: parameters in millions, as the
    paper); `name` is unique inside a pool. Subclasses implement the methods of their kind
    and leave the others raising NotImplementedError.
    """

    kind: str = ""

    def __init__(self, name: str, cost: float):
        self.name = name
        self.cost = float(cost)

    # detection
    def detect(self, image: np.ndarray, object_name: str) -> list[Box]:
        raise NotImplementedError(f"{self.name} does not serve detection")

    # vqa
    def verify_property(self, image: np.ndarray, object_name: str, prop: str) -> bool:
        raise NotImplementedError(f"{self.name} does not serve verify_property")

    def query(self, image: np.ndarray, question: str) -> str:
        raise NotImplementedError(f"{self.name} does not serve query")

    # image_text_matching
    def match_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """Scores of shape (len(images), len(texts)); higher means a better match."""
        raise NotImplementedError(f"{self.name} does not serve image-text matching")

    # depth
    def depth(self, image: np.ndarray) -> float:
        """Median depth of the image (larger is farther)."""
        raise NotImplementedError(f"{self.name} does not serve depth")

    # llm
    def complete(self, prompt: str, long_answer: bool = True) -> str:
        raise NotImplementedError(f"{self.name} does not serve llm_query")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r}, cost={self.cost})"


class Pools:
    """Backends by kind, each pool sorted by ascending cost."""

    def __init__(self, backends: Sequence[Backend]):
        self.by_kind: dict[str, list[Backend]] = {}
        for b in backends:
            if b.kind not in KINDS:
                raise ValueError(f"backend {b.name!r} has unknown kind {b.kind!r}")
            self.by_kind.setdefault(b.kind, []).append(b)
        for pool in self.by_kind.values():
            pool.sort(key=lambda b: b.cost)
            names = [b.name for b in pool]
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate backend names in pool: {names}")

    def pool(self, kind: str) -> list[Backend]:
        try:
            return self.by_kind[kind]
        except KeyError:
            raise BackendError(f"no backend configured for kind {kind!r}") from None

    def costs(self, kind: str) -> list[float]:
        return [b.cost for b in self.pool(kind)]

    def largest(self, kind: str) -> int:
        return len(self.pool(kind)) - 1
