"""Multivariate time-series classification: the UEA archive's JapaneseVowels and BasicMotions.

The data are the UEA archive's files (`.ts` format) as sktime ships them, pinned beside
this module (xz-compressed, with their licences and the SHA-256 of the decompressed text),
each with the archive's official split (the test split is the held-out split).
JapaneseVowels: 9 speakers, 12 LPC cepstrum coefficients per frame, 7-29 frames per
utterance, 270 training and 370 test utterances. BasicMotions: a smart watch's 3-D
accelerometer and gyroscope (6 channels) over 10 seconds at 10 Hz (100 frames), 4
activities (standing, running, walking, badminton), 40 training and 40 test recordings.
Each channel is standardised by the training split's mean and standard deviation over all
real frames; series are right-padded with zeros to the longest (29 frames for
JapaneseVowels) and a mask marks the real frames. A batch's inputs are ``(B, T, C)``
float32 (``TaskSpec(kind="series", seq_len=29, channels=12, num_classes=9)`` for
JapaneseVowels, ``seq_len=100, channels=6, num_classes=4`` for BasicMotions).
"""

from __future__ import annotations

import hashlib
import lzma
from collections.abc import Iterator, Sequence
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

DATASETS: dict[str, dict[str, str]] = {
    "japanese-vowels": {
        "train": "JapaneseVowels_TRAIN.ts",
        "val": "JapaneseVowels_TEST.ts",
        "train_sha256": "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
        "val_sha256": "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462",
    },
    "basic-motions": {
        "train": "BasicMotions_TRAIN.ts",
        "val": "BasicMotions_TEST.ts",
        "train_sha256": "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
        "val_sha256": "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc",
    },
}
"""Pinned data sets by task name: the files of each split and their SHA-256."""


def read_pinned(name: str, expected: str) -> str:
    """The decompressed text of ``data/<name>.xz``, checked against its SHA-256.

    Raises:
        ConfigError: The file is missing or not the pinned bytes.
    """
    source = resources.files("nas_env.tasks") / "data" / f"{name}.xz"
    try:
        raw = lzma.decompress(source.read_bytes())
    except (OSError, lzma.LZMAError) as exc:
        raise ConfigError(
            f"the data file {source} is unreadable ({exc}); reinstall nas_env"
        ) from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        raise ConfigError(f"{source} decompresses to SHA-256 {digest}, not the pinned {expected}")
    return raw.decode("utf-8")


def parse_ts(text: str, where: str = "<ts>") -> tuple[list[np.ndarray], list[str], list[str]]:
    """A `.ts` file's series (each ``(T, C)`` float64), labels, and declared class labels.

    Raises:
        ConfigError: A data line whose channels differ in length or count from the first.
    """
    series: list[np.ndarray] = []
    labels: list[str] = []
    classes: list[str] = []
    in_data = False
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            words = line.split()
            if words[0].lower() == "@classlabel" and len(words) > 2:
                classes = words[2:]
            in_data = in_data or words[0].lower() == "@data"
            continue
        if not in_data:
            continue
        *channels, label = line.split(":")
        values = [np.array([float(v) for v in c.split(",")]) for c in channels]
        if len({v.size for v in values}) != 1 or (series and len(values) != series[0].shape[1]):
            raise ConfigError(f"{where}:{number}: channels of unequal length or count")
        series.append(np.stack(values, axis=1))
        labels.append(label.strip())
    return series, labels, classes


