"""The `series/japanese-vowels` task: pinned UEA files, the official split, standardised
channels, masks for variable lengths, stratified held-out scoring, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nas_env.errors import ConfigError
from nas_env.tasks import make_task
from nas_env.tasks.series import SeriesTask, parse_ts


def test_the_official_split_and_its_shapes() -> None:
    task = make_task("series/japanese-vowels")
    assert isinstance(task, SeriesTask) and task.kind == "series" and task.metric == "accuracy"
    stats = task.stats()
    assert (stats["train_examples"], stats["val_examples"]) == (270, 370)
    assert (stats["channels"], stats["max_frames"], stats["num_classes"]) == (12, 29, 9)
    assert stats["min_train_frames"] >= 7
    spec = task.spec(29)
    assert (spec.kind, spec.channels, spec.seq_len, spec.num_classes) == ("series", 12, 29, 9)
    x, mask, y = task.arrays("train")
    assert np.bincount(y).tolist() == [30] * 9  # 30 utterances per speaker
    frames = x[mask]  # the real frames: standardised on the training split
    assert np.allclose(frames.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(frames.std(axis=0), 1, atol=1e-4)
    assert (x[~mask] == 0).all()


def test_batches_scoring_and_baseline() -> None:
    task = make_task("series/japanese-vowels")
    batch = task.sample_batch(6, 29, torch.Generator().manual_seed(1))
    same = task.sample_batch(6, 29, torch.Generator().manual_seed(1))
    assert torch.equal(batch.inputs, same.inputs) and batch.inputs.dtype == torch.float32
    assert batch.inputs.shape == (6, 29, 12) and batch.mask.shape == (6, 29)
    assert batch.mask[:, 0].all()  # right-padded: every series starts at frame 0
    every = torch.cat([b.targets for b in task.eval_batches(100, 29)])
    assert every.numel() == 370
    some = torch.cat([b.targets for b in task.eval_batches(50, 29, max_tokens=29 * 90)])
    assert some.numel() == 90 and (torch.bincount(some, minlength=9) >= 5).all()
    assert task.baseline_loss() > math.log(9) - 0.3  # near-uniform priors, test skewed


def test_bad_requests_and_files_are_refused() -> None:
    task = make_task("series/japanese-vowels")
    with pytest.raises(ConfigError, match="seq_len=64 is invalid; its longest series has 29"):
        task.spec(64)
    with pytest.raises(ConfigError, match="vocab_size=100, max_train_tokens=None are invalid"):
        make_task("series/japanese-vowels", vocab_size=100)
    with pytest.raises(ConfigError, match="channels of unequal length"):
        parse_ts("@data\n1,2,3:4,5:a\n", "x.ts")
    series, labels, classes = parse_ts("@classLabel true a b\n@data\n1,2:3,4:b\n", "y.ts")
    assert classes == ["a", "b"] and labels == ["b"] and series[0].shape == (2, 2)


def test_basic_motions_is_pinned_with_its_official_split() -> None:
    task = make_task("series/basic-motions")
    stats = task.stats()
    assert (stats["train_examples"], stats["val_examples"]) == (40, 40)
    assert (stats["channels"], stats["max_frames"], stats["num_classes"]) == (6, 100, 4)
    assert stats["labels"] == ["Standing", "Running", "Walking", "Badminton"]
    x, mask, y = task.arrays("val")
    assert mask.all() and np.bincount(y).tolist() == [10] * 4  # equal lengths, balanced
    assert task.fingerprint != make_task("series/japanese-vowels").fingerprint
    assert task.baseline_loss() == pytest.approx(math.log(4))
    batch = task.sample_batch(3, 100, torch.Generator().manual_seed(0))
    assert batch.inputs.shape == (3, 100, 6)
    with pytest.raises(ConfigError, match="series/basic-motion: no such data set"):
        SeriesTask("basic-motion")


def test_the_motions_space_builds_and_trains_on_it() -> None:
    from nas_env.evaluation import Evaluator, TrainSettings

    fidelity = {"steps": 3, "batch_size": 4, "lr": 1e-3}
    evaluator = Evaluator("motions", "series/basic-motions", fidelity, TrainSettings(), False)
    result = evaluator.evaluate(evaluator.space.default_genome())
    assert result.status == "ok" and 0.0 <= result.accuracy <= 1.0
    assert result.task_fingerprint == make_task("series/basic-motions").fingerprint
