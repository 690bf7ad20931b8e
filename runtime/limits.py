"""Run-time bounds: what one run may do, and the accounting that holds it to that.

A `Meter` counts one run: iterations (loop bodies, comprehension items, lambda and function
value calls), the clock, and the memory the run's new values take together (an estimate that
counts every allocation, freed or not). Each PURE op has a `Cost` (compiler/opset.py); `ACCOUNTS`
maps each Cost to a function that checks, before the op allocates, that its result stays within
the `Limits` (strings, containers, integers), charges it to the run, and looks at the clock
after large work. Whatever a program does, one op runs for a bounded time, so the time limit is
checked often enough to hold; and no value is built beyond the limits.
"""

from __future__ import annotations

import re
import string
import time
from dataclasses import dataclass
from itertools import chain
from typing import Any, Callable

from fmprog.compiler.opset import Cost

from .errors import ProgramError, ResourceLimit, Timeout

ITEM_BYTES = 64  # a container slot with a small object behind it (a deliberate overestimate)
CHECK_EVERY = 1 << 16  # work units (bytes or items touched) between two looks at the clock


@dataclass(frozen=True)
class Limits:
    """The largest value one run may build, and the memory its values may take in all."""

    max_str: int = 1_000_000  # characters in one string (also the widest format field)
    max_items: int = 1_000_000  # items in one list, tuple, set, dict or range
    max_int_bits: int = 100_000  # bits in one integer (about 30,000 decimal digits)
    max_bytes: int = 256 << 20  # estimated memory of all the values one run creates

    def __post_init__(self):
        for name in ("max_str", "max_items", "max_int_bits", "max_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"run-time limit {name} must be a positive integer, got {value!r}")


LIMITS = Limits()


class Meter:
    """One run's counters and the checks against its bounds."""

    __slots__ = ("limits", "max_iterations", "time_limit", "deadline", "iterations", "bytes", "work", "arrays")

    def __init__(self, limits: Limits, max_iterations: int, time_limit: float | None):
        self.limits, self.max_iterations, self.time_limit = limits, max_iterations, time_limit
        self.deadline = time.monotonic() + time_limit if time_limit else None
        self.iterations = self.bytes = self.work = 0
        self.arrays: set[int] = set()  # ids of the image arrays already seen (inputs, results)

    def tick(self, where=None) -> None:
        """One iteration: a loop body, a comprehension item, a lambda or function value call."""
        self.iterations += 1
        if self.iterations > self.max_iterations:
            raise ProgramError("IterationLimit", f"more than {self.max_iterations} iterations (loop bodies, "
                                                 "comprehension items and function calls; max_iterations)", where)
        if self.iterations & 31 == 0:
            self.check_time(where)

    def check_time(self, where=None) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Timeout("Timeout", f"over the time limit of {self.time_limit} s", where)

    def touch(self, units: int) -> None:
        """Work that allocates nothing (scanning, comparing, sorting): look at the clock now and then."""
        self.work += units
        if self.work >= CHECK_EVERY:
            self.work = 0
            self.check_time()

    def charge(self, nbytes: int) -> None:
        """New values of about `nbytes`: within the run's memory budget, or ResourceLimit."""
        self.bytes += nbytes
        if self.bytes > self.limits.max_bytes:
            raise ResourceLimit("ResourceLimit", f"the run's values would take over {self.limits.max_bytes >> 20} MB "
                                                 "(max_bytes)")
        self.touch(nbytes)

    # -- the size of one new value, checked before it is built -----------------------------
    def string(self, chars: int, wide: bool = False) -> None:
        if chars > self.limits.max_str:
            raise ResourceLimit("ResourceLimit", f"a string of {chars} characters is over the limit of "
                                                 f"{self.limits.max_str} (max_str)")
        self.charge(chars * (4 if wide else 1) + 64)

    def items(self, n: int, per_item: int = ITEM_BYTES) -> None:
        if n > self.limits.max_items:
            raise ResourceLimit("ResourceLimit", f"a container of {n} items is over the limit of "
                                                 f"{self.limits.max_items} (max_items)")
        self.charge(n * per_item + 64)

    def int_bits(self, bits: int) -> None:
        if bits > self.limits.max_int_bits:
            raise ResourceLimit("ResourceLimit", f"an integer of about {bits} bits is over the limit of "
                                                 f"{self.limits.max_int_bits} (max_int_bits)")
        if bits > 4096:
            self.charge(bits // 8 + 32)

    def shared(self, chars: int) -> None:
        """A value that repeats shared parts (`[row] * n`): printing or comparing it walks every
        repetition, so what it would print as is bounded by max_bytes."""
        if chars > self.limits.max_bytes:
            raise ResourceLimit("ResourceLimit", f"a value that would print as about {chars} characters, its "
                                                 f"shared parts repeated, is over the limit of {self.limits.max_bytes} "
                                                 "(max_bytes)")

    def array(self, a) -> None:
        """An image array an op returned: a new one (not a view of another) is charged once."""
        key = id(a)
        if key not in self.arrays:
            self.arrays.add(key)
            if a.base is None:
                self.array_bytes(a.nbytes)

    def array_bytes(self, nbytes: int) -> None:
        if nbytes > self.limits.max_bytes:
            raise ResourceLimit("ResourceLimit", f"an array of {nbytes} bytes is over the limit of "
                                                 f"{self.limits.max_bytes} (max_bytes)")
        self.charge(nbytes)

    def value(self, v: Any) -> None:
        """Check and charge a value already built (when its size could not be known before)."""
        t = type(v)
        if t is str:
            self.string(len(v), not v.isascii())
        elif t in CONTAINERS:
            self.items(len(v), 2 * ITEM_BYTES if t is dict else ITEM_BYTES)
        elif t is int:
            self.int_bits(v.bit_length())


CONTAINERS = (list, tuple, set, frozenset, dict)
SIZED = (str, list, tuple, set, frozenset, dict, range)
SEQUENCES = (str, list, tuple)


def _len(v) -> int:
    return len(v) if type(v) in SIZED else 0


# -- text sizes: what str() or a format field of a value would take -------------------------------
SCALAR_TEXT = {bool: 5, type(None): 4, float: 24}


def text_size(v: Any, cap: int) -> int:
    """An upper bound of len(str(v)) (and of repr), found without building it; the walk stops
    once past `cap`. Shared parts count each time they appear, cycles as `[...]`. Iterative,
    so that it goes as deep as Python's own printing does."""
    t = type(v)
    if t is str:
        return len(v) + 2
    if t not in CONTAINERS:
        return _scalar_text(v, t)
    sizes: dict[int, int] = {}  # id -> size of a finished container; -1 while it is being walked
    stack = [(v, _items(v, t), 2 + 4 * len(v))]
    sizes[id(v)] = -1
    while stack:
        container, items, total = stack[-1]
        for item in items:
            ti = type(item)
            if ti in CONTAINERS:
                known = sizes.get(id(item))
                if known is None:
                    stack[-1] = (container, items, total)
                    sizes[id(item)] = -1
                    stack.append((item, _items(item, ti), 2 + 4 * len(item)))
                    break
                total += known if known >= 0 else 5  # a cycle prints as [...]
            else:
                total += len(item) + 2 if ti is str else _scalar_text(item, ti)
            if total > cap:
                return total
        else:
            stack.pop()
            sizes[id(container)] = total
            if not stack:
                return total
            parent, parent_items, parent_total = stack[-1]
            stack[-1] = (parent, parent_items, parent_total + total)
            if parent_total + total > cap:
                return parent_total + total
    return 0


def _items(v, t: type):
    # a dict's keys and values, not its (transient, reused) item tuples: ids must stay valid
    return chain.from_iterable(v.items()) if t is dict else iter(v)


def _scalar_text(v: Any, t: type) -> int:
    if t is int:
        return v.bit_length() * 31 // 100 + 2
    if t in SCALAR_TEXT:
        return SCALAR_TEXT[t]
    return 64 if t.__module__ != "numpy" else 10_000  # patches, functions; numpy summarises arrays


# -- format specs -----------------------------------------------------------------------------------
_DIGITS = re.compile(r"\d+")


def check_spec(meter: Meter, spec: str) -> None:
    """A format spec's width and precision may not pass max_str (`{:>1000000000}`)."""
    if spec:
        for run in _DIGITS.findall(spec):
            if len(run) > 7 or int(run) > meter.limits.max_str:
                raise ResourceLimit("ResourceLimit", f"format width or precision {run} is over the limit of "
                                                     f"{meter.limits.max_str} characters (max_str)")


def format_field(meter: Meter, value: Any, spec: str) -> int:
    """Check one format field before it is formatted; the characters it may take."""
    check_spec(meter, spec)
    return text_size(value, meter.limits.max_str) + max((int(r) for r in _DIGITS.findall(spec)), default=0)


class MeteredFormatter(string.Formatter):
    """str.format under the limits: no attribute or index lookups, no field wider than max_str,
    no result longer than it."""

    def __init__(self, meter: Meter):
        self.meter, self.total = meter, 0

    def get_field(self, field_name, args, kwargs):
        if "." in field_name or "[" in field_name:
            raise ValueError(f"format field {field_name!r}: attribute and index lookups are not allowed")
        return super().get_field(field_name, args, kwargs)

    def convert_field(self, value, conversion):
        if conversion:  # !r, !s, !a build the text first: check the value before
            self.meter.string(text_size(value, self.meter.limits.max_str) * (10 if conversion == "a" else 1))
        return super().convert_field(value, conversion)

    def format_field(self, value, format_spec):
        self.total += format_field(self.meter, value, format_spec)
        if self.total > self.meter.limits.max_str:
            self.meter.string(self.total)
        return super().format_field(value, format_spec)


_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def printf_size(meter: Meter, template: str, args: Any) -> int:
    """An upper bound of len(template % args); widths and precisions checked against max_str."""
    values = list(args) if type(args) is tuple else [args]
    total = len(template)
    for width, precision, _ in _PRINTF.findall(template):
        for part in (width, precision):
            if part == "*":
                part = str(values.pop(0)) if values and type(values[0]) is int else "0"
            check_spec(meter, part)
            total += int(part or 0)
    cap = meter.limits.max_str
    vals = args.values() if type(args) is dict else (args if type(args) is tuple else (args,))
    return total + sum(text_size(v, cap) for v in vals)


# -- the accounting of each Cost ---------------------------------------------------------------------
Account = Callable[[Meter, Callable, tuple, dict], Any]


def _index(m: Meter, fn, args, kwargs):
    obj, index = args
    if type(obj).__name__ == "ndarray" and not isinstance(index, (int, slice)):
        m.array_bytes(_fancy_bytes(obj, index))  # an index by lists copies: bound it first
    return fn(obj, index)


def _fancy_bytes(a, index) -> int:
    """An upper bound of the bytes of a[index]: each index part taken as an outer product."""
    parts = index if type(index) is tuple else (index,)
    n = a.itemsize
    for i, dim in enumerate(a.shape):
        part = parts[i] if i < len(parts) else None
        n *= len(part) if hasattr(part, "__len__") else (1 if type(part) is int else dim)
    return n


def _scan(m: Meter, fn, args, kwargs):
    n = sum(map(_len, args))
    if n > 1024 and any(type(a) in (list, tuple) and a and type(a[0]) in CONTAINERS for a in args):
        _deep_scan(m, args)  # comparing nested values visits their parts, shared ones each time
    m.touch(n)
    return fn(*args, **kwargs)


def _deep_scan(m: Meter, args) -> None:
    cap = m.limits.max_bytes
    work = sum(text_size(a, cap) for a in args if type(a) in CONTAINERS)
    if work > cap:
        raise ResourceLimit("ResourceLimit", f"this would visit about {work} parts of nested values, over the limit "
                                             f"of {cap} (max_bytes): their shared parts count each time")
    m.touch(work)


def _grow(m: Meter, fn, args, kwargs):
    if args and type(args[0]) in CONTAINERS and len(args[0]) >= m.limits.max_items:
        m.items(len(args[0]) + 1)
    m.charge(ITEM_BYTES)
    return fn(*args, **kwargs)


def _copy(m: Meter, fn, args, kwargs):
    result = fn(*args, **kwargs)  # no bigger than its (bounded) argument: checked once built
    m.value(result)
    return result


def _text_cost(m: Meter, fn, args, kwargs):
    if args:
        m.string(text_size(args[0], m.limits.max_str))
    return fn(*args, **kwargs)


def _bits(v) -> int:
    return v.bit_length() if type(v) is int else 0


def _add(m: Meter, fn, args, kwargs):
    a, b = args
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if a.bit_length() > 64 or b.bit_length() > 64:
            m.int_bits(max(a.bit_length(), b.bit_length()) + 1)
    elif ta is str and tb is str:
        m.string(len(a) + len(b), not (a.isascii() and b.isascii()))
    elif ta in SEQUENCES and tb in SEQUENCES:
        m.items(len(a) + len(b))
    elif ta is list:  # list += iterable: extends in place
        return _grown(m, fn(*args), len(a))
    return fn(*args, **kwargs)


def _grown(m: Meter, container, before: int):
    m.value(container) if len(container) > m.limits.max_items else m.charge((len(container) - before) * ITEM_BYTES)
    return container


def _mul(m: Meter, fn, args, kwargs):
    a, b = args
    ta, tb = type(a), type(b)
    if ta in (int, bool) and tb in (int, bool):
        if a.bit_length() + b.bit_length() > 128:
            m.int_bits(a.bit_length() + b.bit_length())
    elif ta in SEQUENCES and tb in (int, bool) or tb in SEQUENCES and ta in (int, bool):
        seq, n = (a, b) if ta in SEQUENCES else (b, a)
        if n > 0:
            if type(seq) is str:
                m.string(len(seq) * n, not seq.isascii())
            else:
                m.items(len(seq) * n)
                if any(type(x) in CONTAINERS for x in seq):
                    m.shared(text_size(seq, m.limits.max_bytes) * n)
    return fn(*args, **kwargs)


def _pow(m: Meter, fn, args, kwargs):
    a, b = args
    if type(a) in (int, bool) and type(b) in (int, bool) and b > 0 and abs(a) > 1:
        m.int_bits(a.bit_length() * b if b < (1 << 40) else 1 << 40)
    return fn(*args, **kwargs)


def _shift(m: Meter, fn, args, kwargs):
    a, b = args
    if type(a) in (int, bool) and type(b) in (int, bool) and b > 0 and a:
        m.int_bits(a.bit_length() + b if b < (1 << 40) else 1 << 40)
    return fn(*args, **kwargs)


def _round(m: Meter, fn, args, kwargs):
    digits = args[1] if len(args) > 1 else kwargs.get("ndigits")
    if args and type(args[0]) is int and type(digits) is int and digits < 0:
        m.int_bits(-digits * 10 // 3 if digits > -(1 << 40) else 1 << 40)  # it computes 10 ** -digits
    return fn(*args, **kwargs)


def _arith(m: Meter, fn, args, kwargs):
    a, b = args
    if type(a) is int and type(b) is int:
        bits = max(a.bit_length(), b.bit_length())
        if bits > 64:
            m.int_bits(bits + 1)
        return fn(*args, **kwargs)
    if type(a) in CONTAINERS and type(b) in CONTAINERS:  # set algebra, dict |
        m.touch(len(a) + len(b))
        return _copy(m, fn, args, kwargs)
    return fn(*args, **kwargs)


def _mod(m: Meter, fn, args, kwargs):
    if type(args[0]) is str:
        m.string(printf_size(m, args[0], args[1]))
        return fn(*args, **kwargs)
    return _arith(m, fn, args, kwargs)


def _union(m: Meter, fn, args, kwargs):
    first, others = args[0], args[1:]
    if type(first) in CONTAINERS and all(type(o) in SIZED for o in others):
        n = len(first) + sum(map(len, others)) + len(kwargs)
        if n > m.limits.max_items:
            m.items(n)
    before = _len(first)
    result = fn(*args, **kwargs)
    target = result if result is not None else first
    if type(target) in CONTAINERS:
        _grown(m, target, before if result is None else 0)
    return result


def _sum(m: Meter, fn, args, kwargs):
    start = args[1] if len(args) > 1 else kwargs.get("start", 0)
    if type(start) in (list, tuple):  # repeated concatenation: each step checked, as Python adds them
        total = start
        for item in args[0]:
            total = _add(m, _plus, (total, item), {})
        return total
    result = fn(*args, **kwargs)
    m.value(result) if type(result) is int else None
    return result


def _plus(a, b):
    return a + b


def _join(m: Meter, fn, args, kwargs):
    sep = args[0]
    if type(sep) is not str or len(args) != 2 or kwargs:
        return fn(*args, **kwargs)
    items = list(args[1])  # str.join takes the whole iterable first too
    try:
        chars = sum(map(len, items)) + len(sep) * max(len(items) - 1, 0)
    except TypeError:
        return fn(sep, items)  # a non-string item: join's own error
    m.string(chars, not sep.isascii())
    return fn(sep, items)


def _replace(m: Meter, fn, args, kwargs):
    if len(args) >= 3 and all(type(x) is str for x in args[:3]):
        s, old, new = args[:3]
        count = args[3] if len(args) > 3 else kwargs.get("count", -1)
        found = len(s) + 1 if old == "" else s.count(old)
        if type(count) is int and count >= 0:
            found = min(found, count)
        m.string(len(s) + found * (len(new) - len(old)), not (s.isascii() and new.isascii()))
    return fn(*args, **kwargs)


def _template(m: Meter, fn, args, kwargs):
    if args and type(args[0]) is str:
        out = MeteredFormatter(m).format(*args, **kwargs)
        m.string(len(out), not out.isascii())
        return out
    return fn(*args, **kwargs)


ACCOUNTS: dict[Cost, Account | None] = {
    Cost.SMALL: None,  # no accounting: the op runs as it is
    Cost.INDEX: _index,
    Cost.SCAN: _scan,
    Cost.GROW: _grow,
    Cost.COPY: _copy,
    Cost.TEXT: _text_cost,
    Cost.ADD: _add,
    Cost.MUL: _mul,
    Cost.POW: _pow,
    Cost.SHIFT: _shift,
    Cost.ROUND: _round,
    Cost.ARITH: _arith,
    Cost.MOD: _mod,
    Cost.UNION: _union,
    Cost.SUM: _sum,
    Cost.JOIN: _join,
    Cost.REPLACE: _replace,
    Cost.TEMPLATE: _template,
    Cost.FORMAT: None,  # f-strings account in runtime.ops.format_parts, where the specs are known
}


def metered(cost: Cost, fn: Callable, meter_of: Callable[[], Meter]) -> Callable:
    """`fn` with the accounting of `cost`; `meter_of()` gives the current run's meter."""
    account = ACCOUNTS[cost]
    if account is None:
        return fn

    def run(*args, **kwargs):
        return account(meter_of(), fn, args, kwargs)

    return run
