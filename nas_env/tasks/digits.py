"""Image classification on handwritten digits: the ``image/digits`` task.

The data are the 1,797 8x8 images of UCI's "Optical Recognition of Handwritten Digits"
as scikit-learn ships them (``digits.csv.gz``, pinned beside this module with its
licence and SHA-256, so the task needs no scikit-learn and reads the same bytes on every
machine). Each pixel is an intensity 0-16; an image is the sequence of its 64 pixel ids,
row by row (``TaskSpec(kind="image", vocab_size=17, seq_len=64, num_classes=10)``): a
dendritic network or an MLP reads the intensities as numbers (``id / 16``), a Transformer
or an RNN can read them as tokens.

The split is fixed and stratified: 25 % of each class held out (450 images; the rest,
1,347, train), chosen by a seeded permutation per class (seed 0). ``image/digits:K`` draws
another such split with seed ``K`` (same sizes, its own fingerprint): a result picked on
the pinned split can be re-measured on splits it never saw. Held-out scoring is stratified
too (`nas_env.tasks.cls.stratified_selection`).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np
import torch

from models import TaskSpec
from nas_env.checks import check_choice, check_int
from nas_env.errors import ConfigError
from nas_env.tasks.batch import Batch, iter_batches
from nas_env.tasks.cls import class_prior_loss, stratified_selection
from nas_env.tasks.kinds import TASK_KINDS
from nas_env.tasks.split import SPLITS

DATA_FILE = "digits.csv.gz"
SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
LEVELS = 17  # intensities 0..16
PIXELS = 64  # 8 x 8
HELD_OUT = 0.25
SPLIT_SEED = 0


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """``(pixels (1797, 64) int64 in 0..16, labels (1797,) int64)`` from the pinned file.

    Raises:
        ConfigError: The file is missing or not the pinned bytes.
    """
    source = resources.files("nas_env.tasks") / "data" / DATA_FILE
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"the digits data {source} is missing ({exc}); reinstall nas_env"
        ) from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise ConfigError(f"the digits data {source} has SHA-256 {digest}, not the pinned {SHA256}")
    table = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.int64)
    return table[:, :PIXELS], table[:, PIXELS]


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean held-out flags: ``round(fraction * n_c)`` of each class ``c``, by a seeded
    permutation of that class's examples."""
    rng = np.random.default_rng(seed)
    flags = np.zeros(labels.shape[0], dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        flags[rng.permutation(members)[: round(fraction * members.size)]] = True
    return flags


class DigitsTask:
    """Classify 8x8 handwritten digits (see the module docstring)."""

    kind = "image"
    metric = TASK_KINDS["image"].metric  # "accuracy"
    tokenizer = None  # pixel intensities are the ids

    def __init__(self, split_seed: int = SPLIT_SEED) -> None:
        """Read the pinned images and draw the stratified split of ``split_seed``."""
        split_seed = check_int(split_seed, "image/digits split seed", minimum=0)
        pixels, labels = read_digits()
        held = stratified_split(labels, HELD_OUT, split_seed)
        self._x = {"train": torch.from_numpy(pixels[~held]), "val": torch.from_numpy(pixels[held])}
        self._y = {"train": torch.from_numpy(labels[~held]), "val": torch.from_numpy(labels[held])}
        self.labels: tuple[str, ...] = tuple(str(d) for d in range(10))
        self.split_rule = f"stratified {HELD_OUT:.0%} per class held out, seed {split_seed}"
        parts = [SHA256, self.split_rule]
        self.fingerprint: str = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
        """Identifies the data and the split (for result caches)."""

    @property
    def num_classes(self) -> int:
        """Number of classes (10)."""
        return len(self.labels)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(pixels (N, 64) int64, labels (N,))`` of ``split``, for other libraries."""
        split = check_choice(split, "split", SPLITS)
        return self._x[split].numpy().copy(), self._y[split].numpy().copy()

    def spec(self, seq_len: int) -> TaskSpec:
        """The model-facing description: 64 pixel ids of 17 levels, 10 classes.

        Raises:
            ConfigError: ``seq_len`` is not the image's 64 pixels.
        """
        if check_int(seq_len, "seq_len") != PIXELS:
            raise ConfigError(
                f"image/digits: seq_len={seq_len} is invalid; an image is {PIXELS} pixels "
                f"(allowed: {PIXELS})"
            )
        return TaskSpec(kind="image", vocab_size=LEVELS, seq_len=PIXELS, num_classes=10)

    def sample_batch(
        self, batch_size: int, seq_len: int, generator: torch.Generator, split: str = "train"
    ) -> Batch:
        """Images of ``split`` drawn uniformly with replacement using ``generator``."""
        self.spec(seq_len)
        split = check_choice(split, "split", SPLITS)
        x = self._x[split]
        rows = torch.randint(
            0, x.shape[0], (check_int(batch_size, "batch_size"),), generator=generator
        )
        return Batch(x[rows], self._y[split][rows])

    def eval_batches(
        self, batch_size: int, seq_len: int, max_tokens: int | None = None, split: str = "val"
    ) -> Iterator[Batch]:
        """The scored held-out images (all of them, or a stratified ``max_tokens // 64``),
        ``batch_size`` at a time; on ``train`` the first images in order."""
        self.spec(seq_len)
        max_tokens = check_int(max_tokens, "max_tokens", allow_none=True)
        split = check_choice(split, "split", SPLITS)
        x, y = self._x[split], self._y[split]
        total = int(y.numel())
        count = total if max_tokens is None else min(total, max(1, max_tokens // PIXELS))
        if split == "val":
            rows = stratified_selection(y, self.num_classes, count, self.fingerprint)
        else:
            rows = torch.arange(count)
        return iter_batches(x[rows], y[rows], check_int(batch_size, "batch_size"))

    def baseline_loss(self) -> float:
        """Held-out cross-entropy of the training split's class priors (add-one smoothed)."""
        return class_prior_loss(self._y["train"], self._y["val"], self.num_classes)

    def stats(self) -> dict[str, Any]:
        """Sizes of the task: images and class counts per split."""
        counts = {
            split: {str(c): int((self._y[split] == c).sum()) for c in range(self.num_classes)}
            for split in ("train", "val")
        }
        return {
            "kind": self.kind,
            "num_classes": self.num_classes,
            "labels": list(self.labels),
            "train_examples": int(self._y["train"].numel()),
            "val_examples": int(self._y["val"].numel()),
            "class_counts": counts,
            "pixels": PIXELS,
            "levels": LEVELS,
            "split_rule": self.split_rule,
        }

    def __repr__(self) -> str:
        train, val = (int(self._y[s].numel()) for s in ("train", "val"))
        return f"DigitsTask(train={train}, val={val}, fingerprint={self.fingerprint!r})"
