"""The routing-policy interface: pick a backend per call site, learn from the reward.

The runtime consults a policy lazily, at each neural node that fires:
`episode = policy.begin(features)` once per input, `episode.choose(site)` at every
neural call (the same site may fire many times in a loop: an episode must return the same
choice for a site within one input), then `policy.update(episode, reward)` with the
reward of that input. `episode.fired` is the set of sites that actually ran; structured
policies update only those.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True)
class Site:
    """A neural call site of the program: its stable id, its kind and its pool's costs."""

    id: str
    kind: str
    costs: tuple[float, ...]

    @property
    def arms(self) -> int:
        return len(self.costs)


@dataclass
class Episode:
    """One input's routing decisions; `choices` maps site id -> backend index."""

    features: np.ndarray
    choices: dict[str, int] = field(default_factory=dict)
    fired: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)

    def cost(self, sites: Mapping[str, Site]) -> float:
        """Cost of the backends chosen at the sites that fired (once per site)."""
        return sum(sites[s].costs[self.choices[s]] for s in self.fired)


class Policy(ABC):
    """Chooses a backend index per site; learns from (features, choices, fired, reward)."""

    name: str = ""

    def __init__(self, sites: list[Site], seed: int = 0):
        self.sites = {s.id: s for s in sites}
        self.rng = np.random.default_rng(seed)

    def begin(self, features: np.ndarray) -> Episode:
        return Episode(features=features)

    def choose(self, episode: Episode, site_id: str) -> int:
        """The backend index for `site_id` on this input (stable within the episode)."""
        if site_id not in episode.choices:
            episode.choices[site_id] = int(self._choose(episode, self.sites[site_id]))
        episode.fired.add(site_id)
        return episode.choices[site_id]

    @abstractmethod
    def _choose(self, episode: Episode, site: Site) -> int: ...

    def update(self, episode: Episode, reward: float) -> None:
        """Learn from one input's reward. Default: nothing to learn."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume; must be picklable (numpy arrays, tensors, ints)."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
