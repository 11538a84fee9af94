"""Persistent result cache: SQLite in WAL mode, shared by several processes.

Rows are keyed by a hash of everything that determines a result (`cache_key`); the
readable parts are stored beside the hash for inspection. Each process (and thread)
opens its own connection, waits on locks through SQLite's busy timeout, and writes in
short ``BEGIN IMMEDIATE`` transactions, so parallel workers lose no row.

Trained once across processes:
    `ResultCache.compute` looks the key up and, when there is no usable result, claims
    it (``claims`` table, see `nas_env.evaluation.cache_store`) in the same transaction. The
    owner computes while a heartbeat thread refreshes its claim every
    ``heartbeat_seconds``; any other asker polls every ``poll_seconds`` until the result
    appears (served as a cache hit) or the claim is released without a usable result or
    expires (heartbeat older than ``claim_timeout``: a killed process), and then claims
    the key itself. Heartbeats are wall-clock times: processes on several machines that
    share one file need synchronised clocks.

Which results are kept and served:
    - ``ok``: the first good result is never overwritten; it replaces any failure.
    - ``diverged``, ``invalid``: deterministic failures; stored and served at once. They
      replace a stored transient failure, and only an ``ok`` result replaces them.
    - ``timeout``, ``oom``: transient failures (a busy machine may cause them). They are
      stored with their cause (the result's message, also in the ``message`` column) and
      ``attempts``, the number of results stored for the key so far (one more for each
      transient failure put for it). A stored transient failure is served only once
      ``attempts >= 1 + transient_retries``; before that the key is evaluated again.
      With the default ``transient_retries=1`` a timeout is retried once, and after a
      second transient failure the stored failure is served.
    - ``error``: any other exception, possibly a transient bug; returned but never
      stored, so it is retried next time.

Databases written by earlier versions (no ``attempts`` column, no ``claims`` table) are
upgraded in place when opened.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nas_env.checks import expect_int, expect_positive
from nas_env.errors import ConfigError
from nas_env.evaluation import cache_store as store
from nas_env.evaluation.result import EvalResult

log = logging.getLogger(__name__)

TRANSIENT: tuple[str, ...] = ("timeout", "oom")
DETERMINISTIC: tuple[str, ...] = ("diverged", "invalid")

_RESULTS_SCHEMA = """
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
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    message TEXT NOT NULL DEFAULT ''
)
"""

# Columns added since the first schema, with their ALTER TABLE definitions.
_ADDED_COLUMNS = {
    "attempts": "attempts INTEGER NOT NULL DEFAULT 1",
    "message": "message TEXT NOT NULL DEFAULT ''",
}

# The stored row is replaced unless it is ok, or it is a deterministic failure and the
# new result is not ok; ``attempts`` counts every result accepted for the key.
_PUT = f"""
INSERT INTO results
    (key, genome_key, task, fidelity, seed, backend, version, status, result, created,
     attempts, message)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
ON CONFLICT (key) DO UPDATE SET
    genome_key = excluded.genome_key, task = excluded.task, fidelity = excluded.fidelity,
    seed = excluded.seed, backend = excluded.backend, version = excluded.version,
    status = excluded.status, result = excluded.result, created = excluded.created,
    message = excluded.message, attempts = results.attempts + 1
WHERE results.status <> 'ok'
    AND (excluded.status = 'ok' OR results.status NOT IN {DETERMINISTIC!r})
