"""The one interpreter over the graph IR (the program text is never executed).

`Interpreter.run(inputs)` evaluates, region by region and in program order, the nodes
whose guard holds, with one method per op kind (`op_input`, `op_pure`, ...). Analyses and
runtimes specialise it: the dry-run checker and the routed runtime override `serve()`,
which serves a NEURAL node's request (`runtime/neural.py`). Errors surface as
`ProgramError`s located at the node's source range ("while executing ...", as torch.fx
does); a `RuntimeFault` (a policy's or fmprog's own bug) passes through unlocated.
"""

from __future__ import annotations

import itertools
from typing import Any

from numpy import ndarray

from fmprog.backends.base import Backend, BackendError, Result
from fmprog.compiler.ir import Graph, Node, Op

from . import neural as N
from . import ops
from .errors import ProgramError, RuntimeFault
from .limits import LIMITS, Limits, Meter
from .values import ImagePatch, LoopResult, Unbound

ABSENT = object()  # a MERGE none of whose candidates ran (its paths left the region)
COLLECTIONS = {"listcomp": list, "setcomp": set, "dictcomp": dict}
# Regions Python runs as nested functions: a name of the enclosing function read there is a
# free variable (NameError when unbound, not UnboundLocalError).
FUNCTION_SCOPES = ("listcomp", "setcomp", "dictcomp", "genexp", "lambda")