class SeriesTask:
    """Classify multivariate time series (see the module docstring).

    Args:
        name: A key of `DATASETS`.

    Raises:
        ConfigError: ``name`` is not a pinned data set.
    """

    kind = "series"
    metric = TASK_KINDS["series"].metric  # "accuracy"
    tokenizer = None  # real-valued frames: nothing to tokenise

    def __init__(self, name: str) -> None:
        files = DATASETS.get(name)
        if files is None:
            raise ConfigError(
                f"series/{name}: no such data set (allowed: "
                f"{', '.join('series/' + n for n in DATASETS)})"
            )
        self.name = name
        parsed = {
            split: parse_ts(read_pinned(files[split], files[f"{split}_sha256"]), files[split])
            for split in ("train", "val")
        }
        self.labels: tuple[str, ...] = tuple(parsed["train"][2] or sorted(set(parsed["train"][1])))
        index = {label: i for i, label in enumerate(self.labels)}
        frames = np.concatenate(parsed["train"][0])
        self._mean, self._std = frames.mean(axis=0), frames.std(axis=0) + 1e-8
        self.seq_len = max(s.shape[0] for split in parsed.values() for s in split[0])
        self.channels = int(frames.shape[1])
        self._x: dict[str, torch.Tensor] = {}
        self._mask: dict[str, torch.Tensor] = {}
        self._y: dict[str, torch.Tensor] = {}
        for split, (series, labels, _) in parsed.items():
            x = np.zeros((len(series), self.seq_len, self.channels), dtype=np.float32)
            mask = np.zeros((len(series), self.seq_len), dtype=bool)
            for row, s in enumerate(series):
                x[row, : s.shape[0]] = (s - self._mean) / self._std
                mask[row, : s.shape[0]] = True
            self._x[split], self._mask[split] = torch.from_numpy(x), torch.from_numpy(mask)
            self._y[split] = torch.tensor([index[label] for label in labels])
        self.split_rule = "the archive's official train/test split; channels standardised on train"
        parts = [files["train_sha256"], files["val_sha256"], self.split_rule]
        self.fingerprint: str = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
        """Identifies the data, the split and the standardisation (for result caches)."""

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.labels)

    def spec(self, seq_len: int) -> TaskSpec:
        """The model-facing description: ``channels`` values per frame, up to ``seq_len``.

        Raises:
            ConfigError: ``seq_len`` is not the longest series' length.
        """
        if check_int(seq_len, "seq_len") != self.seq_len:
            raise ConfigError(
                f"series/{self.name}: seq_len={seq_len} is invalid; its longest series has "
                f"{self.seq_len} frames (allowed: {self.seq_len})"
            )
        return TaskSpec(
            kind="series", vocab_size=0, seq_len=self.seq_len, num_classes=self.num_classes,
            channels=self.channels,
        )  # fmt: skip

    def sample_batch(
        self, batch_size: int, seq_len: int, generator: torch.Generator, split: str = "train"
    ) -> Batch:
        """Series of ``split`` drawn uniformly with replacement using ``generator``."""
        self.spec(seq_len)
        split = check_choice(split, "split", SPLITS)
        size = (check_int(batch_size, "batch_size"),)
        rows = torch.randint(0, self._x[split].shape[0], size, generator=generator)
        return Batch(self._x[split][rows], self._y[split][rows], self._mask[split][rows])

    def eval_batches(
        self, batch_size: int, seq_len: int, max_tokens: int | None = None, split: str = "val"
    ) -> Iterator[Batch]:
        """The scored held-out series (all, or a stratified ``max_tokens // seq_len``),
        ``batch_size`` at a time; on ``train`` the first series in order."""
        self.spec(seq_len)
        max_tokens = check_int(max_tokens, "max_tokens", allow_none=True)
        split = check_choice(split, "split", SPLITS)
        y = self._y[split]
        total = int(y.numel())
        count = total if max_tokens is None else min(total, max(1, max_tokens // self.seq_len))
        if split == "val":
            rows = stratified_selection(y, self.num_classes, count, self.fingerprint)
        else:
            rows = torch.arange(count)
        x, mask = self._x[split][rows], self._mask[split][rows]
        return iter_batches(x, y[rows], check_int(batch_size, "batch_size"), mask)

    def baseline_loss(self) -> float:
        """Held-out cross-entropy of the training split's class priors (add-one smoothed)."""
        return class_prior_loss(self._y["train"], self._y["val"], self.num_classes)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x (N, T, C) float32, mask (N, T), labels (N,))`` of ``split``."""
        split = check_choice(split, "split", SPLITS)
        return (self._x[split].numpy().copy(), self._mask[split].numpy().copy(),
                self._y[split].numpy().copy())  # fmt: skip

    def stats(self) -> dict[str, Any]:
        """Sizes of the task: series and class counts per split, lengths, channels."""
        lengths: Sequence[int] = self._mask["train"].sum(dim=1).tolist()
        return {
            "kind": self.kind,
            "num_classes": self.num_classes,
            "labels": list(self.labels),
            "train_examples": int(self._y["train"].numel()),
            "val_examples": int(self._y["val"].numel()),
            "channels": self.channels,
            "max_frames": self.seq_len,
            "min_train_frames": int(min(lengths)),
            "split_rule": self.split_rule,
        }

    def __repr__(self) -> str:
        return f"SeriesTask({self.name!r}, fingerprint={self.fingerprint!r})"
