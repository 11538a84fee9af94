"""Promotion checkpoints: atomic save, safe load, discard and the size cap."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from nas_env.errors import ConfigError
from nas_env.evaluation.checkpoints import CheckpointStore


def state(n: int) -> dict[str, object]:
    return {"step": 3, "model": {"w": torch.zeros(n)}, "generator": torch.Generator().get_state()}


def test_save_load_discard(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "c")
    assert store.load("a") is None
    store.save("a", state(4))
    loaded = store.load("a")
    assert loaded is not None and loaded["step"] == 3 and loaded["model"]["w"].shape == (4,)
    store.discard("a")
    store.discard("a")  # twice is fine
    assert store.load("a") is None and store.files() == []


def test_prune_keeps_the_folder_under_its_cap_oldest_first(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, cap_mb=0.5)
    for i, key in enumerate("abc"):
        store.save(key, state(60_000))  # ~0.23 MiB each
        stamp = time.time() - 100 + i
        os.utime(store.path(key), (stamp, stamp))
    store.save("d", state(60_000))
    names = [p.stem for p in store.files()]
    assert "a" not in names and "d" in names
    assert store.size_mb() <= 0.5


def test_unreadable_checkpoint_is_ignored(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.path("x").write_bytes(b"not a checkpoint")
    assert store.load("x") is None


def test_cap_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cap_mb"):
        CheckpointStore(tmp_path, cap_mb=0)