"""


def _migrate(conn: sqlite3.Connection) -> None:
    """Create the tables, or add the columns that an older database lacks."""
    conn.execute(_RESULTS_SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(results)")}
    for name, definition in _ADDED_COLUMNS.items():
        if name not in columns:
            conn.execute(f"ALTER TABLE results ADD COLUMN {definition}")
    conn.execute(store.CLAIMS_SCHEMA)


def cache_key(*parts: object) -> str:
    """Stable hash of everything that determines an evaluation's result.

    Args:
        *parts: The genome key, task, fidelity, seed, backend, version and any other
            setting that changes a result; each is hashed as ``str(part)``.

    Raises:
        ValueError: No parts, or a part contains the separator ``"\\x1f"``.
    """
    if not parts:
        raise ValueError("cache_key: needs at least one part")
    texts = [str(part) for part in parts]
    for i, text in enumerate(texts):
        if "\x1f" in text:
            raise ValueError(f"cache_key: part {i} ({text!r}) contains the separator '\\x1f'")
    return hashlib.sha256("\x1f".join(texts).encode("utf-8")).hexdigest()


class ResultCache:
    """A SQLite file of `EvalResult` rows, with claims so that a key is computed once.

    Args:
        path: Database file (created with its folder); ``":memory:"`` for a private
            cache, shared by the threads of this object only.
        timeout: Seconds a writer waits for another process' lock before failing.
        claim_timeout: Seconds without a heartbeat after which a claim is expired.
        heartbeat_seconds: Seconds between heartbeats of a claim being computed
            (less than ``claim_timeout``).
        poll_seconds: Seconds between looks while another owner computes a key.
        transient_retries: How many times a key whose stored result is a transient
            failure (timeout, oom) is evaluated again before that failure is served.

    Raises:
        ConfigError: A numeric argument is not positive (``transient_retries``: not a
            non-negative integer), or ``heartbeat_seconds >= claim_timeout``.
    """

    def __init__(
        self,
        path: str | Path,
        timeout: float = 60.0,
        *,
        claim_timeout: float = 60.0,
        heartbeat_seconds: float = 5.0,
        poll_seconds: float = 0.2,
        transient_retries: int = 1,
    ) -> None:
        self.path = str(path)
        self.timeout = expect_positive(timeout, "ResultCache timeout")
        self.claim_timeout = expect_positive(claim_timeout, "ResultCache claim_timeout")
        self.heartbeat_seconds = expect_positive(heartbeat_seconds, "ResultCache heartbeat_seconds")
        self.poll_seconds = expect_positive(poll_seconds, "ResultCache poll_seconds")
        retries = expect_int(transient_retries, "ResultCache transient_retries", minimum=0)
        self.transient_retries = retries if retries is not None else 0
        if self.heartbeat_seconds >= self.claim_timeout:
            raise ConfigError(
                f"ResultCache heartbeat_seconds: must be less than claim_timeout "
                f"({self.claim_timeout:g}), got {self.heartbeat_seconds:g}"
            )
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._reset_process_state()
        self._db = store.Database(self.path, self.timeout, _migrate, self._reset_process_state)

    def _reset_process_state(self) -> None:
        """Fresh locks, heartbeats and owner name (at start, and in a forked child)."""
        self._state_lock = threading.Lock()
        self._heartbeats: set[store.Heartbeat] = set()
        self._held: dict[str, int] = {}  # claimed key -> thread computing it
        self.owner = store.new_owner()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (for inspection)."""
        return self._db.connection()

    # -- results -----------------------------------------------------------------------

    def _usable(self, status: str, attempts: int) -> bool:
        if status in TRANSIENT:
            return attempts >= 1 + self.transient_retries
        return status == "ok" or status in DETERMINISTIC

    def _lookup(self, conn: sqlite3.Connection, key: str) -> EvalResult | None:
        row = conn.execute(
            "SELECT status, attempts, result FROM results WHERE key = ?", (key,)
        ).fetchone()
        if row is None or not self._usable(row[0], row[1]):
            return None
        return EvalResult.from_json(row[2]).with_cache_hit()

    def get(self, key: str) -> EvalResult | None:
        """The usable stored result for ``key`` (marked as a cache hit), or None.

        A stored transient failure with attempts left is not usable (None).
        """
        with self._db.use() as conn:
            return self._lookup(conn, key)

    def _store(
        self, conn: sqlite3.Connection, key: str, result: EvalResult, fidelity: str, seed: int
    ) -> None:
        if result.status == "error":
            return
        conn.execute(
            _PUT,
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
                result.message,
            ),
        )

    def put(self, key: str, result: EvalResult, fidelity: str, seed: int) -> None:
        """Store ``result`` under ``key`` by the module's policy.

        A stored ``ok`` row is kept; a stored deterministic failure is replaced only by
        an ``ok`` result; a transient failure counts one more attempt; ``error`` results
        are not stored.
        """
        self._db.transaction(lambda conn: self._store(conn, key, result, fidelity, seed))

    # -- claims ------------------------------------------------------------------------

    def compute(
        self, key: str, fn: Callable[[], EvalResult], *, fidelity: str, seed: int
    ) -> EvalResult:
        """The result for ``key``: from the cache, from another process, or ``fn()``.

        Args:
            key: The `cache_key` of the evaluation.
            fn: Computes the result; run at most once across processes while its
                result is usable (see the module's policy).
            fidelity: Fidelity name stored with the row.
            seed: Seed stored with the row.

        Returns:
            A usable stored result (marked as a cache hit), possibly one that another
            owner computed while this call waited (for as long as that owner's claim
            stays alive); else ``fn()``'s result, stored unless its status is ``error``.

        Raises:
            RuntimeError: ``fn`` asks for the key it is computing.
        """
        self._db.check_fork()
        me = threading.get_ident()
        with self._state_lock:
            if self._held.get(key) == me:
                raise RuntimeError(f"ResultCache.compute: key {key} is already being computed")
        found = self.get(key)  # the common case, a stored result: no write lock taken
        if found is not None:
            return found
        while True:
            found, claimed = self._db.transaction(lambda conn: self._lookup_or_claim(conn, key))
            if found is not None:
                return found
            if claimed:
                break
            found = self._wait(key)
            if found is not None:
                return found
        with self._state_lock:
            self._held[key] = me
        done = False
        try:
            with self._heartbeat(key):
                result = fn()
            self._db.transaction(
                lambda conn: self._store_and_release(conn, key, result, fidelity, seed)
            )
            done = True
        finally:
            with self._state_lock:
                self._held.pop(key, None)
            if not done:
                self._release_quietly(key)
        return result

    def _lookup_or_claim(
        self, conn: sqlite3.Connection, key: str
    ) -> tuple[EvalResult | None, bool]:
        found = self._lookup(conn, key)
        if found is not None:
            return found, False
        return None, store.try_claim(conn, key, self.owner, time.time(), self.claim_timeout)

    def _store_and_release(
        self, conn: sqlite3.Connection, key: str, result: EvalResult, fidelity: str, seed: int
    ) -> None:
        self._store(conn, key, result, fidelity, seed)
        store.release(conn, key, self.owner)

    def _release_quietly(self, key: str) -> None:
        try:
            self._db.transaction(lambda conn: store.release(conn, key, self.owner))
        except sqlite3.Error as exc:  # the claim expires by itself after claim_timeout
            log.warning("could not release the claim on %s: %s", key, exc)

    def _wait(self, key: str) -> EvalResult | None:
        """Poll until ``key`` has a usable result, or its claim is released or expired."""
        while True:
            time.sleep(self.poll_seconds)
            with self._db.use() as conn:
                found = self._lookup(conn, key)
                if found is not None:
                    return found
                if store.live_owner(conn, key, time.time(), self.claim_timeout) is None:
                    return None

    @contextmanager
    def _heartbeat(self, key: str) -> Iterator[None]:
        def beat() -> bool:
            with self._db.use() as conn:
                return store.touch(conn, key, self.owner, time.time())

        heartbeat = store.Heartbeat(
            beat, self.heartbeat_seconds, self._db.close_thread, f"heartbeat {key[:12]}"
        )
        with self._state_lock:
            self._heartbeats.add(heartbeat)
        heartbeat.start()
        try:
            yield
        finally:
            heartbeat.stop()
            with self._state_lock:
                self._heartbeats.discard(heartbeat)

    # -- inspection and lifetime -------------------------------------------------------

    def __len__(self) -> int:
        with self._db.use() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        """True when `get` would return a result for ``key``."""
        return isinstance(key, str) and self.get(key) is not None

    def results(self) -> Iterator[EvalResult]:
        """Every stored result, oldest first (transient failures with retries left too)."""
        with self._db.use() as conn:
            rows = conn.execute("SELECT result FROM results ORDER BY created").fetchall()
        for (text,) in rows:
            yield EvalResult.from_json(text)

    def close(self) -> None:
        """Stop heartbeats and close this thread's connection (reopened on next use).

        Closing a ``":memory:"`` cache drops its rows.
        """
        with self._state_lock:
            heartbeats = list(self._heartbeats)
        for heartbeat in heartbeats:
            heartbeat.stop()
        self._db.close()

    def __getstate__(self) -> dict[str, object]:
        return {
            "path": self.path,
            "timeout": self.timeout,
            "claim_timeout": self.claim_timeout,
            "heartbeat_seconds": self.heartbeat_seconds,
            "poll_seconds": self.poll_seconds,
            "transient_retries": self.transient_retries,
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        path, timeout = state.pop("path"), state.pop("timeout")
        self.__init__(path, timeout, **state)  # type: ignore[misc, arg-type]