class Interpreter:
    """Runs a graph. Subclasses decide who serves neural calls (`neural`).

    Every run is bounded: `max_iterations` counts loop bodies, comprehension items and calls
    of lambdas and function values (from map, sorted, ... too); `time_limit` (seconds, None
    for none) covers all the work; `limits` bounds every value's size and the memory the run's
    values take together (runtime.limits). Each bound raises a located ProgramError
    (IterationLimit, Timeout, ResourceLimit) that names it."""

    def __init__(self, graph: Graph, max_iterations: int = 10_000, time_limit: float | None = 30.0,
                 limits: Limits = LIMITS):
        self.graph = graph
        self.max_iterations = max_iterations
        self.time_limit = time_limit
        self.limits = limits
        self.meter = Meter(limits, max_iterations, time_limit)
        self.members: dict[int | None, list[Node]] = {}
        self.outputs: dict[int | None, dict[str, Node]] = {}
        self.inputs_of: dict[int, dict[str, Node]] = {}
        for n in graph.nodes:
            self.members.setdefault(n.region, []).append(n)
            if n.op is Op.OUTPUT:
                self.outputs.setdefault(n.region, {})[n.target] = n
            elif n.op is Op.INPUT and n.region is not None:
                self.inputs_of.setdefault(n.region, {})[n.target] = n
        self.region_ids = {r: [n.id for n in self._all_members(r)] for r in self.members if r is not None}
        nested = [r for r in self.region_ids if graph.nodes[r].target in FUNCTION_SCOPES]
        self.in_function_scope = {i for r in nested for i in self.region_ids[r]}
        self._bind()

    def _bind(self) -> None:
        """The per-instance tables: op methods and PURE implementations charge *this*
        interpreter's meter, so each instance must have its own."""
        # any_path reads guards, not values: op_pure evaluates it itself
        self.impl = {n.id: ops.resolve(n, self) for n in self.graph.nodes
                     if n.op is Op.PURE and n.target != "any_path"}
        self.dispatch = {op: getattr(self, "op_" + op.value) for op in Op}

    def _all_members(self, region: int) -> list[Node]:
        out = []
        for n in self.members.get(region, ()):
            out.append(n)
            if n.op in (Op.LOOP, Op.LAMBDA):
                out += self._all_members(n.id)
        return out

    # -- running -----------------------------------------------------------------------
    def run(self, inputs: dict[str, Any]) -> Any:
        """The program's answer for one input; raises ProgramError if it fails."""
        self.inputs = inputs
        self.meter = Meter(self.limits, self.max_iterations, self.time_limit)
        env: dict[int, Any] = {}
        self.run_region(None, env)
        out = self.outputs[None]["return"].id
        return self.check_bound(env[out], self.outputs[None]["return"])

    fired: list[int] | None = None  # set to a list to record each node evaluation

    def run_region(self, region: int | None, env: dict) -> None:
        dispatch, fired = self.dispatch, self.fired
        for node in self.members.get(region, ()):
            if node.op is Op.INPUT and node.region is not None:
                continue  # set by the region's runner
            for b, polarity in node.guard:
                if env.get(b, ABSENT) is not polarity:
                    break
            else:
                value = dispatch[node.op](node, env)
                if value is not ABSENT:
                    env[node.id] = value
                    if fired is not None:
                        fired.append(node.id)

    def holds(self, guard, env: dict) -> bool:
        return all(env.get(b, ABSENT) is p for b, p in guard)

    def args(self, node: Node, env: dict) -> tuple[list, dict]:
        args = [self.check_bound(env[a], node) for a in node.args]
        kwargs = {k: self.check_bound(env[a], node) for k, a in node.kwargs}
        return args, kwargs

    @property
    def iterations(self) -> int:
        return self.meter.iterations

    def check_bound(self, value, node: Node):
        if type(value) is Unbound:
            if node.id in self.in_function_scope:  # as Python 3.11 words it for a free variable
                raise ProgramError("NameError", f"cannot access free variable '{value.name}' where it is not "
                                                "associated with a value in enclosing scope", node.range)
            raise ProgramError("UnboundLocalError",
                               f"cannot access local variable '{value.name}' where it is not associated with a value",
                               node.range)
        return value

    def fail(self, node: Node, e: Exception) -> Exception:
        if isinstance(e, (ProgramError, RuntimeFault)):
            return e
        return ProgramError(type(e).__name__, str(e) or type(e).__name__, node.range)

    def tick(self, node: Node) -> None:
        self.meter.tick(node.range)

    # -- one method per op kind -----------------------------------------------------------
    def op_input(self, node: Node, env: dict):
        if node.target not in self.inputs:
            raise ProgramError("InputError", f"missing program input '{node.target}'", node.range)
        return self.inputs[node.target]

    def op_const(self, node: Node, env: dict):
        return Unbound(node.meta["name"]) if node.target == "unbound" else node.meta["value"]

    def op_pure(self, node: Node, env: dict):
        if node.target == "any_path":
            return any(self.holds(p, env) for p in node.meta["paths"])
        args, kwargs = self.args(node, env)
        try:
            value = self.impl[node.id](*args, **kwargs)
            if type(value) is ndarray:  # an image array made by arithmetic on arrays: counted too
                self.meter.array(value)
            return value
        except ProgramError as e:
            if e.range is None:  # a bound crossed inside the op: it is this node's
                e.range = node.range
            raise
        except RecursionError as e:  # printing or comparing a value nested beyond Python's limit
            raise self.fail(node, e) from None
        except Exception as e:  # the program's own error, e.g. IndexError
            raise self.fail(node, e) from e

    def op_neural(self, node: Node, env: dict):
        args, kwargs = self.args(node, env)
        receiver = args.pop(0) if node.meta.get("receiver") else None
        if node.meta.get("receiver") and not isinstance(receiver, ImagePatch):
            # `x.find(...)` where x is not a patch: a str method, or None (AttributeError)
            try:
                return ops.call_method(receiver, node.meta["method"], *args, **kwargs)
            except Exception as e:
                raise self.fail(node, e) from e
        try:
            req = N.request(node.meta["site"], node.meta["kind"], node.target, receiver, args, kwargs)
        except Exception as e:  # the program's own bad arguments
            raise self.fail(node, e) from e
        if isinstance(req, N.Immediate):
            return req.value
        try:
            result = self.serve(node, req)
        except BackendError as e:
            raise ProgramError(e.kind, str(e), node.range, node.meta["site"]) from e
        try:
            return N.finish(req, receiver, result)
        except Exception as e:  # the backend's answer does not fit the method
            raise ProgramError("backend-error", f"malformed answer to {node.target}(): "
                               f"{type(e).__name__}: {e}", node.range, node.meta["site"]) from e

    def serve(self, node: Node, req: N.Request) -> Result:
        """Serve one neural request (the hook runtimes and analyses specialise)."""
        raise NotImplementedError("this interpreter has no backends")

    def op_branch(self, node: Node, env: dict):
        value = self.check_bound(env[node.args[0]], node)
        try:
            return bool(value)
        except Exception as e:
            raise self.fail(node, e) from e

    def op_merge(self, node: Node, env: dict):
        for a, when in zip(node.args, node.meta["when"]):
            if self.holds(when, env) and a in env:
                return env[a]
        return ABSENT

    def op_output(self, node: Node, env: dict):
        return env.get(node.args[0], ABSENT)

    def op_lambda(self, node: Node, env: dict):
        params = [self.inputs_of[node.id]["param:" + p].id for p in node.meta["params"]]
        result = self.outputs[node.id]["result"].id
        body = self.region_ids[node.id]

        def closure(*args):
            self.tick(node)  # a call is an iteration, whoever makes it (map, sorted, key=...)
            if len(args) != len(params):
                raise TypeError(f"<lambda>() takes {len(params)} arguments, got {len(args)}")
            for i in body:
                env.pop(i, None)
            env.update(zip(params, args))
            self.run_region(node.id, env)
            return env[result]

        return closure

    def op_loop(self, node: Node, env: dict):
        if node.target in ("for", "while"):
            return self.statement_loop(node, env)
        return self.comprehension(node, env)

    # -- loops -----------------------------------------------------------------------------
    def iteration(self, node: Node, env: dict, item, carry: dict | None = None) -> dict:
        """Run the body once on `item` (and carried values); the outputs that ran."""
        self.tick(node)
        for i in self.region_ids[node.id]:
            env.pop(i, None)
        inputs = self.inputs_of.get(node.id, {})
        if "item" in inputs:
            env[inputs["item"].id] = item
        for name, value in (carry or {}).items():
            env[inputs["carry:" + name].id] = value
        self.run_region(node.id, env)
        return {k: env[o.id] for k, o in self.outputs.get(node.id, {}).items() if o.id in env}

    def statement_loop(self, node: Node, env: dict) -> LoopResult:
        carried = node.meta["carried"]
        offset = 1 if node.target == "for" else 0
        result = LoopResult(carry={n: env[a] for n, a in zip(carried, node.args[offset:])})
        try:
            items = iter(self.check_bound(env[node.args[0]], node)) if offset else itertools.repeat(None)
        except TypeError as e:
            raise self.fail(node, e) from e
        for item in self._items(node, items):
            out = self.iteration(node, env, item, result.carry)
            for name in carried:
                if "carry:" + name in out:
                    result.carry[name] = out["carry:" + name]
            if out.get("returned"):
                result.returned, result.retval = True, out.get("retval")
                break
            if out.get("broke"):
                result.broke = True
                break
            if out.get("stop"):
                break
        return result

    def _items(self, node: Node, items):
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except ProgramError:
                raise
            except Exception as e:
                raise self.fail(node, e) from e
            yield item

    def comprehension(self, node: Node, env: dict):
        source = self.check_bound(env[node.args[0]], node)
        try:
            items = iter(source)
        except TypeError as e:
            raise self.fail(node, e) from e
        if node.target == "genexp":
            return self._generate(node, env, items)
        kind = COLLECTIONS[node.target]
        acc = kind()
        for item in self._items(node, items):
            out = self.iteration(node, env, item)
            if "extend" in out:
                acc.update(out["extend"]) if kind is not list else acc.extend(out["extend"])
            elif kind is dict and "key" in out:
                acc[out["key"]] = out["value"]
            elif "elt" in out:
                acc.append(out["elt"]) if kind is list else acc.add(out["elt"])
        return acc

    def _generate(self, node: Node, env: dict, items):
        for item in self._items(node, items):
            out = self.iteration(node, env, item)
            if "extend" in out:
                yield from out["extend"]
            elif "elt" in out:
                yield out["elt"]


class FixedInterpreter(Interpreter):
    """Serves each neural kind with one fixed backend (tests, differential checks)."""

    def __init__(self, graph: Graph, backends: dict[str, Backend], **kwargs):
        super().__init__(graph, **kwargs)
        self.backends = backends

    def serve(self, node: Node, req: N.Request) -> Result:
        (out,) = self.backends[req.kind].serve([req.call])
        if isinstance(out, BaseException):
            raise out
        return out
