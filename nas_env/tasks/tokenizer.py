"""BPE tokenizers (SentencePiece), trained once per corpus and vocabulary size.

Training choices, made for source code as much as for prose:

* Sentences are the non-blank lines of the training texts, indentation included; no
  temporary text file is written (SentencePiece reads an in-memory iterator). When there
  are more than `MAX_TRAINING_LINES` lines, an evenly spaced, deterministic subset is
  used, so training stays within a few seconds.
* The line break and the tab are user-defined symbols: ``"\\n"`` and ``"\\t"`` are always
  tokens of their own, so a model sees the line structure of every text it is fed, and
  tab-indented text round-trips even with small vocabularies.
* No normalisation (``identity``), no added dummy prefix, whitespace kept as is, and
  pieces may span and consist of whitespace (indentation becomes a few tokens).
* Special ids: ``pad=0``, ``unk=1``, ``eos=2`` (end of document); no ``bos``.
* With ``vocab_size >= BYTE_FALLBACK_MIN_VOCAB`` rare characters (outside a 99.95 %
  character coverage) are spelled as UTF-8 byte tokens, so ``decode(encode(text)) ==
  text`` for every text. Smaller vocabularies have no room for the 256 byte tokens:
  every character of the training text gets a token, and a character never seen in
  training decodes as ``" ⁇ "``. In both cases the character ``"▁"`` (U+2581) decodes as
  a space, because SentencePiece uses it to mark whitespace.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import sentencepiece as spm

from nas_env.atomic import atomic_write_bytes
from nas_env.checks import check_int
from nas_env.errors import ConfigError

MAX_TRAINING_LINES = 200_000
MAX_LINE_BYTES = 1 << 16
BYTE_FALLBACK_MIN_VOCAB = 512
MIN_VOCAB = 8


class Tokenizer:
    """A SentencePiece model with the small API the tasks need.

    Args:
        model: The serialised SentencePiece model (the ``.model`` file's bytes).
        num_threads: Threads for batch encoding (None: all CPU cores).
    """

    def __init__(self, model: bytes, num_threads: int | None = None) -> None:
        self._model = bytes(model)
        self._sp = spm.SentencePieceProcessor(model_proto=self._model)
        self.num_threads = num_threads or os.cpu_count() or 1
        self.fingerprint: str = hashlib.sha256(self._model).hexdigest()[:16]
        """First 16 hex digits of the SHA-256 of the model bytes."""

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        """Load a ``.model`` file written by SentencePiece."""
        return cls(Path(path).read_bytes())

    @property
    def vocab_size(self) -> int:
        """Number of token ids (ids lie in ``[0, vocab_size)``)."""
        return int(self._sp.get_piece_size())

    @property
    def pad_id(self) -> int:
        """Id of the padding token."""
        return int(self._sp.pad_id())

    @property
    def eos_id(self) -> int:
        """Id of the end-of-document token."""
        return int(self._sp.eos_id())

    @property
    def unk_id(self) -> int:
        """Id of the unknown-character token."""
        return int(self._sp.unk_id())

    @property
    def model_bytes(self) -> bytes:
        """The serialised model."""
        return self._model

    def encode(self, text: str) -> list[int]:
        """Token ids of one text."""
        return list(self._sp.encode(text, out_type=int))

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many texts, encoded in parallel by SentencePiece."""
        if not texts:
            return []
        return self._sp.encode(list(texts), out_type=int, num_threads=self.num_threads)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of a sequence of token ids."""
        return str(self._sp.decode([int(i) for i in ids]))

    def piece(self, token_id: int) -> str:
        """The vocabulary entry of one id (for inspection)."""
        return str(self._sp.id_to_piece(int(token_id)))

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, fingerprint={self.fingerprint!r})"


def training_lines(texts: Sequence[str], limit: int = MAX_TRAINING_LINES) -> list[str]:
    """The non-blank lines of ``texts`` that SentencePiece trains on.

    Lines longer than `MAX_LINE_BYTES` bytes are dropped; above ``limit`` lines an evenly
    spaced subset (always the same for the same texts) is kept.
    """
    lines = [
        line
        for text in texts
        for line in text.split("\n")
        if line.strip() and len(line) * 4 <= MAX_LINE_BYTES
    ]
    if len(lines) <= limit:
        return lines
    step = len(lines) / limit
    return [lines[int(i * step)] for i in range(limit)]


MODEL_TYPES = ("bpe", "char")
"""SentencePiece models a task can tokenise with: byte-pair merges, or one id per character
(the training split's characters, rarer ones than 1 in 2,000 mapped to ``unk``)."""


def tokenizer_path(cache: Path, corpus_hash: str, vocab_size: int, model_type: str = "bpe") -> Path:
    """Where the tokenizer of a corpus, vocabulary size and model type is cached."""
    return Path(cache) / "tokenizers" / f"{corpus_hash[:16]}-t1-{model_type}{vocab_size}.model"


def _explain(exc: RuntimeError, vocab_size: int, lines: int) -> ConfigError:
    message = str(exc)
    too_high = re.search(r"value <= (\d+)", message)
    if too_high:
        return ConfigError(
            f"corpus too small for vocab_size={vocab_size}: its {lines} training lines "
            f"support at most vocab_size={too_high.group(1)}; use a smaller vocab_size or "
            "more text"
        )
    chars = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", message)
    if chars:
        return ConfigError(
            f"vocab_size={vocab_size} is too small for the {chars.group(2)} distinct "
            f"characters and special tokens of the corpus; allowed: vocab_size >= "
            f"{chars.group(2)}, or >= {BYTE_FALLBACK_MIN_VOCAB} to spell rare characters "
            "as bytes"
        )
    return ConfigError(f"tokenizer training failed for vocab_size={vocab_size}: {message}")


def train_tokenizer(texts: Sequence[str], vocab_size: int, model_type: str = "bpe") -> bytes:
    """Train a BPE model (or, ``model_type="char"``, a character model: ``vocab_size`` is
    then an upper bound) on ``texts`` and return its serialised bytes.

    Raises:
        ConfigError: No non-blank line to train on, or too little text for ``vocab_size``.
    """
    vocab_size = check_int(vocab_size, "vocab_size", MIN_VOCAB)
    lines = training_lines(texts)
    if not lines:
        raise ConfigError("empty corpus: the training split has no non-blank line of text")
    char = model_type == "char"
    byte_fallback = vocab_size >= BYTE_FALLBACK_MIN_VOCAB and not char
    writer = io.BytesIO()
    iterator: Iterator[str] = iter(lines)
    # The model file records every option passed, so a BPE model is trained with exactly the
    # options it always had (its bytes, hence every task fingerprint, must not change).
    char_options = {"hard_vocab_limit": False} if char else {}
    spm.set_random_generator_seed(0)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iterator,
            model_writer=writer,
            model_type="char" if char else "bpe",
            vocab_size=vocab_size,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            max_sentence_length=MAX_LINE_BYTES,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            add_dummy_prefix=False,
            split_by_whitespace=False,
            allow_whitespace_only_pieces=True,
            split_digits=False,
            byte_fallback=byte_fallback,
            character_coverage=0.9995 if byte_fallback or char else 1.0,
            user_defined_symbols=["\n", "\t"],
            pad_id=0,
            unk_id=1,
            bos_id=-1,
            eos_id=2,
            # One thread: SentencePiece's BPE merges depend on its thread count, and the
            # tokenizer (hence every task fingerprint) must be the same on every machine.
            num_threads=1,
            minloglevel=2,
            **char_options,
        )
    except RuntimeError as exc:
        raise _explain(exc, vocab_size, len(lines)) from exc
    return writer.getvalue()


def load_or_train_tokenizer(
    texts: Sequence[str], vocab_size: int, cache: Path, corpus_hash: str, model_type: str = "bpe"
) -> Tokenizer:
    """The tokenizer of a corpus: loaded from the cache, or trained once and cached.

    Args:
        texts: Training texts (the training split only).
        vocab_size: Number of token ids.
        cache: Cache folder; the model is stored under ``tokenizers/``.
        corpus_hash: Content hash of ``texts`` (see `content_hash`); with ``vocab_size``
            and ``model_type`` it names the cached model.
        model_type: One of `MODEL_TYPES`.

    Raises:
        ConfigError: The corpus is empty or too small for ``vocab_size``.
    """
    path = tokenizer_path(cache, corpus_hash, vocab_size, model_type)
    if path.is_file():
        try:
            return Tokenizer.from_file(path)
        except (OSError, RuntimeError):
            pass  # unreadable entry: train again and replace it
    model = train_tokenizer(texts, vocab_size, model_type)
    atomic_write_bytes(path, model)
    return Tokenizer(model)
