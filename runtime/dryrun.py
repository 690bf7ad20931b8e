"""Dry-run checks: run the graph on fake outcomes and report every path that fails.

Each neural call is a choice point with a few outcomes (find: 0, 1 or 3 patches;
exists / verify_property: True or False; query: words and numbers; ...). The checker
explores the tree of outcome sequences depth-first, one run per leaf, within a budget,
and reports each distinct failure (an exception, or no answer) once, with its location
and an outcome sequence that leads there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fmprog.backends.base import Result
from fmprog.backends.geometry import Box
from fmprog.compiler.diagnostics import CodeRange, Diagnostic
from fmprog.compiler.ir import Graph, Node

from .errors import ProgramError
from .interpreter import Interpreter
from .neural import Request

IMAGE = np.full((120, 160, 3), 127, dtype=np.uint8)


def _boxes(crop, n: int) -> list[Box]:
    """`n` side-by-side boxes inside a crop (in its own DSL coordinates)."""
    h, w = crop.shape[:2]
    out = []
    for i in range(n):
        x0 = (i * w) // max(n, 1)
        out.append(Box(x0, h // 4, x0 + max(1, w // (n + 1)), 3 * h // 4))
    return out


def _one_hot(rows: int, cols: int, col: int) -> np.ndarray:
    scores = np.zeros((rows, cols))
    scores[:, col] = 1.0
    return scores


def outcomes(req: Request) -> list[tuple[str, Result]]:
    """(label, backend result) alternatives for one neural request."""
    m, call = req.method, req.call
    if m == "find":
        return [(f"{n} patches" if n != 1 else "1 patch", Result(_boxes(call.image, n))) for n in (0, 1, 3)]
    if m == "exists":
        return [("True", Result(_boxes(call.image, 1))), ("False", Result([]))]
    if m == "verify_property":
        return [("True", Result(True)), ("False", Result(False))]
    if m == "query":
        return [(repr(v), Result(v)) for v in ("yes", "no", "2", "red")]
    if m == "best_text_match":
        options = list(req.args["option_list"])
        n = len(call.args["texts"])
        return [(repr(o), Result(_one_hot(1, n, i))) for i, o in enumerate(options[:2])]
    if m == "compute_depth":
        return [("1.0", Result(1.0)), ("10.0", Result(10.0))]
    if m == "llm_query":
        return [("'yes'", Result("yes")), ("'2'", Result("2"))]
    if m == "best_image_match":
        return [("first patch", Result(_one_hot(len(call.images), len(call.args["texts"]), 0)))]
    raise ValueError(f"no dry-run outcomes for {m}")


class _Run(Interpreter):
    def __init__(self, graph: Graph, script: list[int], **kwargs):
        super().__init__(graph, **kwargs)
        self.script, self.trail = script, []

    def serve(self, node: Node, req: Request) -> Result:
        alts = outcomes(req)
        i = self.script[len(self.trail)] if len(self.trail) < len(self.script) else 0
        self.trail.append((node.meta["site"], alts[i][0], i, len(alts)))
        return alts[i][1]


@dataclass
class Finding:
    kind: str
    message: str
    range: CodeRange
    path: list[str] = field(default_factory=list)

    def to_diagnostic(self) -> Diagnostic:
        how = "; ".join(self.path) if self.path else "no model call"
        return Diagnostic.make("dry-run", self.range, kind=self.kind, detail=self.message, path=how)


@dataclass
class DryRunReport:
    findings: list[Finding]
    paths: int
    complete: bool  # False when the budget ran out before every path was tried


DRY_RUN_SECONDS = 10.0  # the default total budget of one program's dry run


def dry_run(graph: Graph, inputs: dict | None = None, max_paths: int = 256,
            seconds: float | None = DRY_RUN_SECONDS) -> "DryRunResult":
    """Explore outcome sequences depth-first; one finding per distinct failure.

    The whole exploration is bounded: at most `max_paths` runs and `seconds` of time in all
    (None: no time budget). Each run has the bounds a real run has (iterations, value sizes,
    memory) and the time left; when the budget ends a run, that is no finding: the report
    says the dry run stopped, and why."""
    import time  # here, not at the top: this module's head is shared with the neural-call rewrite

    from .errors import Timeout

    inputs = inputs or {"image": IMAGE, "query": "question?", "possible_answers": ["yes", "no"]}
    found: dict[tuple, Finding] = {}
    script: list[int] | None = []
    paths, stopped = 0, None
    entry = graph.outputs(None)["return"]
    start = time.monotonic()
    while script is not None:
        left = None if seconds is None else seconds - (time.monotonic() - start)
        if paths >= max_paths or (left is not None and left <= 0):
            stopped = "paths" if paths >= max_paths else "time"
            break
        run = _Run(graph, script, time_limit=left)
        paths += 1
        try:
            value = run.run(dict(inputs))
            if value is None:
                _add(found, Finding("NoAnswer", "the program returns None on this path", entry.range), run)
        except Timeout:
            stopped = "time"  # the budget ran out, not the program
            break
        except ProgramError as e:
            _add(found, Finding(e.kind, e.message, e.range or entry.range), run)
        script = _next(run.trail)
    findings = sorted(found.values(), key=lambda f: (f.range.line, f.range.col))
    return DryRunResult(findings, paths, stopped is None, stopped, round(time.monotonic() - start, 3))


@dataclass
class DryRunResult(DryRunReport):
    """A report that also says what stopped an incomplete dry run ("paths" or "time")."""

    stopped_by: str | None = None
    seconds: float = 0.0

    def incomplete_diagnostic(self, where: CodeRange, max_paths: int, budget: float | None) -> Diagnostic | None:
        """A warning for `fmprog check` when not every path was tried."""
        if self.complete:
            return None
        limit = f"{max_paths} paths (--max-paths)" if self.stopped_by == "paths" else f"{budget} s (--dry-run-seconds)"
        return Diagnostic.make("dry-run-incomplete", where, paths=self.paths, limit=limit)


def _add(found: dict, finding: Finding, run: _Run) -> None:
    key = (finding.kind, finding.range.line, finding.range.col)
    if key not in found:
        finding.path = [f"{site} -> {label}" for site, label, _, _ in run.trail]
        found[key] = finding


def _next(trail: list) -> list[int] | None:
    """The next outcome sequence in depth-first order, or None when all are done."""
    for j in range(len(trail) - 1, -1, -1):
        _, _, i, n = trail[j]
        if i + 1 < n:
            return [c for _, _, c, _ in trail[:j]] + [i + 1]
    return None
