"""Grid search: every valid genome once, in the space's order or a seeded shuffle; it ends
with the grid, resumes exactly, and refuses spaces too large to list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import nas_env  # noqa: F401  (registers the ids)
from agents.grid_search import GridSearch
from agents.records import RecordWriter, read_records
from agents.runlog import RunLog
from nas_env.env import NASEnv

ENV_ID = "nas_env/BenchLM-v2"  # the 384-genome table: instant


def make_log(folder: Path) -> RunLog:
    writer = RecordWriter(folder / "episodes.jsonl", "run", "grid", ENV_ID, 0)
    return RunLog(writer, folder)


def grid(folder: Path, **kwargs: Any) -> GridSearch:
    return GridSearch(gym.make(ENV_ID), make_log(folder), **{"seed": 4, **kwargs})


def keys(folder: Path) -> list[str]:
    return [r["genome_key"] for r in read_records(folder / "episodes.jsonl")]


def test_every_genome_once_in_the_spaces_order_then_it_ends(tmp_path: Path) -> None:
    search = grid(tmp_path).learn(total_timesteps=10_000)
    every = [g.key() for g in search.space.enumerate()]
    assert keys(tmp_path) == every and len(every) == 384
    assert search.num_timesteps == 384 and search.exhausted()


def test_shuffled_covers_the_same_genomes_in_a_seeded_order(tmp_path: Path) -> None:
    for name, seed in (("a", 4), ("b", 4), ("c", 5)):
        (tmp_path / name).mkdir()
        grid(tmp_path / name, order="shuffled", seed=seed).learn(total_timesteps=10_000)
    a, b, c = (keys(tmp_path / n) for n in "abc")
    assert a == b and a != c and sorted(a) == sorted(c) and len(set(a)) == 384


def test_a_stopped_grid_resumes_where_it_stopped(tmp_path: Path) -> None:
    first = grid(tmp_path, order="shuffled").learn(total_timesteps=100)
    state = first.state_dict()
    assert state["position"] == 100
    second = grid(tmp_path, order="shuffled")
    second.load_state_dict(state)
    second.learn(total_timesteps=10_000)
    seen = keys(tmp_path)
    assert len(seen) == 384 == len(set(seen))
    other = grid(tmp_path)  # the space's order: another grid
    with pytest.raises(ValueError, match="in 'shuffled' order; this one has 384 in 'space'"):
        other.load_state_dict(state)


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="order='zigzag' is not allowed; allowed: space"):
        grid(tmp_path, order="zigzag")
    modern = NASEnv(space="modern", evaluator="train", fidelity="tiny", device="cpu")
    with pytest.raises(ValueError, match="282,009,600 genomes before constraints"):
        GridSearch(modern, make_log(tmp_path))
