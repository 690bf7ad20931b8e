"""Diagnostics as data: a code, a severity, a message and a source range.

Every kind of diagnostic has one entry in `CODES` (its severity and its message
template); the checker reports by code, never by building free-form strings, so tools can
rely on codes. `format()` gives `file:line:col: severity code: message`, `to_json()` the
form of `fmprog check --format json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class CodeRange(NamedTuple):
    """A source range: lines 1-based, columns 0-based (as LibCST); end is exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"


NOWHERE = CodeRange(1, 0, 1, 0)

ERROR, WARNING = "error", "warning"

# code -> (severity, message template). Templates are filled with str.format(**args).
CODES: dict[str, tuple[str, str]] = {
    # input
    "syntax": (ERROR, "syntax error: {detail}"),
    "too-complex": (ERROR, "the program is too complex to check: {detail}"),
    "bad-literal": (ERROR, "invalid literal: {detail}"),
    "no-entry-point": (ERROR, "no `def execute_command(image)` function found"),
    "entry-signature": (ERROR, "unsupported parameters for {name}(): {detail}"),
    "top-level-statement": (ERROR, "only `import math` and the entry function may appear at top level"),
    # the Python subset
    "unsupported-construct": (ERROR, "{what} is not supported in fmprog programs"),
    "forbidden-import": (ERROR, "import of '{module}' is not allowed (only `import math`)"),
    "import-form": (ERROR, "write `import math` and use math.<name>: `{form}` is not supported"),
    "forbidden-call": (ERROR, "call of '{name}' is not allowed: programs may not run or inspect code"),
    "dunder-attribute": (ERROR, "access to '{name}' is not allowed: no dunder attributes"),
    "format-lookup": (ERROR, "format field '{{{field}}}' looks up an attribute or index: only plain "
                             "fields ({{}}, {{0}}, {{name}}) are allowed"),
    "video-unsupported": (ERROR, "VideoSegment (video input) is not supported yet"),
    "try-unsupported": (ERROR, "try/except is not supported: a failing model call must surface, not be swallowed"),
    "assign-target": (ERROR, "cannot assign to {what}"),
    # names
    "undefined-name": (ERROR, "undefined name '{name}'{hint}"),
    "comprehension-name": (ERROR, "'{name}' is only bound inside a comprehension or lambda{hint}"),
    "maybe-undefined": (WARNING, "'{name}' may be undefined here: it is not bound on every path"),
    # types
    "unknown-attribute": (ERROR, "{type} has no attribute '{name}'{hint}"),
    "unknown-method": (ERROR, "{type} has no method '{name}'{hint}"),
    "unknown-function": (ERROR, "'{module}' has no function '{name}'{hint}"),
    "arity": (ERROR, "{detail}"),
    "type-error": (ERROR, "{detail}"),
    "not-callable": (ERROR, "{type} is not callable"),
    # warnings
    "unreachable": (WARNING, "unreachable code"),
    "unchecked-index": (WARNING, "'{name}' comes from find() and may be empty: check its length before indexing"),
    "missing-return": (WARNING, "some paths end without a return: the program answers None there"),
    "suspicious-argument": (WARNING, "{name}() expects {expected} for '{param}', got {got}: it runs, but likely not as meant"),
    "unused-result": (WARNING, "the result of {name}() is discarded"),
    # dry-run findings (fmprog check --dry-run)
    "dry-run": (ERROR, "{kind} on some model outcomes: {detail} (when {path})"),
    "dry-run-incomplete": (WARNING, "the dry run stopped after {paths} paths, at its budget of {limit}: "
                                    "outcomes beyond them were not tried"),
    # the compiler itself
    "internal": (ERROR, "internal compiler error: {detail}"),
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    range: CodeRange
    severity: str

    @classmethod
    def make(cls, code: str, where: CodeRange, **args: object) -> "Diagnostic":
        severity, template = CODES[code]
        return cls(code, template.format(**args), where, severity)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self, filename: str) -> str:
        r = self.range
        return f"{filename}:{r.line}:{r.col}: {self.severity} {self.code}: {self.message}"

    def to_json(self) -> dict:
        r = self.range
        return {
            "line": r.line,
            "col": r.col,
            "end_line": r.end_line,
            "end_col": r.end_col,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


def hint(name: str, candidates) -> str:
    """A "did you mean" suffix for `name` among `candidates`, or ""."""
    import difflib

    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    if not found:
        low = name.lower()
        found = [c for c in candidates if low in c.lower() or c.lower() in low][:1]
    return f"; did you mean '{found[0]}'?" if found else ""
