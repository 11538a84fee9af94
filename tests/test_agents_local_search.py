"""Local search on the env: one-edit neighbours, strict climbs, restarts only at local
optima, first and best improvement, candidates in flight, exact resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import nas_env  # noqa: F401  (registers the ids)
from agents.hyperparams import HyperparamError, load_hyperparams
from agents.local_search import LocalSearch
from agents.records import RecordWriter, read_records
from agents.runlog import RunLog

ENV_ID = "nas_env/SurrogateLM-v0"


def make_log(folder: Path) -> RunLog:
    writer = RecordWriter(folder / "episodes.jsonl", "run", "local", ENV_ID, 0)
    return RunLog(writer, folder)


def searcher(folder: Path, **kwargs: Any) -> LocalSearch:
    return LocalSearch(gym.make(ENV_ID), make_log(folder), **{"seed": 3, **kwargs})


def score_of(search: LocalSearch, genes: dict[str, Any]) -> float:
    base = search.base
    return base.reward_fn.score(base.evaluator.evaluate(search.space.genome(genes)))


def neighbour_scores(search: LocalSearch, genes: dict[str, Any]) -> list[float]:
    genome = search.space.genome(genes)
    mask = search.space.action_mask(genome)
    out = []
    for action in np.flatnonzero(mask):
        if search.base.action_names[action] == "stop":
            continue
        child = search.space.apply(genome, int(action))
        out.append(score_of(search, child.to_dict()["genes"]))
    return out


class Watch:
    """Follows the climber after every step: its moves and the genomes it left at restarts."""

    def __init__(self) -> None:
        self.path: list[tuple[str, float]] = []
        self.optima: list[dict[str, Any]] = []
        self.restarts = 0

    def __call__(self, search: LocalSearch) -> bool:
        if search.restarts > self.restarts:
            self.optima.append(dict(self.path_genes))
            self.restarts = search.restarts
        if search.current is not None:
            if not self.path or self.path[-1][0] != search.current.key:
                self.path.append((search.current.key, search.current.score))
            self.path_genes = search.current.genes
        return True


@pytest.mark.parametrize("improvement", ["first", "best"])
def test_climbs_strictly_and_restarts_only_at_local_optima(
    improvement: str, tmp_path: Path
) -> None:
    search = searcher(tmp_path, improvement=improvement)
    watch = Watch()
    search.learn(total_timesteps=400, callback=watch)
    assert search.moves >= 3 and search.restarts >= 1
    for optimum in watch.optima:  # nothing one edit away scores higher
        assert max(neighbour_scores(search, optimum)) <= score_of(search, optimum)
    records = list(read_records(tmp_path / "episodes.jsonl"))
    mutations = [r for r in records if r["action"] != "sample"]
    assert len(records) == 400 and len(mutations) > 300
    assert all(r["step"] == 1 and r["done"] for r in mutations)


def test_neighbours_are_the_allowed_edits_each_tried_once(tmp_path: Path) -> None:
    search = searcher(tmp_path, in_flight=1)
    search.learn(total_timesteps=1)  # the random start
    assert search.current is not None
    genome = search.space.genome(search.current.genes)
    mask = search.space.action_mask(genome)
    stop = search.base.action_names.index("stop")
    expected = {int(a) for a in np.flatnonzero(mask) if a != stop}
    assert sorted(search.untried) == sorted(expected)
    start = search.current.key
    tried = []
    while search.current is not None and search.current.key == start and search.untried:
        tried.append(search.untried[0])
        search.learn(total_timesteps=search.num_timesteps + 1)
    assert len(tried) == len(set(tried))


def test_best_improvement_moves_to_the_best_neighbour(tmp_path: Path) -> None:
    search = searcher(tmp_path, improvement="best")
    search.learn(total_timesteps=1)
    start = search.current
    assert start is not None
    scores = neighbour_scores(search, start.genes)
    search.learn(total_timesteps=1 + len(scores))
    if max(scores) > start.score:
        assert search.current is not None and search.current.score == pytest.approx(max(scores))
    else:
        assert search.restarts == 1


@pytest.mark.parametrize("in_flight", [1, 4])
def test_resumes_exactly(in_flight: int, tmp_path: Path) -> None:
    def keys(folder: Path) -> list[str]:
        return [r["genome_key"] for r in read_records(folder / "episodes.jsonl")]

    whole = searcher(tmp_path / "whole", in_flight=in_flight).learn(total_timesteps=120)
    first = searcher(tmp_path / "split", in_flight=in_flight)
    first.learn(total_timesteps=120, callback=lambda s: s.num_timesteps < 53)
    state = json.loads(json.dumps(first.state_dict()))
    second = searcher(tmp_path / "split", in_flight=in_flight)
    second.load_state_dict(state)
    second.learn(total_timesteps=120)
    assert keys(tmp_path / "split") == keys(tmp_path / "whole")
    assert (second.moves, second.restarts) == (whole.moves, whole.restarts)


def test_bad_improvement_is_a_hyperparameter_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allowed: first, best"):
        searcher(tmp_path, improvement="steepest")
    with pytest.raises(HyperparamError, match="improvement='worst'"):
        load_hyperparams("local", ENV_ID, {"improvement": "worst"})
    assert load_hyperparams("local", ENV_ID)["improvement"] == "first"
