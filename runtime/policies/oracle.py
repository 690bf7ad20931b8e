"""The evaluation oracle: the cheapest joint assignment that answers right.

Not a learner: for every input the runtime hands it `evaluate(assignment) ->
(correct, cost)`, which runs the program with that assignment (site id -> pool index).
The oracle tries every joint assignment and keeps the cheapest correct one (by the cost
`evaluate` reports, which counts only the sites that fired); if none is correct it takes
the largest backend everywhere. Ties go to the lower static cost, then the lower indices.
"""

from __future__ import annotations

import itertools
import numpy as np

from .base import Episode, Evaluate, Policy, Site
from .settings import OracleSettings

_KEY = "oracle"


class OraclePolicy(Policy):
    """Chooses with hindsight: call `begin(features, evaluate=fn)` for every input."""

    name = "oracle"
    needs_evaluator = True  # begin() gets the program's evaluator
    needs_features = False

    def __init__(self, sites: list[Site], settings: OracleSettings | None = None, seed: int = 0):
        super().__init__(sites, seed)
        self.settings = settings or OracleSettings()
        n = int(np.prod([site.arms for site in sites], dtype=np.float64))
        if n > self.settings.max_assignments:
            raise ValueError(
                f"oracle over {len(sites)} sites has {n} assignments, more than "
                f"OracleSettings.max_assignments={self.settings.max_assignments}"
            )
        combos = list(itertools.product(*(range(site.arms) for site in sites)))
        ids = [site.id for site in sites]
        static = [sum(site.costs[a] for site, a in zip(sites, c)) for c in combos]
        # stable sort: equal static costs keep lexicographic (cheaper-index-first) order
        self._candidates = [dict(zip(ids, combos[i])) for i in np.argsort(static, kind="stable")]
        self._largest = {site.id: site.arms - 1 for site in sites}

    def best_assignment(self, evaluate: Evaluate) -> dict[str, int]:
        """The cheapest assignment `evaluate` calls correct, else the largest everywhere."""
        best, best_cost = None, float("inf")
        for assignment in self._candidates:
            correct, cost = evaluate(dict(assignment))
            if correct and cost < best_cost:
                best, best_cost = assignment, cost
        return dict(best if best is not None else self._largest)

    def begin(self, features: np.ndarray, evaluate: Evaluate | None = None) -> Episode:
        episode = super().begin(features)
        if evaluate is not None:
            episode.extra[_KEY] = self.best_assignment(evaluate)
        return episode

    def _choose(self, episode: Episode, site: Site) -> int:
        if _KEY not in episode.extra:
            raise ValueError(
                "the oracle policy needs the program's evaluator: "
                "call begin(features, evaluate=fn) for every input"
            )
        return episode.extra[_KEY][site.id]
