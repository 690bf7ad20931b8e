"""Errors of a program at run time, located in its source."""

from __future__ import annotations

from fmprog.compiler.diagnostics import CodeRange


class ProgramError(Exception):
    """The program failed on one input: `kind` is the Python exception name (IndexError,
    TypeError, ...) or Timeout / IterationLimit / ResourceLimit / BackendError; `range` is where."""

    def __init__(self, kind: str, message: str, where: CodeRange | None = None, site: str | None = None):
        super().__init__(message)
        self.kind, self.message, self.range, self.site = kind, message, where, site

    def __str__(self) -> str:
        at = f" at {self.range.line}:{self.range.col}" if self.range else ""
        return f"{self.kind}: {self.message}{at}"

    def to_json(self) -> dict:
        r = self.range
        return {"kind": self.kind, "message": self.message, "line": r.line if r else None,
                "col": r.col if r else None, "site": self.site}


class Timeout(ProgramError):
    pass


class ResourceLimit(ProgramError):
    """A value would pass a size limit, or the run's values its memory budget (runtime.limits)."""


class RuntimeFault(Exception):
    """A fault of fmprog itself or of a routing policy, not of the user's program: it is
    recorded as the input's error (kind `runtime-fault`), never located at a program line."""

    kind = "runtime-fault"
