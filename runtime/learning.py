"""What reaches the policy, and when: delayed and missing labels, and a cost budget.

- `--feedback-delay K`: the label of input t arrives after input t + K has been served;
  until then its feedback waits in a queue (saved with each checkpoint, so a resumed
  run learns exactly what an uninterrupted one would).
- `--feedback-rate p`: only a fraction p of the inputs is ever labelled for learning;
  which ones is a fixed function of (seed, input index), so the same run learns from the
  same inputs. The rows still carry every input's correctness for the metrics.
- `--budget C`: the policy's lambda (the price of cost when choosing) follows the
  multiplicative update lambda <- lambda * exp(gain * (cost / C - 1)) after each input,
  so the running average cost tracks C whatever lambda starts at. Policies learn task
  rewards, so a new lambda never invalidates what they learned.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict
from typing import Any

import numpy as np

from .policies.base import Episode, Feedback, Policy

LAMBDA_RANGE = (1e-9, 1e9)


def labelled(seed: int, seq: int, rate: float) -> bool:
    """Whether input `seq` is labelled for learning at feedback rate `rate`."""
    if rate >= 1.0:
        return True
    h = hashlib.blake2b(f"{seed}:{seq}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < rate


class Learner:
    """Queues feedback for `delay` inputs, then hands it to the policy in input order;
    adapts the policy's cost weight to a budget."""

    def __init__(self, policy: Policy, delay: int = 0, rate: float = 1.0, seed: int = 0,
                 budget: float | None = None, gain: float = 0.1, start_weight: float | None = None):
        self.policy, self.delay, self.rate, self.seed = policy, delay, rate, seed
        self.budget, self.gain = budget, gain
        self.pending: list[tuple[int, Episode, Feedback]] = []
        self.spent = 0.0
        self.inputs = 0
        if budget is not None:
            policy.set_cost_weight(start_weight if start_weight else _neutral_weight(policy))

    def observe(self, seq: int, episode: Episode, feedback: Feedback) -> bool:
        """Queue one input's feedback; False when it will never be learned from."""
        if not labelled(self.seed, seq, self.rate):
            return False
        self.pending.append((seq, episode, feedback))
        return True

    def spend(self, cost: float) -> None:
        """Account one served input's cost (every served input, labelled or not)."""
        self.spent += cost
        self.inputs += 1
        if self.budget:
            lam = self.policy.cost_weight * math.exp(self.gain * (cost / self.budget - 1.0))
            self.policy.set_cost_weight(min(max(lam, LAMBDA_RANGE[0]), LAMBDA_RANGE[1]))

    def due(self, last_seq: int) -> list[tuple[int, Episode, Feedback]]:
        """The queued feedback whose label has arrived once input `last_seq` is served."""
        ready = [p for p in self.pending if p[0] + self.delay <= last_seq]
        self.pending = [p for p in self.pending if p[0] + self.delay > last_seq]
        return ready

    # -- persistence ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"pending": [{"seq": s, "episode": _episode(e), "feedback": asdict(f)}
                            for s, e, f in self.pending],
                "spent": self.spent, "inputs": self.inputs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pending = [(p["seq"], _unepisode(p["episode"]), Feedback(**p["feedback"]))
                        for p in state["pending"]]
        self.spent, self.inputs = float(state["spent"]), int(state["inputs"])

    def summary(self) -> dict[str, Any]:
        if self.budget is None:
            return {}
        achieved = self.spent / self.inputs if self.inputs else None
        return {"budget": self.budget, "achieved_cost": round(achieved, 6) if achieved is not None else None,
                "final_cost_weight": self.policy.cost_weight}


def _neutral_weight(policy: Policy) -> float:
    """A starting lambda at which the largest backends cost about one reward unit (the
    reward scale), so the controller has little way to go from either side."""
    scale = float(getattr(getattr(policy, "settings", None), "reward_scale", 100.0))
    largest = [max(s.costs) for s in policy.sites.values() if s.costs]
    return scale / max(float(np.mean(largest)) if largest else 1.0, 1e-9)


def _episode(e: Episode) -> dict[str, Any]:
    keep = {k: v for k, v in e.extra.items() if _data(v)}
    return {"features": e.features, "choices": e.choices, "fired": sorted(e.fired),
            "served": e.served, "extra": keep}


def _unepisode(d: dict[str, Any]) -> Episode:
    return Episode(features=d["features"], choices=dict(d["choices"]), fired=set(d["fired"]),
                   served=dict(d["served"]), extra=dict(d["extra"]))


def _data(v: Any) -> bool:
    if v is None or isinstance(v, (bool, int, float, str, np.ndarray, np.generic)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_data(x) for x in v)
    if isinstance(v, dict):
        return all(_data(x) for x in v.values())
    return type(v).__module__.startswith("torch")
