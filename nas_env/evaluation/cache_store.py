"""SQLite plumbing of the result cache: connections, write transactions, claims, heartbeats.

`Database` gives each thread of each process its own connection (connections are never
shared across a fork; a ``":memory:"`` database has one connection shared by the
threads under a lock) and runs write transactions under ``BEGIN IMMEDIATE``.

A claim is one row of the ``claims`` table: the key being computed, the owner computing
it and the last time that owner proved it was alive. The owner refreshes the heartbeat
from a daemon thread (`Heartbeat`) while it computes; a claim whose heartbeat is older
than the claim timeout is *expired* (its process was killed or hangs) and the next asker
takes it over. The claim functions run inside the caller's transaction; `try_claim`
must run inside ``BEGIN IMMEDIATE`` so that two askers cannot both win a key.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    heartbeat REAL NOT NULL
)
"""


class Database:
    """Connections to one SQLite file, per thread and per process.

    Args:
        path: Database file, or ``":memory:"``.
        timeout: Seconds to wait for another connection's lock.
        init: Creates or upgrades the schema (run in a transaction on first open).
        on_fork: Called when first used in a forked child, before it reconnects.
    """

    def __init__(
        self,
        path: str,
        timeout: float,
        init: Callable[[sqlite3.Connection], None],
        on_fork: Callable[[], None],
    ) -> None:
        self.path = path
        self.timeout = timeout
        self._init = init
        self._on_fork = on_fork
        self._reset()
        self.transaction(init)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()
        self._memory: sqlite3.Connection | None = None
        self._memory_lock = threading.RLock()

    def check_fork(self) -> None:
        """Drop the parent's connections and state in a forked child."""
        if self._pid != os.getpid():
            self._reset()
            self._on_fork()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        if self.path != ":memory:":
            # Switching a new database to WAL takes an exclusive lock that SQLite does not
            # wait for: processes opening it at the same moment retry here.
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (for ``":memory:"``: the one shared connection)."""
        self.check_fork()
        if self.path == ":memory:":
            with self._memory_lock:
                if self._memory is None:
                    self._memory = self._open()
                    self._init(self._memory)
                return self._memory
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    @contextmanager
    def use(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, held alone while in use (``":memory:"`` only)."""
        conn = self.connection()
        if self.path == ":memory:":
            with self._memory_lock:
                yield conn
        else:
            yield conn

    def transaction(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``body`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        for attempt in range(5):
            with self.use() as conn:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:  # "database is locked" past the timeout
                    if "locked" not in str(exc) or attempt == 4:
                        raise
                else:
                    try:
                        value = body(conn)
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                    return value
            time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def close_thread(self) -> None:
        """Close this thread's connection (reopened on next use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        """Close this thread's connection and the ``":memory:"`` one (dropping its rows)."""
        self.close_thread()
        with self._memory_lock:
            if self._memory is not None:
                self._memory.close()
                self._memory = None


def new_owner() -> str:
    """An owner name unique to this process and call: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_claim(
    conn: sqlite3.Connection, key: str, owner: str, now: float, claim_timeout: float
) -> bool:
    """Claim ``key`` for ``owner`` if it is free or its claim expired; True when claimed."""
    inserted = conn.execute(
        "INSERT OR IGNORE INTO claims (key, owner, heartbeat) VALUES (?, ?, ?)", (key, owner, now)
    )
    if inserted.rowcount > 0:
        return True
    taken = conn.execute(
        "UPDATE claims SET owner = ?, heartbeat = ? WHERE key = ? AND heartbeat < ?",
        (owner, now, key, now - claim_timeout),
    )
    return taken.rowcount > 0


def live_owner(conn: sqlite3.Connection, key: str, now: float, claim_timeout: float) -> str | None:
    """The owner of an unexpired claim on ``key``, or None when it is free or expired."""
    row = conn.execute("SELECT owner, heartbeat FROM claims WHERE key = ?", (key,)).fetchone()
    if row is None or row[1] < now - claim_timeout:
        return None
    return str(row[0])


def touch(conn: sqlite3.Connection, key: str, owner: str, now: float) -> bool:
    """Refresh ``owner``'s heartbeat on ``key``; False when the claim is no longer its own."""
    cur = conn.execute(
        "UPDATE claims SET heartbeat = ? WHERE key = ? AND owner = ?", (now, key, owner)
    )
    return cur.rowcount > 0


def release(conn: sqlite3.Connection, key: str, owner: str) -> None:
    """Drop ``owner``'s claim on ``key`` (a claim taken over by another owner stays)."""
    conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))


class Heartbeat(threading.Thread):
    """A daemon thread that calls ``beat`` every ``interval`` seconds until stopped.

    Args:
        beat: Refreshes the claim; returns False when the claim was lost (then the
            thread stops beating). Database errors are logged and retried next tick.
        interval: Seconds between beats.
        on_exit: Called in the thread when it ends (closes its own connection).
        name: Thread name, for debugging.
    """

    def __init__(
        self,
        beat: Callable[[], bool],
        interval: float,
        on_exit: Callable[[], None],
        name: str,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._beat = beat
        self._interval = interval
        self._on_exit = on_exit
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopping.wait(self._interval):
                try:
                    alive = self._beat()
                except sqlite3.Error as exc:
                    log.warning("%s: heartbeat failed (retrying): %s", self.name, exc)
                    continue
                if not alive:
                    log.warning("%s: claim expired and was taken over by another owner", self.name)
                    return
        finally:
            self._on_exit()

    def stop(self) -> None:
        """Stop beating and wait for the thread to end."""
        self._stopping.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join()
