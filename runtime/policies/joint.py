"""The "full policy" ablation: one bandit over joint assignments of all call sites.

`AssignmentBandit` is the shared machinery for any policy that makes one decision per
input among a fixed table of whole-program assignments (rows: arms, columns: sites):
it samples a row at the first site that fires, answers every later site from that row,
and learns from the task reward of the input. `JointPolicy` uses every combination
(the product of the pools, so it grows exponentially with the number of sites);
`query_level.QueryLevelPolicy` uses one row per pool tier.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Episode, Feedback, Policy, Site
from .features import as_context
from .neural_ts import NeuralTS
from .settings import JointSettings, NeuralTSSettings

_KEY = "assignment"  # episode.extra key of the sampled row


class AssignmentBandit(Policy):
    """One NeuralTS model whose arms are the rows of `table` (arms x sites, pool indices).

    A whole-program decision is made before knowing which sites will fire, so a row is
    charged its expected cost: cost_weight * sum over sites of (fire rate * cost), the fire
    rate of a site counted over past inputs with one prior input on which every site
    fired. Charging every site in full would make a large tier look ruinous for a
    program whose expensive sites sit in a rarely taken branch.
    """

    def __init__(self, sites: list[Site], table: np.ndarray, settings: NeuralTSSettings, seed: int):
        self.settings = settings
        super().__init__(sites, seed)
        self.order = {site.id: i for i, site in enumerate(sites)}
        self.table = table
        # (rows x sites) scaled cost of each site's backend in each row
        self.row_costs = np.zeros((len(table), len(sites)), np.float32)
        for i, site in enumerate(sites):
            self.row_costs[:, i] = np.asarray(site.costs, np.float32)[table[:, i]]
        self.fire_counts = np.ones(len(sites), np.float32)  # the prior input: all fired
        self.inputs = 1
        self.reprice()
        self.model = NeuralTS(len(table), settings, self.rng)

    def reprice(self) -> None:
        scale = np.float32(self.cost_weight / self.settings.reward_scale)
        self.penalty = (self.row_costs * scale) @ (self.fire_counts / np.float32(self.inputs))

    def context(self, features: np.ndarray) -> np.ndarray:
        return as_context(features, self.settings.input_dim)

    def _choose(self, episode: Episode, site: Site) -> int:
        if _KEY not in episode.extra:
            episode.extra[_KEY] = self.model.sample(episode.features, self.penalty, episode.rng)
        return int(self.table[episode.extra[_KEY], self.order[site.id]])

    def update(self, episode: Episode, feedback: Feedback) -> None:
        for site_id in episode.fired:
            self.fire_counts[self.order[site_id]] += 1
        self.inputs += 1
        self.reprice()
        if _KEY not in episode.extra:  # no site fired: no decision was made
            return
        target = feedback.task / self.settings.reward_scale
        self.model.observe(episode.features, episode.extra[_KEY], target, self.rng)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["model"] = self.model.state_dict()
        state["fire_counts"], state["inputs"] = self.fire_counts.copy(), self.inputs
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.model.load_state_dict(state["model"])
        self.fire_counts, self.inputs = state["fire_counts"].copy(), state["inputs"]
        self.reprice()


def joint_table(sites: list[Site]) -> np.ndarray:
    """Every combination of pool indices, rows in mixed-radix order (last site fastest)."""
    shape = [site.arms for site in sites]
    if not shape:
        return np.zeros((1, 0), dtype=np.int16)  # one empty assignment
    grids = np.indices(shape, dtype=np.int16).reshape(len(shape), -1)
    return grids.T.copy()


class JointPolicy(AssignmentBandit):
    """One Thompson-sampling model over all prod(arms) joint assignments."""

    name = "joint"

    def __init__(self, sites: list[Site], settings: JointSettings | None = None, seed: int = 0):
        settings = settings or JointSettings()
        n = int(np.prod([site.arms for site in sites], dtype=np.float64))
        if n > settings.max_joint_arms:
            raise ValueError(
                f"joint policy over {len(sites)} sites has {n} assignments, more than "
                f"JointSettings.max_joint_arms={settings.max_joint_arms}"
            )
        super().__init__(sites, joint_table(sites), settings, seed)
