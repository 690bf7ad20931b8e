"""The call cache: backend outputs keyed by what determines them.

A key hashes (the content hash of the input image, the crop box(es), the backend's
identity (name and configuration), the op, the canonical arguments), so a cached answer
is reused exactly when the same backend would be asked the same thing about the same
pixels. Entries keep the value, the confidence, the cost and the seconds of the real
call, and its error if it failed. `SQLiteCache` is the file behind `--cache`, `--replay`
and `fmprog record`; `MemoryCache` serves one input's oracle evaluations.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fmprog.backends.base import Backend, BackendError, BackendTimeout, Result
from fmprog.backends.geometry import Box

if TYPE_CHECKING:
    from .executor import Job, Served
    from .neural import Request


def call_key(backend: Backend, req: "Request") -> str:
    """The cache key of `req` served by `backend`."""
    text = json.dumps([list(map(_json_source, req.source)), backend.identity(), req.call.op,
                       req.call.arg_key()], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _json_source(s: tuple) -> list:
    image, box = s
    return [image, [int(v) for v in box]]


def encode_value(op: str, value: Any) -> str:
    """A backend value as JSON text (boxes as [l, lo, r, u, score] lists)."""
    if op == "detect":
        value = [[b.left, b.lower, b.right, b.upper, float(b.score)] for b in value]
    elif op == "match_scores":
        value = np.asarray(value, dtype=float).tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    return json.dumps(value)


def decode_value(op: str, text: str) -> Any:
    value = json.loads(text)
    if op == "detect":
        return [Box(int(a), int(b), int(c), int(d), float(s)) for a, b, c, d, s in value]
    if op == "match_scores":
        return np.asarray(value, dtype=float)
    return value


@dataclass(frozen=True)
class CacheEntry:
    op: str
    backend: str
    value: str | None  # encoded value, None when the call failed
    confidence: float | None
    cost: float
    seconds: float
    error: str | None = None
    error_kind: str | None = None

    @classmethod
    def of(cls, job: "Job", s: "Served") -> "CacheEntry":
        if s.error is not None:
            return cls(job.call.op, job.backend.name, None, None, 0.0, s.seconds,
                       str(s.error), getattr(s.error, "kind", "backend-error"))
        r = s.result
        return cls(job.call.op, job.backend.name, encode_value(job.call.op, r.value),
                   r.confidence, s.cost, s.seconds)

    def served(self) -> "Served":
        from .executor import Served

        if self.error is not None:
            cls = BackendTimeout if self.error_kind == "backend-timeout" else BackendError
            return Served(None, cls(self.error), 0.0, 0.0, cached=True)
        result = Result(decode_value(self.op, self.value), self.confidence)
        return Served(result, None, 0.0, self.cost, cached=True)


class CallCache:
    """The interface: get a key's entry (or None), put one."""

    def get(self, key: str) -> CacheEntry | None:
        raise NotImplementedError

    def put(self, key: str, entry: CacheEntry) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemoryCache(CallCache):
    def __init__(self):
        self.entries: dict[str, CacheEntry] = {}

    def get(self, key: str) -> CacheEntry | None:
        return self.entries.get(key)

    def put(self, key: str, entry: CacheEntry) -> None:
        self.entries[key] = entry


SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
  key TEXT PRIMARY KEY, op TEXT, backend TEXT, value TEXT, confidence REAL, cost REAL,
  seconds REAL, error TEXT, error_kind TEXT, created REAL);
CREATE TABLE IF NOT EXISTS paths (key TEXT PRIMARY KEY, tree TEXT, created REAL);
"""


class CacheError(Exception):
    """The cache file cannot be used (named in the message)."""


class SQLiteCache(CallCache):
    """The cache file. Reads go through an in-memory layer; writes are batched into one
    transaction every `flush_every` puts (and on close), so recording is not bound by
    fsync. `readonly=True` opens it for replay only."""

    def __init__(self, path: str | Path, readonly: bool = False, flush_every: int = 256):
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise CacheError(f"{self.path}: no such cache file (record one with `fmprog record` "
                             f"or `fmprog run --cache`)")
        try:
            if not readonly:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(SCHEMA)
            self.db.execute("SELECT count(*) FROM calls").fetchone()
        except (sqlite3.DatabaseError, OSError) as e:
            raise CacheError(f"{self.path}: cannot use the cache file: {e}") from None
        self.memory: dict[str, CacheEntry] = {}
        self.pending: list[tuple] = []
        self.flush_every = flush_every
        self.hits = self.misses = 0

    def get(self, key: str) -> CacheEntry | None:
        hit = self.memory.get(key)
        if hit is None:
            row = self.db.execute("SELECT op, backend, value, confidence, cost, seconds, error, "
                                  "error_kind FROM calls WHERE key=?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            hit = self.memory[key] = CacheEntry(*row)
        self.hits += 1
        return hit

    def put(self, key: str, entry: CacheEntry) -> None:
        self.memory[key] = entry
        e = entry
        self.pending.append((key, e.op, e.backend, e.value, e.confidence, e.cost, e.seconds,
                             e.error, e.error_kind, time.time()))
        if len(self.pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        try:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT OR REPLACE INTO calls VALUES (?,?,?,?,?,?,?,?,?,?)",
                                    self.pending)
        except sqlite3.DatabaseError as e:
            raise CacheError(f"{self.path}: cannot write the cache: {e}") from None
        self.pending.clear()

    def put_tree(self, key: str, tree: dict) -> None:
        """A recorded input's outcome tree (`recording.py`), stored at once."""
        try:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO paths VALUES (?,?,?)",
                                (key, json.dumps(tree, separators=(",", ":")), time.time()))
        except sqlite3.DatabaseError as e:
            raise CacheError(f"{self.path}: cannot write the cache: {e}") from None

    def get_tree(self, key: str) -> dict | None:
        try:
            row = self.db.execute("SELECT tree FROM paths WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:  # a cache written before trees were recorded
            return None
        return json.loads(row[0]) if row else None

    def load_all(self) -> "MemoryCache":
        """Every call entry, in memory (replays of a whole benchmark read each often)."""
        self.flush()
        mem = MemoryCache()
        for key, *row in self.db.execute("SELECT key, op, backend, value, confidence, cost, seconds, "
                                         "error, error_kind FROM calls"):
            mem.entries[key] = CacheEntry(*row)
        return mem

    def __len__(self) -> int:
        self.flush()
        return int(self.db.execute("SELECT count(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        self.flush()
        self.db.close()
