"""The run database (SQLite): runs, one row per input with its trace, and checkpoints.

Crash safety: an input's row and the policy state after learning from it are written in
one transaction (at window ends, every `checkpoint_every` inputs; rows after the last
checkpoint are dropped on resume and redone), so a killed run resumes with no input
lost or counted twice, and the resumed policy is exactly the one that produced the
recorded rows.

The database is data: policy state is stored as JSON with tagged arrays
(`statecodec.py`), never pickled, so writing a database cannot make `--resume` run
code. A run being served holds an exclusive lock (`<db>.run<id>.lock`, released when the
process ends however it ends), so two `--resume` of one run cannot both run. Any
SQLite or file-system failure becomes a `StoreError` naming the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from . import statecodec

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, created REAL, program_sha256 TEXT, program TEXT, graph TEXT,
  policy TEXT, settings TEXT, cost_weight REAL, backends TEXT, backends_identity TEXT,
  inputs TEXT, status TEXT);
CREATE TABLE IF NOT EXISTS items (
  run_id INTEGER, seq INTEGER, item TEXT, label TEXT, answer TEXT, correct INTEGER,
  reward REAL, cost REAL, largest_cost REAL, error_kind TEXT, error TEXT, trace TEXT,
  seconds REAL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS checkpoints (run_id INTEGER PRIMARY KEY, seq INTEGER, state BLOB);
"""
ITEM_FIELDS = ("item", "label", "answer", "correct", "reward", "cost", "largest_cost",
               "error_kind", "error", "trace", "seconds")


class StoreError(Exception):
    """The run database cannot be used; the message names the file and why."""


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.locks: dict[int, int] = {}
        with self._errors("open"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            cols = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
            if "backends_identity" not in cols:  # a database of an older fmprog
                self.db.execute("ALTER TABLE runs ADD COLUMN backends_identity TEXT")

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as e:
            hint = " (not an fmprog run database, or damaged)" if "malformed" in str(e) or \
                "not a database" in str(e) else ""
            raise StoreError(f"{self.path}: cannot {what} the run database: {e}{hint}") from None
        except OSError as e:
            raise StoreError(f"{self.path}: cannot {what} the run database: {e.strerror or e}") from None

    # -- runs --------------------------------------------------------------------------
    def new_run(self, **fields) -> int:
        fields = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in fields.items()}
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        with self._errors("write"):
            cur = self.db.execute(f"INSERT INTO runs (created, status, {cols}) VALUES (?, 'running', {marks})",
                                  (time.time(), *fields.values()))
        return int(cur.lastrowid)

    def find_run(self, program_sha256: str, policy: str, settings: str, inputs: str) -> dict | None:
        """The latest run of this program, policy, settings and stream, with its backends."""
        with self._errors("read"):
            row = self.db.execute(
                "SELECT id, backends, backends_identity FROM runs WHERE program_sha256=? AND "
                "policy=? AND settings=? AND inputs=? ORDER BY id DESC LIMIT 1",
                (program_sha256, policy, settings, inputs)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "backends": json.loads(row[1] or "[]"), "backends_identity": row[2]}

    def lock(self, run_id: int) -> None:
        """Hold the run's lock until this process ends (or `close`); StoreError if another
        process holds it."""
        path = f"{self.path}.run{run_id}.lock"
        with self._errors("lock"):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"{self.path}: run {run_id} is being served by another process "
                             f"(lock {path})") from None
        self.locks[run_id] = fd

    def resume_point(self, run_id: int) -> tuple[int, Any]:
        """(number of inputs done, policy state or None); drops rows past the checkpoint."""
        with self._errors("read"):
            row = self.db.execute("SELECT seq, state FROM checkpoints WHERE run_id=?", (run_id,)).fetchone()
            done = row[0] + 1 if row else 0
            self.db.execute("DELETE FROM items WHERE run_id=? AND seq>=?", (run_id, done))
        try:
            state = statecodec.decode(row[1]) if row else None
        except statecodec.StateError as e:
            raise StoreError(f"{self.path}: run {run_id}: {e}") from None
        return done, state

    def record(self, run_id: int, rows: list[tuple[int, dict]], state: Any | None) -> None:
        """Rows (seq, row) of consecutive inputs, and (if given) the policy state after the
        last of them, atomically."""
        values = []
        for seq, row in rows:
            v = [row.get(k) for k in ITEM_FIELDS]
            v[2], v[9] = json.dumps(row.get("answer")), json.dumps(row.get("trace"))
            values.append((run_id, seq, *v))
        blob = statecodec.encode(state) if state is not None else None
        with self._errors("write"), self._transaction():
            self.db.executemany(f"INSERT OR REPLACE INTO items (run_id, seq, {', '.join(ITEM_FIELDS)}) "
                                f"VALUES ({', '.join('?' * (len(ITEM_FIELDS) + 2))})", values)
            if blob is not None:
                self.db.execute("INSERT OR REPLACE INTO checkpoints (run_id, seq, state) VALUES (?,?,?)",
                                (run_id, rows[-1][0], blob))

    def finish(self, run_id: int) -> None:
        with self._errors("write"):
            self.db.execute("UPDATE runs SET status='done' WHERE id=?", (run_id,))

    def items(self, run_id: int) -> list[dict]:
        with self._errors("read"):
            cur = self.db.execute("SELECT * FROM items WHERE run_id=? ORDER BY seq", (run_id,))
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        for r in rows:
            r["answer"] = json.loads(r["answer"]) if r["answer"] is not None else None
            r["trace"] = json.loads(r["trace"]) if r["trace"] else None
        return rows

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        for fd in self.locks.values():
            os.close(fd)
        self.locks.clear()
        self.db.close()
