"""BPE tokenizer training, caching and round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas_env.errors import ConfigError
from nas_env.tasks import Tokenizer
from nas_env.tasks import tokenizer as tokenizer_module
from nas_env.tasks.corpus import content_hash, stdlib_root
from nas_env.tasks.tokenizer import (
    load_or_train_tokenizer,
    tokenizer_path,
    train_tokenizer,
    training_lines,
)

MODULES = ("json/__init__.py", "json/decoder.py", "json/encoder.py", "textwrap.py", "string.py")

CODE = (
    "class Point:\n"
    '    """A point."""\n'
    "\n"
    "    def __init__(self, x, y):\n"
    "        self.x = x\n"
    "\tif x:  # tab-indented\n"
    "            return {'x': x, \"y\": [1, 2, 3]}\n"
    "\n\n"
)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """A few standard-library modules as training text."""
    return [(stdlib_root() / name).read_text(encoding="utf-8") for name in MODULES]


def test_trained_once_then_loaded(
    texts: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = content_hash(enumerate(texts))
    first = load_or_train_tokenizer(texts, 128, tmp_path, corpus)
    path = tokenizer_path(tmp_path, corpus, 128)
    assert path.is_file()
    assert path.name == f"{corpus[:16]}-t1-bpe128.model"
    assert path.parent.name == "tokenizers"
    mtime = path.stat().st_mtime_ns

    def fail(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("the tokenizer was trained again")

    monkeypatch.setattr(tokenizer_module, "train_tokenizer", fail)
    second = load_or_train_tokenizer(texts, 128, tmp_path, corpus)
    assert path.stat().st_mtime_ns == mtime
    assert second.fingerprint == first.fingerprint
    assert second.encode(CODE) == first.encode(CODE)


def test_corrupt_cache_entry_is_retrained(texts: list[str], tmp_path: Path) -> None:
    corpus = content_hash(enumerate(texts))
    path = tokenizer_path(tmp_path, corpus, 128)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a model")
    tokenizer = load_or_train_tokenizer(texts, 128, tmp_path, corpus)
    assert tokenizer.vocab_size == 128
    assert Tokenizer.from_file(path).fingerprint == tokenizer.fingerprint


def test_training_is_deterministic(texts: list[str]) -> None:
    assert train_tokenizer(texts, 256) == train_tokenizer(texts, 256)


def test_special_ids_and_size(texts: list[str]) -> None:
    tokenizer = Tokenizer(train_tokenizer(texts, 128))
    assert tokenizer.vocab_size == 128
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.eos_id) == (0, 1, 2)
    assert len(tokenizer.fingerprint) == 16


@pytest.mark.parametrize("vocab_size", [128, 512])
def test_round_trip_keeps_indentation_and_newlines(texts: list[str], vocab_size: int) -> None:
    tokenizer = Tokenizer(train_tokenizer(texts, vocab_size))
    for text in (CODE, texts[0], "  leading spaces\n\n\ntrailing  \n"):
        assert tokenizer.decode(tokenizer.encode(text)) == text
    newline = tokenizer.encode("\n")
    assert len(newline) == 1
    assert tokenizer.piece(newline[0]) == "\n"


def test_byte_fallback_spells_unseen_characters(texts: list[str]) -> None:
    tokenizer = Tokenizer(train_tokenizer(texts, 512))
    text = "naïve = '日本語' + '€'\n"
    ids = tokenizer.encode(text)
    assert tokenizer.unk_id not in ids
    assert tokenizer.decode(ids) == text


def test_encode_many_matches_encode(texts: list[str]) -> None:
    tokenizer = Tokenizer(train_tokenizer(texts, 128), num_threads=2)
    batch = [CODE, "", "x = 1\n", texts[1]]
    assert tokenizer.encode_many(batch) == [tokenizer.encode(t) for t in batch]
    assert tokenizer.encode_many([]) == []


def test_training_lines_are_capped_deterministically() -> None:
    texts = ["\n".join(f"line {i}" for i in range(1000)), "\n\n   \n"]
    lines = training_lines(texts, limit=100)
    assert len(lines) == 100
    assert lines == training_lines(texts, limit=100)
    assert lines[0] == "line 0"
    assert all(line.strip() for line in training_lines(texts))


def test_corpus_too_small_for_vocab() -> None:
    with pytest.raises(ConfigError, match=r"corpus too small for vocab_size=5000"):
        train_tokenizer(["def f(x):\n    return x\n"] * 3, 5000)


def test_vocab_too_small_for_characters() -> None:
    text = "".join(chr(c) for c in range(0x41, 0x41 + 60)) + "\n"
    with pytest.raises(ConfigError, match=r"vocab_size=32 is too small for the \d+ distinct"):
        train_tokenizer([text], 32)


@pytest.mark.parametrize("texts", [[], [""], ["\n  \n\t\n"]])
def test_empty_corpus(texts: list[str]) -> None:
    with pytest.raises(ConfigError, match="empty corpus"):
        train_tokenizer(texts, 64)


@pytest.mark.parametrize("vocab_size", [0, 4, -3, 2.5, True, "64"])
def test_bad_vocab_size(vocab_size: object) -> None:
    with pytest.raises(ConfigError, match="vocab_size"):
        train_tokenizer(["x = 1"], vocab_size)  # type: ignore[arg-type]


def test_a_character_model_has_one_id_per_character(tmp_path: Path) -> None:
    texts = ["def main():\n    return 1\n", "class A:\n    pass\n"] * 20
    model = train_tokenizer(texts, 64, model_type="char")
    tokenizer = Tokenizer(model)
    line = "def main():\n    return 1"
    ids = tokenizer.encode(line)
    assert len(ids) == len(line)  # one id per character
    assert tokenizer.vocab_size < 64  # the upper bound is not filled with merges
    assert tokenizer_path(tmp_path, "abc", 64, "char").name.endswith("-char64.model")
    assert tokenizer_path(tmp_path, "abc", 64) != tokenizer_path(tmp_path, "abc", 64, "char")
