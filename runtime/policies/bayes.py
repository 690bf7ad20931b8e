"""The per-site Bayesian learner behind `structured`: fast, calibrated, all of history.

One sub-policy per call site, updated only where the call ran (the paper's structure).
Each site keeps, per pool member (arm), a Bayesian linear model of the input's task
reward on a low-dimensional context z = [1, phi(x)]:

    r = mu_a + theta_a . phi(x) + noise,

with a weak prior on the arm's mean mu_a and a tighter one on theta_a, so predictions
shrink toward the per-arm mean until the data says the context matters. The statistics
are sufficient (A = prior + sum z z^T, b = sum z r, sum r^2, n), so every firing of a rare
site counts forever, and an update costs O(d^2) (Sherman-Morrison on A^-1).

Choosing is Thompson sampling on the prediction at z: draw
mean_a(z) + explore * sd_a(z) * N(0, 1), with sd_a(z)^2 = s_a^2 z^T A_a^-1 z and s_a^2 the
arm's posterior noise variance, subtract cost_weight * cost_a * (the site's calls per
firing) / reward_scale, take the best. Each arm is tried `warmup` times at each site
first (in random order, so the sites' warm-ups do not pair up), so no arm is written
off on one unlucky input.

phi(x): after `fit_after` inputs, the mean and the top `dim` principal directions of the
shared 172-d features seen so far are frozen (whitened); before that the context is
empty and only the per-arm means learn. Everything is numpy; a decision is a few small
mat-vecs per arm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Episode, Feedback, Policy, Site
from .features import as_context
from .settings import BayesSettings


class SiteModel:
    """Per-arm Bayesian linear models over one design vector: sufficient statistics and
    the inverse precision. `prior` is the prior precision of each design entry."""

    def __init__(self, arms: int, prior: np.ndarray, s: BayesSettings):
        d = len(prior)
        self.a_inv = np.stack([np.diag(1.0 / np.asarray(prior, float))] * arms)  # (arms, d, d)
        self.b = np.zeros((arms, d))
        self.n = np.zeros(arms)
        self.rr = np.zeros(arms)  # sum of squared targets
        self.calls = 1.0  # mean calls per firing (cost scale for loops)
        self.firings = 0
        self.s = s
        self._post: tuple[np.ndarray, np.ndarray] | None = None

    def mean_sd(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._post is None:  # posterior means and noise, recomputed after an update only
            m = np.einsum("aij,aj->ai", self.a_inv, self.b)
            fit = np.einsum("ai,ai->a", self.b, m)
            s = self.s
            noise = (s.noise_scale + 0.5 * np.maximum(self.rr - fit, 0.0)) / (s.noise_shape + 0.5 * self.n)
            self._post = (m, noise)
        m, noise = self._post
        quad = (self.a_inv @ z) @ z
        return m @ z, np.sqrt(np.maximum(noise * quad, 0.0))

    def draw(self, z: np.ndarray, rng: np.random.Generator, hopeless=None) -> np.ndarray | int:
        """A Thompson draw of every arm's value at z, or the arm to warm up (an int). Arms
        marked `hopeless` (their extra cost exceeds any reward they could add) are not
        warmed up: trying them could only lose."""
        cold = self.n < self.s.warmup
        if hopeless is not None:
            cold &= ~hopeless
        warm = np.flatnonzero(cold)
        if len(warm):
            # warm-ups in random order: sites warmed in lockstep would credit one site's
            # arm with another's (A's cheap tier always paired with B's)
            return int(rng.choice(warm))
        mean, sd = self.mean_sd(z)
        return mean + self.s.explore * sd * rng.standard_normal(len(mean))

    def observe(self, z: np.ndarray, arm: int, target: float) -> None:
        a_inv = self.a_inv[arm]
        az = a_inv @ z
        a_inv -= np.outer(az, az) / (1.0 + z @ az)  # Sherman-Morrison: (A + z z^T)^-1
        self.b[arm] += target * z
        self.n[arm] += 1
        self.rr[arm] += target * target
        self._post = None

    def state(self) -> dict[str, Any]:
        return {"a_inv": self.a_inv.copy(), "b": self.b.copy(), "n": self.n.copy(), "rr": self.rr.copy(),
                "calls": self.calls, "firings": self.firings}

    def load(self, st: dict[str, Any]) -> None:
        if st["a_inv"].shape != self.a_inv.shape:
            raise ValueError(f"state has a_inv of shape {st['a_inv'].shape}, this model {self.a_inv.shape}")
        self.a_inv, self.b, self.n, self.rr = (np.array(st[k], dtype=float) for k in ("a_inv", "b", "n", "rr"))
        self.calls, self.firings = float(st["calls"]), int(st["firings"])
        self._post = None


class BayesSitePolicy(Policy):
    """Per-site Bayesian linear Thompson sampling over a frozen low-dimensional context."""

    name = "structured"

    def __init__(self, sites: list[Site], settings: BayesSettings | None = None, seed: int = 0):
        self.settings = s = settings or BayesSettings()
        super().__init__(sites, seed)
        prior = np.full(s.dim + 1, s.prior_precision)
        prior[0] = s.mean_precision  # the arm's mean: weak; the context's weights: shrunk
        self.models = {site.id: SiteModel(site.arms, prior, s) for site in sites}
        self.costs = {site.id: np.asarray(site.costs, float) for site in sites}
        self.seen: list[np.ndarray] = []  # features until the projection is fitted
        self.center: np.ndarray | None = None
        self.basis: np.ndarray | None = None  # (dim, input_dim), whitened

    # -- context --------------------------------------------------------------------------
    def context(self, features: np.ndarray) -> np.ndarray:
        x = as_context(features, self.settings.input_dim).astype(float)
        return x

    def _z(self, x: np.ndarray) -> np.ndarray:
        z = np.zeros(self.settings.dim + 1)
        z[0] = 1.0
        if self.basis is not None:
            z[1:] = np.clip(self.basis @ (x - self.center), -self.settings.clip, self.settings.clip)
        return z

    def _fit(self) -> None:
        x = np.stack(self.seen)
        self.center = x.mean(axis=0)
        _, sv, vt = np.linalg.svd(x - self.center, full_matrices=False)
        k = min(self.settings.dim, len(sv))
        scale = np.sqrt(len(x)) / np.maximum(sv[:k], 1e-9)  # unit variance per direction
        basis = np.zeros((self.settings.dim, x.shape[1]))
        basis[:k] = vt[:k] * scale[:, None]
        self.basis = basis
        self.seen = []

    # -- choosing ---------------------------------------------------------------------------
    def _context(self, episode: Episode) -> np.ndarray:
        z = episode.extra.get("z")
        if z is None:
            z = episode.extra["z"] = self._z(episode.features)
        return z

    def _choose(self, episode: Episode, site: Site) -> int:
        m = self.models[site.id]
        penalty = self._penalty(site.id)
        draw = m.draw(self._context(episode), episode.rng, self._hopeless(penalty))
        if isinstance(draw, int):
            return draw
        return int(np.argmax(draw - penalty))

    def _hopeless(self, penalty: np.ndarray) -> np.ndarray:
        """Arms whose extra cost over the cheapest exceeds the reward span."""
        return penalty - penalty.min() > self.reward_span / self.settings.reward_scale

    def _penalty(self, site_id: str) -> np.ndarray:
        """lambda * cost of each arm, per firing (the site's calls per firing), in target units."""
        m = self.models[site_id]
        return self.cost_weight * self.costs[site_id] * m.calls / self.settings.reward_scale

    def _learned_arm(self, episode: Episode, site_id: str) -> int:
        return episode.arm(site_id)

    # -- learning ---------------------------------------------------------------------------
    def update(self, episode: Episode, feedback: Feedback) -> None:
        s = self.settings
        if self.basis is None and s.dim > 0:
            self.seen.append(np.asarray(episode.features, float))
            if len(self.seen) >= s.fit_after:
                self._fit()
        if not episode.fired:
            return
        z = self._context(episode)
        target = feedback.task / s.reward_scale
        for site_id in sorted(episode.fired):
            m = self.models[site_id]
            m.observe(z, self._learned_arm(episode, site_id), target)
            m.firings += 1
            calls = feedback.site_calls.get(site_id, 1)
            m.calls += (calls - m.calls) / m.firings

    # -- persistence --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["models"] = {k: m.state() for k, m in self.models.items()}
        state["seen"] = np.stack(self.seen) if self.seen else np.zeros((0, self.settings.input_dim))
        state["center"] = self.center if self.center is not None else np.zeros(0)
        state["basis"] = self.basis if self.basis is not None else np.zeros((0, 0))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state["models"]) != set(self.models):
            raise ValueError(f"state is for sites {sorted(state['models'])}, "
                             f"this policy has {sorted(self.models)}")
        super().load_state_dict(state)
        for k, m in self.models.items():
            m.load(state["models"][k])
        self.seen = list(np.asarray(state["seen"], float))
        self.center = np.asarray(state["center"], float) if np.size(state["center"]) else None
        self.basis = np.asarray(state["basis"], float) if np.size(state["basis"]) else None


