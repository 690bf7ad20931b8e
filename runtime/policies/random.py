"""The uniform random baseline: an independent uniform pool index per site and input."""

from __future__ import annotations

from .base import Episode, Policy, Site


class RandomPolicy(Policy):
    """Each site that fires gets a uniformly random backend of its pool (seeded)."""

    needs_features = False

    name = "random"

    def _choose(self, episode: Episode, site: Site) -> int:
        return int(episode.rng.integers(site.arms))
