"""Persistent result cache: SQLite in WAL mode, safe for several writing processes.

Rows are keyed by a hash of (genome key, task fingerprint, fidelity, seed, backend,
evaluator version); the readable parts are stored beside the hash for inspection.
Each process opens its own connection (connections are never shared across a
fork), waits on locks through SQLite's busy timeout, and writes with
``INSERT OR REPLACE`` inside a short transaction, so parallel vector envs that
evaluate overlapping genomes lose no row.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from nas_env.evaluation.result import EvalResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    genome_key TEXT NOT NULL,
    task TEXT NOT NULL,
    fidelity TEXT NOT NULL,
    seed INTEGER NOT NULL,
    backend TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(
    genome_key: str, task: str, fidelity: str, seed: int, backend: str, version: str
) -> str:
    """Stable hash of everything that determines an evaluation's result."""
    text = "\x1f".join([genome_key, task, fidelity, str(seed), backend, version])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResultCache:
    """A SQLite file of `EvalResult` rows.

    Args:
        path: Database file (created with its folder); ``":memory:"`` for a private cache.
        timeout: Seconds a writer waits for another process' lock before failing.
    """

    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._pid = os.getpid()
        with self._connection() as conn:
            conn.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._pid != os.getpid():
            self._pid = os.getpid()
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> EvalResult | None:
        """The stored result for ``key`` (marked as a cache hit), or None."""
        row = self._connection().execute("SELECT result FROM results WHERE key = ?", (key,))
        found = row.fetchone()
        return EvalResult.from_json(found[0]).with_cache_hit() if found else None

    def put(self, key: str, result: EvalResult, fidelity: str, seed: int) -> None:
        """Store ``result`` under ``key`` (replacing an older row)."""
        conn = self._connection()
        for attempt in range(5):
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        result.genome_key,
                        result.task,
                        fidelity,
                        seed,
                        result.backend,
                        result.evaluator_version,
                        result.status,
                        result.to_json(),
                        time.time(),
                    ),
                )
                return
            except sqlite3.OperationalError as exc:  # "database is locked" past the timeout
                if "locked" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def __len__(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        row = self._connection().execute("SELECT 1 FROM results WHERE key = ?", (key,))
        return row.fetchone() is not None

    def results(self) -> Iterator[EvalResult]:
        """Every stored result, oldest first."""
        rows = self._connection().execute("SELECT result FROM results ORDER BY created")
        for (text,) in rows:
            yield EvalResult.from_json(text)

    def close(self) -> None:
        """Close this thread's connection (reopened on next use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["path"], state["timeout"])  # type: ignore[misc, arg-type]