class CascadePolicy(BayesSitePolicy):
    """`structured-cascade`: the per-site learner, plus a learned escalation rule per site
    and tier. A site starts at the tier its first-stage model picks (priced with the
    expected cost of the escalations that follow); after a cheaper tier answers, a second
    Bayesian model of the task reward on u = [1, q, q^2, phi(x)] (q: the answer's
    confidence) decides, by Thompson sampling, between keeping the answer and asking the
    next tier at lambda * its cost. Both learn from the same feedback, only where they
    acted; the cost is that of every tier run."""

    name = "structured-cascade"

    def __init__(self, sites: list[Site], settings: BayesSettings | None = None, seed: int = 0):
        super().__init__(sites, settings, seed)
        s = self.settings
        prior = np.full(s.dim + 3, s.prior_precision)
        prior[:3] = s.mean_precision  # mean, q and q^2: the rule's own signal, weakly held
        self.escalators = {site.id: [SiteModel(2, prior, s) for _ in range(site.arms - 1)] for site in sites}
        # per site and tier: (decisions, escalations), for the expected cost of a start tier
        self.rates = {site.id: np.ones((max(site.arms - 1, 0), 2)) * [2.0, 1.0] for site in sites}

    def _penalty(self, site_id: str) -> np.ndarray:
        costs = self.costs[site_id]
        p = self.rates[site_id][:, 1] / self.rates[site_id][:, 0]  # P(escalate at tier t)
        expected = costs.copy()
        for a in range(len(costs)):
            reach = 1.0
            for t in range(a, len(costs) - 1):
                reach *= p[t]
                expected[a] += reach * costs[t + 1]
        m = self.models[site_id]
        return self.cost_weight * expected * m.calls / self.settings.reward_scale

    def escalate(self, episode: Episode, site_id: str, index: int, confidence: float | None) -> int | None:
        tiers = self.escalators[site_id]
        if index >= len(tiers):
            return None
        extra = self.cost_weight * self.costs[site_id][index + 1] / self.settings.reward_scale
        if extra > self.reward_span / self.settings.reward_scale:
            return None  # the next tier costs more than any answer could be worth
        q = 0.5 if confidence is None else float(np.clip(confidence, 0.0, 1.0))
        u = np.concatenate([[1.0, q, q * q], self._context(episode)[1:]])
        draw = tiers[index].draw(u, episode.rng)
        if isinstance(draw, int):
            action = draw
        else:
            action = int(draw[1] - extra > draw[0])
        episode.extra.setdefault("escalations", []).append([site_id, index, u, action])
        return index + 1 if action else None

    def _learned_arm(self, episode: Episode, site_id: str) -> int:
        return episode.choices[site_id]  # the tier it started at; escalations learn apart

    def update(self, episode: Episode, feedback: Feedback) -> None:
        super().update(episode, feedback)
        target = feedback.task / self.settings.reward_scale
        for site_id, tier, u, action in episode.extra.get("escalations", []):
            self.escalators[site_id][tier].observe(np.asarray(u, float), int(action), target)
            self.rates[site_id][tier] += [1.0, float(action)]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["escalators"] = {k: [m.state() for m in ms] for k, ms in self.escalators.items()}
        state["rates"] = {k: r.copy() for k, r in self.rates.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for k, ms in self.escalators.items():
            for m, st in zip(ms, state["escalators"][k]):
                m.load(st)
            self.rates[k] = np.asarray(state["rates"][k], float)
