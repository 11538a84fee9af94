"""Sequence classification: labelled texts as padded token tensors."""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from models import TaskSpec
from nas_env.checks import check_choice, check_int
from nas_env.errors import ConfigError
from nas_env.tasks.batch import Batch, iter_batches
from nas_env.tasks.corpus import content_hash
from nas_env.tasks.kinds import TASK_KINDS
from nas_env.tasks.lm import heldout_seed
from nas_env.tasks.split import SPLITS
from nas_env.tasks.tokenizer import Tokenizer

Label = str | int
Example = tuple[str, Label]


def stratified_quotas(sizes: Sequence[int], count: int) -> list[int]:
    """Split ``count`` draws over classes of ``sizes`` in proportion (largest remainders).

    Every non-empty class gets at least one draw while ``count`` allows it, and no class
    gets more than it has.
    """
    total = sum(sizes)
    count = min(count, total)
    exact = [count * size / total for size in sizes]
    quotas = [min(size, int(share)) for size, share in zip(sizes, exact, strict=True)]
    if count >= sum(1 for size in sizes if size):
        quotas = [max(q, 1) if size else 0 for q, size in zip(quotas, sizes, strict=True)]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (quotas[i] - exact[i], i))
    while sum(quotas) < count:
        for i in by_remainder:
            if sum(quotas) < count and quotas[i] < sizes[i]:
                quotas[i] += 1
    while sum(quotas) > count:
        for i in reversed(by_remainder):
            if sum(quotas) > count and quotas[i] > 1:
                quotas[i] -= 1
    return quotas


def class_prior_loss(train: torch.Tensor, val: torch.Tensor, num_classes: int) -> float:
    """Held-out cross-entropy of the training labels' class frequencies (add-one smoothed),
    scored on every held-out label: what a classifier that ignores its input reaches."""
    counts = torch.bincount(train, minlength=num_classes).double() + 1.0
    log_p = counts.log() - counts.sum().log()
    return float(-log_p[val].mean())


def stratified_selection(
    y: torch.Tensor, num_classes: int, count: int, fingerprint: str
) -> torch.Tensor:
    """Sorted indices of ``count`` examples of labels ``y``: each class its share in
    proportion to its examples (`stratified_quotas`), drawn from a fixed pseudo-random
    order of that class seeded by ``fingerprint``."""
    quotas = stratified_quotas(torch.bincount(y, minlength=num_classes).tolist(), count)
    generator = torch.Generator().manual_seed(heldout_seed(fingerprint, 0))
    chosen = []
    for label, quota in enumerate(quotas):
        members = torch.nonzero(y == label).flatten()
        order = torch.randperm(members.numel(), generator=generator)
        chosen.append(members[order[:quota]])
    return torch.sort(torch.cat(chosen)).values


def label_names(labels: Sequence[Label]) -> tuple[str, ...]:
    """The distinct labels as names, sorted: numerically when all are integers.

    Mixed integer and string labels are all compared as strings.
    """
    distinct = set(labels)
    if all(isinstance(label, int) for label in distinct):
        return tuple(str(label) for label in sorted(distinct))  # type: ignore[type-var]
    return tuple(sorted({str(label) for label in distinct}))


