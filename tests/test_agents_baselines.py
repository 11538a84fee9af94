"""Random search and regularized evolution on the env: records, budgets, population rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import nas_env  # noqa: F401  (registers the ids)
from agents.baselines import RandomSearch, RegularizedEvolution
from agents.records import RECORD_FIELDS, RecordWriter, read_records
from agents.runlog import RunLog
from nas_env import SearchSpace
from nas_env.evaluation import EvalResult
from nas_env.genome import Genome


class FakeEvaluator:
    """Instant, deterministic metrics; genomes using ``relu`` 'diverge'."""

    def __init__(self, space: str = "tiny") -> None:
        self.space = SearchSpace.load(space)
        self.calls: list[str] = []

    def evaluate(self, genome: Genome) -> EvalResult:
        self.calls.append(genome.key())
        genes = genome.to_dict()["genes"]
        if genes.get("activation") == "relu":
            return EvalResult(status="diverged", message="fake NaN", genome_key=genome.key())
        width = int(genes["d_model"]) * int(genes["layers"])
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            task="fake",
            metric="perplexity",
            perplexity=400.0 - width / 2 + len(str(genes["position"])),
            params=width * 1000,
            size_mb=width / 250,
            latency_ms=0.1 * int(genes["layers"]),
            source="train",
        )


def make_env(evaluator: Any = None, **kwargs: Any) -> gym.Env:
    return gym.make("nas_env/TransformerLM-v2", evaluator=evaluator or FakeEvaluator(), **kwargs)


def make_log(tmp_path: Path, algo: str) -> RunLog:
    writer = RecordWriter(tmp_path / "episodes.jsonl", "run", algo, "nas_env/TransformerLM-v2", 0)
    return RunLog(writer, tmp_path)


def test_random_search_writes_records_and_respects_the_evaluation_budget(tmp_path: Path) -> None:
    log = make_log(tmp_path, "random")
    search = RandomSearch(make_env(), log, seed=3)
    search.learn(total_timesteps=100, max_evaluations=6)
    log.writer.close()
    records = list(read_records(tmp_path / "episodes.jsonl"))
    assert log.unique_evaluations == 6
    assert len(records) == search.num_timesteps >= 6
    assert {r["genome_key"] for r in records if r["evaluated"]} == log.unique_keys
    for i, record in enumerate(records, start=1):
        assert set(RECORD_FIELDS) <= set(record)
        assert record["action"] == "sample" and record["step"] == 0 and record["done"]
        assert record["global_step"] == i and record["algo"] == "random"
    assert (tmp_path / "best.json").is_file() and (tmp_path / "pareto.json").is_file()
    best = json.loads((tmp_path / "best.json").read_text())
    ok_scores = [r["score"] for r in records if r["status"] == "ok"]
    assert best["score"] == pytest.approx(max(ok_scores))


def test_random_search_step_budget(tmp_path: Path) -> None:
    log = make_log(tmp_path, "random")
    search = RandomSearch(make_env(), log, seed=0).learn(total_timesteps=4)
    assert search.num_timesteps == 4 and log.writer.count == 4


def test_evolution_population_mechanics(tmp_path: Path) -> None:
    env = make_env()
    space = env.unwrapped.space
    log = make_log(tmp_path, "evolution")
    evo = RegularizedEvolution(env, log, seed=1, population_size=4, sample_size=2)
    evo.learn(total_timesteps=4)
    assert len(evo.population) == 4 and evo.lineage == []  # initial random population
    for _ in range(8):
        before = list(evo.population)
        evo.step_once()
        after = list(evo.population)
        assert len(after) == 4
        assert after[:-1] == before[1:]  # the oldest, not the worst, was removed
        parent_key, action, child_key = evo.lineage[-1]
        parent = next(m for m in before if m.key == parent_key)
        child = space.apply(space.genome(parent.genes), action)  # parent + one edit
        assert child.key() == child_key == after[-1].key
        assert after[-1].born == evo.num_timesteps
    records = list(read_records(tmp_path / "episodes.jsonl"))
    mutations = [r for r in records if r["step"] == 1]
    assert len(mutations) == 8 and all(r["action"] != "stop" for r in mutations)
    assert [r["genome_key"] for r in mutations] == [c for _p, _a, c in evo.lineage]


def test_evolution_tournament_picks_the_best_of_the_sample(tmp_path: Path) -> None:
    log = make_log(tmp_path, "evolution")
    evo = RegularizedEvolution(make_env(), log, seed=2, population_size=3, sample_size=3)
    evo.learn(total_timesteps=3)
    best = max(evo.population, key=lambda m: m.score)
    evo.step_once()  # S = P: the tournament sees everyone
    assert evo.lineage[-1][0] == best.key


def test_failed_child_joins_with_the_failure_penalty(tmp_path: Path) -> None:
    env = make_env()
    log = make_log(tmp_path, "evolution")
    evo = RegularizedEvolution(env, log, seed=0, population_size=2, sample_size=2)
    evo.learn(total_timesteps=2)
    parent = evo.population[0]
    names = env.unwrapped.action_names
    env.reset(options={"genome": parent.genes})
    log.begin(0, parent.genes)
    action = names.index("activation=relu") if parent.genes["activation"] != "relu" else 0
    _obs, reward, _t, _tr, info = env.step(action)
    record = log.on_step(info, float(reward), action, True, 0, 99)
    assert record["status"] == "diverged" and record["genome"]["activation"] == "relu"
    assert record["genome_key"] != record["state_key"]  # the env kept the parent
    assert evo._score(record) == -env.unwrapped.reward_fn.failure_penalty


def test_evolution_resumes_exactly(tmp_path: Path) -> None:
    def keys(path: Path) -> list[str]:
        return [r["genome_key"] for r in read_records(path)]

    full = RegularizedEvolution(make_env(), make_log(tmp_path / "a", "e"), 5, 4, 2).learn(12)
    first = RegularizedEvolution(make_env(), make_log(tmp_path / "b", "e"), 5, 4, 2).learn(7)
    state = json.loads(json.dumps(first.state_dict()))  # through JSON, like state.json
    log = make_log(tmp_path / "b", "e")
    second = RegularizedEvolution(make_env(), log, 5, 4, 2)
    second.load_state_dict(state)
    second.learn(12)
    assert second.num_timesteps == full.num_timesteps == 12
    assert keys(tmp_path / "b" / "episodes.jsonl") == keys(tmp_path / "a" / "episodes.jsonl")


@pytest.mark.parametrize("cls", [RandomSearch, RegularizedEvolution])
def test_baselines_need_edit_mode(cls: type, tmp_path: Path) -> None:
    env = gym.make("nas_env/TransformerLMDesign-v2", evaluator=FakeEvaluator())
    with pytest.raises(ValueError, match="edit"):
        cls(env, make_log(tmp_path, "x"))


def test_evolution_rejects_bad_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sample_size"):
        RegularizedEvolution(make_env(), make_log(tmp_path, "e"), population_size=3, sample_size=5)


def test_random_search_on_real_training(tmp_path: Path) -> None:
    kwargs = {
        "fidelity": {"steps": 2, "batch_size": 2, "lr": 1e-3, "eval_tokens": 256},
        "vocab_size": 256,
        "device": "cpu",
        "cache": False,
        "cache_root": tmp_path / "cache",
    }
    env = gym.make("nas_env/TransformerLM-v2", **kwargs)
    log = make_log(tmp_path, "random")
    RandomSearch(env, log, seed=0).learn(total_timesteps=2)
    records = list(read_records(tmp_path / "episodes.jsonl"))
    assert len(records) == 2 and all(r["source"] == "train" for r in records)
    assert all(r["perplexity"] for r in records if r["status"] == "ok")


class SubmittingFake(FakeEvaluator):
    """`FakeEvaluator` with `ParallelEvaluator`'s ``submit``/``capacity``: counts the
    candidates submitted ahead of their evaluation."""

    def __init__(self, capacity: int = 3) -> None:
        super().__init__()
        self.capacity = capacity
        self.ahead: list[str] = []
        self.peak = 0
        self.submitted: list[str] = []

    def submit(self, genome: Genome) -> None:
        self.submitted.append(genome.key())
        self.ahead.append(genome.key())
        self.peak = max(self.peak, len(self.ahead))

    def evaluate(self, genome: Genome) -> EvalResult:
        if genome.key() in self.ahead:
            self.ahead.remove(genome.key())
        return super().evaluate(genome)


def sampled_keys(tmp_path: Path) -> list[tuple[str, float]]:
    return [(r["genome_key"], r["score"]) for r in read_records(tmp_path / "episodes.jsonl")]


@pytest.mark.parametrize("in_flight", [2, 5])
def test_random_search_in_flight_records_the_genomes_of_one_at_a_time(
    tmp_path: Path, in_flight: int
) -> None:
    runs = []
    for k in (1, in_flight):
        folder = tmp_path / str(k)
        log = make_log(folder, "random")
        evaluator = SubmittingFake(capacity=k)
        RandomSearch(make_env(evaluator), log, seed=7).learn(total_timesteps=9)
        log.writer.close()
        runs.append(sampled_keys(folder))
        ahead = 1 if k == 1 else min(2 * k, 9)  # default: twice the workers, within budget
        assert evaluator.peak == ahead  # candidates submitted ahead of their records
        assert len(evaluator.submitted) == 9  # never past the step budget
    assert runs[0] == runs[1] and len(runs[0]) == 9


def test_evolution_in_flight_keeps_its_rules_and_resumes_exactly(tmp_path: Path) -> None:
    def searcher(folder: Path) -> RegularizedEvolution:
        return RegularizedEvolution(
            make_env(SubmittingFake()),
            make_log(folder, "evolution"),
            seed=2,
            population_size=6,
            sample_size=3,
            in_flight=3,
        )

    whole = searcher(tmp_path / "whole").learn(total_timesteps=30)
    assert whole.num_timesteps == 30 and len(whole.population) == 6
    assert len(whole.lineage) >= 20  # mutations once the population stood
    assert whole.base.evaluator.peak == 3
    first = searcher(tmp_path / "split")
    first.learn(total_timesteps=30, callback=lambda s: s.num_timesteps < 14)  # interrupted
    state = json.loads(json.dumps(first.state_dict()))
    assert first.num_timesteps == 14 and len(state["pending"]) > 0  # in flight at the stop
    second = searcher(tmp_path / "split")
    second.load_state_dict(state)
    second.learn(total_timesteps=30)
    assert [m.key for m in second.population] == [m.key for m in whole.population]
    assert second.lineage == whole.lineage[len(whole.lineage) - len(second.lineage) :]


def test_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="in_flight"):
        RandomSearch(make_env(), make_log(Path("/tmp/unused"), "random"), in_flight=0)
