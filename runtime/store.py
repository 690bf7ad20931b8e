"""The run database (SQLite): runs, one row per input with its trace, and checkpoints.

Crash safety: an input's row and the policy state after learning from it are written in
one transaction (every `checkpoint_every` inputs; rows after the last checkpoint are
dropped on resume and redone), so a killed run resumes with no input lost or counted
twice, and the resumed policy is exactly the one that produced the recorded rows.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, created REAL, program_sha256 TEXT, program TEXT, graph TEXT,
  policy TEXT, settings TEXT, cost_weight REAL, backends TEXT, inputs TEXT, status TEXT);
CREATE TABLE IF NOT EXISTS items (
  run_id INTEGER, seq INTEGER, item TEXT, label TEXT, answer TEXT, correct INTEGER,
  reward REAL, cost REAL, largest_cost REAL, error_kind TEXT, error TEXT, trace TEXT,
  seconds REAL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS checkpoints (run_id INTEGER PRIMARY KEY, seq INTEGER, state BLOB);
"""


class Store:
    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def new_run(self, **fields) -> int:
        fields = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in fields.items()}
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cur = self.db.execute(f"INSERT INTO runs (created, status, {cols}) VALUES (?, 'running', {marks})",
                              (time.time(), *fields.values()))
        return int(cur.lastrowid)

    def find_run(self, program_sha256: str, policy: str, settings: str, inputs: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM runs WHERE program_sha256=? AND policy=? AND settings=? AND inputs=? "
            "ORDER BY id DESC LIMIT 1", (program_sha256, policy, settings, inputs)).fetchone()
        return row[0] if row else None

    def resume_point(self, run_id: int) -> tuple[int, Any]:
        """(number of inputs done, policy state or None); drops rows past the checkpoint."""
        row = self.db.execute("SELECT seq, state FROM checkpoints WHERE run_id=?", (run_id,)).fetchone()
        done = row[0] + 1 if row else 0
        self.db.execute("DELETE FROM items WHERE run_id=? AND seq>=?", (run_id, done))
        return done, (pickle.loads(row[1]) if row else None)

    def record(self, run_id: int, seq: int, row: dict, state: Any | None) -> None:
        """One input's row, and (if given) the policy state after it, atomically."""
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO items (run_id, seq, item, label, answer, correct, reward, cost, "
                "largest_cost, error_kind, error, trace, seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, seq, row["item"], row.get("label"), json.dumps(row.get("answer")),
                 row.get("correct"), row.get("reward"), row.get("cost"), row.get("largest_cost"),
                 row.get("error_kind"), row.get("error"), json.dumps(row.get("trace")), row.get("seconds")))
            if state is not None:
                self.db.execute("INSERT OR REPLACE INTO checkpoints (run_id, seq, state) VALUES (?,?,?)",
                                (run_id, seq, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))

    def finish(self, run_id: int) -> None:
        self.db.execute("UPDATE runs SET status='done' WHERE id=?", (run_id,))

    def items(self, run_id: int) -> list[dict]:
        cur = self.db.execute("SELECT * FROM items WHERE run_id=? ORDER BY seq", (run_id,))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        for r in rows:
            r["answer"] = json.loads(r["answer"]) if r["answer"] is not None else None
            r["trace"] = json.loads(r["trace"]) if r["trace"] else None
        return rows

    def _transaction(self):
        db = self.db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *rest):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    def close(self) -> None:
        self.db.close()