class ClsTask:
    """Classify texts into ``num_classes`` labels.

    Texts are tokenised once; for each sequence length the padded tensors are built once
    and kept: ``x (N, T) int64`` (truncated to the first ``T`` tokens, padded with the
    tokenizer's pad id), ``mask (N, T) bool`` (True at real tokens) and ``y (N,) int64``
    (index into `labels`).

    Args:
        train: Training ``(text, label)`` examples.
        val: Held-out examples.
        tokenizer: Tokenizer trained on the training texts.
        split_rule: How train and val were separated; part of `fingerprint`.
        extra_stats: More entries for `stats` (for example file counts).

    Raises:
        ConfigError: A split is empty, there are fewer than two classes, or a text has
            no tokens.
    """

    kind = "cls"
    metric = TASK_KINDS["cls"].metric  # "accuracy"

    def __init__(
        self,
        train: Sequence[Example],
        val: Sequence[Example],
        tokenizer: Tokenizer,
        *,
        split_rule: str = "",
        extra_stats: Mapping[str, Any] | None = None,
    ) -> None:
        for split, examples in (("train", train), ("val", val)):
            if not examples:
                raise ConfigError(f"empty corpus: the {split} split has no examples")
        self.labels: tuple[str, ...] = label_names([label for _, label in [*train, *val]])
        """Class names; class ``i`` is ``labels[i]``."""
        if len(self.labels) < 2:
            raise ConfigError(
                f"classification needs at least 2 classes, found {len(self.labels)}: "
                f"{list(self.labels)}"
            )
        self.tokenizer = tokenizer
        self.split_rule = split_rule
        self._extra = dict(extra_stats or {})
        index = {name: i for i, name in enumerate(self.labels)}
        self._ids: dict[str, list[list[int]]] = {}
        self._y: dict[str, torch.Tensor] = {}
        for split, examples in (("train", train), ("val", val)):
            ids = tokenizer.encode_many([text for text, _ in examples])
            for i, seq in enumerate(ids):
                if not seq:
                    raise ConfigError(f"{split} example {i} has no tokens (empty text)")
            self._ids[split] = ids
            self._y[split] = torch.tensor([index[str(label)] for _, label in examples])
        self._padded: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = {}
        corpus = content_hash(
            (f"{split}/{i}", f"{label}\0{text}")
            for split, examples in (("train", train), ("val", val))
            for i, (text, label) in enumerate(examples)
        )
        parts = [corpus, tokenizer.fingerprint, split_rule, *self.labels]
        self.fingerprint: str = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
        """Identifies examples, labels, split and tokenizer (for result caches)."""

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.labels)

    def tensors(
        self, seq_len: int, split: str = "train"
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x, mask, y)`` of ``split`` at ``seq_len``, built once per length."""
        seq_len = check_int(seq_len, "seq_len")
        split = check_choice(split, "split", SPLITS)
        key = (split, seq_len)
        if key not in self._padded:
            ids = self._ids[split]
            x = np.full((len(ids), seq_len), self.tokenizer.pad_id, dtype=np.int64)
            for row, seq in enumerate(ids):
                x[row, : len(seq)] = seq[:seq_len]
            lengths = torch.tensor([min(len(seq), seq_len) for seq in ids])
            mask = torch.arange(seq_len)[None, :] < lengths[:, None]
            self._padded[key] = (torch.from_numpy(x), mask)
        x, mask = self._padded[key]
        return x, mask, self._y[split]

    def spec(self, seq_len: int) -> TaskSpec:
        """The model-facing description of this task at ``seq_len``."""
        return TaskSpec(
            kind="cls",
            vocab_size=self.tokenizer.vocab_size,
            seq_len=check_int(seq_len, "seq_len"),
            num_classes=self.num_classes,
            pad_id=self.tokenizer.pad_id,
        )

    def sample_batch(
        self, batch_size: int, seq_len: int, generator: torch.Generator, split: str = "train"
    ) -> Batch:
        """Examples of ``split`` drawn uniformly with replacement using ``generator``."""
        batch_size = check_int(batch_size, "batch_size")
        x, mask, y = self.tensors(seq_len, split)
        rows = torch.randint(0, x.shape[0], (batch_size,), generator=generator)
        return Batch(x[rows], y[rows], mask[rows])

    def scored_examples(self, seq_len: int, max_tokens: int | None = None) -> torch.Tensor:
        """Indices of the held-out examples that validation scores, sorted.

        Stratified: with a budget of ``count = max(1, max_tokens // seq_len)`` examples
        (an example counts as ``seq_len`` tokens; all of them without ``max_tokens``), each
        class gets its share of ``count`` in proportion to its held-out examples (largest
        remainders, every class at least one while the budget allows), drawn from a fixed
        pseudo-random order of that class seeded by the task's fingerprint. The selection
        is the same for every genome and fidelity.
        """
        seq_len = check_int(seq_len, "seq_len")
        max_tokens = check_int(max_tokens, "max_tokens", allow_none=True)
        y = self._y["val"]
        total = int(y.numel())
        count = total if max_tokens is None else min(total, max(1, max_tokens // seq_len))
        return stratified_selection(y, self.num_classes, count, self.fingerprint)

    def eval_batches(
        self, batch_size: int, seq_len: int, max_tokens: int | None = None, split: str = "val"
    ) -> Iterator[Batch]:
        """The scored examples (see `scored_examples`), ``batch_size`` at a time.

        On the ``train`` split (for diagnostics) the first examples are taken in order.
        """
        batch_size = check_int(batch_size, "batch_size")
        max_tokens = check_int(max_tokens, "max_tokens", allow_none=True)
        x, mask, y = self.tensors(seq_len, split)
        if check_choice(split, "split", SPLITS) == "val":
            rows = self.scored_examples(seq_len, max_tokens)
        else:
            count = x.shape[0] if max_tokens is None else max(1, max_tokens // x.shape[1])
            rows = torch.arange(min(x.shape[0], count))
        return iter_batches(x[rows], y[rows], batch_size, mask[rows])

    def baseline_loss(self) -> float:
        """Held-out cross-entropy (nats per example) of the class priors of the train split.

        Class frequencies of the training split with add-one smoothing, scored on every
        held-out example: what a classifier that ignores its input reaches, the yardstick
        `quality` scores normalise against.
        """
        return class_prior_loss(self._y["train"], self._y["val"], self.num_classes)

    def class_counts(self, split: str = "train") -> dict[str, int]:
        """Examples per class name in ``split``."""
        counts = Counter(self._y[check_choice(split, "split", SPLITS)].tolist())
        return {name: counts.get(i, 0) for i, name in enumerate(self.labels)}

    def stats(self) -> dict[str, Any]:
        """Sizes of the task: examples and class counts per split, token lengths."""
        lengths = [len(seq) for seq in self._ids["train"]]
        return {
            "kind": self.kind,
            "num_classes": self.num_classes,
            "labels": list(self.labels),
            "train_examples": len(self._ids["train"]),
            "val_examples": len(self._ids["val"]),
            "class_counts": {s: self.class_counts(s) for s in ("train", "val")},
            "median_train_tokens": statistics.median(lengths),
            "vocab_size": self.tokenizer.vocab_size,
            "split_rule": self.split_rule,
            **self._extra,
        }

    def __repr__(self) -> str:
        return (
            f"ClsTask(num_classes={self.num_classes}, train_examples={len(self._ids['train'])}, "
            f"val_examples={len(self._ids['val'])}, fingerprint={self.fingerprint!r})"
        )
