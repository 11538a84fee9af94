"""The pinned default corpus: content, integrity check and the fingerprints it gives."""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

import pytest

from nas_env.errors import ConfigError
from nas_env.tasks import make_task
from nas_env.tasks.snapshot import (
    DATA_PACKAGES,
    SNAPSHOT_FILE,
    SNAPSHOT_SHA256,
    _load,
    decode_documents,
    encode_documents,
    stdlib_documents,
)

# The task fingerprints the pinned corpus gives (data, split rule and tokenizer). They are
# the same on every machine and Python version; a change here invalidates every table and
# cached result, so it must be deliberate.
PINNED_FINGERPRINTS = {
    ("lm/stdlib", 512): "2057b2c6f8a269e8",
    ("cls/stdlib-modules", 1024): "b5900f837baf628e",
}


def test_snapshot_content() -> None:
    docs = stdlib_documents()
    names = [doc.name for doc in docs]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert len(docs) > 500
    assert all(name.endswith(".py") for name in names)
    assert not any(name.split("/")[0] in DATA_PACKAGES for name in names)
    assert not any("/test/" in f"/{name}" or "/tests/" in f"/{name}" for name in names)
    assert {"json/decoder.py", "asyncio/events.py", "textwrap.py"} <= set(names)
    assert (SNAPSHOT_FILE.parent / "LICENSE-PSF.txt").is_file()


def test_snapshot_matches_its_pin() -> None:
    data = lzma.decompress(SNAPSHOT_FILE.read_bytes())
    assert hashlib.sha256(data).hexdigest() == SNAPSHOT_SHA256
    assert encode_documents(list(stdlib_documents())) == data


def test_damaged_or_foreign_snapshot_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "other.jsonl.xz"
    foreign.write_bytes(lzma.compress(encode_documents(list(stdlib_documents()[:3]))))
    with pytest.raises(ConfigError, match="differs from the pinned"):
        _load(foreign, SNAPSHOT_SHA256)
    broken = tmp_path / "broken.jsonl.xz"
    broken.write_bytes(b"not xz")
    with pytest.raises(ConfigError, match="not an xz file"):
        _load(broken, SNAPSHOT_SHA256)
    with pytest.raises(ConfigError, match="cannot read it"):
        _load(tmp_path / "absent.jsonl.xz", SNAPSHOT_SHA256)
    with pytest.raises(ConfigError, match=r"x:1: expected a \[name, text\] pair"):
        decode_documents(b'["only a name"]\n', "x")


@pytest.mark.parametrize(("task_id", "vocab"), sorted(PINNED_FINGERPRINTS))
def test_task_fingerprint_is_pinned(task_id: str, vocab: int, tmp_path: Path) -> None:
    task = make_task(task_id, cache=tmp_path, vocab_size=vocab)
    assert task.fingerprint == PINNED_FINGERPRINTS[task_id, vocab]
