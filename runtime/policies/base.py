"""The routing-policy interface: pick a backend per call site, learn from the feedback.

The runtime consults a policy lazily, at each neural node that fires:
`episode = policy.begin(context, evaluate)` once per input, `policy.choose(episode, site)`
at every neural call (the same site may fire many times in a loop: an episode returns
the same choice for a site within one input), then `policy.update(episode, feedback)`
once the input's label is known. `episode.fired` is the set of sites that actually ran
and `episode.served` the pool index that really served each of them (the choice, unless
a circuit breaker fell back to another member): structured policies update only those.

What a policy needs from the runtime is declared, not guessed: `needs_features` (begin()
gets the shared feature vector of the image; policies that do not learn from the image
get None and spare its cost), `needs_image` (begin() gets the raw image instead) and
`needs_evaluator` (begin()
gets `evaluate(assignment) -> (correct, cost)`, which runs the program under a whole
assignment: the oracle).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

Evaluate = Callable[[dict[str, int]], tuple[bool, float]]


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

    features: Any
    rng: np.random.Generator | None = None  # this input's own draws (see Policy.begin)
    choices: dict[str, int] = field(default_factory=dict)
    fired: set[str] = field(default_factory=set)
    served: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def arm(self, site_id: str) -> int:
        """The pool index that served `site_id` on this input (the one to learn about)."""
        return self.served.get(site_id, self.choices[site_id])


@dataclass(frozen=True)
class Feedback:
    """What one labelled input teaches, all derived from its call log.

    `task` is the task reward (a failed input counts as a wrong answer); `cost` the sum of
    the costs of every call it made; `reward = task - cost_weight * cost`. `site_cost` and
    `site_calls` split the cost and the number of calls by site.
    """

    task: float
    cost: float
    reward: float
    correct: bool
    site_cost: Mapping[str, float] = field(default_factory=dict)
    site_calls: Mapping[str, int] = field(default_factory=dict)


class Policy(ABC):
    """Chooses a backend index per site; learns from (context, choices, fired, feedback)."""

    name: str = ""
    needs_features: bool = True
    needs_image: bool = False
    needs_evaluator: bool = False

    def __init__(self, sites: list[Site], seed: int = 0):
        self.sites = {s.id: s for s in sites}
        self.rng = np.random.default_rng(seed)
        settings = getattr(self, "settings", None)
        self.cost_weight = float(getattr(settings, "cost_weight", 0.0))

    def set_cost_weight(self, cost_weight: float) -> None:
        """Change lambda, the price of cost when choosing (a budget controller does, online).
        Learned policies learn task rewards, so nothing learned has to be redone."""
        self.cost_weight = float(cost_weight)
        self.reprice()

    def reprice(self) -> None:
        """Recompute what depends on `cost_weight` (subclasses that cache penalties)."""

    #: the largest difference two task rewards of one input can have (set by the runtime
    #: from the reward in use): a backend whose extra cost exceeds it can never pay off
    reward_span: float = float("inf")

    def set_reward_span(self, span: float) -> None:
        self.reward_span = float(span)

    def begin(self, features: Any, evaluate: Evaluate | None = None) -> Episode:
        """Start an input. Its random draws come from a generator of its own, seeded from
        the policy's in input order: an input's choices do not depend on how the runtime
        interleaves the inputs of a window, only on the policy's state when it began."""
        rng = np.random.default_rng(int(self.rng.integers(2**63)))
        return Episode(features=self.context(features), rng=rng)

    def context(self, features: Any) -> Any:
        """What the episode keeps of `begin`'s features (subclasses validate or embed)."""
        return features

    def choose(self, episode: Episode, site_id: str) -> int:
        """The backend index for `site_id` on this input (stable within the episode)."""
        if site_id not in episode.choices:
            episode.choices[site_id] = int(self._choose(episode, self.sites[site_id]))
        episode.fired.add(site_id)
        return episode.choices[site_id]

    @abstractmethod
    def _choose(self, episode: Episode, site: Site) -> int: ...

    def escalate(self, episode: Episode, site_id: str, index: int, confidence: float | None) -> int | None:
        """In a cascade: after pool member `index` answered with `confidence`, the larger
        index to ask next, or None to keep the answer. Default: no cascade."""
        return None

    def update(self, episode: Episode, feedback: Feedback) -> None:
        """Learn from one input's feedback. Default: nothing to learn."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as data: dicts with str keys, lists, numbers,
        strings and numpy arrays (the run database stores it without pickle)."""
        return {"rng": self.rng.bit_generator.state, "cost_weight": self.cost_weight}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        if "cost_weight" in state:
            self.set_cost_weight(state["cost_weight"])
