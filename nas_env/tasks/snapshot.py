"""The pinned default corpus: a shipped snapshot of the Python standard library's source.

``lm/stdlib`` and ``cls/stdlib-modules`` read their documents from
``nas_env/tasks/data/stdlib-py311.jsonl.xz``, not from the running interpreter, so
that their data, tokenizer and task fingerprint are byte-identical on every machine
and Python version. The file holds one JSON array ``[name, text]`` per line, sorted by
name: the ``*.py`` files of CPython 3.11.7's ``Lib/`` after the exclusions of
`stdlib_files` (test suites, site-packages) and without the data-like packages
`DATA_PACKAGES` (codec tables and pydoc's topic strings). The code is PSF-licensed;
the licence ships beside it (``data/LICENSE-PSF.txt``).

Every load is checked against `SNAPSHOT_SHA256`, the SHA-256 of the decompressed bytes.
``python -m nas_env.tasks.snapshot OUT`` rebuilds such a file from the running
interpreter (the shipped one was made with CPython 3.11.7); a different interpreter
gives different bytes, and the check then tells so.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import lzma
import sys
from pathlib import Path

from nas_env.atomic import atomic_write_bytes
from nas_env.errors import ConfigError
from nas_env.tasks.corpus import Document, read_documents, stdlib_files, stdlib_root

DATA_DIR = Path(__file__).resolve().parent / "data"
SNAPSHOT_FILE = DATA_DIR / "stdlib-py311.jsonl.xz"
SNAPSHOT_SHA256 = "00066d8bd456a64298f1998827fa92ad8a38fb31741d3a3a25b7c4291126dc44"
"""SHA-256 of the decompressed snapshot; a mismatch means a damaged or foreign file."""

DATA_PACKAGES: tuple[str, ...] = ("encodings", "pydoc_data")
"""Top-level packages left out of the snapshot: data tables rather than code."""


def _is_data(name: str) -> bool:
    return name.split("/", 1)[0] in DATA_PACKAGES


def encode_documents(docs: list[Document]) -> bytes:
    """The snapshot's decompressed form: one ``[name, text]`` JSON array per line."""
    lines = [json.dumps([doc.name, doc.text], ensure_ascii=False) for doc in docs]
    return ("\n".join(lines) + "\n").encode("utf-8")


def decode_documents(data: bytes, where: str) -> tuple[Document, ...]:
    """Inverse of `encode_documents`.

    Raises:
        ConfigError: A line is not a ``[name, text]`` pair of strings (names ``where``).
    """
    docs = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        pair = json.loads(line)
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise ConfigError(f"{where}:{number}: expected a [name, text] pair of strings")
        docs.append(Document(pair[0], pair[1]))
    return tuple(docs)


@functools.lru_cache(maxsize=2)
def _load(path: Path, expected: str) -> tuple[Document, ...]:
    try:
        data = lzma.decompress(path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"pinned corpus {path}: cannot read it ({exc}); reinstall nas_env, whose package "
            "data includes it"
        ) from exc
    except lzma.LZMAError as exc:
        raise ConfigError(
            f"pinned corpus {path}: not an xz file ({exc}); reinstall nas_env"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ConfigError(
            f"pinned corpus {path}: content SHA-256 {digest[:16]}... differs from the pinned "
            f"{expected[:16]}...; the file is damaged or not the one this version ships"
        )
    return decode_documents(data, str(path))


def stdlib_documents() -> tuple[Document, ...]:
    """The pinned standard-library documents, sorted by name (checked against the pin).

    Raises:
        ConfigError: The snapshot is missing, damaged or not the pinned one.
    """
    return _load(SNAPSHOT_FILE, SNAPSHOT_SHA256)


def interpreter_documents() -> list[Document]:
    """The running interpreter's standard library as the snapshot would hold it."""
    root = stdlib_root()
    files = [f for f in stdlib_files() if not _is_data(f.relative_to(root).as_posix())]
    return read_documents(files, root)


def write_snapshot(out: Path) -> str:
    """Write the running interpreter's standard library as a snapshot to ``out``.

    Returns:
        The SHA-256 of the decompressed bytes (the value to pin).
    """
    data = encode_documents(interpreter_documents())
    atomic_write_bytes(out, lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """``python -m nas_env.tasks.snapshot OUT``: rebuild the snapshot, print its SHA-256."""
    parser = argparse.ArgumentParser(
        prog="python -m nas_env.tasks.snapshot", description=main.__doc__
    )
    parser.add_argument("out", type=Path, help="the .jsonl.xz file to write")
    args = parser.parse_args(argv)
    digest = write_snapshot(args.out)
    pinned = "matches the pin" if digest == SNAPSHOT_SHA256 else "differs from the pin"
    print(f"{args.out}: sha256 {digest} ({pinned}; Python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
