"""The backend interface: what a model must offer to serve one kind of neural call.

A *kind* groups the DSL's neural methods by the model family that serves them (the
`@neural(kind)` marks of `grammars/viper.pyi`). Backends of one kind form a *pool* ordered
by cost; a routing policy picks an index into the pool for every call site.

A model is asked through a closed set of *operations* (`OPS`), each a `Call`: the op, its
images and its canonical arguments. The runtime turns each DSL method into one call
(`runtime/neural.py`: `find` and `exists` are both `detect`, `best_text_match` is
`match_scores` over one image, ...), so caching, batching and remote execution work on
calls, never on Python method invocations.

The entry point is batch-first: `Backend.serve(calls) -> [Result | BackendError, ...]`.
The default groups the calls by op and hands each group to `serve_batch`, which loops over
the per-item methods (`detect`, `verify_property`, `query`, `match_scores`, `depth`,
`complete`). A backend whose model batches overrides `serve_batch` for the ops it can
batch; a simple backend implements only the per-item methods of its kind. A per-item
method returns its value, or a `Result` when the model also has a confidence (a
detector's box scores, a classifier's or VQA model's probability, an LLM's token
log-probability); `serve` always returns `Result`s.

Images are numpy arrays of shape (H, W, 3), dtype uint8, RGB, row 0 at the top; boxes
are in the DSL convention (see `geometry.py`).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from fmprog.grammars.dsl import NEURAL_KINDS

from .geometry import Box

KINDS = NEURAL_KINDS

__all__ = ["KINDS", "OPS", "Backend", "BackendError", "BackendTimeout", "Box", "Call", "Op",
           "Pools", "Result"]


class BackendError(RuntimeError):
    """A backend failed on one call: recorded in the call log, the stream goes on."""

    kind = "backend-error"
    health = True  # a failure of the backend itself (the circuit breaker counts it)


class BackendTimeout(BackendError):
    """A backend did not answer within its timeout (or the run's outer bound)."""

    kind = "backend-timeout"


@dataclass(frozen=True)
class Op:
    """One operation of the interface: the kind that serves it, its argument names, the
    per-item method implementing it and what it returns."""

    name: str
    kind: str
    args: tuple[str, ...]
    method: str
    returns: str


#: The closed vocabulary of backend operations.
OPS: dict[str, Op] = {op.name: op for op in (
    Op("detect", "detection", ("object_name",), "detect", "list[Box], best first"),
    Op("verify_property", "vqa", ("object_name", "property"), "verify_property", "bool"),
    Op("query", "vqa", ("question",), "query", "str"),
    Op("match_scores", "image_text_matching", ("texts",), "match_scores",
       "float array (len(images), len(texts)), higher is a better match"),
    Op("depth", "depth", (), "depth", "float, the median depth (larger is farther)"),
    Op("complete", "llm", ("prompt", "long_answer"), "complete", "str"),
)}


@dataclass(frozen=True, eq=False)
class Call:
    """One request to a model: an op, its images (one for most ops, several for
    `match_scores`, none for `complete`) and its arguments by name (see `OPS`)."""

    op: str
    images: tuple[np.ndarray, ...] = ()
    args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown backend op {self.op!r}; known: {sorted(OPS)}")

    @property
    def image(self) -> np.ndarray:
        return self.images[0]

    def arg_key(self) -> str:
        """The arguments as canonical JSON (for cache keys)."""
        return json.dumps(_canonical(dict(self.args)), sort_keys=True, separators=(",", ":"))


def _canonical(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _canonical(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_canonical(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


@dataclass(frozen=True)
class Result:
    """A model's answer to one call, and its confidence in [0, 1] where it has one."""

    value: Any
    confidence: float | None = None


def detection_confidence(boxes: Sequence[Box]) -> float | None:
    """The default confidence of a list of detections: its weakest kept box's score."""
    return min((float(b.score) for b in boxes), default=None)


class Backend(ABC):
    """One model serving one kind of neural call.

    `cost` is the number the router pays per call (default: parameters in millions, as the
    paper); `name` is unique inside a pool. Backends that wait on a server apply their own
    per-request timeout and retries inside `serve` (the OpenAI adapter's `timeout` and
    `retries` options); the runtime reads neither: the run's `--backend-timeout` bounds
    every batch it hands a backend, whatever the backend does inside. Subclasses implement
    the per-item methods of their kind, and optionally `serve_batch`, `describe`,
    `health`, `identity` and `close`.
    """

    kind: str = ""

    def __init__(self, name: str, cost: float):
        self.name = name
        self.cost = float(cost)

    # -- the batch-first entry point ------------------------------------------------------
    def serve(self, calls: Sequence[Call]) -> list[Result | BackendError]:
        """Answer every call, in order; a call that fails gives a BackendError in its slot
        (the others still get answers)."""
        out: list[Result | BackendError | None] = [None] * len(calls)
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(calls):
            groups.setdefault(c.op, []).append(i)
        for op, idx in groups.items():
            if not self.supports(op):
                err = BackendError(f"{self.name} ({self.kind}) does not serve the {op} operation")
                for i in idx:
                    out[i] = err
                continue
            try:
                answers = self.serve_batch(op, [calls[i] for i in idx])
            except Exception as e:  # the whole batch failed: every call of it did
                answers = [self._error(e)] * len(idx)
            for i, a in zip(idx, answers):
                out[i] = a
        return out  # type: ignore[return-value]

    def serve_batch(self, op: str, calls: Sequence[Call]) -> list[Result | BackendError]:
        """Answer calls of one op. Default: one per-item method call each."""
        out: list[Result | BackendError] = []
        for c in calls:
            try:
                out.append(self.serve_one(c))
            except Exception as e:
                out.append(self._error(e))
        return out

    def serve_one(self, call: Call) -> Result:
        """One call through the per-item method of its op."""
        a = call.args
        if call.op == "detect":
            return _result(self.detect(call.image, a["object_name"]), detect=True)
        if call.op == "verify_property":
            return _result(self.verify_property(call.image, a["object_name"], a["property"]))
        if call.op == "query":
            return _result(self.query(call.image, a["question"]))
        if call.op == "match_scores":
            return _result(self.match_scores(list(call.images), list(a["texts"])))
        if call.op == "depth":
            return _result(self.depth(call.image))
        return _result(self.complete(a["prompt"], bool(a.get("long_answer", True))))

    def _error(self, e: Exception) -> BackendError:
        if isinstance(e, BackendError):
            if not str(e).startswith(self.name):  # every message names its backend
                named = type(e)(f"{self.name}: {e}")
                named.__cause__ = e.__cause__
                return named
            return e
        if isinstance(e, NotImplementedError):
            return BackendError(str(e) or f"{self.name} does not serve this operation")
        # an adapter's own bug or a library error: the backend's fault, named as such
        err = BackendError(f"{self.name}: {type(e).__name__}: {e}")
        err.__cause__ = e
        return err

    def supports(self, op: str) -> bool:
        """Whether this backend can serve `op` (preflight asks before the first input):
        the op is of its kind and its per-item method or `serve_batch` is implemented."""
        spec = OPS.get(op)
        if spec is None or spec.kind != self.kind:
            return False
        mine = getattr(type(self), spec.method, None)
        return mine is not getattr(Backend, spec.method) or op in self.batch_ops

    #: ops that `serve_batch` implements without a per-item method
    batch_ops: frozenset[str] = frozenset()

    # -- per-item methods (implement those of your kind) ----------------------------------
    def detect(self, image: np.ndarray, object_name: str) -> list[Box] | Result:
        raise NotImplementedError(f"{self.name} does not serve detection")

    def verify_property(self, image: np.ndarray, object_name: str, prop: str) -> bool | Result:
        raise NotImplementedError(f"{self.name} does not serve verify_property")

    def query(self, image: np.ndarray, question: str) -> str | Result:
        raise NotImplementedError(f"{self.name} does not serve query")

    def match_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray | Result:
        """Scores of shape (len(images), len(texts)); higher means a better match."""
        raise NotImplementedError(f"{self.name} does not serve image-text matching")

    def depth(self, image: np.ndarray) -> float | Result:
        """Median depth of the image (larger is farther)."""
        raise NotImplementedError(f"{self.name} does not serve depth")

    def complete(self, prompt: str, long_answer: bool = True) -> str | Result:
        """The LLM's answer; with `long_answer=False`, its first non-empty line only."""
        raise NotImplementedError(f"{self.name} does not serve llm_query")

    # -- what the tools show and check ----------------------------------------------------
    def identity(self) -> str:
        """The backend's name and configuration, for cache keys: two backends with the same
        identity must give the same answers. Set `fingerprint` to add the configuration."""
        extra = getattr(self, "fingerprint", "")
        return f"{type(self).__name__}:{self.name}:{extra}"

    def describe(self) -> dict[str, Any]:
        """What `fmprog backends` shows: where the model really runs, and whether it is
        loaded. Adapters override it."""
        return {"device": "cpu", "provider": None, "loaded": True}

    def health(self) -> None:
        """Raise BackendError if the backend cannot serve now (preflight; HTTP adapters ask
        their server). Default: nothing to check."""

    def close(self) -> None:
        """Release connections and sessions (the end of a run). Default: nothing held."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r}, cost={self.cost})"


def _result(value: Any, detect: bool = False) -> Result:
    if isinstance(value, Result):
        return value
    if detect:
        boxes = list(value)
        return Result(boxes, detection_confidence(boxes))
    return Result(value)


def fingerprint(data: Any) -> str:
    """A short stable hash of JSON-able configuration data."""
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Pools:
    """Backends by kind, each pool sorted by ascending cost."""

    def __init__(self, backends: Sequence[Backend]):
        self.by_kind: dict[str, list[Backend]] = {}
        for b in backends:
            if b.kind not in KINDS:
                raise ValueError(f"backend {b.name!r} has unknown kind {b.kind!r}")
            self.by_kind.setdefault(b.kind, []).append(b)
        for pool in self.by_kind.values():
            pool.sort(key=lambda b: b.cost)
            names = [b.name for b in pool]
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate backend names in pool: {names}")

    def pool(self, kind: str) -> list[Backend]:
        try:
            return self.by_kind[kind]
        except KeyError:
            raise BackendError(f"no backend configured for kind {kind!r}") from None

    def has(self, kind: str) -> bool:
        return bool(self.by_kind.get(kind))

    def costs(self, kind: str) -> list[float]:
        return [b.cost for b in self.pool(kind)]

    def largest(self, kind: str) -> int:
        return len(self.pool(kind)) - 1

    def all(self) -> list[Backend]:
        return [b for kind in KINDS for b in self.by_kind.get(kind, ())]

    def close(self) -> None:
        for b in self.all():
            b.close()

    def identity(self) -> str:
        """One hash of every pool's members, in order, with their costs (a run's backends)."""
        return fingerprint([[b.kind, b.identity(), b.cost] for b in self.all()])
