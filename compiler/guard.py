"""A guard before libcst: one linear scan of the text that bounds what parsing may cost.

Why: libcst recurses once per level of nesting, natively and in Python. Brackets nested
about 1500 deep overflow its native stack (a segfault takes the whole process down), and
long operator chains (`1+1+...+1`) or huge numbers of statements cost it, and the checker
after it, time and memory out of all proportion. So before libcst sees a program, a
regular-expression tokenizer counts what it would have to build, and a program over any of
the `Limits` is refused with a located `too-complex` diagnostic.

The nesting estimate is deliberately pessimistic: at each token it adds, over the open
brackets and the indented blocks around it, one level per bracket or block plus one per
operator met since the last separator (`,` `;` or a new statement) of that bracket, which
is how deep libcst's tree nests there (`a + b + c` is `(a + b) + c`; `-x`, `x.y`, `x[0]`,
`f()` and `lambda:` each wrap what they apply to). Real programs stay far below the limits
(the dev corpus: at most 3 nested brackets, 17 chained operators, 521 tokens).
f-strings are scanned into: the expressions of their fields count like any other code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .diagnostics import CodeRange


@dataclass(frozen=True)
class Limits:
    """What one program may contain. Each is checked before parsing."""

    max_chars: int = 1_000_000  # the text itself
    max_tokens: int = 20_000  # tokens, comments and line breaks
    max_brackets: int = 100  # nested (, [, { (Python's own parser stops at 200)
    max_depth: int = 200  # estimated nesting of the syntax tree (brackets, blocks, operator chains)
    # A text this short, with at most max_brackets brackets, cannot nest deep enough to hurt
    # (measured: at worst 0.5 s and 170 MB, for 99 brackets around 700 unary minuses): not scanned.
    short_text: int = 1000

    def __post_init__(self):
        if self.short_text < 0:
            raise ValueError(f"guard limit short_text must be at least 0, got {self.short_text}")
        for name in ("max_chars", "max_tokens", "max_brackets", "max_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"guard limit {name} must be at least 1, got {getattr(self, name)}")


LIMITS = Limits()


class TooComplex(Exception):
    """A limit was crossed at `offset` in the text."""

    def __init__(self, detail: str, offset: int):
        super().__init__(detail)
        self.detail, self.offset = detail, offset


# String literals, with the loops unrolled (`'[^'\\]*(?:\\.[^'\\]*)*'`): a 1 MB literal is one fast match.
_STRING = (r"(?:[rRbBuUfF]{1,2})?(?:'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"
           r'|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'
           r"|'[^'\\\r\n]*(?:\\.[^'\\\r\n]*)*'"
           r'|"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*")')
_TOKEN = re.compile(
    rf"(?P<str>{_STRING})"
    r"|(?P<ws>[ \t\f]+)"
    r"|(?P<nl>\r\n|\r|\n)"
    r"|(?P<comment>\#[^\r\n]*)"
    r"|(?P<cont>\\(?:\r\n|\r|\n))"
    r"|(?P<name>[^\W\d]\w*)"
    r"|(?P<num>0[xXoObB][\w]*|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?[jJ]?)"
    r"|(?P<open>[(\[{])"
    r"|(?P<close>[)\]}])"
    r"|(?P<sep>[,;])"
    r"|(?P<op>\*\*=?|//=?|<<=?|>>=?|->|:=|\.\.\.|[-+*/%&|^@<>=!]=|[-+*/%&|^@~<>=.:!])"
    r"|(?P<other>.)",
    re.S,
)
# Keywords that wrap or chain an operand, as operators do.
CHAIN_WORDS = frozenset({"and", "or", "not", "if", "else", "lambda", "in", "is", "await", "for", "yield"})
_PREFIX = re.compile(r"[rRbBuUfF]*")


class _Scan:
    """The scanner's state: counts, the open brackets and the indented blocks."""

    def __init__(self, text: str, limits: Limits):
        self.text, self.limits = text, limits
        self.tokens = 0
        self.groups: list[list[int]] = [[0, 0]]  # per open bracket: [depth at it, operators since separator]
        self.indents: list[int] = [0]  # widths of the open blocks
        self.elifs: list[int] = [0]  # per open block: `elif`s in a row (each nests the next)
        self.line_start, self.width = True, 0
        self.floor = 1  # brackets below this many are not this scan's to close
        self.too_deep = f"more than {limits.max_depth} levels of nesting (brackets, blocks and chained operators)"

    # -- accounting -------------------------------------------------------------------------
    def count(self, pos: int) -> None:
        self.tokens += 1
        if self.tokens > self.limits.max_tokens:
            raise TooComplex(f"more than {self.limits.max_tokens} tokens", pos)

    def chain(self, pos: int) -> None:
        g = self.groups[-1]
        g[1] += 1
        if g[0] + g[1] > self.limits.max_depth:
            raise TooComplex(self.too_deep, pos)

    def open(self, pos: int) -> None:
        g = self.groups[-1]
        if len(self.groups) > self.limits.max_brackets:
            raise TooComplex(f"brackets nested more than {self.limits.max_brackets} deep", pos)
        depth = g[0] + g[1] + 1
        if depth > self.limits.max_depth:
            raise TooComplex(self.too_deep, pos)
        self.groups.append([depth, 0])

    def close(self, pos: int) -> None:
        if len(self.groups) > self.floor:
            self.groups.pop()
        self.chain(pos)  # a bracketed atom or trailer wraps one more level

    def indent(self, width: int, word: str, pos: int) -> None:
        """A logical line starts at `width` columns with `word`: open or close blocks."""
        indents, elifs = self.indents, self.elifs
        while width < indents[-1]:
            indents.pop()
            elifs.pop()
        if width > indents[-1]:
            indents.append(width)
            elifs.append(0)
        if word == "elif":
            elifs[-1] += 1
        elif word != "else":
            elifs[-1] = 0
        depth = len(indents) - 1 + sum(elifs)
        self.groups[0] = [depth, 0]
        if depth > self.limits.max_depth:
            raise TooComplex(self.too_deep, pos)

    # -- the scan -----------------------------------------------------------------------------
    def run(self, pos: int, end: int, field: bool = False) -> int:
        """Scan text[pos:end]; in an f-string field, stop at the `}`, `!` or `:` that ends it."""
        match, text = _TOKEN.match, self.text
        base = len(self.groups)
        while pos < end:
            m = match(text, pos, end)
            kind, start, pos = m.lastgroup, m.start(), m.end()
            if kind == "ws" or kind == "cont":
                if kind == "ws" and self.line_start and not field:
                    self.width = len(m.group().expandtabs(8))
                continue
            if field and len(self.groups) == base and (
                    kind == "close" and text[start] == "}" or kind == "op" and text[start] in ":!"
                    and m.group() != "!="):
                return start
            self.count(start)
            if kind == "nl" or kind == "comment":
                if kind == "nl" and len(self.groups) == 1 and not field:
                    self.line_start, self.width = True, 0
                continue
            if self.line_start and not field:
                self.indent(self.width, m.group(), start)
                self.line_start = False
            if kind == "str":
                self.string(m.group(), start)
            elif kind == "name":
                if m.group() in CHAIN_WORDS:
                    self.chain(start)
            elif kind == "open":
                self.open(start)
            elif kind == "close":
                self.close(start)
            elif kind == "sep":
                self.groups[-1][1] = 0
            elif kind == "op":
                self.chain(start)
        return pos

    def string(self, token: str, start: int) -> None:
        self.chain(start)  # adjacent literals nest (`"a" "b"` is a ConcatenatedString)
        prefix = _PREFIX.match(token).end()
        if "f" not in token[:prefix].lower():
            return
        quote = 3 if token[prefix:prefix + 3] in ('"""', "'''") else 1
        self.fstring(start + prefix + quote, start + len(token) - quote)

    def fstring(self, pos: int, end: int) -> None:
        """The body of an f-string: literal text, and `{expression!c:spec}` fields."""
        text = self.text
        while pos < end:
            brace = _next_brace(text, pos, end)
            if brace < 0:
                return
            if text.startswith("{{", brace) or text[brace] == "}":
                pos = brace + (2 if text.startswith(("{{", "}}"), brace) else 1)
                continue
            pos = self.field(brace, end)

    def field(self, brace: int, end: int) -> int:
        self.count(brace)
        self.open(brace)
        depth, floor = len(self.groups), self.floor
        self.floor = depth
        pos = self.run(brace + 1, end, field=True)
        self.floor = floor
        del self.groups[depth:]
        if pos < end and self.text[pos] == "!":
            pos += 2
        if pos < end and self.text[pos] == ":":
            pos = self.spec(pos + 1, end)
        self.groups.pop()
        return pos + 1

    def spec(self, pos: int, end: int) -> int:
        """A format spec: text with nested fields, up to the `}` that closes its field."""
        text = self.text
        while pos < end:
            brace = _next_brace(text, pos, end)
            if brace < 0 or text[brace] == "}":
                return end if brace < 0 else brace
            pos = self.field(brace, end)
        return pos


