"""One call log per input: every backend call a program made, the one source of its cost.

The reward's cost, the summary's cost, the trace's per-site figures and the SQLite rows
are all derived from the log, so a site that fires five times in a loop pays five times,
everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CallRecord:
    """One backend call: where (site), what (method, op), on which backend (name and pool
    index), at what cost and speed, with what confidence; whether it came from the cache,
    whether it failed (error kind and message), and the backend it fell back from."""

    site: str
    method: str
    op: str
    backend: str
    index: int
    cost: float
    seconds: float = 0.0
    confidence: float | None = None
    cached: bool = False
    error: str | None = None
    error_kind: str | None = None
    fallback_from: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}


@dataclass
class SiteSummary:
    """A site's calls on one input, summed: its backend (the last that served it)."""

    backend: str
    index: int
    calls: int = 0
    seconds: float = 0.0
    cost: float = 0.0


@dataclass
class Trace:
    """What happened on one input: the call log, the nodes that ran, the answer or error."""

    calls: list[CallRecord] = field(default_factory=list)
    fired: list[int] = field(default_factory=list)  # ids of the nodes that ran
    answer: Any = None
    error: dict | None = None

    @property
    def cost(self) -> float:
        return sum(c.cost for c in self.calls)

    def sites(self) -> dict[str, SiteSummary]:
        out: dict[str, SiteSummary] = {}
        for c in self.calls:
            s = out.setdefault(c.site, SiteSummary(c.backend, c.index))
            s.backend, s.index = c.backend, c.index
            s.calls += 1
            s.seconds += c.seconds
            s.cost += c.cost
        return out

    def site_cost(self) -> dict[str, float]:
        return {k: s.cost for k, s in self.sites().items()}

    def site_calls(self) -> dict[str, int]:
        return {k: s.calls for k, s in self.sites().items()}

    def to_json(self) -> dict:
        return {"sites": {k: asdict(v) for k, v in self.sites().items()},
                "calls": [c.to_json() for c in self.calls], "fired": self.fired, "error": self.error}
