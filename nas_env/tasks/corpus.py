"""Text corpora: the Python standard library's own source, or the user's text files.

A corpus is a sorted list of `Document` objects (a relative POSIX name plus the decoded
text). Names are relative so that hashes and splits do not depend on where the corpus
lives on disk.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sysconfig
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from nas_env.errors import ConfigError

EXCLUDED_PARTS: frozenset[str] = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}
)
"""Path parts that mark test suites, third-party packages or build products."""

TEXT_SUFFIXES: tuple[str, ...] = (
    ".txt", ".md", ".rst", ".py", ".pyi", ".json", ".jsonl", ".csv", ".tsv", ".html",
    ".htm", ".xml", ".tex", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".c", ".h",
    ".cpp", ".hpp", ".js", ".ts", ".java", ".go", ".rs", ".sh",
)  # fmt: skip
"""Suffixes (case-insensitive) that `text_files` accepts inside a folder."""


class Document(NamedTuple):
    """One text of a corpus.

    Attributes:
        name: Relative POSIX path (or another stable name) of the text.
        text: The decoded text.
    """

    name: str
    text: str


def stdlib_root() -> Path:
    """The folder of the running interpreter's pure-Python standard library."""
    return Path(sysconfig.get_path("stdlib")).resolve()


def _is_excluded(parts: Iterable[str]) -> bool:
    return any(part in EXCLUDED_PARTS or part.startswith("test_") for part in parts)


def _decodes(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return True


@functools.lru_cache(maxsize=4)
def _stdlib_files(root: Path) -> tuple[Path, ...]:
    found: list[tuple[str, Path]] = []
    for folder, dirs, names in os.walk(root):
        rel_folder = Path(folder).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not _is_excluded([d]))
        for name in names:
            rel = rel_folder / name
            if name.endswith(".py") and not _is_excluded(rel.parts):
                path = root / rel
                if path.is_file() and _decodes(path):
                    found.append((rel.as_posix(), path))
    return tuple(path for _, path in sorted(found))


def stdlib_files() -> list[Path]:
    """All ``*.py`` files of the standard library, minus test suites and non-stdlib code.

    A file is left out when any part of its path relative to `stdlib_root` is one of
    `EXCLUDED_PARTS` or starts with ``test_``, or when it does not decode as UTF-8.

    Returns:
        Absolute paths sorted by their relative POSIX path (the same order everywhere).
    """
    return list(_stdlib_files(stdlib_root()))


def _has_text_suffix(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES


def _looks_like_text(path: Path) -> bool:
    try:
        data = path.read_bytes()
        data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return b"\x00" not in data


def text_files(path: str | Path) -> list[Path]:
    """The text files of a file or folder.

    Rule: a file is returned as is (whatever its suffix). In a folder (searched
    recursively, hidden files and folders and ``__pycache__`` skipped) a regular file is
    kept when its suffix is one of `TEXT_SUFFIXES` or it has no suffix at all (``README``,
    ``LICENSE``), and its bytes decode as UTF-8 and contain no NUL byte.

    Args:
        path: A text file or a folder.

    Returns:
        Paths sorted by their POSIX path relative to ``path``.

    Raises:
        ConfigError: ``path`` does not exist, or the folder holds no text file.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"text corpus {str(path)!r}: no such file or folder")
    found: list[tuple[str, Path]] = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in names:
            file = Path(folder) / name
            if name.startswith(".") or not file.is_file():
                continue
            if (file.suffix == "" or _has_text_suffix(file)) and _looks_like_text(file):
                found.append((file.relative_to(path).as_posix(), file))
    if not found:
        raise ConfigError(
            f"text corpus {str(path)!r}: no text files found; allowed: UTF-8 files with a suffix "
            f"in {', '.join(TEXT_SUFFIXES)} or without a suffix"
        )
    return [file for _, file in sorted(found)]


def read_documents(files: Sequence[Path], root: Path) -> list[Document]:
    """Read ``files`` as UTF-8 and name each by its POSIX path relative to ``root``.

    Raises:
        ConfigError: A file cannot be read or is not valid UTF-8 (the message names it).
    """
    docs = []
    for file in files:
        try:
            text = file.read_bytes().decode("utf-8")
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{file}: not UTF-8 text (byte {exc.start}); allowed: UTF-8 encoded files"
            ) from exc
        docs.append(Document(file.relative_to(root).as_posix(), text))
    return docs


def content_hash(items: Iterable[tuple[object, str | bytes]]) -> str:
    """SHA-256 hex digest over ``(name, content)`` pairs, in order.

    `Document` objects are such pairs; so are ``enumerate(texts)`` for plain texts.
    Names and contents are length-prefixed so that no two corpora collide by shifting
    bytes between neighbours.
    """
    digest = hashlib.sha256()
    for name, content in items:
        data = content.encode("utf-8") if isinstance(content, str) else content
        label = str(name).encode("utf-8")
        digest.update(len(label).to_bytes(8, "little") + label)
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()