def _next_brace(text: str, pos: int, end: int) -> int:
    a, b = text.find("{", pos, end), text.find("}", pos, end)
    return b if a < 0 else (a if b < 0 else min(a, b))


# -- a quicker bound, for the common case -----------------------------------------------------------
# The scan above costs about a tenth of a libcst parse; most programs are cleared for about a
# fiftieth. Reduced to the characters that can deepen the tree (operators, brackets, quotes, and
# the spaces that separate keywords), with string literals and comments blanked out, a program
# whose brackets all close on the line they open on resets its nesting at every line, and no
# line nests deeper than its count of such characters (a keyword like `not(` can share its
# separator with a bracket: at most half as deep again). Texts the bound does not cover
# (backslashes, triple quotes, a stray closing bracket) take the scan.
_KEEP = "+-*/%&|^@~<>=.:!'\"# \n([{)]}"
_LEVELS = str.maketrans({**{chr(i): None for i in range(128) if chr(i) not in _KEEP + "\t\f"},
                         **{c: "(" for c in "[{"}, **{c: ")" for c in "]}"}, "\t": " ", "\f": " "})
_BLANK = re.compile(r"""'[^'\n]*'|"[^"\n]*"|#[^\n]*""")
_BRACKETS = str.maketrans({c: None for c in _KEEP if c not in "()\n"})


