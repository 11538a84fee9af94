"""The benchmark table file: one SQLite database with a ``meta`` and a ``rows`` table.

Schema::

    meta(key TEXT PRIMARY KEY, value TEXT)      -- every value is JSON
    rows(genome_key TEXT PRIMARY KEY, genome TEXT, result TEXT, created REAL)

``rows.genome`` is the genome's canonical JSON (`Genome.to_json`) and ``rows.result``
the stored `EvalResult.to_json`. Rows are keyed by `Genome.key` only (a hash of the
space id and the genes), so a table is served on any machine.

During a build the file is in WAL mode (one commit per row, crash-safe); when a build
stops it is switched back to a single self-contained file (``journal_mode=DELETE``).
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas_env.errors import ConfigError

TABLE_FORMAT = "1"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS rows "
    "(genome_key TEXT PRIMARY KEY, genome TEXT, result TEXT, created REAL)",
)

# Meta fields that decide what a row means: a table is only extended (resumed) by a
# build whose values are identical. Everything else in meta is informational.
IDENTITY_KEYS: tuple[str, ...] = (
    "format",
    "space",
    "task",
    "task_fingerprint",
    "fidelity",
    "seed",
    "backend",
    "device_type",
    "precision",
    "evaluator_version",
)

# The fields every table must have to be served.
REQUIRED_KEYS: tuple[str, ...] = ("format", "space", "task", "fidelity", "seed", "backend")


def machine_name() -> str:
    """CPU model (from /proc/cpuinfo where available) and, with CUDA, the GPU name."""
    cpu = ""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cpu = cpu or platform.processor() or platform.machine() or "unknown CPU"
    cores = os.cpu_count()
    text = f"{cpu} ({cores} cores)" if cores else cpu
    try:
        import torch

        if torch.cuda.is_available():
            text += f" + {torch.cuda.get_device_name(0)}"
    except Exception:  # pragma: no cover - torch is a dependency; CUDA probing may fail
        pass
    return text


def connect_writer(path: Path) -> sqlite3.Connection:
    """Open (creating) a table file for building: WAL, autocommit, schema ensured.

    Raises:
        ConfigError: The file exists but is not a SQLite database, or is a database that
            is not a benchmark table.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if names - {"meta", "rows"}:
            conn.close()
            raise ConfigError(
                f"{path}: this SQLite file is not a benchmark table (it has tables "
                f"{sorted(names)}, expected 'meta' and 'rows'); choose another --out path"
            )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            conn.execute(statement)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{path}: cannot open as a benchmark table ({exc}); delete it or choose another path"
        ) from exc
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """Open an existing table file read-only.

    Raises:
        ConfigError: No such file, or not a SQLite database.
    """
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such benchmark table file; build one with "
            f"`python -m nas_env.table build --space ... --out {path}`"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60.0)
        conn.execute("SELECT name FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{path}: not a readable benchmark table ({exc})") from exc
    return conn


def read_meta(conn: sqlite3.Connection, path: Path | str) -> dict[str, Any]:
    """The ``meta`` table as a dict of parsed JSON values (empty for a new file).

    Raises:
        ConfigError: The meta table is missing or a value is not JSON.
    """
    try:
        rows = conn.execute("SELECT key, value FROM meta").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{path}: no readable 'meta' table ({exc}); not a benchmark table"
        ) from exc
    meta: dict[str, Any] = {}
    for key, value in rows:
        try:
            meta[key] = json.loads(value)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: meta {key!r} is not valid JSON ({exc})") from exc
    return meta


def write_meta(conn: sqlite3.Connection, values: Mapping[str, Any]) -> None:
    """Insert or replace meta fields (JSON-encoded) in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()],
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def write_row(
    conn: sqlite3.Connection, genome_key: str, genome_json: str, result_json: str
) -> None:
    """Store one evaluated genome (its own transaction: committed on return)."""
    conn.execute(
        "INSERT OR REPLACE INTO rows (genome_key, genome, result, created) VALUES (?, ?, ?, ?)",
        (genome_key, genome_json, result_json, time.time()),
    )


def _short(value: Any) -> str:
    if isinstance(value, dict) and "name" in value:
        return f"{value['name']!r} ({json.dumps(value, sort_keys=True)[:200]})"
    return json.dumps(value, sort_keys=True)[:200]


def identity_mismatches(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """One sentence per identity field whose stored value differs from ``wanted``."""
    problems = []
    for key in IDENTITY_KEYS:
        if stored.get(key) != wanted.get(key):
            problems.append(
                f"{key}: the table has {_short(stored.get(key))}, "
                f"this build has {_short(wanted.get(key))}"
            )
    return problems


def finish_file(conn: sqlite3.Connection, vacuum: bool) -> None:
    """Leave a single self-contained file: optionally VACUUM, then leave WAL mode."""
    try:
        if vacuum:
            conn.execute("VACUUM")
        conn.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.OperationalError:  # another process holds the file open: keep WAL
        pass
