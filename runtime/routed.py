"""The routed runtime: at each neural node that fires, the router plans the request, an
executor serves it, and the call goes into the input's call log (with the nodes that
ran, the trace of the input)."""

from __future__ import annotations

import copy
import time

from fmprog.backends.base import Pools, Result
from fmprog.compiler.ir import Graph, Node

from .cache import call_key
from .calllog import CallRecord, Trace
from .executor import Job
from .interpreter import Interpreter
from .neural import Request
from .policies.base import Episode, Site
from .router import Router
from .window import Submit


def sites_of(graph: Graph, pools: Pools) -> list[Site]:
    """The program's call sites with the costs of their pools (a kind without a pool gets
    none: preflight reports it before the first input)."""
    return [Site(n.meta["site"], n.meta["kind"],
                 tuple(pools.costs(n.meta["kind"])) if pools.has(n.meta["kind"]) else ())
            for n in graph.neural_sites()]


class RoutedInterpreter(Interpreter):
    """Serves neural requests through a router and a `submit` function (the executor
    directly, or a fiber of a batching window); one instance runs one input at a time,
    `spawn()` gives independent instances for a window."""

    def __init__(self, graph: Graph, router: Router, **kw):
        super().__init__(graph, **kw)
        self.router = router

    def spawn(self) -> "RoutedInterpreter":
        """Another interpreter of the same program (sharing its static tables, with its own
        meter and op bindings). Spawning costs about a compile's binding step: callers keep
        the instances they spawn and reuse them, one per input in flight."""
        other = copy.copy(self)
        other._bind()
        return other

    def start(self, episode: Episode, submit: Submit) -> Trace:
        self.episode, self.submit, self.trace = episode, submit, Trace()
        self.fired = self.trace.fired
        return self.trace

    def serve(self, node: Node, req: Request) -> Result:
        """Serve through the plan; in a cascade, while the policy escalates a cheaper
        tier's answer, ask the next tier too (every tier run is logged and paid for; the
        last one answers)."""
        plan = self.router.plan(self.episode, req)
        while True:
            result = self._call(req, plan)
            plan = self.router.escalate(self.episode, req, plan, result)
            if plan is None:
                return result

    def _call(self, req: Request, plan) -> Result:
        t0 = time.monotonic()
        served = self.submit(_job(plan.backend, req))
        meter = self.meter
        if meter.deadline is not None:  # time waiting for a model is not the program's
            meter.deadline += time.monotonic() - t0
        err = served.error
        self.router.observe(plan, err is None or not err.health)
        self.trace.calls.append(CallRecord(
            req.site, req.method, req.call.op, plan.backend.name, plan.index, served.cost,
            served.seconds, served.result.confidence if served.result else None, served.cached,
            str(err) if err else None, getattr(err, "kind", None) if err else None,
            plan.fallback_from))
        if err is not None:
            raise err
        return served.result


def _job(backend, req: Request) -> Job:
    return Job(backend, req.call, call_key(backend, req))
