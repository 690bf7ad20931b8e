"""The router: turns a neural request into a plan, which pool member serves it.

It asks the policy for the site's backend index, checks it, and consults the circuit
breaker: a backend that failed `failures` times in a row cools down for `cooldown`
seconds, and while it does its sites fall back to the nearest healthy member of the
pool (the next larger one first, since it is likelier to be right, else the next
smaller). The fallback is logged with the call and recorded in the episode, so the
policy learns about the member that really served.

A policy that raises, or returns an index outside the pool, is a fault of fmprog or of
the policy, never of the user's program: it surfaces as `RuntimeFault`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fmprog.backends.base import Backend, Pools

from .errors import RuntimeFault
from .neural import Request
from .policies.base import Episode, Policy


@dataclass(frozen=True)
class Plan:
    """Who serves a request: the pool index and backend, the policy's own choice, and the
    backend it fell back from (None when the choice serves)."""

    index: int
    backend: Backend
    chosen: int
    fallback_from: str | None = None


class Breaker:
    """Per-backend consecutive-failure counts and cool-down deadlines."""

    def __init__(self, failures: int = 5, cooldown: float = 30.0, clock=time.monotonic):
        if failures < 1 or cooldown < 0:
            raise ValueError(f"breaker needs failures >= 1 and cooldown >= 0, got {failures}, {cooldown}")
        self.failures, self.cooldown, self.clock = failures, cooldown, clock
        self.streak: dict[str, int] = {}
        self.open_until: dict[str, float] = {}
        self.trips: list[tuple[str, float]] = []  # (backend, when) each time one opened

    def is_open(self, name: str) -> bool:
        until = self.open_until.get(name)
        if until is None:
            return False
        if self.clock() >= until:  # cooled down: half-open, the next call decides
            del self.open_until[name]
            self.streak[name] = self.failures - 1
            return False
        return True

    def record(self, name: str, ok: bool) -> None:
        if ok:
            self.streak[name] = 0
            return
        self.streak[name] = self.streak.get(name, 0) + 1
        if self.streak[name] >= self.failures and name not in self.open_until:
            self.open_until[name] = self.clock() + self.cooldown
            self.trips.append((name, self.clock()))


class Router:
    def __init__(self, pools: Pools, policy: Policy, breaker: Breaker | None = None):
        self.pools, self.policy = pools, policy
        self.breaker = breaker or Breaker()

    def plan(self, episode: Episode, req: Request) -> Plan:
        pool = self.pools.pool(req.kind)
        try:
            index = self.policy.choose(episode, req.site)
        except Exception as e:
            raise RuntimeFault(f"policy {self.policy.name!r} failed choosing a backend for "
                               f"{req.site}: {type(e).__name__}: {e}") from e
        if not isinstance(index, int) or not 0 <= index < len(pool):
            raise RuntimeFault(f"policy {self.policy.name!r} chose backend index {index!r} for "
                               f"{req.site}, whose {req.kind} pool has {len(pool)} members")
        served = self._healthy(pool, index)
        if served != index:
            episode.served[req.site] = served
            return Plan(served, pool[served], index, pool[index].name)
        episode.served.pop(req.site, None)
        return Plan(index, pool[index], index)

    def escalate(self, episode: Episode, req: Request, plan: Plan, result) -> Plan | None:
        """The next tier of a cascade after `plan` answered `result`, or None (the answer
        stands). The policy decides (`Policy.escalate`); a fault there is a RuntimeFault."""
        try:
            nxt = self.policy.escalate(episode, req.site, plan.index, result.confidence)
        except Exception as e:
            raise RuntimeFault(f"policy {self.policy.name!r} failed deciding to escalate "
                               f"{req.site}: {type(e).__name__}: {e}") from e
        if nxt is None:
            return None
        pool = self.pools.pool(req.kind)
        if not isinstance(nxt, int) or not plan.index < nxt < len(pool):
            raise RuntimeFault(f"policy {self.policy.name!r} escalated {req.site} from index "
                               f"{plan.index} to {nxt!r}, not a larger member of its pool")
        served = self._healthy(pool, nxt)
        episode.served[req.site] = served
        return Plan(served, pool[served], nxt, pool[nxt].name if served != nxt else None)

    def _healthy(self, pool: list[Backend], index: int) -> int:
        if not self.breaker.is_open(pool[index].name):
            return index
        order = list(range(index + 1, len(pool))) + list(range(index - 1, -1, -1))
        for j in order:
            if not self.breaker.is_open(pool[j].name):
                return j
        return index  # every member is cooling down: try the choice anyway

    def observe(self, plan: Plan, ok: bool) -> None:
        self.breaker.record(plan.backend.name, ok)
