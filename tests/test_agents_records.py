"""Episode records, best genome and Pareto front bookkeeping."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from agents.records import RECORD_FIELDS, RecordWriter, metrics_of, read_records
from agents.runlog import RunLog
from agents.tracking import ParetoFront, dominates


def entry(key: str, ppl: float, params: int, latency: float, score: float = 0.5) -> dict[str, Any]:
    metrics = {"metric": "perplexity", "quality": ppl, "params": params, "latency_ms": latency}
    return {"genome_key": key, "genome": {"k": key}, "score": score, "metrics": metrics}


def test_dominance() -> None:
    assert dominates((1, 1, 1), (1, 2, 1))
    assert not dominates((1, 1, 1), (1, 1, 1))
    assert not dominates((0, 2, 1), (1, 1, 1))


def test_pareto_front_keeps_only_non_dominated_genomes() -> None:
    front = ParetoFront()
    assert front.add(entry("a", 100, 1000, 1.0))
    assert front.add(entry("b", 50, 5000, 2.0))  # better quality, bigger: both stay
    assert not front.add(entry("c", 120, 2000, 1.5))  # dominated by a
    assert not front.add(entry("a", 10, 10, 0.1))  # same genome again: ignored
    assert front.add(entry("d", 90, 900, 0.9))  # dominates a
    assert {e["genome_key"] for e in front.entries} == {"b", "d"}


def test_accuracy_is_maximised() -> None:
    front = ParetoFront()
    low = entry("low", 0.5, 1000, 1.0)
    high = entry("high", 0.9, 1000, 1.0)
    for e in (low, high):
        e["metrics"]["metric"] = "accuracy"
        front.add(e)
    assert [e["genome_key"] for e in front.entries] == ["high"]


def test_writer_appends_strict_json_lines_and_reader_skips_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "episodes.jsonl"
    with RecordWriter(path, "run", "dqn", "nas_env/X-v0", 3) as writer:
        record = writer.write({"step": 1, "reward": math.nan, "genome": {"layers": 2}})
    assert set(record) == set(RECORD_FIELDS) and record["seed"] == 3
    with RecordWriter(path, "run", "dqn", "nas_env/X-v0", 3) as writer:  # a resume appends
        writer.write({"step": 2})
    with path.open("a") as handle:
        handle.write('{"step": 3, "rew')  # a crash in the middle of a line
    records = list(read_records(path))
    assert [r["step"] for r in records] == [1, 2] and records[0]["reward"] is None


def test_metrics_of_picks_the_task_metric() -> None:
    lm = metrics_of({"status": "ok", "metric": "perplexity", "perplexity": 9.0, "params": 3})
    assert lm["quality"] == 9.0 and lm["params"] == 3 and lm["cache_hit"] is False
    cls = metrics_of({"status": "ok", "metric": "accuracy", "accuracy": 0.7})
    assert cls["quality"] == 0.7
    assert metrics_of(None)["status"] is None


def _info(key: str, score: float, ppl: float) -> dict[str, Any]:
    result = {"status": "ok", "metric": "perplexity", "perplexity": ppl, "genome_key": key}
    result.update(params=100, latency_ms=1.0, size_mb=0.1, source="train", cache_hit=False)
    return {"genome": {"g": key}, "genome_key": key, "score": score, "result": result}


def test_runlog_counts_unique_evaluations_and_resumes(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "episodes.jsonl", "run", "ppo", "nas_env/X-v0", 0)
    log = RunLog(writer, tmp_path)
    log.on_reset(_info("a", 0.3, 90.0), 0, 0)
    step = {**_info("b", 0.4, 80.0), "candidate": _info("b", 0.4, 80.0)["result"]}
    step["action"] = "layers+1"
    record = log.on_step(step, 0.1, 0, False, 0, 1)
    assert record["evaluated"] and record["new_evaluation"] and record["unique_evaluations"] == 2
    again = {**step, "candidate": {**step["candidate"], "cache_hit": True}}
    record = log.on_step(again, 0.0, 0, True, 0, 2)
    assert not record["new_evaluation"] and record["cache_hit"] and record["done"]
    writer.close()
    assert json.loads((tmp_path / "best.json").read_text())["genome_key"] == "b"

    resumed = RunLog(RecordWriter(tmp_path / "episodes.jsonl", "run", "ppo", "X", 0), tmp_path)
    assert resumed.resume_from(tmp_path / "episodes.jsonl") == 3
    assert resumed.unique_keys == {"a", "b"} and resumed.evaluations == 3
    assert resumed.cache_hits == 1 and resumed.episodes_done == 1 and resumed.next_episode == 1
    assert resumed.tracker.best_score == 0.4


class _FormulaEvaluator:
    """Instant, deterministic metrics (a formula of the genes) for agent-side tests."""

    def __init__(self, fail_when: dict[str, Any] | None = None) -> None:
        from nas_env import SearchSpace

        self.space = SearchSpace.load("tiny")
        self.fail_when = fail_when or {}

    def evaluate(self, genome: Any) -> Any:
        from nas_env.evaluation import EvalResult

        if any(genome[k] == v for k, v in self.fail_when.items()):
            return EvalResult(status="diverged", message="loss became nan", metric="perplexity")
        width = genome["layers"] * genome["d_model"]
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            metric="perplexity",
            perplexity=400.0 / (width / 32) ** 0.5,
            params=width * genome["d_model"] * 12,
            size_mb=width * genome["d_model"] * 48 / 2**20,
            latency_ms=0.2 * width / 32,
        )


def _formula_venv(n_envs: int) -> Any:
    from stable_baselines3.common.vec_env import DummyVecEnv

    from nas_env.env import NASEnv

    return DummyVecEnv([lambda: NASEnv(evaluator=_FormulaEvaluator())] * n_envs)


def test_on_policy_stop_records_its_last_vector_step(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    from agents.callbacks import NASRecordCallback

    venv = _formula_venv(4)
    model = PPO("MlpPolicy", venv, n_steps=2, batch_size=8, n_epochs=1, seed=0, device="cpu")
    writer = RecordWriter(tmp_path / "episodes.jsonl", "run", "ppo", "formula", 0)
    callback = NASRecordCallback(RunLog(writer, tmp_path), total_timesteps=8)
    model.learn(total_timesteps=40, callback=callback)
    writer.close()
    venv.close()
    records = list(read_records(tmp_path / "episodes.jsonl"))
    assert callback.stop_reason.startswith("step budget reached")
    assert max(r["global_step"] for r in records) == model.num_timesteps
    steps = [r for r in records if r["action_index"] is not None]
    assert len(steps) == model.num_timesteps


def test_failed_candidate_is_recorded_from_info_without_replaying(tmp_path: Path) -> None:
    from nas_env.env import NASEnv

    env = NASEnv(evaluator=_FormulaEvaluator(fail_when={"norm": "rmsnorm"}))
    _, reset_info = env.reset(seed=0)
    action = env.action_names.index("norm=rmsnorm")
    tried = env.space.apply(env.genome, action)  # type: ignore[arg-type]
    _, reward, _, _, info = env.step(action)
    writer = RecordWriter(tmp_path / "episodes.jsonl", "run", "ppo", "formula", 0)
    log = RunLog(writer, tmp_path)
    log.on_reset(reset_info, 0, 0)
    wrong_index = env.action_names.index("layers+1")  # a replay of this would differ
    record = log.on_step(info, float(reward), wrong_index, False, 0, 1)
    writer.close()
    assert record["status"] == "diverged" and record["evaluated"]
    assert record["genome"] == tried.to_dict()["genes"]
    assert record["genome_key"] == tried.key() and record["state_key"] == reset_info["genome_key"]
    assert log.unique_evaluations == 2


def test_records_carry_what_the_result_was_measured_on() -> None:
    from nas_env.evaluation import EvalResult

    result = EvalResult(
        status="ok",
        metric="perplexity",
        perplexity=50.0,
        val_loss=3.9,
        val_loss_se=0.01,
        fidelity="fast",
        task_fingerprint="2057b2c6f8a269e8",
        evaluator_version="3",
    )
    metrics = metrics_of(result.to_dict())
    assert metrics["task_fingerprint"] == "2057b2c6f8a269e8"
    assert metrics["val_loss_se"] == 0.01 and metrics["evaluator_version"] == "3"
    assert metrics["fidelity"] == "fast" and metrics["quality"] == 50.0
