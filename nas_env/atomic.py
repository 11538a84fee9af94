"""Atomic file writes: a reader sees either the old file or the complete new one.

Every write goes to a temporary file in the destination folder, is flushed to disk and
then renamed over the final name with `os.replace`, which is atomic on POSIX and Windows.
Several processes may therefore write the same file at the same time; a crash in the
middle of a write leaves the previous content (or no file) and no temporary file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "atomic_writer"]


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` and move it over ``path`` on success.

    Args:
        path: Final destination; its parent folder is created when missing. The file is
            readable by everyone (mode 0644), like a file written with `open`.

    Yields:
        A binary file handle. When the ``with`` block raises, the temporary file is
        removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see `atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see `atomic_writer`)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON (and a final newline) to ``path`` atomically.

    Raises:
        TypeError: ``data`` is not JSON-serialisable; ``path`` is left untouched.
    """
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
