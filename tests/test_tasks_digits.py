"""The `image/digits` task: pinned bytes, a fixed stratified split, stratified held-out
scoring, the class-prior baseline, and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nas_env.errors import ConfigError
from nas_env.tasks import make_task
from nas_env.tasks.digits import DigitsTask, read_digits, stratified_split


def test_the_pinned_data_and_its_split() -> None:
    pixels, labels = read_digits()
    assert pixels.shape == (1797, 64) and pixels.min() == 0 and pixels.max() == 16
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    held = stratified_split(labels, 0.25, 0)
    for label in range(10):  # a quarter of every class, rounded
        members = labels == label
        assert held[members].sum() == round(0.25 * members.sum())
    assert (held == stratified_split(labels, 0.25, 0)).all()  # fixed
    assert not (held == stratified_split(labels, 0.25, 1)).all()
    task = make_task("image/digits")
    assert isinstance(task, DigitsTask) and task.kind == "image" and task.metric == "accuracy"
    stats = task.stats()
    assert stats["train_examples"] == 1347 and stats["val_examples"] == 450
    assert task.fingerprint == DigitsTask().fingerprint and len(task.fingerprint) == 16


def test_batches_scoring_and_baseline() -> None:
    task = make_task("image/digits")
    spec = task.spec(64)
    assert (spec.kind, spec.vocab_size, spec.seq_len, spec.num_classes) == ("image", 17, 64, 10)
    first = task.sample_batch(8, 64, torch.Generator().manual_seed(3))
    again = task.sample_batch(8, 64, torch.Generator().manual_seed(3))
    assert torch.equal(first.inputs, again.inputs) and first.mask is None
    assert first.inputs.shape == (8, 64) and first.targets.shape == (8,)
    every = torch.cat([b.targets for b in task.eval_batches(128, 64)])
    assert every.numel() == 450
    some = torch.cat([b.targets for b in task.eval_batches(64, 64, max_tokens=64 * 100)])
    assert some.numel() == 100 and torch.bincount(some, minlength=10).min() >= 9  # stratified
    assert task.baseline_loss() == pytest.approx(math.log(10), abs=0.01)  # near-uniform priors


def test_bad_requests_are_refused() -> None:
    task = make_task("image/digits")
    with pytest.raises(ConfigError, match="seq_len=32 is invalid; an image is 64 pixels"):
        task.spec(32)
    with pytest.raises(ConfigError, match=r"vocab_size=256 is invalid.*17 intensity levels"):
        make_task("image/digits", vocab_size=256)
    for bad in ("image/digits:x", "image/digits:-1", "image/digits:"):
        with pytest.raises(ConfigError, match=r"not a split seed; allowed: .*:K with K an integer"):
            make_task(bad)


def test_another_split_seed_is_another_stratified_split_of_the_same_sizes() -> None:
    plain, other = make_task("image/digits"), make_task("image/digits:2")
    assert make_task("image/digits:0") is plain  # seed 0 is the pinned split itself
    assert other.fingerprint != plain.fingerprint and "seed 2" in other.split_rule
    assert other.stats()["val_examples"] == 450 and other.stats()["train_examples"] == 1347
    x_plain, _ = plain.arrays("val")
    x_other, y_other = other.arrays("val")
    assert not np.array_equal(x_plain, x_other)
    assert np.bincount(y_other).tolist() == np.bincount(plain.arrays("val")[1]).tolist()
    train, _ = other.arrays("train")  # the two parts of the split are disjoint and complete
    rows = {r.tobytes() for r in np.concatenate([train, x_other])}
    assert len(rows) == len({r.tobytes() for r in read_digits()[0]})
