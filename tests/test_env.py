"""NASEnv: spaces, masks, penalties, rewards, seeding, design mode, rendering."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from nas_env import Genome, SearchSpace
from nas_env.env import NASEnv
from nas_env.evaluation import EvalResult


class FormulaEvaluator:
    """A deterministic stand-in for training: metrics are a formula of the genes.

    It lets the env's own logic be tested exhaustively in milliseconds; the real
    evaluators are exercised in tests/test_env_registration.py.
    """

    def __init__(self, space: str = "tiny", fail_when: dict[str, Any] | None = None) -> None:
        self.space = SearchSpace.load(space)
        self.fail_when = fail_when or {}
        self.calls = 0

    def evaluate(self, genome: Genome) -> EvalResult:
        self.calls += 1
        if any(genome[k] == v for k, v in self.fail_when.items()):
            return EvalResult(status="diverged", message="loss became nan", metric="perplexity")
        layers = genome["layers"]
        width = genome.get("d_model", genome.get("hidden_size", 64))
        ppl = 400.0 / (layers * width / 32) ** 0.5
        params = layers * width * width * 12
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            metric="perplexity",
            perplexity=ppl,
            params=params,
            size_mb=params * 4 / 2**20,
            latency_ms=0.2 * layers * width / 32,
        )


def make_env(**kwargs: Any) -> NASEnv:
    kwargs.setdefault("evaluator", FormulaEvaluator(kwargs.pop("space", "tiny")))
    return NASEnv(**kwargs)


def test_spaces_and_names() -> None:
    env = make_env()
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs.dtype == np.float32 and obs.shape == (len(env.observation_names),)
    assert env.action_space.n == len(env.action_names) == len(env.space.action_names)
    assert env.action_names[-1] == "stop"
    assert info["genome_key"] == env.space.default_genome().key()
    assert info["status"] == "ok" and "result" in info


def test_observation_slots_follow_the_documented_layout() -> None:
    env = make_env()
    obs, _ = env.reset(seed=0)
    slot = dict(zip(env.observation_names, obs.tolist(), strict=True))
    assert slot["layers"] == pytest.approx(1 / 3)  # default 2 of [1, 2, 3, 4]
    assert slot["norm=layernorm"] == 1.0 and slot["norm=rmsnorm"] == 0.0
    assert slot["layer[0].active"] == 1.0 and slot["layer[2].active"] == 0.0
    assert slot["heads[2]"] == 0.0 and slot["heads[1]"] == pytest.approx(0.5)
    assert slot["metric.ok"] == 1.0 and 0 < slot["metric.quality"] < 1
    assert slot["episode.progress"] == 0.0
    obs, *_ = env.step(env.action_names.index("layers+1"))
    slot = dict(zip(env.observation_names, obs.tolist(), strict=True))
    assert slot["layer[2].active"] == 1.0 and slot["heads[2]"] == pytest.approx(0.5)
    assert slot["episode.progress"] == pytest.approx(1 / 20)


def test_edit_return_telescopes_to_final_minus_initial_score() -> None:
    env = make_env()
    env.reset(seed=0)
    initial = env.score
    total = 0.0
    for name in ["d_model+1", "layers+1", "heads[0]-1", "d_model+1", "layers-1"]:
        _, reward, terminated, truncated, info = env.step(env.action_names.index(name))
        assert isinstance(reward, float) and not terminated and not truncated
        assert info["action"] == name and info["invalid_action"] == ""
        total += reward
    assert total == pytest.approx(env.score - initial)
    _, reward, terminated, _, _ = env.step(env.action_names.index("stop"))
    assert terminated and reward == 0.0


def test_masked_action_is_a_penalised_no_op() -> None:
    evaluator = FormulaEvaluator()
    env = make_env(evaluator=evaluator)
    env.reset(seed=0)
    mask = env.action_masks()
    hidden = env.action_names.index("norm=layernorm")  # already layernorm
    assert not mask[hidden] and mask[-1]
    before, calls = env.genome, evaluator.calls
    _, reward, terminated, _, info = env.step(hidden)
    assert reward == -0.1 and not terminated
    assert env.genome == before and evaluator.calls == calls
    assert "no-op" in info["invalid_action"]
    _, reward, *_ = env.step(env.action_names.index("heads[3]+1"))  # inactive layer
    assert reward == -0.1


@pytest.mark.parametrize("mode", ["edit", "design"])
def test_reward_scale_multiplies_rewards_not_scores(mode: str) -> None:
    plain, scaled = make_env(mode=mode), make_env(mode=mode, reward_scale=20)
    plain.reset(seed=3)
    scaled.reset(seed=3)
    names = ["d_model+1", "norm=layernorm", "layers+1"]  # edit, masked no-op, edit
    rewards = []
    for step in range(40):
        if mode == "edit":
            action = plain.action_names.index(names[step])
        else:
            action = int(np.flatnonzero(plain.action_masks())[-1])
        _, r1, done, _, i1 = plain.step(action)
        _, r2, _, _, i2 = scaled.step(action)
        assert r2 == pytest.approx(20 * r1)
        assert i2["score"] == pytest.approx(i1["score"])
        rewards.append(r1)
        if done or (mode == "edit" and step == len(names) - 1):
            break
    assert sum(r != 0 for r in rewards) == (3 if mode == "edit" else 1)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "10", True])
def test_reward_scale_must_be_a_positive_number(bad: Any) -> None:
    from nas_env import ConfigError

    with pytest.raises(ConfigError, match="reward_scale"):
        make_env(reward_scale=bad)


def test_failed_candidate_is_penalised_and_not_adopted() -> None:
    env = make_env(evaluator=FormulaEvaluator(fail_when={"norm": "rmsnorm"}))
    env.reset(seed=0)
    score, genome = env.score, env.genome
    _, reward, _, _, info = env.step(env.action_names.index("norm=rmsnorm"))
    assert reward == -env.reward_fn.failure_penalty
    assert info["status"] == "diverged" and env.genome == genome and env.score == score


def test_seeded_random_start_is_repeatable() -> None:
    a, b = make_env(start="random"), make_env(start="random")
    assert a.reset(seed=5)[1]["genome_key"] == b.reset(seed=5)[1]["genome_key"]
    keys = {a.reset(seed=s)[1]["genome_key"] for s in range(8)}
    assert len(keys) > 1


def test_incumbent_start_begins_where_the_best_genome_so_far_is() -> None:
    env = make_env(start="incumbent")
    first = env.reset(seed=1)[1]  # nothing scored yet: a random genome
    assert first["genome_key"] == make_env(start="random").reset(seed=1)[1]["genome_key"]
    best_score, best_key = first["score"], first["genome_key"]
    rng = np.random.default_rng(0)
    for _ in range(3):  # a few episodes of random edits; the env remembers the best
        for _ in range(6):
            _, _, terminated, _, info = env.step(
                int(rng.choice(np.flatnonzero(env.action_masks())))
            )
            if info["status"] == "ok" and info["score"] > best_score:
                best_score, best_key = info["score"], info["genome_key"]
            if terminated:
                break
        info = env.reset()[1]
        assert info["genome_key"] == best_key and info["score"] == best_score
    assert best_score > first["score"]  # it moved: the test can tell the two apart


def test_same_seed_same_actions_same_episode() -> None:
    def episode(seed: int) -> list[Any]:
        env = make_env(start="random")
        obs, _ = env.reset(seed=seed)
        trace = [obs.tolist()]
        rng = np.random.default_rng(seed)
        for _ in range(10):
            allowed = np.flatnonzero(env.action_masks())
            obs, reward, terminated, _, _ = env.step(int(rng.choice(allowed)))
            trace += [obs.tolist(), reward]
            if terminated:
                break
        return trace

    assert episode(3) == episode(3)


def test_time_limit_truncates() -> None:
    env = gym.wrappers.TimeLimit(make_env(), max_episode_steps=3)
    env.reset(seed=0)
    hidden = env.unwrapped.action_names.index("norm=layernorm")
    flags = [env.step(hidden)[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_design_mode_builds_a_valid_genome() -> None:
    evaluator = FormulaEvaluator()
    env = make_env(evaluator=evaluator, mode="design")
    obs, _ = env.reset(seed=0)
    assert evaluator.calls == 0 and env.action_space.n == 5  # widest gene: activation
    rng = np.random.default_rng(0)
    rewards, terminated, steps = [], False, 0
    while not terminated:
        mask = env.action_masks()
        assert mask.any()
        obs, reward, terminated, _, info = env.step(int(rng.choice(np.flatnonzero(mask))))
        rewards.append(reward)
        steps += 1
        assert env.observation_space.contains(obs)
    assert all(r == 0.0 for r in rewards[:-1]) and rewards[-1] != 0.0
    assert evaluator.calls == 1 and env.space.is_valid(env.genome)
    assert steps == 8 + 2 * env.genome["layers"]
    assert info["genome_key"] == env.genome.key()


def test_design_mode_penalises_out_of_range_choices() -> None:
    env = make_env(mode="design")
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(3)  # `layers` has 4 choices: 0..3
    assert reward == 0.0 and env._design.genes["layers"] == 4
    _, reward, terminated, _, info = env.step(4)  # `d_model` has 4 choices too
    assert reward == -0.1 and not terminated and "not allowed" in info["invalid_action"]


def test_dict_observation() -> None:
    env = make_env(observation="dict")
    obs, _ = env.reset(seed=0)
    assert isinstance(env.observation_space, gym.spaces.Dict)
    assert env.observation_space.contains(obs)
    assert set(obs) == {"genome", "metrics", "progress"}


@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_render(mode: str) -> None:
    env = make_env(render_mode=mode)
    env.reset(seed=0)
    out = env.render()
    if mode == "ansi":
        assert "d_model" in out and "ppl" in out and "score" in out
    else:
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert (out < 255).any()  # something was drawn


def test_bad_arguments() -> None:
    from nas_env import ConfigError

    with pytest.raises(ConfigError, match="mode"):
        make_env(mode="sculpt")
    with pytest.raises(ConfigError, match="render_mode"):
        make_env(render_mode="human")
    with pytest.raises(ConfigError, match="evaluator"):
        NASEnv(evaluator="oracle")


def _metric_slots(env: NASEnv, obs: np.ndarray) -> dict[str, float]:
    slot = dict(zip(env.observation_names, obs.tolist(), strict=True))
    return {k: slot[k] for k in ("metric.quality", "metric.size", "metric.latency")}


def test_metric_slots_use_the_active_rewards_bounds() -> None:
    from nas_env.rewards import log_score, quality_score

    reward = {
        "name": "weighted",
        "size_low_mb": 0.001,
        "size_high_mb": 2.0,
        "latency_low_ms": 0.01,
        "latency_high_ms": 1.0,
        "vocab_size": 500,
    }
    env = make_env(reward=reward)
    obs, _ = env.reset(seed=0)
    r = env.result
    assert r is not None
    got = _metric_slots(env, obs)
    assert got["metric.size"] == pytest.approx(log_score(r.size_mb, 0.001, 2.0), abs=1e-6)
    assert got["metric.latency"] == pytest.approx(log_score(r.latency_ms, 0.01, 1.0), abs=1e-6)
    assert got["metric.quality"] == pytest.approx(quality_score(r, 500), abs=1e-6)
    default = _metric_slots(make_env(), make_env().reset(seed=0)[0])
    assert got != pytest.approx(default, abs=1e-3)


def test_metric_slots_of_a_target_reward_score_its_targets_one_half() -> None:
    probe = make_env()
    probe.reset(seed=0)
    r = probe.result
    assert r is not None
    reward = {"name": "mnasnet", "target_size_mb": r.size_mb, "target_latency_ms": r.latency_ms}
    env = make_env(reward=reward)
    got = _metric_slots(env, env.reset(seed=0)[0])
    assert got["metric.size"] == pytest.approx(0.5, abs=1e-5)
    assert got["metric.latency"] == pytest.approx(0.5, abs=1e-5)


def test_failed_candidate_genome_is_in_info() -> None:
    env = make_env(evaluator=FormulaEvaluator(fail_when={"norm": "rmsnorm"}))
    env.reset(seed=0)
    kept = env.genome
    assert kept is not None
    tried = env.space.apply(kept, "norm=rmsnorm")
    _, _, _, _, info = env.step(env.action_names.index("norm=rmsnorm"))
    assert info["status"] == "diverged" and info["genome_key"] == kept.key()
    assert info["candidate_genome"] == tried.to_dict()["genes"]
    assert info["candidate_key"] == tried.key()
    _, _, _, _, info = env.step(env.action_names.index("layers+1"))
    assert info["status"] == "ok"
    assert info["candidate_genome"] == info["genome"] and info["candidate_key"] == env.genome.key()


class CachedFormulaEvaluator(FormulaEvaluator):
    """`FormulaEvaluator` whose results go through a `ResultCache` database."""

    def __init__(self, path: Any) -> None:
        from nas_env.evaluation.cache import ResultCache

        super().__init__()
        self.cache = ResultCache(path)

    def evaluate(self, genome: Genome) -> EvalResult:
        found = self.cache.get(genome.key())
        if found is None:
            found = super().evaluate(genome)
            self.cache.put(genome.key(), found, "formula", 0)
        return found


def test_close_calls_the_evaluators_own_close(tmp_path: Any) -> None:
    import sqlite3

    class Closing(CachedFormulaEvaluator):
        def close(self) -> None:
            self.cache.close()

    evaluator = Closing(tmp_path / "results.sqlite")
    env = make_env(evaluator=evaluator)
    env.reset(seed=0)
    conn = evaluator.cache._connection()
    env.close()
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
    bare = CachedFormulaEvaluator(tmp_path / "bare.sqlite")  # no close(): nothing to call
    env = make_env(evaluator=bare)
    env.reset(seed=0)
    env.close()
    assert env.unwrapped.evaluator.inner is bare and env.unwrapped.evaluator.vocab_size > 0
