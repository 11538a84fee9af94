"""Causal language modelling on a corpus that is tokenised once and kept in memory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models import TaskSpec
from nas_env.checks import check_choice, check_int
from nas_env.errors import ConfigError
from nas_env.tasks.batch import Batch, iter_batches
from nas_env.tasks.cache import load_array, save_array
from nas_env.tasks.corpus import content_hash
from nas_env.tasks.kinds import TASK_KINDS
from nas_env.tasks.split import SPLITS
from nas_env.tasks.tokenizer import Tokenizer

TOKEN_CACHE_VERSION = "lm-tokens-v1"
ENCODE_CHUNK = 256  # texts per batch-encoding call


def _shuffled(texts: Sequence[str]) -> list[str]:
    """``texts`` in a fixed pseudo-random order (by content hash, then position)."""
    keys = [(hashlib.sha256(t.encode("utf-8")).digest(), i) for i, t in enumerate(texts)]
    return [texts[i] for _, i in sorted(keys)]


def heldout_seed(fingerprint: str, seq_len: int) -> int:
    """Seed of the held-out selection: a function of the task and its context only."""
    digest = hashlib.sha256(f"heldout-v1|{fingerprint}|{seq_len}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def _token_dtype(vocab_size: int) -> type[np.integer]:
    return np.uint16 if vocab_size < 2**16 else np.int32


class LMTask:
    """Next-token prediction over train and validation texts.

    Every text is tokenised once into one long ``int64`` tensor per split, texts joined
    by (and ended with) the tokenizer's end-of-document token. Training texts are put in
    a fixed pseudo-random order first, so that ``max_train_tokens`` keeps a
    representative prefix. With a ``cache`` folder the token arrays are stored there as
    ``.npy`` files keyed by the corpus and tokenizer, and later loaded instead of
    tokenising again.

    Args:
        train_texts: Training documents.
        val_texts: Held-out documents (a seeded sample of their windows is scored).
        tokenizer: Tokenizer trained on ``train_texts``.
        cache: Folder for token arrays (None: keep them in memory only).
        max_train_tokens: Keep only this many training tokens (None: all).
        split_rule: How train and val were separated; part of `fingerprint`.

    Raises:
        ConfigError: A split has no non-blank text.
    """

    kind = "lm"
    metric = TASK_KINDS["lm"].metric  # "perplexity"

    def __init__(
        self,
        train_texts: Sequence[str],
        val_texts: Sequence[str],
        tokenizer: Tokenizer,
        *,
        cache: Path | None = None,
        max_train_tokens: int | None = None,
        split_rule: str = "",
    ) -> None:
        self.max_train_tokens = check_int(max_train_tokens, "max_train_tokens", allow_none=True)
        for split, texts in (("train", train_texts), ("val", val_texts)):
            if not any(text.strip() for text in texts):
                raise ConfigError(f"empty corpus: the {split} split has no non-blank text")
        self.tokenizer = tokenizer
        self.split_rule = split_rule
        self.num_files = {"train": len(train_texts), "val": len(val_texts)}
        self.corpus_hash = content_hash(
            [(f"train/{i}", t) for i, t in enumerate(train_texts)]
            + [(f"val/{i}", t) for i, t in enumerate(val_texts)]
        )
        parts = [self.corpus_hash, tokenizer.fingerprint, split_rule, str(self.max_train_tokens)]
        self.fingerprint: str = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
        """Identifies corpus, split, token cap and tokenizer (for result caches)."""
        key = hashlib.sha256(
            json.dumps([TOKEN_CACHE_VERSION, self.corpus_hash, tokenizer.fingerprint,
                        self.max_train_tokens]).encode()
        ).hexdigest()[:24]  # fmt: skip
        self.train_tokens = self._load_or_tokenize(
            _shuffled(train_texts), self.max_train_tokens, cache, f"{key}-train"
        )
        self.val_tokens = self._load_or_tokenize(list(val_texts), None, cache, f"{key}-val")
        self._baseline: float | None = None

    def _tokenize(self, texts: Sequence[str], limit: int | None) -> np.ndarray:
        eos = self.tokenizer.eos_id
        pieces: list[np.ndarray] = []
        total = 0
        for start in range(0, len(texts), ENCODE_CHUNK):
            for ids in self.tokenizer.encode_many(texts[start : start + ENCODE_CHUNK]):
                ids.append(eos)
                pieces.append(np.asarray(ids, dtype=np.int64))
                total += len(ids)
            if limit is not None and total >= limit:
                break
        tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        return tokens[:limit].astype(_token_dtype(self.tokenizer.vocab_size))

    def _load_or_tokenize(
        self, texts: Sequence[str], limit: int | None, cache: Path | None, name: str
    ) -> torch.Tensor:
        path = None if cache is None else Path(cache) / "tokens" / f"{name}.npy"
        array = None if path is None else load_array(path)
        if array is None or array.ndim != 1:
            array = self._tokenize(texts, limit)
            if path is not None:
                save_array(path, array)
        return torch.from_numpy(np.asarray(array, dtype=np.int64))

    def tokens(self, split: str = "train") -> torch.Tensor:
        """The 1-D ``int64`` token tensor of ``"train"`` or ``"val"``."""
        return (
            self.train_tokens
            if check_choice(split, "split", SPLITS) == "train"
            else self.val_tokens
        )

    def _checked(self, split: str, seq_len: int) -> torch.Tensor:
        tokens = self.tokens(split)
        if tokens.numel() < seq_len + 1:
            raise ConfigError(
                f"corpus too small for seq_len={seq_len} ({split} split has {tokens.numel()} "
                f"tokens; needs at least {seq_len + 1}); use a shorter seq_len or more text"
            )
        return tokens

    def spec(self, seq_len: int) -> TaskSpec:
        """The model-facing description of this task at ``seq_len``.

        Raises:
            ConfigError: A split has fewer than ``seq_len + 1`` tokens.
        """
        seq_len = check_int(seq_len, "seq_len")
        for split in ("train", "val"):
            self._checked(split, seq_len)
        return TaskSpec(kind="lm", vocab_size=self.tokenizer.vocab_size, seq_len=seq_len)

    def sample_batch(
        self, batch_size: int, seq_len: int, generator: torch.Generator, split: str = "train"
    ) -> Batch:
        """Random windows of ``split``: targets are the inputs shifted by one token.

        The offsets come from ``torch.randint`` with ``generator``, so a generator with the
        same seed gives the same batches.
        """
        batch_size = check_int(batch_size, "batch_size")
        seq_len = check_int(seq_len, "seq_len")
        tokens = self._checked(split, seq_len)
        high = tokens.numel() - seq_len
        offsets = torch.randint(0, high, (batch_size,), generator=generator)
        index = offsets[:, None] + torch.arange(seq_len)
        return Batch(tokens[index], tokens[index + 1])

    def scored_windows(self, seq_len: int, max_tokens: int | None = None) -> torch.Tensor:
        """Start offsets of the held-out windows that validation scores, in stream order.

        The validation stream (every held-out document, each ended by the end-of-document
        token) is cut into ``(len - 1) // seq_len`` non-overlapping windows. They are put in
        a fixed pseudo-random order seeded by this task's fingerprint (`heldout_seed`), and
        the first ``max(1, max_tokens // seq_len)`` of that order are scored: a uniform
        sample spread over all held-out documents, the same for every genome and every
        fidelity, and nested (a larger budget scores a superset). Without ``max_tokens``
        every window is scored.
        """
        seq_len = check_int(seq_len, "seq_len")
        max_tokens = check_int(max_tokens, "max_tokens", allow_none=True)
        windows = (self._checked("val", seq_len).numel() - 1) // seq_len
        count = windows if max_tokens is None else min(windows, max(1, max_tokens // seq_len))
        generator = torch.Generator().manual_seed(heldout_seed(self.fingerprint, seq_len))
        chosen = torch.randperm(windows, generator=generator)[:count]
        return torch.sort(chosen).values * seq_len

    def eval_batches(
        self, batch_size: int, seq_len: int, max_tokens: int | None = None, split: str = "val"
    ) -> Iterator[Batch]:
        """The scored windows of ``split`` (see `scored_windows`), ``batch_size`` at a time.

        A window starting at offset ``o`` predicts tokens ``o + 1 ... o + seq_len``. On the
        ``train`` split (for diagnostics) windows are taken from its first token on. The
        last batch may hold fewer than ``batch_size`` windows.
        """
        batch_size = check_int(batch_size, "batch_size")
        seq_len = check_int(seq_len, "seq_len")
        max_tokens = check_int(max_tokens, "max_tokens", allow_none=True)
        tokens = self._checked(split, seq_len)
        if check_choice(split, "split", SPLITS) == "val":
            offsets = self.scored_windows(seq_len, max_tokens)
        else:
            windows = (tokens.numel() - 1) // seq_len
            if max_tokens is not None:
                windows = min(windows, max(1, max_tokens // seq_len))
            offsets = torch.arange(windows) * seq_len
        index = offsets[:, None] + torch.arange(seq_len)  # (windows, seq_len)
        return iter_batches(tokens[index], tokens[index + 1], batch_size)

    def baseline_loss(self) -> float:
        """Held-out cross-entropy (nats per token) of the unigram model of the train split.

        Token frequencies of the training split with add-one smoothing over the vocabulary,
        scored on every held-out target token: what a model that ignores context reaches,
        the yardstick `quality` scores normalise against.
        """
        if self._baseline is None:
            vocab = self.tokenizer.vocab_size
            counts = torch.bincount(self.train_tokens, minlength=vocab).double() + 1.0
            log_p = counts.log() - counts.sum().log()
            self._baseline = float(-log_p[self.val_tokens[1:]].mean())
        return self._baseline

    def document_of(self, offsets: torch.Tensor) -> torch.Tensor:
        """Index of the held-out document that each validation-stream offset falls in."""
        ends = torch.nonzero(self.val_tokens == self.tokenizer.eos_id).flatten()
        return torch.searchsorted(ends, offsets)

    def stats(self) -> dict[str, Any]:
        """Sizes of the task: documents and tokens per split, vocabulary size."""
        return {
            "kind": self.kind,
            "train_files": self.num_files["train"],
            "val_files": self.num_files["val"],
            "train_tokens": int(self.train_tokens.numel()),
            "val_tokens": int(self.val_tokens.numel()),
            "vocab_size": self.tokenizer.vocab_size,
            "max_train_tokens": self.max_train_tokens,
            "split_rule": self.split_rule,
        }

    def __repr__(self) -> str:
        stats = self.stats()
        return (
            f"LMTask(train_tokens={stats['train_tokens']}, val_tokens={stats['val_tokens']}, "
            f"vocab_size={stats['vocab_size']}, fingerprint={self.fingerprint!r})"
        )
