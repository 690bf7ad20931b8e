"""Label rules: a query's label computed from a scene's ground truth, as data.

A rule is JSON (docs/benchmarks.md, "The label-rule language"). It is read against a scene
record of docs/world.md (`objects` with shape, color, box, side, text, visible, ...) and
gives the label as a string in the form the runtime compares answers in
(`runtime.feedback.normalise`: lower case, "yes"/"no", numbers as digits, "n/a"), or
None when the ground truth does not decide it: such a scene is never put in a stream (the
generator draws another).

Every test is three-valued (True, False, None = undecided) and combined with Kleene's
logic, so "is there a circle left of a square" is yes as soon as one pair clearly is,
no when every pair clearly is not, and undecided otherwise. What is undecided:

- presence (the visibility convention): an object is *present* when at least
  `PRESENT_MIN` (half) of its pixels are visible, *absent* when under `HIDDEN_MAX`, and
  undecided in between;
- size: small when its longest side is at most `SMALL_MAX`, large from `LARGE_MIN`;
- order (left of, above): decided when the centres are `ORDER_PX` apart on that axis;
- near: edge distance at most `NEAR_YES` is near, more than `NEAR_NO` is not;
- larger / nearer between two objects: when their sides differ by a factor `SIDE_RATIO`.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Iterable, Optional, Sequence

from fmprog.backends.embedded.scenes import CATEGORIES, COLORS, SHAPES, SIGN
from fmprog.backends.embedded.world import centre, edge_distance

PRESENT_MIN = 0.5
HIDDEN_MAX = 0.2
SMALL_MAX, LARGE_MIN = 20, 25  # world.md: small is side <= 22; 21..24 px is undecided
ORDER_PX = 10.0
NEAR_YES, NEAR_NO = 4.0, 12.0
SIDE_RATIO = 1.25
NA = "n/a"

Tri = Optional[bool]  # True, False or None (undecided)
COMPARE = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
           ">": operator.gt, "<": operator.lt}
RELATIONS = ("left_of", "right_of", "above", "below", "near", "inside", "contains")
ORDERS = ("larger", "smaller", "nearer", "farther", "left", "right", "higher", "lower")


class RuleError(ValueError):
    """A rule that does not follow the language; the message names the part at fault."""


# -- three-valued logic ----------------------------------------------------------------------
def t_and(values: Iterable) -> Tri:
    out: bool | None = True
    for v in values:
        if v is False:
            return False
        if v is None:
            out = None
    return out


def t_or(values: Iterable) -> Tri:
    out: bool | None = False
    for v in values:
        if v is True:
            return True
        if v is None:
            out = None
    return out


def t_not(v) -> Tri:
    return None if v is None else not v


def decided(value: float, yes_from: float, no_below: float) -> Tri:
    """True at or above `yes_from`, False below `no_below`, undecided in between."""
    return True if value >= yes_from else False if value < no_below else None


# -- objects ---------------------------------------------------------------------------------
def present(obj: dict) -> Tri:
    """The visibility convention: half visible is there, under a fifth is not."""
    return decided(float(obj.get("visible", 1.0)), PRESENT_MIN, HIDDEN_MAX)


def size_is(obj: dict, size: str) -> Tri:
    small = True if obj["side"] <= SMALL_MAX else False if obj["side"] >= LARGE_MIN else None
    return small if size == "small" else t_not(small)


def text_kind(text: str | None) -> str:
    if not text:
        return "none"
    return ("digit" if len(text) == 1 else "number") if text.isdigit() else "word"


def order(a: dict, b: dict, how: str) -> Tri:
    """Whether a comes before b in `how` (a is larger, nearer, more left, higher ...)."""
    if how in ("larger", "smaller", "nearer", "farther"):
        ratio = a["side"] / max(1, b["side"])  # nearer is larger: depth = 256 / side
        bigger = True if ratio >= SIDE_RATIO else False if ratio <= 1 / SIDE_RATIO else None
        return bigger if how in ("larger", "nearer") else t_not(bigger)
    axis = 0 if how in ("left", "right") else 1
    d = centre(a["box"])[axis] - centre(b["box"])[axis]
    sign = -1 if how in ("left", "lower") else 1
    return True if sign * d >= ORDER_PX else False if sign * d <= -ORDER_PX else None


def relation(name: str, a: dict, b: dict) -> Tri:
    """a `name` b, three-valued (docs/benchmarks.md)."""
    if name in ("left_of", "right_of", "above", "below"):
        how = {"left_of": "left", "right_of": "right", "above": "higher", "below": "lower"}[name]
        return order(a, b, how)
    if name == "near":
        d = edge_distance(a["box"], b["box"])
        return True if d <= NEAR_YES else False if d > NEAR_NO else None
    inner, outer = (a, b) if name == "inside" else (b, a)
    return _contained(inner["box"], outer["box"])


def _contained(a: Sequence[int], b: Sequence[int]) -> bool:
    within = a[0] >= b[0] and a[1] >= b[1] and a[2] <= b[2] and a[3] <= b[3]
    return within and (a[2] - a[0]) * (a[3] - a[1]) < (b[2] - b[0]) * (b[3] - b[1])


# -- patterns --------------------------------------------------------------------------------
PATTERN_KEYS = ("shape", "kind", "color", "size", "text", "text_kind", "number", "not", "any",
                *RELATIONS)


def check_pattern(p: Any, where: str) -> None:
    """Raise RuleError unless `p` is a pattern (a JSON object of known keys)."""
    if not isinstance(p, dict):
        raise RuleError(f"{where}: a pattern must be an object, got {p!r}")
    for k, v in p.items():
        at = f"{where}.{k}"
        if k not in PATTERN_KEYS:
            raise RuleError(f"{where}: unknown pattern key {k!r}; known: {list(PATTERN_KEYS)}")
        if k == "shape":
            _check_values(v, CATEGORIES, at)
        elif k == "color":
            _check_values(v, COLORS, at)
        elif k == "kind":
            _check_values(v, ("shape", "sign"), at)
        elif k == "size":
            _check_values(v, ("small", "large"), at)
        elif k == "text_kind":
            _check_values(v, ("none", "word", "number", "digit"), at)
        elif k == "text":
            if not (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))):
                raise RuleError(f"{at}: a text or a list of texts, got {v!r}")
        elif k == "number":
            if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v)):
                raise RuleError(f"{at}: [min, max] integers, got {v!r}")
        elif k == "any":
            if not isinstance(v, list) or not v:
                raise RuleError(f"{at}: a non-empty list of patterns, got {v!r}")
            for i, q in enumerate(v):
                check_pattern(q, f"{at}[{i}]")
        else:  # not, relations
            check_pattern(v, at)


def _check_values(v: Any, known: Sequence[str], where: str) -> None:
    values = v if isinstance(v, list) else [v]
    bad = [x for x in values if x not in known]
    if bad or not values:
        raise RuleError(f"{where}: {v!r} is not one of {list(known)} (or a list of them)")


def _one_of(value: Any, allowed: Any) -> bool:
    return value in allowed if isinstance(allowed, list) else value == allowed


def matches(p: dict, obj: dict, objects: Sequence[dict]) -> Tri:
    """Whether an object fits a pattern (its presence is the quantifier's business)."""
    return t_and(_field(k, v, obj, objects) for k, v in p.items())


def _field(k: str, v: Any, obj: dict, objects: Sequence[dict]) -> Tri:
    text = obj.get("text")
    if k == "shape":
        return _one_of(obj["shape"], v)
    if k == "kind":
        return _one_of("sign" if obj["shape"] == SIGN else "shape", v)
    if k == "color":
        return _one_of(obj["color"], v)
    if k == "size":
        return size_is(obj, v)
    if k == "text":
        return text is not None and _one_of(text, v)
    if k == "text_kind":
        return _one_of(text_kind(text), v)
    if k == "number":
        return bool(text) and text.isdigit() and v[0] <= int(text) <= v[1]
    if k == "not":
        return t_not(matches(v, obj, objects))
    if k == "any":
        return t_or(matches(q, obj, objects) for q in v)
    return t_or(t_and((present(o), matches(v, o, objects), relation(k, obj, o)))
                for o in objects if o is not obj)


def candidates(p: dict, objects: Sequence[dict]) -> list[tuple[dict, Tri]]:
    """(object, whether it is a present match) for every object that may be one."""
    out = []
    for o in objects:
        t = t_and((present(o), matches(p, o, objects)))
        if t is not False:
            out.append((o, t))
    return out


def count_range(p: dict, objects: Sequence[dict]) -> tuple[int, int]:
    """The fewest and most present objects the pattern may match."""
    cands = candidates(p, objects)
    return sum(t is True for _, t in cands), len(cands)


def the_one(p: dict, objects: Sequence[dict]) -> tuple[str, dict | None]:
    """('none', None), ('one', obj) or ('undecided', None): the unique present match of a
    question about 'the X'; several matches do not decide it (the question is ill-posed)."""
    lo, hi = count_range(p, objects)
    if hi == 0:
        return "none", None
    if lo == 1 and hi == 1:
        return "one", candidates(p, objects)[0][0]
    return "undecided", None


# -- rules -----------------------------------------------------------------------------------
def yes_no(t: Tri) -> str | None:
    return None if t is None else "yes" if t else "no"


def _count_test(rule: dict, objects) -> Tri:
    lo, hi = count_range(rule["count"], objects)
    op = COMPARE[rule["op"]]
    if "than" in rule:
        lo2, hi2 = count_range(rule["than"], objects)
        outcomes = {op(a, b) for a in range(lo, hi + 1) for b in range(lo2, hi2 + 1)}
    else:
        outcomes = {op(k, rule["value"]) for k in range(lo, hi + 1)}
    return outcomes.pop() if len(outcomes) == 1 else None


def _all_test(rule: dict, objects) -> Tri:
    cands = candidates(rule["all"], objects)
    some = t_or(t for _, t in cands)
    every = t_and(t_or((t_not(t), matches(rule["have"], o, objects))) for o, t in cands)
    return t_and((some, every))


def _pair(rule: dict, objects) -> tuple[str, Tri]:
    """('missing' | 'undecided' | 'ok', whether a wins) for compare/which rules."""
    (sa, a), (sb, b) = the_one(rule["a"], objects), the_one(rule["b"], objects)
    if "undecided" in (sa, sb):
        return "undecided", None
    if "none" in (sa, sb):
        return "missing", None
    if a is b:
        return "undecided", None
    return "ok", order(a, b, rule["by"])


def test(rule: dict, objects: Sequence[dict]) -> Tri:
    """A yes/no rule's truth on a scene's objects."""
    if "exists" in rule:
        return t_or(t for _, t in candidates(rule["exists"], objects))
    if "count" in rule:
        return _count_test(rule, objects)
    if "all" in rule:
        return _all_test(rule, objects)
    if "compare" in rule:
        state, wins = _pair(rule["compare"], objects)
        return False if state == "missing" else wins
    if "and" in rule:
        return t_and(test(r, objects) for r in rule["and"])
    if "or" in rule:
        return t_or(test(r, objects) for r in rule["or"])
    if "not" in rule:
        return t_not(test(rule["not"], objects))
    raise RuleError(f"not a yes/no rule: {rule!r}")


def _attribute(rule: dict, key: str, objects) -> str | None:
    state, obj = the_one(rule[key], objects)
    if state == "none":
        return NA
    if state == "undecided":
        return None
    if key == "size_of":
        s = size_is(obj, "small")
        return None if s is None else "small" if s else "large"
    value = obj[{"color_of": "color", "shape_of": "shape", "text_of": "text"}[key]]
    return NA if value is None else str(value).lower()


def _numbers(rule: dict, objects) -> str | None:
    cands = candidates(rule["numbers"], objects)
    if any(t is None for _, t in cands):
        return None
    values = [int(o["text"]) for o, _ in cands if o.get("text") and o["text"].isdigit()]
    if not values:
        return NA
    return str({"max": max, "min": min, "sum": sum}[rule["reduce"]](values))


def _which(rule: dict, objects) -> str | None:
    state, wins = _pair(rule["which"], objects)
    if state == "missing":
        return NA
    if wins is None:
        return None
    return rule["answers"][0 if wins else 1]


ANSWERS: dict[str, Callable[[dict, Sequence[dict]], str | None]] = {
    "color_of": lambda r, o: _attribute(r, "color_of", o),
    "shape_of": lambda r, o: _attribute(r, "shape_of", o),
    "text_of": lambda r, o: _attribute(r, "text_of", o),
    "size_of": lambda r, o: _attribute(r, "size_of", o),
    "numbers": _numbers,
    "which": _which,
}


def answer(rule: dict, objects: Sequence[dict]) -> str | None:
    """An open-form rule's answer on a scene's objects."""
    if "count" in rule and "op" not in rule:
        lo, hi = count_range(rule["count"], objects)
        return str(lo) if lo == hi else None
    if "if" in rule:
        cond = test(rule["if"], objects)
        return None if cond is None else answer(rule["then"], objects) if cond else NA
    for key, fn in ANSWERS.items():
        if key in rule:
            return fn(rule, objects)
    return yes_no(test(rule, objects))


def label(rule: dict, record: dict) -> str | None:
    """The label of a scene record (docs/world.md) under a rule; None: undecided."""
    return answer(rule, record["objects"])


# -- checking rules --------------------------------------------------------------------------
BINARY_FORMS = ("exists", "count", "all", "compare", "and", "or", "not")
OPEN_FORMS = ("count", "if", *ANSWERS)


def check_rule(rule: Any, where: str = "rule", binary: bool | None = None) -> None:
    """Raise RuleError unless `rule` is a rule of the language (a yes/no one if `binary`,
    an open-form one if `binary` is False)."""
    if not isinstance(rule, dict):
        raise RuleError(f"{where}: a rule must be an object, got {rule!r}")
    form = next((k for k in (*BINARY_FORMS, *OPEN_FORMS) if k in rule), None)
    if form is None:
        raise RuleError(f"{where}: no rule form among {sorted(set(BINARY_FORMS + OPEN_FORMS))}")
    is_test = form != "count" and form in BINARY_FORMS or (form == "count" and "op" in rule)
    if binary is True and not is_test:
        raise RuleError(f"{where}: {form!r} gives an open-form answer, not yes/no")
    if binary is False and is_test:
        raise RuleError(f"{where}: {form!r} gives yes/no, not an open-form answer")
    _CHECKS[form](rule, where, binary)


def _keys(rule: dict, allowed: Sequence[str], where: str) -> None:
    extra = sorted(set(rule) - set(allowed))
    if extra:
        raise RuleError(f"{where}: unexpected key(s) {extra}; this form takes {list(allowed)}")


def _c_exists(r, w, b):
    _keys(r, ("exists",), w)
    check_pattern(r["exists"], f"{w}.exists")


def _c_count(r, w, b):
    check_pattern(r["count"], f"{w}.count")
    if "op" not in r:
        _keys(r, ("count",), w)
        return
    _keys(r, ("count", "op", "value", "than"), w)
    if r["op"] not in COMPARE:
        raise RuleError(f"{w}.op: one of {list(COMPARE)}, got {r['op']!r}")
    if ("value" in r) == ("than" in r):
        raise RuleError(f"{w}: a count test takes 'value' (a number) or 'than' (a pattern)")
    if "than" in r:
        check_pattern(r["than"], f"{w}.than")
    elif not isinstance(r["value"], int):
        raise RuleError(f"{w}.value: an integer, got {r['value']!r}")


def _c_all(r, w, b):
    _keys(r, ("all", "have"), w)
    check_pattern(r["all"], f"{w}.all")
    if "have" not in r:
        raise RuleError(f"{w}: 'all' needs 'have' (the pattern every match must fit)")
    check_pattern(r["have"], f"{w}.have")


def _c_pair(spec: Any, w: str) -> None:
    if not isinstance(spec, dict) or set(spec) != {"a", "b", "by"}:
        raise RuleError(f"{w}: an object with 'a', 'b' (patterns) and 'by', got {spec!r}")
    check_pattern(spec["a"], f"{w}.a")
    check_pattern(spec["b"], f"{w}.b")
    if spec["by"] not in ORDERS:
        raise RuleError(f"{w}.by: one of {list(ORDERS)}, got {spec['by']!r}")


def _c_compare(r, w, b):
    _keys(r, ("compare",), w)
    _c_pair(r["compare"], f"{w}.compare")


def _c_logic(r, w, b):
    form = next(k for k in ("and", "or", "not") if k in r)
    _keys(r, (form,), w)
    parts = [r[form]] if form == "not" else r[form]
    if not isinstance(parts, list) or not parts:
        raise RuleError(f"{w}.{form}: a non-empty list of rules")
    for i, part in enumerate(parts):
        check_rule(part, f"{w}.{form}" + ("" if form == "not" else f"[{i}]"), True)


def _c_if(r, w, b):
    _keys(r, ("if", "then"), w)
    check_rule(r["if"], f"{w}.if", True)
    check_rule(r.get("then"), f"{w}.then", False)


def _c_attribute(r, w, b):
    key = next(k for k in ("color_of", "shape_of", "text_of", "size_of") if k in r)
    _keys(r, (key,), w)
    check_pattern(r[key], f"{w}.{key}")


def _c_numbers(r, w, b):
    _keys(r, ("numbers", "reduce"), w)
    check_pattern(r["numbers"], f"{w}.numbers")
    if r.get("reduce") not in ("max", "min", "sum"):
        raise RuleError(f"{w}.reduce: max, min or sum, got {r.get('reduce')!r}")


def _c_which(r, w, b):
    _keys(r, ("which", "answers"), w)
    _c_pair(r["which"], f"{w}.which")
    a = r.get("answers")
    if not (isinstance(a, list) and len(a) == 2 and all(isinstance(x, str) and x == x.lower() for x in a)):
        raise RuleError(f"{w}.answers: two lower-case answers [if a wins, if b wins], got {a!r}")


_CHECKS = {"exists": _c_exists, "count": _c_count, "all": _c_all, "compare": _c_compare,
           "and": _c_logic, "or": _c_logic, "not": _c_logic, "if": _c_if,
           "color_of": _c_attribute, "shape_of": _c_attribute, "text_of": _c_attribute,
           "size_of": _c_attribute, "numbers": _c_numbers, "which": _c_which}

__all__ = ["NA", "RuleError", "answer", "check_pattern", "check_rule", "count_range", "label",
           "matches", "present", "relation", "test", "SHAPES"]
