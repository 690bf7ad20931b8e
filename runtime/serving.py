"""Serving a program over a stream: choose, execute, answer, take the label, learn.

Inputs are served in windows of `settings.window`: the programs of a window run
together (`window.py`), their calls batched per backend; then, in input order, each
input's feedback teaches the policy and its row is written, the window's last row with
the policy checkpoint in the same transaction. So every decision in a window uses the
policy as it was before the window's feedback, and a run resumes at a window boundary.

Bad inputs never stop the stream: an unreadable image, a bad row, a failing or slow
backend, a program error or a fault of a policy is recorded in that input's row and the
stream goes on.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from fmprog.backends.base import Pools
from fmprog.compiler.ir import Graph

from .cache import MemoryCache
from .calllog import Trace
from .errors import ProgramError, RuntimeFault
from .evaluator import evaluator
from .executor import CachingExecutor, Executor
from .feedback import make_feedback
from .inputs import Item, read_image
from .learning import Learner
from .policies.base import Episode, Policy
from .policies.rewards import span
from .routed import RoutedInterpreter
from .router import Breaker, Router
from .settings import RunSettings
from .window import Submit, run_window

log = logging.getLogger(__name__)
MAX_ANSWER_BYTES = 1_000_000
MAX_ANSWER_DEPTH = 64
#: error kinds that teach the policy nothing: faults of fmprog or of a policy, bad rows,
#: unreadable images, and inputs whose distributed worker was lost (runtime/distributed)
UNTAUGHT = ("runtime-fault", "bad-input", "image-error", "worker-lost")


@dataclass
class _Input:
    """One input on its way through a window."""

    seq: int
    item: Item
    row: dict
    inputs: dict | None = None
    episode: Episode | None = None
    interp: RoutedInterpreter | None = None
    executor: Executor | None = None  # the oracle's own, holding its evaluations
    trace: Trace = field(default_factory=Trace)
    answer: Any = None
    failed: bool = False
    t0: float = 0.0


class Stream:
    """One deployed program: graph, backend pools, policy, executor and settings."""

    def __init__(self, graph: Graph, pools: Pools, policy: Policy, executor: Executor,
                 settings: RunSettings, features: Callable | None = None,
                 load_image: Callable[[Item], np.ndarray] | None = None):
        """`features(image)` gives the policies' context (default: `image_features`),
        `load_image(item)` the pixels (default: read the file; a benchmark that replays
        one stream many times passes memoised versions of both)."""
        from .policies.features import image_features

        self.graph, self.pools, self.policy, self.executor = graph, pools, policy, executor
        self.settings = s = settings
        self.features = features or image_features
        self.load_image = load_image or (lambda item: read_image(item.path, s.max_pixels))
        self.router = Router(pools, policy, Breaker(s.breaker_failures, s.breaker_cooldown))
        self.learner = Learner(policy, s.feedback_delay, s.feedback_rate, s.seed, s.budget,
                               s.budget_gain, s.cost_weight)
        policy.set_reward_span(span(s.reward))
        self.proto = RoutedInterpreter(graph, self.router, max_iterations=s.max_iterations,
                                       time_limit=s.time_limit)
        self.slots: list[RoutedInterpreter] = []  # one interpreter per input in flight
        self.evaluating: RoutedInterpreter | None = None  # the oracle's
        # what always-largest pays per call of a site: for cost_vs_largest
        self.largest = {n.meta["site"]: pools.pool(n.meta["kind"])[-1].cost
                        for n in graph.neural_sites() if pools.has(n.meta["kind"])}

    # -- the loop --------------------------------------------------------------------------
    def run(self, items: list[Item], start: int = 0,
            last_checkpoint: int = 0) -> Iterator[tuple[list[tuple[int, dict]], Any]]:
        """Yield, window by window from `start`, ([(seq, row), ...], policy state or None):
        a state comes once `checkpoint_every` inputs have passed since the last one, and
        with the stream's last window."""
        k = self.settings.window
        for first in range(start, len(items), k):
            window = self._prepare_window([(seq, items[seq]) for seq in range(first, min(first + k, len(items)))])
            self._execute(window)
            for w in window:
                self._learn(w)
            end = window[-1].seq + 1
            self._update(self.learner.due(end - 1), window)
            checkpoint = end - last_checkpoint >= self.settings.checkpoint_every or end == len(items)
            state = self.state_dict() if checkpoint else None
            if checkpoint:
                last_checkpoint = end
            yield [(w.seq, w.row) for w in window], state

    def _prepare_window(self, batch: list[tuple[int, Item]]) -> list[_Input]:
        """Prepare a window's inputs, in input order (a distributed stream overrides it)."""
        return [self._prepare(seq, item) for seq, item in batch]

    def _execute(self, window: list[_Input]) -> None:
        """Run the programs of a window's runnable inputs as fibers over the executor (a
        distributed stream spreads them over workers)."""
        runnable = [w for w in window if w.interp is not None]
        run_window(self.executor, [self._task(w) for w in runnable])

    # -- one input -------------------------------------------------------------------------
    def _slot(self, i: int) -> RoutedInterpreter:
        """The interpreter kept for slot i of a window (K consecutive inputs use slots
        seq % K, all different)."""
        while len(self.slots) <= i:
            self.slots.append(self.proto.spawn())
        return self.slots[i]

    def _prepare(self, seq: int, item: Item) -> _Input:
        w = self._input(seq, item)
        if item.problem:
            return w
        try:
            image = self.load_image(item)
        except Exception as e:  # corrupt, missing, unreadable or oversized image
            w.row.update(error_kind="image-error", error=image_error(item, e))
            return w
        w.inputs = program_inputs(item, image)
        p = self.policy
        self._begin(w, lambda: image if p.needs_image else self.features(image) if p.needs_features else None)
        return w

    def _input(self, seq: int, item: Item) -> _Input:
        """A new input's row; a bad input (a row with a problem) is recorded as such."""
        w = _Input(seq, item, {"item": item.key, "label": item.label, "cost": 0.0,
                               "largest_cost": 0.0}, t0=time.perf_counter())
        if item.problem:
            w.row.update(error_kind="bad-input", error=item.problem)
        return w

    def _begin(self, w: _Input, context: Callable[[], Any]) -> None:
        """Start the input's episode with the policy's context (`context()`: the image, its
        features or None; what it raises is a fault of the policy's begin)."""
        try:
            ctx = context()
            evaluate = None
            if self.policy.needs_evaluator:
                w.executor = CachingExecutor(self.executor, MemoryCache())
                self.evaluating = self.evaluating or self.proto.spawn()
                evaluate = evaluator(self.evaluating, self.policy, w.executor, w.inputs, w.item.label)
            w.episode = self.policy.begin(ctx, evaluate)
        except Exception as e:
            self._fault(w, "policy begin", e)
            return
        w.interp = self._slot(w.seq % self.settings.window)

    def _task(self, w: _Input) -> Callable[[Submit], None]:
        def task(submit: Submit) -> None:
            if w.executor is not None:
                submit = lambda job: w.executor.run([job])[0]  # noqa: E731
            w.trace = w.interp.start(w.episode, submit)
            try:
                w.answer = w.interp.run(dict(w.inputs))
                w.row["answer"] = bounded_answer(w.answer)
            except ProgramError as e:
                w.trace.error = e.to_json()
                w.row.update(error_kind=e.kind, error=str(e))
                w.failed = True
            except Exception as e:  # RuntimeFault, or a bug of fmprog
                self._fault(w, "serving", e)
        return task

    def _learn(self, w: _Input) -> None:
        row, trace = w.row, w.trace
        row["cost"] = trace.cost
        row["largest_cost"] = sum(self.largest.get(c.site, c.cost) for c in trace.calls)
        row["trace"] = trace.to_json()
        fault = row.get("error_kind") in UNTAUGHT
        if w.item.label is None:
            if w.interp is not None:
                row["error"] = "; ".join(filter(None, [row.get("error"), "no label: not learned from"]))
        elif w.interp is not None and not fault:
            fb = make_feedback(self.settings.reward, w.answer, w.item.label, w.failed, trace,
                               self.settings.cost_weight)
            row.update(correct=int(fb.correct), reward=fb.reward)
            row["trace"]["learned"] = self.learner.observe(w.seq, w.episode, fb)
        if w.interp is not None and not fault:
            self.learner.spend(trace.cost)
        row["seconds"] = time.perf_counter() - w.t0

    def _update(self, ready: list, window: list[_Input]) -> None:
        """Hand the feedback whose labels have arrived to the policy, in input order."""
        by_seq = {w.seq: w for w in window}
        for seq, episode, fb in ready:
            try:
                self.policy.update(episode, fb)
            except Exception as e:
                if seq in by_seq:
                    self._fault(by_seq[seq], "policy update", e)
                else:
                    log.error("policy update failed on input %d: %s", seq, e)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds: the policy and the feedback still on its way."""
        return {"policy": self.policy.state_dict(), "learner": self.learner.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.learner.load_state_dict(state["learner"])

    def _fault(self, w: _Input, stage: str, e: Exception) -> None:
        if not isinstance(e, RuntimeFault):
            log.error("fault in %s on %s:\n%s", stage, w.item.key, traceback.format_exc())
        w.row.update(error_kind="runtime-fault",
                     error=f"{stage} failed (a fault of fmprog or of the policy, not of the program): "
                           f"{type(e).__name__}: {e}")


def program_inputs(item: Item, image: np.ndarray) -> dict[str, Any]:
    """What a program is run on: its image, the item's query and answer options."""
    return {"image": image, "query": item.query, "possible_answers": item.possible_answers or []}


