"""The query-level ("LLM routing") baseline: one pool tier for the whole program.

Routers such as RouteLLM pick one model per query; here that is one decision per input,
a tier applied at every site. Pools may differ in length, so tier t of T maps to the
same relative position in each pool: index round(t * (arms - 1) / (T - 1)), halves up.
"""

from __future__ import annotations

import numpy as np

from .base import Site
from .joint import AssignmentBandit
from .settings import QueryLevelSettings


def tier_table(sites: list[Site]) -> np.ndarray:
    """(tiers x sites) pool indices; tiers = the longest pool's length."""
    tiers = max((site.arms for site in sites), default=1)
    table = np.zeros((tiers, len(sites)), dtype=np.int16)
    if tiers > 1:
        for i, site in enumerate(sites):
            t = np.arange(tiers)
            table[:, i] = np.floor(t * (site.arms - 1) / (tiers - 1) + 0.5)
    return table


class QueryLevelPolicy(AssignmentBandit):
    """One Thompson-sampling model choosing a tier; every site gets that tier."""

    name = "query-level"

    def __init__(
        self, sites: list[Site], settings: QueryLevelSettings | None = None, seed: int = 0
    ):
        super().__init__(sites, tier_table(sites), settings or QueryLevelSettings(), seed)
