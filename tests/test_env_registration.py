"""Registered ids with real evaluators: both env checkers, make by id, vector envs."""

from __future__ import annotations

import re
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import nas_env
from nas_env.env.factory import default_table

TRAINED_IDS = [i for i, s in nas_env.ENV_IDS.items() if s["kwargs"].get("evaluator") != "table"]
TABLE_IDS = [i for i, s in nas_env.ENV_IDS.items() if s["kwargs"].get("evaluator") == "table"]
HAS_TABLE = default_table("bench").is_file()
RETRAINED = {"TransformerLM", "TransformerLMDesign", "TransformerCls", "BenchLM", "BenchLMDesign"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tokenizer/token cache shared by the module (one tokenizer training per task)."""
    return tmp_path_factory.mktemp("env_cache")


def fast_kwargs(root: Path, cache: Path | bool = False) -> dict[str, Any]:
    """The cheapest real training: 2 optimizer steps, a small vocabulary, CPU."""
    return {
        "fidelity": {"steps": 2, "batch_size": 2, "lr": 1e-3, "eval_tokens": 256},
        "vocab_size": 256,
        "device": "cpu",
        "cache": cache,
        "cache_root": root,
    }


def kwargs_for(env_id: str, root: Path) -> dict[str, Any]:
    if env_id in TABLE_IDS:
        return {}
    kwargs = fast_kwargs(root)
    if nas_env.ENV_IDS[env_id]["kwargs"].get("task", "").startswith(("image/", "series/")):
        del kwargs["vocab_size"]  # intensity levels, or no ids at all: the task's own
    return kwargs


def test_ids_are_namespaced_and_versioned() -> None:
    for env_id in nas_env.ENV_IDS:
        assert re.fullmatch(r"nas_env/[A-Za-z]+-v\d+", env_id), env_id
        assert env_id in gym.registry


@pytest.mark.slow  # real training; the default suite stays under 5 minutes
@pytest.mark.parametrize(
    ("env_id", "level"),
    [("nas_env/TransformerLM-v3", "search-gp"), ("nas_env/TransformerLM-v2", "search")],
)
def test_the_training_ids_search_with_the_long_training_signal(
    env_id: str, level: str, shared: Path
) -> None:
    from nas_env.evaluation.fidelity import Fidelity
    from nas_env.evaluation.signals import load_signal

    assert nas_env.ENV_IDS[env_id]["kwargs"]["fidelity"] == level
    assert nas_env.ENV_IDS["nas_env/TransformerLM-v0"]["kwargs"]["fidelity"] == "fast"
    search = Fidelity.resolve(level)
    signal = load_signal(search.signal)
    assert search.training_fields() == Fidelity.resolve(signal.level).training_fields()
    env = gym.make(
        env_id,
        fidelity=Fidelity.resolve(level, eval_tokens=1024),
        device="cpu",
        cache=False,
        cache_root=shared,
    )
    _obs, info = env.reset(seed=0)
    result = info["result"]
    assert result["signal"] == signal.tag and result["measured_val_loss"] is not None
    assert result["val_loss"] != result["measured_val_loss"]
    env.close()


SLOW_CHECKS = {"nas_env/ModernLM-v0"}
"""Ids whose checker run is slow-stage: each edit the checkers try deploys a candidate to
ONNX Runtime (an export of a second or two each)."""


@pytest.mark.parametrize(
    "env_id",
    [
        pytest.param(i, marks=pytest.mark.slow) if i in SLOW_CHECKS else i
        for i in TRAINED_IDS + TABLE_IDS
    ],
)
def test_both_checkers_pass(env_id: str, shared: Path) -> None:
    if env_id in TABLE_IDS and not HAS_TABLE:
        pytest.skip("config/tables/bench.sqlite is not built")
    env = gym.make(env_id, disable_env_checker=True, **kwargs_for(env_id, shared))
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)
    env.close()


@pytest.mark.parametrize(
    "env_id",
    [
        "nas_env/SurrogateLM-v2",
        "nas_env/SurrogateLMDesign-v2",
        "nas_env/SurrogateModern-v0",
        "nas_env/SurrogateModernDesign-v0",
        "nas_env/BenchLM-v2",
    ],
)
def test_masked_observation_passes_both_checkers_and_carries_the_mask(env_id: str) -> None:
    if "Bench" in env_id and not HAS_TABLE:
        pytest.skip("config/tables/bench.sqlite is not built")
    env = gym.make(env_id, observation="masked", disable_env_checker=True)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observations", "action_mask"}
    rng = np.random.default_rng(0)
    for _ in range(12):
        expected = env.unwrapped.action_masks()
        assert obs["action_mask"].dtype == np.float32
        assert (obs["action_mask"].astype(bool) == expected).all()
        obs, _, terminated, truncated, _ = env.step(int(rng.choice(np.flatnonzero(expected))))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()


@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_render_modes_through_make(mode: str, shared: Path) -> None:
    env = gym.make("nas_env/TransformerLM-v2", render_mode=mode, **fast_kwargs(shared))
    env.reset(seed=0)
    assert env.render() is not None


def test_module_colon_id_and_overrides(shared: Path) -> None:
    env = gym.make("nas_env:nas_env/TransformerLM-v2", reward="mnasnet", **fast_kwargs(shared))
    assert env.unwrapped.reward_fn.name == "mnasnet"
    assert env.spec.max_episode_steps == 20
    _obs, info = env.reset(seed=1)
    assert info["result"]["fidelity_config"]["steps"] == 2
    assert info["result"]["device"] == "cpu"


def test_unknown_id_suggests_close_names() -> None:
    with pytest.raises(gym.error.Error, match="TransformerLM"):
        gym.make("nas_env/TransformerLm-v0")


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])


def test_gymnasium_async_vector_env_shares_the_cache(shared: Path, tmp_path: Path) -> None:
    cache = tmp_path / "results.sqlite"
    envs = gym.make_vec(
        "nas_env:nas_env/TransformerLM-v2",
        num_envs=2,
        vectorization_mode="async",
        **fast_kwargs(shared, cache),
    )
    obs, infos = envs.reset(seed=[0, 1])
    assert obs.shape[0] == 2
    names = envs.unwrapped.get_attr("action_names")[0]
    actions = np.array([names.index("d_model+1"), names.index("layers+1")])
    obs, rewards, terminated, _truncated, _infos = envs.step(actions)
    assert rewards.shape == (2,) and not terminated.any()
    envs.close()
    assert _rows(cache) == 3  # default genome (both) + two different children


@pytest.mark.slow  # real training; the default suite stays under 5 minutes
def test_sb3_subproc_vec_env_shares_the_cache(shared: Path, tmp_path: Path) -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    cache = tmp_path / "results.sqlite"
    venv = make_vec_env(
        "nas_env:nas_env/TransformerLM-v2",
        n_envs=2,
        seed=0,
        vec_env_cls=SubprocVecEnv,
        env_kwargs=fast_kwargs(shared, cache),
    )
    venv.reset()
    _trained_once(venv.reset_infos)  # both workers ask for the default genome at once
    names = venv.get_attr("action_names")[0]
    _, _, _, infos = venv.step(np.array([names.index("norm=rmsnorm")] * 2))
    _trained_once(infos)  # and for its rmsnorm child
    masks = venv.env_method("action_masks")
    assert len(masks) == 2 and all(m.dtype == bool for m in masks)
    venv.close()
    assert _rows(cache) == 2  # the default genome and its rmsnorm child


def _trained_once(infos: Any) -> None:
    """One worker trained the genome; the other waited for it and got the same result."""
    assert sorted(bool(info["cache_hit"]) for info in infos) == [False, True]
    first, second = (info["result"] for info in infos)
    assert first["genome_key"] == second["genome_key"]
    for name in ("latency_ms", "val_loss", "train_seconds"):
        assert first[name] == second[name], name


@pytest.mark.parametrize("env_id", TABLE_IDS)
def test_table_envs_repeat_exactly_under_a_seed(env_id: str) -> None:
    if not HAS_TABLE:
        pytest.skip("config/tables/bench.sqlite is not built")

    def episode() -> list[Any]:
        env = gym.make(env_id, start="random") if "Design" not in env_id else gym.make(env_id)
        obs, info = env.reset(seed=11)
        trace: list[Any] = [obs.tolist()]
        rng = np.random.default_rng(11)
        for _ in range(15):
            action = int(rng.integers(env.action_space.n))  # masked ones included
            obs, reward, terminated, truncated, info = env.step(action)
            trace += [obs.tolist(), reward, info.get("genome_key")]
            if terminated or truncated:
                break
        return trace

    first, second = episode(), episode()
    assert first == second
    assert any(isinstance(x, float) and x != 0.0 for x in first[2::3])  # rewards happened


@pytest.mark.parametrize(
    ("env_id", "init"),
    [("TransformerLM-v2", "scaled"), ("TransformerLMDesign-v2", "scaled"),
     ("TransformerCls-v2", "scaled"), ("TransformerLM-v1", "flat"),
     ("TransformerLMDesign-v1", "flat"), ("TransformerCls-v1", "flat"),
     ("TransformerLM-v0", "flat"), ("TransformerCls-v0", "flat")],
)  # fmt: skip
def test_superseded_training_ids_train_with_the_init_of_their_version(
    env_id: str, init: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        env = gym.make(f"nas_env/{env_id}", cache=False, device="cpu")
    assert env.unwrapped.evaluator.settings.residual_init == init
    env.close()


def test_superseded_table_ids_serve_the_table_of_their_version() -> None:
    if not HAS_TABLE:
        pytest.skip("config/tables/bench.sqlite is not built")
    with pytest.warns(UserWarning, match="evaluator version '4'"):
        old = gym.make("nas_env/BenchLM-v1", disable_env_checker=True).unwrapped.evaluator
    new = gym.make("nas_env/BenchLM-v2", disable_env_checker=True).unwrapped.evaluator
    assert old.path.name == "bench-v4.sqlite" and new.path.name == "bench.sqlite"
    assert old.settings.residual_init == "flat" and new.settings.residual_init == "scaled"
    genome = new.space.default_genome()
    assert old.evaluate(genome).val_loss != new.evaluate(genome).val_loss


@pytest.mark.parametrize(
    "old",
    ["TransformerLM-v0", "TransformerLMDesign-v0", "TransformerCls-v0", "RNNCls-v0",
     "BenchLM-v0", "BenchLMDesign-v0", "SurrogateLM-v0", "SurrogateLMDesign-v0",
     "TransformerLM-v1", "TransformerLMDesign-v1", "TransformerCls-v1", "BenchLM-v1",
     "BenchLMDesign-v1"],
)  # fmt: skip
def test_superseded_ids_still_make_and_warn(old: str) -> None:
    name = old[:-3]
    newer = f"nas_env/{name}-v{2 if name in RETRAINED else 1}"
    assert newer in nas_env.ENV_IDS
    with pytest.warns(DeprecationWarning, match="out of date"):
        env = (
            gym.make(f"nas_env/{old}", cache=False)
            if "Bench" not in old
            else gym.make(f"nas_env/{old}")
        )
    env.close()
