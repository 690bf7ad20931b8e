"""Load the DSL stubs (`viper.pyi`, `python_subset.pyi`) into signature tables.

The stubs are fmprog's own trusted files, read with the stdlib `ast` (never executed).
Everything that needs to know the DSL (checker, runtime bindings, prompt text) asks
`load()`.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
NEURAL_KINDS = ("detection", "vqa", "image_text_matching", "depth", "llm")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    has_default: bool = False
    star: str = ""  # "", "*" (varargs) or "**" (varkw)
    kwonly: bool = False
    default: object = None  # the default value, when has_default (literals only)


@dataclass(frozen=True)
class Signature:
    """A callable of the DSL: a free function, a builtin, or a method (self omitted)."""

    name: str
    params: tuple[Param, ...]
    returns: str
    doc: str = ""
    neural: str | None = None  # the backend kind, for neural calls
    alias: str | None = None  # the method whose backend this one shares
    synonyms: tuple[str, ...] = ()  # names LLMs use by mistake, for "did you mean"

    @property
    def canonical(self) -> str:
        return self.alias or self.name

    @functools.cached_property
    def shape(self) -> tuple[tuple[Param, ...], tuple[Param, ...], bool, bool]:
        """(named params, positional params, has *args, has **kwargs), computed once."""
        named = tuple(p for p in self.params if not p.star)
        return (named, tuple(p for p in named if not p.kwonly),
                any(p.star == "*" for p in self.params), any(p.star == "**" for p in self.params))

    @functools.cached_property
    def _bind_errors(self) -> dict:
        return {}

    def bind_error(self, nargs: int, kwnames: tuple[str, ...]) -> str | None:
        """Why a call with `nargs` positionals and `kwnames` keywords cannot bind, or None
        (remembered per call shape: the checker asks for every call it sees)."""
        key = (nargs, kwnames)
        cache = self._bind_errors
        if key not in cache:
            cache[key] = self._bind_error(nargs, kwnames)
        return cache[key]

    def _bind_error(self, nargs: int, kwnames: tuple[str, ...]) -> str | None:
        named, positional, varargs, varkw = self.shape
        if nargs > len(positional) and not varargs:
            return f"{self.name}() takes {_count(len(positional))}, got {nargs}"
        bound = {p.name for p in positional[:nargs]}
        names = {p.name for p in named}
        for k in kwnames:
            if k in bound:
                return f"{self.name}() got multiple values for argument '{k}'"
            if k not in names and not varkw:
                return f"{self.name}() got an unexpected keyword argument '{k}'"
            bound.add(k)
        missing = [p.name for p in named if not p.has_default and p.name not in bound]
        if missing:
            return f"{self.name}() missing required argument '{missing[0]}'"
        return None

    def bind(self, args: tuple, kwargs: dict) -> dict:
        """Run-time arguments bound by name, defaults filled in; a TypeError worded as
        Python's when they do not fit (no *args/**kwargs signatures: the neural methods)."""
        error = self.bind_error(len(args), tuple(kwargs))
        if error:
            raise TypeError(error)
        named, positional, _, _ = self.shape
        values = dict(zip((p.name for p in positional), args))
        values.update(kwargs)
        for p in named:
            values.setdefault(p.name, p.default)
        return values

    def render(self, self_arg: bool = False) -> str:
        parts = ["self"] if self_arg else []
        for p in self.params:
            text = f"{p.star}{p.name}: {p.type}"
            parts.append(text + (" = ..." if p.has_default else ""))
        return f"def {self.name}({', '.join(parts)}) -> {self.returns}"


def _count(n: int) -> str:
    return f"{n} positional argument{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class ClassSpec:
    name: str
    attributes: dict[str, str] = field(default_factory=dict)
    methods: dict[str, Signature] = field(default_factory=dict)
    doc: str = ""
    init: Signature | None = None