def image_error(item: Item, e: Exception) -> str:
    """The row's message for an image that cannot be read."""
    return f"cannot read {item.key}: {e}"


def bounded_answer(v: Any) -> Any:
    """The answer as JSON-able data, refusing (ProgramError `AnswerTooLarge`) one nested
    deeper than MAX_ANSWER_DEPTH or larger than MAX_ANSWER_BYTES once encoded."""
    data = _jsonable(v, 0)
    size = len(json.dumps(data))
    if size > MAX_ANSWER_BYTES:
        raise ProgramError("AnswerTooLarge", f"the answer is {size:,} bytes as JSON, over the "
                           f"limit of {MAX_ANSWER_BYTES:,}")
    return data


def _jsonable(v: Any, depth: int) -> Any:
    if depth > MAX_ANSWER_DEPTH:
        raise ProgramError("AnswerTooLarge", f"the answer is nested deeper than {MAX_ANSWER_DEPTH}")
    if v is None or isinstance(v, (bool, int, float, str)):
        if isinstance(v, str) and len(v) > MAX_ANSWER_BYTES:
            raise ProgramError("AnswerTooLarge", f"the answer is a string of {len(v):,} characters")
        if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 256:
            return str(v)
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x, depth + 1) for k, x in v.items()}
    if hasattr(v, "box"):
        return {"patch": list(v.box())}
    if isinstance(v, np.ndarray):
        return {"array": list(v.shape)}
    return repr(v)[:1000]
