"""The settings of one served stream: frozen and validated, so library callers and the
CLI build the same object and a bad value fails before any input is served, naming the
setting (`RunSettings.window must be >= 1, got 0`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

REWARDS = ("auto", "binary", "open-form")


def _fail(name: str, rule: str, value) -> None:
    raise ValueError(f"RunSettings.{name} must be {rule}, got {value!r}")


def _number(name: str, v, low: float, strict: bool = False, none_ok: bool = False) -> None:
    if v is None and none_ok:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        _fail(name, "a finite number" + (" or None" if none_ok else ""), v)
    if v < low or (strict and v == low):
        _fail(name, f"{'>' if strict else '>='} {low:g}", v)


def _int(name: str, v, low: int, none_ok: bool = False) -> None:
    if v is None and none_ok:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        _fail(name, f"an int >= {low}", v)


@dataclass(frozen=True)
class RunSettings:
    """How a program is served over a stream.

    - policy, cost_weight, reward, seed: the routing policy, lambda in reward = task -
      lambda * cost, the task reward (binary, open-form, or auto: binary for yes/no
      labels) and the seed of everything random.
    - window: inputs in flight at once; their calls are batched per site and backend, and
      the policy learns between windows (K = 1: after every input).
    - checkpoint_every: inputs between policy checkpoints (rounded up to whole windows).
    - backend_timeout: seconds, the outer bound on any backend batch (None: unbounded);
      time_limit and max_iterations: the program's own per-input bounds.
    - cache / replay: a call cache file read through (misses call the model and are
      stored), or replayed (misses are errors, no model is called).
    - max_error_rate: the run fails (exit 3) when more than this fraction of inputs
      failed for backend reasons.
    - breaker_failures / breaker_cooldown: a backend failing this many calls in a row
      cools down for that many seconds, its sites falling back to another pool member.
    - max_pixels: images whose header announces more pixels are refused undecoded.
    - budget / budget_gain: a target average cost per input; the policy's lambda adapts
      online (multiplicatively, by budget_gain) so the running average tracks it.
    - feedback_delay / feedback_rate: the label of input t reaches the policy after
      input t + delay; only a fraction `rate` of the inputs is labelled for learning.
    """

    policy: str = "structured"
    cost_weight: float = 0.0
    reward: str = "auto"
    seed: int = 0
    window: int = 1
    checkpoint_every: int = 1
    backend_timeout: float | None = 60.0
    time_limit: float = 60.0
    max_iterations: int = 10_000
    cache: str | None = None
    replay: bool = False
    max_error_rate: float = 0.5
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0
    max_pixels: int = 25_000_000
    budget: float | None = None
    budget_gain: float = 0.1
    feedback_delay: int = 0
    feedback_rate: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.policy, str) or not self.policy:
            _fail("policy", "a policy name", self.policy)
        _number("cost_weight", self.cost_weight, 0.0)
        if self.reward not in REWARDS:
            _fail("reward", f"one of {', '.join(REWARDS)}", self.reward)
        _int("seed", self.seed, 0)
        _int("window", self.window, 1)
        _int("checkpoint_every", self.checkpoint_every, 1)
        _number("backend_timeout", self.backend_timeout, 0.0, strict=True, none_ok=True)
        _number("time_limit", self.time_limit, 0.0, strict=True)
        _int("max_iterations", self.max_iterations, 1)
        if self.replay and not self.cache:
            _fail("cache", "a cache file when replay is set", self.cache)
        _number("max_error_rate", self.max_error_rate, 0.0)
        if self.max_error_rate > 1:
            _fail("max_error_rate", "<= 1", self.max_error_rate)
        _int("breaker_failures", self.breaker_failures, 1)
        _number("breaker_cooldown", self.breaker_cooldown, 0.0)
        _int("max_pixels", self.max_pixels, 1)
        _number("budget", self.budget, 0.0, strict=True, none_ok=True)
        _number("budget_gain", self.budget_gain, 0.0, strict=True)
        _int("feedback_delay", self.feedback_delay, 0)
        _number("feedback_rate", self.feedback_rate, 0.0, strict=True)
        if self.feedback_rate > 1:
            _fail("feedback_rate", "<= 1", self.feedback_rate)

    def identity(self) -> dict:
        """What makes two runs the same run (for --resume): everything that changes
        answers or learning. The cache file is not part of it (it only saves calls)."""
        skip = {"cache", "replay", "max_error_rate", "backend_timeout", "checkpoint_every"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