@dataclass(frozen=True)
class Dsl:
    """The language: DSL classes and functions, builtins, value methods, modules."""

    patch: ClassSpec
    functions: dict[str, Signature]  # DSL free functions (llm_query, distance, ...)
    builtins: dict[str, Signature]
    types: dict[str, ClassSpec]  # methods of str / list / dict / set values
    modules: dict[str, ClassSpec]  # math
    prompt_notes: tuple[str, ...]
    classes: dict[str, ClassSpec] = field(default_factory=dict)  # every class of viper.pyi (ImagePatch, VideoSegment)

    @functools.cached_property
    def entry_names(self) -> frozenset[str]:
        """The DSL names an entry function may take as parameters (bound to the DSL's own)."""
        return frozenset([*self.classes, *self.functions])

    def neural_methods(self) -> dict[str, Signature]:
        return {n: s for n, s in self.patch.methods.items() if s.neural}

    def prompt(self) -> str:
        """The API text an LLM is prompted with, rendered from the same tables."""
        lines = [f"class {self.patch.name}:", _indent(_docstring(self.patch.doc), 4)]
        for name, typ in self.patch.attributes.items():
            lines.append(f"    {name}: {typ}")
        init = self.patch.init
        lines += ["", "    " + Signature("__init__", init.params, init.returns).render(self_arg=True) + ":",
                  _indent(_docstring(init.doc), 8)]
        for sig in self.patch.methods.values():
            lines.append("")
            lines.append("    " + sig.render(self_arg=True) + ":")
            lines.append(_indent(_docstring(sig.doc), 8))
        for sig in self.functions.values():
            lines += ["", sig.render() + ":", _indent(_docstring(sig.doc), 4)]
        lines.append("")
        for note in self.prompt_notes:  # a note that names a table is filled in and wrapped again
            lines += textwrap.wrap(note.format(builtins=", ".join(self.builtins)), 88) if "{" in note else [note]
        return "\n".join(lines) + "\n"


def _docstring(doc: str) -> str:
    return f'"""{doc}"""'


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else line for line in text.splitlines())


def _decorator_args(fn: ast.FunctionDef, name: str) -> tuple[str, ...]:
    for d in fn.decorator_list:
        if isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == name:
            return tuple(a.value for a in d.args)  # type: ignore[attr-defined]
    return ()


def _decorator(fn: ast.FunctionDef, name: str) -> str | None:
    found = _decorator_args(fn, name)
    return found[0] if found else None


def _signature(fn: ast.FunctionDef, method: bool) -> Signature:
    a = fn.args
    positional = a.args[1:] if method else a.args
    first_default = len(positional) - len(a.defaults)
    params = [
        Param(p.arg, ast.unparse(p.annotation) if p.annotation else "Any", i >= first_default,
              default=_literal(a.defaults[i - first_default]) if i >= first_default else None)
        for i, p in enumerate(positional)
    ]
    if a.vararg:
        params.append(Param(a.vararg.arg, ast.unparse(a.vararg.annotation), True, "*"))
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        params.append(Param(p.arg, ast.unparse(p.annotation), d is not None, kwonly=True,
                            default=_literal(d) if d is not None else None))
    if a.kwarg:
        params.append(Param(a.kwarg.arg, ast.unparse(a.kwarg.annotation), True, "**"))
    neural = _decorator(fn, "neural")
    if neural is not None and neural not in NEURAL_KINDS:
        raise ValueError(f"unknown neural kind {neural!r} on {fn.name}")
    return Signature(
        name=fn.name,
        params=tuple(params),
        returns=ast.unparse(fn.returns) if fn.returns else "None",
        doc=inspect_doc(fn),
        neural=neural,
        alias=_decorator(fn, "alias"),
        synonyms=_decorator_args(fn, "also_called"),
    )


def _literal(node: ast.expr) -> object:
    """A default written in a stub: a literal, or `...` for "some value" (None here)."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return None if value is Ellipsis else value


def inspect_doc(node: ast.AST) -> str:
    doc = ast.get_docstring(node, clean=True)  # type: ignore[arg-type]
    return doc or ""


def _class(node: ast.ClassDef) -> ClassSpec:
    attrs, methods, init = {}, {}, None
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            attrs[item.target.id] = ast.unparse(item.annotation)
        elif isinstance(item, ast.FunctionDef):
            is_method = bool(item.args.args) and item.args.args[0].arg == "self"
            sig = _signature(item, method=is_method)
            if item.name == "__init__":
                init = Signature(node.name, sig.params, sig.returns, sig.doc)  # messages say ImagePatch()
            else:
                methods[item.name] = sig
    return ClassSpec(node.name, attrs, methods, inspect_doc(node), init)


def _read(name: str) -> tuple[dict[str, ClassSpec], dict[str, Signature], list[str]]:
    text = (HERE / name).read_text()
    tree = ast.parse(text, filename=name)
    classes = {n.name: _class(n) for n in tree.body if isinstance(n, ast.ClassDef)}
    funcs = {n.name: _signature(n, False) for n in tree.body if isinstance(n, ast.FunctionDef)}
    notes = [ln.split("# prompt:", 1)[1][1:] for ln in text.splitlines() if ln.startswith("# prompt:")]
    return classes, funcs, notes


@functools.lru_cache(maxsize=1)
def load() -> Dsl:
    """The DSL, read once per process."""
    classes, functions, notes = _read("viper.pyi")
    py_classes, builtins, _ = _read("python_subset.pyi")
    modules = {"math": py_classes.pop("math")}
    return Dsl(
        patch=classes["ImagePatch"],
        functions=functions,
        builtins=builtins,
        types=py_classes,
        modules=modules,
        prompt_notes=tuple(notes),
        classes=classes,
    )