def _maybe_fstring(t: str) -> bool:
    """Could the text hold an f-string? (a few substring tests: 2x faster than a regex)"""
    if "f'" in t or 'f"' in t or "F'" in t or 'F"' in t:
        return True
    raw = "r'" in t or 'r"' in t or "R'" in t or 'R"' in t
    return raw and ("fr" in t or "fR" in t or "Fr" in t or "FR" in t)


def _quick_ok(text: str, limits: Limits) -> bool:
    """True only when the text is certainly within the limits (False: run the scan)."""
    if len(text) <= limits.short_text and text.count("(") + text.count("[") + text.count("{") <= limits.max_brackets:
        return True
    if len(text) > limits.max_tokens or "\\" in text or "'''" in text or '"""' in text:
        return False
    if not text.isascii():  # only names and strings hold other characters: keep the text fast to scan
        text = text.encode("ascii", "replace").decode("ascii")
    if _maybe_fstring(text):  # keep f-strings, whose fields are code: blank the others
        levels = _BLANK.sub(lambda m: _keep_fstring(text, m), text).translate(_LEVELS)
    else:
        levels = _BLANK.sub("''", text.translate(_LEVELS))
    brackets = levels.translate(_BRACKETS)
    for _ in range(limits.max_brackets):
        if "()" not in brackets:
            break
        brackets = brackets.replace("()", "")
    if not brackets.strip("\n"):  # every bracket closes on its line
        deepest = max(map(len, levels.split("\n")))
    else:
        deepest = _deepest_across_lines(levels, brackets)
    return deepest + text.count("elif") <= min(limits.max_brackets, limits.max_depth // 2)


def _keep_fstring(text: str, m: re.Match) -> str:
    start = m.start()
    return m.group() if text[max(0, start - 2):start].lower().endswith(("f", "fr", "rf")) else "''"


def _deepest_across_lines(levels: str, brackets: str) -> int:
    """The bound when brackets span lines: a line's count carries on while one is open.
    `brackets` holds, per line, what is left unpaired: closing ones, then opening ones."""
    worst = carry = depth = 0
    for line, rest in zip(levels.split("\n"), brackets.split("\n")):
        closing = len(rest) - len(rest.lstrip(")"))
        if closing > depth:
            return 1 << 30  # a stray closing bracket: leave it to the scan
        depth += len(rest) - 2 * closing
        code = line.lstrip(" ")
        total = (carry or len(line) - len(code)) + len(code)  # a statement starts at its indentation
        worst = max(worst, total)
        carry = total if depth else 0
    return worst


def check(text: str, limits: Limits = LIMITS) -> tuple[str, CodeRange] | None:
    """None when the text is within the limits, else (why, where)."""
    if len(text) > limits.max_chars:
        return f"it is {len(text)} characters long (the limit is {limits.max_chars})", CodeRange(1, 0, 1, 0)
    if _quick_ok(text, limits):
        return None
    scan = _Scan(text, limits)
    try:
        scan.run(0, len(text))
    except TooComplex as e:
        return e.detail, _where(text, e.offset)
    return None


def _where(text: str, offset: int) -> CodeRange:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return CodeRange(line, col, line, col + 1)
