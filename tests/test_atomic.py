"""Atomic writes: the old content or the complete new one, never a temporary file left."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from nas_env.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, atomic_writer


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "entry.bin"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["entry.bin"]


def test_failed_write_keeps_old_content(tmp_path: Path) -> None:
    path = tmp_path / "entry.bin"
    atomic_write_bytes(path, b"old")
    with pytest.raises(RuntimeError), atomic_writer(path) as handle:
        handle.write(b"half")
        raise RuntimeError("crash while writing")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.bin"]


def test_readers_never_see_partial_files(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    payloads = [bytes([i]) * 2_000_000 for i in range(1, 5)]
    atomic_write_bytes(path, payloads[0])
    seen: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    for payload in payloads * 3:
        atomic_write_bytes(path, payload)
    done.set()
    reader.join()
    assert seen
    assert all(data in payloads for data in seen)


def test_atomic_write_json_leaves_no_temporary_files(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "x.json", {"a": 1})
    atomic_write_json(tmp_path / "x.json", {"a": 2})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_text_and_json_writes(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a.txt", "héllo\n")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    atomic_write_json(tmp_path / "x.json", {"a": [1, 2]})
    assert (tmp_path / "x.json").read_text() == '{\n  "a": [\n    1,\n    2\n  ]\n}\n'
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644


def test_unserialisable_json_leaves_the_old_file(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "x.json", {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "x.json", {"a": object()})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
