"""Deterministic fake backends, for tests of the compiler and runtime (not the product).

Every answer is a pure function of (backend name, method, arguments, crop content), so
the graph interpreter and the plain-Python reference harness see the same values.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Sequence

import numpy as np
from annotated_types import Ge

from .base import Backend
from .geometry import Box
from .options import NonNegative, Positive

WORDS = ("yes", "no", "red", "left", "two", "3", "dog", "blue")


def _h(*parts) -> int:
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _crop_key(image: np.ndarray) -> str:
    small = np.ascontiguousarray(image[::7, ::7]).tobytes()
    return f"{image.shape}:{hashlib.blake2b(small, digest_size=6).hexdigest()}"


class FakeBackend(Backend):
    """Serves every kind; answers are hashed from its name and inputs."""

    def __init__(self, name: str = "fake", cost: Positive = 1.0, kind: str = "detection",
                 max_objects: Annotated[int, Ge(0)] = 3, delay: NonNegative = 0.0):
        super().__init__(name, cost)
        self.kind = kind
        self.max_objects = max_objects
        self.delay = delay  # seconds per call, to simulate a model's latency
        self.calls = 0

    def describe(self) -> dict:
        return {"device": "none", "provider": "fake", "loaded": True}

    def _tick(self) -> None:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)

    def detect(self, image, object_name):
        self._tick()
        h, w = image.shape[:2]
        k = _h(self.name, "detect", object_name, _crop_key(image))
        boxes = []
        for i in range(k % (self.max_objects + 1)):
            r = _h(k, i)
            x0, y0 = r % max(1, w // 2), (r >> 16) % max(1, h // 2)
            bw, bh = 1 + (r >> 32) % max(1, w // 2), 1 + (r >> 40) % max(1, h // 2)
            boxes.append(Box(x0, y0, min(w, x0 + bw), min(h, y0 + bh), 0.5 + (r % 50) / 100))
        return boxes

    def verify_property(self, image, object_name, prop):
        self._tick()
        return _h(self.name, "verify", object_name, prop, _crop_key(image)) % 2 == 0

    def query(self, image, question):
        self._tick()
        return WORDS[_h(self.name, "query", question, _crop_key(image)) % len(WORDS)]

    def match_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        self._tick()
        return np.array([[(_h(self.name, "match", t, _crop_key(im)) % 1000) / 1000 for t in texts]
                         for im in images])

    def depth(self, image):
        self._tick()
        return float(_h(self.name, "depth", _crop_key(image)) % 100) / 10

    def complete(self, prompt, long_answer=True):
        self._tick()
        return WORDS[_h(self.name, "llm", prompt) % len(WORDS)]


class NoopBackend(FakeBackend):
    """Answers instantly with constants: for measuring the runtime's own overhead."""

    def detect(self, image, object_name):
        return [Box(0, 0, 4, 4)]

    def verify_property(self, image, object_name, prop):
        return True

    def query(self, image, question):
        return "yes"

    def match_scores(self, images, texts):
        return np.zeros((len(images), len(texts)))

    def depth(self, image):
        return 1.0

    def complete(self, prompt, long_answer=True):
        return "yes"


def fake_pools(costs: Sequence[float] = (1.0, 10.0), cls=FakeBackend) -> list[Backend]:
    """A pool of fakes for every kind, one per cost."""
    from .base import KINDS

    return [cls(f"fake-{kind}-{i}", c, kind) for kind in KINDS for i, c in enumerate(costs)]
