"""A test harness: run a program as plain Python on the same backends.

This is the yardstick for the graph interpreter's semantics (differential testing): the
same program, the same deterministic backends, the same values or the same kind of error
at the same line. It *does* execute the program text, so it is for trusted corpora in
tests only; fmprog itself never calls it.
"""

from __future__ import annotations

import builtins as py
from typing import Any

from fmprog.backends.base import Backend
from fmprog.runtime import builtins as B
from fmprog.runtime import neural as N
from fmprog.runtime.values import patch_class

FILENAME = "<fmprog-reference>"


class _Context:
    """What ImagePatch's neural methods call: one fixed backend per kind."""

    def __init__(self, backends: dict[str, Backend]):
        self.backends = backends

    def call(self, method: str, patch, args, kwargs):
        from fmprog.grammars import dsl

        d = dsl.load()
        sig = d.patch.methods.get(method) or d.functions[method]
        return N.serve_directly(self.backends[sig.neural], sig.canonical, patch, args, kwargs)


def run_python(source: str, image: Any, backends: dict[str, Backend], query: str = "",
               possible_answers: list | None = None) -> tuple[str, Any]:
    """("ok", value) or ("error", (exception name, line)) of the program run as Python.

    `backends` maps a kind (detection, vqa, ...) to the backend serving it.
    """
    ctx = _Context(backends)
    env = {
        "__builtins__": {**{n: getattr(py, n) for n in dir(py) if not n.startswith("_")},
                         "range": B.safe_range, "print": B.safe_print, "__import__": py.__import__},
        "ImagePatch": patch_class(ctx),  # a class: isinstance(x, ImagePatch) works as in the graph
        "llm_query": lambda *a, **k: ctx.call("llm_query", None, a, k),
        "best_image_match": lambda *a, **k: ctx.call("best_image_match", None, a, k),
        **B.DSL_FUNCTIONS,
    }
    code = compile(source, FILENAME, "exec")
    exec(code, env)  # noqa: S102 - trusted test corpora only, see the module docstring
    entry = next(v for k, v in env.items() if k.startswith("execute_command") and callable(v))
    params = entry.__code__.co_varnames[: entry.__code__.co_argcount]
    values = {"image": image, "possible_answers": possible_answers or [], "query": query, **env,
              "my_fig": None, "time_wait_between_lines": None, "syntax": None, "VideoSegment": None}
    try:
        return "ok", entry(*[values.get(p) for p in params])
    except Exception as e:  # the program's error: report its kind and line
        return "error", (type(e).__name__, _program_line(e))


def _program_line(e: BaseException) -> int | None:
    tb, line = e.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
