"""Replaying one policy over one recorded stream, in memory: the same `Stream` that
`fmprog run` serves with, over a replaying executor (a call missing from the recording is
an error, never a model call), with the stream's images and features computed once and
shared by every replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from fmprog.backends.base import Pools
from fmprog.compiler.ir import Graph
from fmprog.runtime.cache import MemoryCache
from fmprog.runtime.executor import CachingExecutor
from fmprog.runtime.inputs import Item, read_image
from fmprog.runtime.policies.base import Policy
from fmprog.runtime.serving import Stream
from fmprog.runtime.settings import RunSettings


@dataclass
class Recorded:
    """A stream as the benchmark replays it: its items, their pixels and features (read
    and computed once), the recorded calls and the outcome trees."""

    graph: Graph
    pools: Pools
    items: list[Item]
    calls: MemoryCache
    trees: list[dict]
    images: dict[str, np.ndarray] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)

    def image(self, item: Item) -> np.ndarray:
        if item.key not in self.images:
            self.images[item.key] = read_image(item.path)
        return self.images[item.key]

    def feature_fn(self) -> Callable:
        from fmprog.runtime.policies.features import image_features

        by_id: dict[int, np.ndarray] = {}

        def features(image: np.ndarray) -> np.ndarray:
            hit = by_id.get(id(image))
            if hit is None:
                hit = by_id[id(image)] = image_features(image)
            return hit

        return features


def replay(rec: Recorded, policy: Policy, settings: RunSettings, features: Callable) -> list[dict]:
    """Every row of `policy` served over the recorded stream (no database)."""
    executor = CachingExecutor(None, rec.calls, replay=True)
    stream = Stream(rec.graph, rec.pools, policy, executor, settings, features=features,
                    load_image=rec.image)
    rows: list[dict] = []
    for window, _ in stream.run(rec.items):
        rows.extend(row for _, row in window)
    return rows
