"""Optuna baselines (TPE, NSGA-II) on the env: records, seeding, the study in the run folder,
resume, rule-breaking proposals and warm start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from agents.optuna_search import STUDY_FILE, NSGA2Search, OptunaSearch, TPESearch
from agents.records import RECORD_FIELDS, RecordWriter, read_records
from agents.runlog import RunLog
from nas_env import SearchSpace
from nas_env.evaluation import EvalResult
from nas_env.genome import Genome

ALGOS = [TPESearch, NSGA2Search]


class FakeEvaluator:
    """Instant, deterministic metrics, better for wider and deeper models; ``relu`` diverges."""

    def __init__(self) -> None:
        self.space = SearchSpace.load("tiny")

    def evaluate(self, genome: Genome) -> EvalResult:
        genes = genome.to_dict()["genes"]
        if genes["activation"] == "relu":
            return EvalResult(status="diverged", message="fake NaN", genome_key=genome.key())
        width = int(genes["d_model"]) * int(genes["layers"])
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            task="fake",
            metric="perplexity",
            perplexity=400.0 - width / 2,
            val_loss=6.0 - width / 512,
            baseline_loss=6.5,
            params=width * 1000,
            size_mb=width / 250,
            latency_ms=0.1 * int(genes["layers"]),
            source="train",
        )


def make_env(evaluator: Any = None, **kwargs: Any) -> gym.Env:
    return gym.make("nas_env/TransformerLM-v2", evaluator=evaluator or FakeEvaluator(), **kwargs)


def make_log(folder: Path, algo: str) -> RunLog:
    writer = RecordWriter(folder / "episodes.jsonl", "run", algo, "nas_env/TransformerLM-v2", 0)
    return RunLog(writer, folder)


def keys(folder: Path) -> list[str]:
    return [r["genome_key"] for r in read_records(folder / "episodes.jsonl")]


def run(cls: type[OptunaSearch], folder: Path, seed: int, steps: int, **kw) -> OptunaSearch:
    log = make_log(folder, cls.name)
    search = cls(make_env(), log, seed=seed, n_startup_trials=4, **kw)
    search.learn(total_timesteps=steps)
    log.writer.close()
    return search


@pytest.mark.parametrize("cls", ALGOS)
def test_records_study_and_budget(cls: type[OptunaSearch], tmp_path: Path) -> None:
    search = run(cls, tmp_path, 0, 10)
    records = list(read_records(tmp_path / "episodes.jsonl"))
    assert len(records) == search.num_timesteps == 10
    for i, record in enumerate(records, start=1):
        assert set(RECORD_FIELDS) <= set(record)
        assert record["action"] == "sample" and record["done"] and record["global_step"] == i
        assert record["algo"] == cls.name
    assert (tmp_path / STUDY_FILE).is_file()
    told = [t for t in search.study.trials if t.state.name in ("COMPLETE", "FAIL")]
    assert len(told) == 10 + search.rejected  # one trial per step, one per rejected proposal
    space = search.space
    assert all(not space.check(space.genome(r["genome"])) for r in records)


@pytest.mark.parametrize("cls", ALGOS)
def test_seeded(cls: type[OptunaSearch], tmp_path: Path) -> None:
    a = run(cls, tmp_path / "a", 3, 8)
    b = run(cls, tmp_path / "b", 3, 8)
    c = run(cls, tmp_path / "c", 4, 8)
    assert keys(tmp_path / "a") == keys(tmp_path / "b")
    assert keys(tmp_path / "a") != keys(tmp_path / "c")
    assert a.rejected == b.rejected and c.num_timesteps == 8


@pytest.mark.parametrize("cls", ALGOS)
def test_resume_continues_the_study(cls: type[OptunaSearch], tmp_path: Path) -> None:
    first = run(cls, tmp_path, 0, 5)
    state = json.loads(json.dumps(first.state_dict()))
    trials = len(first.study.trials)
    log = make_log(tmp_path, cls.name)
    second = cls(make_env(), log, seed=0, n_startup_trials=4)
    assert len(second.study.trials) == trials  # the same study, read back from the journal
    second.load_state_dict(state)
    second.learn(total_timesteps=9)
    log.writer.close()
    assert second.num_timesteps == 9 and len(keys(tmp_path)) == 9
    assert len(second.study.trials) >= trials + 4


def test_an_interrupted_trial_is_failed_on_resume(tmp_path: Path) -> None:
    first = run(TPESearch, tmp_path, 0, 3)
    first.study.ask()  # asked, never told: the process died here
    second = TPESearch(make_env(), make_log(tmp_path, "tpe"), seed=0)
    assert [t.state.name for t in second.study.trials][-1] == "FAIL"
    assert not [t for t in second.study.trials if t.state.name == "RUNNING"]


def test_tpe_beats_its_own_start_on_a_smooth_objective(tmp_path: Path) -> None:
    # The fake's perplexity falls with width x layers: after its random start, TPE's
    # proposals must be better on average than its random ones.
    search = run(TPESearch, tmp_path, 0, 30)
    scores = [r["score"] for r in read_records(tmp_path / "episodes.jsonl") if r["status"] == "ok"]
    assert sum(scores[-10:]) / 10 > sum(scores[:4]) / 4
    assert search.num_timesteps == 30


def test_nsga2_tells_three_objectives_and_fails_diverged(tmp_path: Path) -> None:
    search = run(NSGA2Search, tmp_path, 1, 12)
    records = list(read_records(tmp_path / "episodes.jsonl"))
    done = [t for t in search.study.trials if t.state.name == "COMPLETE"]
    assert done and all(len(t.values) == 3 for t in done)
    failed = sum(r["status"] != "ok" for r in records)
    assert sum(t.state.name == "FAIL" for t in search.study.trials) >= failed


def test_warm_start_needs_a_cache(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "episodes.jsonl").write_text("")
    with pytest.raises(ValueError, match="result cache"):
        TPESearch(make_env(FakeEvaluator()), make_log(tmp_path, "tpe"), warm_start=["old"])


def test_warm_start_adds_cached_genomes_without_steps(tmp_path: Path) -> None:
    cache = {"fidelity": {"steps": 2, "batch_size": 2, "lr": 1e-3, "eval_tokens": 256}}
    env_kwargs = {**cache, "cache_root": str(tmp_path / "cache")}
    env = gym.make("nas_env/TransformerLM-v2", **env_kwargs)
    old = tmp_path / "old"
    search = TPESearch(env, make_log(old, "tpe"), seed=0, n_startup_trials=2)
    search.learn(total_timesteps=2)
    search.run_log.writer.close()
    env2 = gym.make("nas_env/TransformerLM-v2", **env_kwargs)
    warm = TPESearch(env2, make_log(tmp_path / "new", "tpe"), seed=0, warm_start=[str(old)])
    assert warm.warm_started == len(set(keys(old))) >= 1
    assert warm.num_timesteps == 0 and len(warm.study.trials) == warm.warm_started


def test_bad_startup_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_startup_trials"):
        TPESearch(make_env(), make_log(tmp_path, "tpe"), n_startup_trials=0)


@pytest.mark.parametrize("cls", ALGOS)
def test_trials_in_flight_are_running_trials_told_in_order(
    cls: type[OptunaSearch], tmp_path: Path
) -> None:
    search = run(cls, tmp_path, 0, 12, in_flight=3)
    assert search.num_timesteps == 12 and len(keys(tmp_path)) == 12
    states = [t.state.name for t in search.study.trials]
    assert "RUNNING" not in states  # every trial asked was told by the end of the budget
    told = [t for t in search.study.trials if t.state.name in ("COMPLETE", "FAIL")]
    assert len(told) == 12 + search.rejected
    interrupted = make_log(tmp_path / "cut", cls.name)
    cut = cls(make_env(), interrupted, seed=0, n_startup_trials=4, in_flight=3)
    cut.learn(total_timesteps=40, callback=lambda s: s.num_timesteps < 6)
    running = [t for t in cut.study.trials if t.state.name == "RUNNING"]
    assert len(running) == len(cut.pending) == 2  # asked ahead: the constant liar sees them
