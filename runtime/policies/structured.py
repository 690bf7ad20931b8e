"""The paper's structured policy: one Thompson-sampling sub-policy per call site.

All sub-policies read the same context vector (`features.image_features`, computed once
per input in `begin`). At a site that fires, its sub-policy samples a reward for every
backend of the site's pool, subtracts cost_weight * cost, and takes the best. After the
input, only the sub-policies of sites that actually ran (`episode.fired`) learn, from the
input's task reward: a site skipped by a branch has no say in that outcome.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Episode, Feedback, Policy, Site
from .features import as_context
from .neural_ts import NeuralTS
from .settings import StructuredSettings


class StructuredPolicy(Policy):
    """Per-site NeuralTS over shared features; updates only fired sites.

    `begin` takes the raw image ((H, W, 3) uint8) or a precomputed feature vector of
    length `settings.input_dim`. `update` learns the feedback's task reward: the paper
    subtracts cost only when choosing, since costs are known and only the task reward
    has to be learned.
    """

    name = "structured-neural"

    def __init__(
        self, sites: list[Site], settings: StructuredSettings | None = None, seed: int = 0
    ):
        self.settings = settings or StructuredSettings()
        super().__init__(sites, seed)
        s = self.settings
        # site order fixes which random draws initialise which model: deterministic per seed
        self.models = {site.id: NeuralTS(site.arms, s, self.rng) for site in sites}
        self.reprice()

    def reprice(self) -> None:
        scale = np.float32(self.cost_weight / self.settings.reward_scale)
        self.penalty = {k: np.asarray(site.costs, np.float32) * scale for k, site in self.sites.items()}

    def context(self, features: np.ndarray) -> np.ndarray:
        return as_context(features, self.settings.input_dim)

    def _choose(self, episode: Episode, site: Site) -> int:
        return self.models[site.id].sample(episode.features, self.penalty[site.id], episode.rng)

    def update(self, episode: Episode, feedback: Feedback) -> None:
        target = feedback.task / self.settings.reward_scale
        # sorted: the training shuffles draw from the shared rng in a fixed order
        for site_id in sorted(episode.fired):
            self.models[site_id].observe(episode.features, episode.arm(site_id), target, self.rng)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["models"] = {k: m.state_dict() for k, m in self.models.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state["models"]) != set(self.models):
            raise ValueError(
                f"state is for sites {sorted(state['models'])}, "
                f"this policy has {sorted(self.models)}"
            )
        super().load_state_dict(state)
        for k, m in self.models.items():
            m.load_state_dict(state["models"][k])
