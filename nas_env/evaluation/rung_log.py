"""The losses seen at each promotion rung, shared by every process of a search.

Successive halving asks, for a candidate that finished a rung: is it in the top 1/eta of
the candidates seen at that rung so far? `RungLog` answers from a small SQLite table
(``rungs`` beside the result cache, so vector envs in several processes share it) or
from memory (a private cache, or a benchmark table served in one process). Entries are
keyed by a context (`Evaluator.context_key` of the top rung: task, fidelity, seed,
backend... so that only comparable evaluations are ranked together), the rung index and
the genome key; the first loss stored for a key is kept.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rungs (
    context TEXT NOT NULL,
    rung INTEGER NOT NULL,
    genome_key TEXT NOT NULL,
    loss REAL NOT NULL,
    PRIMARY KEY (context, rung, genome_key)
)
"""


class RungLog:
    """Losses per (context, rung, genome).

    Args:
        path: SQLite file shared across processes, or None to keep the log in memory.
        timeout: Seconds a writer waits for another process' lock.
    """

    def __init__(self, path: str | Path | None = None, timeout: float = 60.0) -> None:
        self.path = str(path) if path is not None else None
        self.timeout = timeout
        self._memory: dict[tuple[str, int], dict[str, float]] = {}
        self._local = threading.local()
        if self.path is not None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            for _ in range(50):
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:  # another process is creating the file
                    threading.Event().wait(0.05)
            conn.execute(_SCHEMA)
            self._local.conn = conn
        return conn

    def add(self, context: str, rung: int, genome_key: str, loss: float) -> None:
        """Record ``loss`` for ``genome_key`` at ``rung`` (a key's first loss is kept)."""
        if self.path is None:
            self._memory.setdefault((context, rung), {}).setdefault(genome_key, float(loss))
            return
        self._conn().execute(
            "INSERT OR IGNORE INTO rungs VALUES (?, ?, ?, ?)",
            (context, rung, genome_key, float(loss)),
        )

    def losses(self, context: str, rung: int) -> dict[str, float]:
        """Every genome's loss at ``rung``, by genome key."""
        if self.path is None:
            return dict(self._memory.get((context, rung), {}))
        rows = (
            self._conn()
            .execute(
                "SELECT genome_key, loss FROM rungs WHERE context = ? AND rung = ?", (context, rung)
            )
            .fetchall()
        )
        return {key: loss for key, loss in rows}

    def close(self) -> None:
        """Close this thread's connection (reopened on next use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path, "timeout": self.timeout, "memory": self._memory}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["path"], state["timeout"])  # type: ignore[misc, arg-type]
        self._memory = dict(state["memory"])  # type: ignore[arg-type]
