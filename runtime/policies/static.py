"""Fixed-backend baselines: the same pool index at every site, for every input."""

from __future__ import annotations

from .base import Episode, Policy, Site
from .settings import StaticSettings


class StaticPolicy(Policy):
    """Always the cheapest, always the largest, or always pool index `backend`.

    An index must exist in every site's pool; the error names the first site it does not.
    """

    needs_features = False

    def __init__(self, sites: list[Site], settings: StaticSettings | None = None, seed: int = 0):
        super().__init__(sites, seed)
        self.settings = settings or StaticSettings()
        b = self.settings.backend
        self.name = f"static:{b}" if isinstance(b, int) else f"static-{b}"
        if isinstance(b, int):
            for site in sites:
                if b >= site.arms:
                    raise ValueError(
                        f"static backend index {b} is out of range for site {site.id!r} "
                        f"with {site.arms} backend(s)"
                    )

    def _choose(self, episode: Episode, site: Site) -> int:
        b = self.settings.backend
        if b == "cheapest":
            return 0
        if b == "largest":
            return site.arms - 1
        return b


class FixedAssignment(Policy):
    """A given backend index per site (the oracle's evaluator runs the program under one)."""

    needs_features = False

    name = "fixed"

    def __init__(self, sites: list[Site], assignment: dict[str, int]):
        super().__init__(sites, 0)
        self.assignment = dict(assignment)

    def _choose(self, episode: Episode, site: Site) -> int:
        return self.assignment[site.id]
