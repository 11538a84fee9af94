"""Corpus discovery, reading and hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas_env.errors import ConfigError
from nas_env.tasks import stdlib_files
from nas_env.tasks.corpus import (
    EXCLUDED_PARTS,
    Document,
    content_hash,
    read_documents,
    stdlib_root,
    text_files,
)


def test_stdlib_files_sorted_non_empty_and_free_of_tests() -> None:
    files = stdlib_files()
    root = stdlib_root()
    rel = [f.relative_to(root) for f in files]
    assert len(files) > 100
    assert [r.as_posix() for r in rel] == sorted(r.as_posix() for r in rel)
    assert files == stdlib_files()
    for r in rel:
        assert r.suffix == ".py"
        assert not any(p in EXCLUDED_PARTS or p.startswith("test_") for p in r.parts), r
    names = {r.as_posix() for r in rel}
    assert {"os.py", "json/__init__.py", "textwrap.py"} <= names


def test_stdlib_files_returns_a_copy() -> None:
    files = stdlib_files()
    files.clear()
    assert stdlib_files()


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def test_text_files_rule(tmp_path: Path) -> None:
    _write(tmp_path / "b.txt", "b")
    _write(tmp_path / "a" / "z.md", "z")
    _write(tmp_path / "README", "readme")
    _write(tmp_path / "image.png", b"\x89PNG")
    _write(tmp_path / "binary", b"abc\x00def")
    _write(tmp_path / "latin1.txt", "caf\xe9".encode("latin-1"))
    _write(tmp_path / ".hidden.txt", "hidden")
    _write(tmp_path / ".git" / "config.txt", "git")
    _write(tmp_path / "__pycache__" / "x.py", "cached")
    found = [p.relative_to(tmp_path).as_posix() for p in text_files(tmp_path)]
    assert found == ["README", "a/z.md", "b.txt"]


def test_text_files_single_file_and_missing(tmp_path: Path) -> None:
    single = _write(tmp_path / "data.weird", "text")
    assert text_files(single) == [single]
    with pytest.raises(ConfigError, match="no such file or folder") as info:
        text_files(tmp_path / "nope")
    assert "nope" in str(info.value)


def test_text_files_empty_folder(tmp_path: Path) -> None:
    _write(tmp_path / "x.png", b"\x00")
    with pytest.raises(ConfigError, match="no text files found"):
        text_files(tmp_path)


def test_read_documents_relative_names_and_bad_utf8(tmp_path: Path) -> None:
    a = _write(tmp_path / "sub" / "a.txt", "alpha")
    docs = read_documents([a], tmp_path)
    assert docs == [Document("sub/a.txt", "alpha")]
    bad = _write(tmp_path / "bad.txt", b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        read_documents([bad], tmp_path)
    assert "bad.txt" in str(info.value)


def test_content_hash_depends_on_names_contents_and_order() -> None:
    base = content_hash([("a", "xy"), ("b", "z")])
    assert base == content_hash([Document("a", "xy"), Document("b", b"z")])
    assert base != content_hash([("a", "x"), ("b", "yz")])
    assert base != content_hash([("b", "z"), ("a", "xy")])
    assert base != content_hash([("c", "xy"), ("b", "z")])
    assert content_hash(enumerate(["p", "q"])) == content_hash([("0", "p"), ("1", "q")])
    assert len(base) == 64
