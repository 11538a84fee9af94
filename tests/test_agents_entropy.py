"""The entropy floor: the coefficient rule, the rollout entropy of plain and masked
policies, and the hyperparameter key on the command line."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import pytest

import nas_env  # noqa: F401  (registers the ids)
import train_rl
from agents import entropy
from agents.algos import ALGOS
from agents.entropy import MAX_COEF, EntropyFloor, rollout_entropy

DESIGN = "nas_env/SurrogateLMDesign-v0"


def floor_after(entropies: list[float], base: float, monkeypatch: pytest.MonkeyPatch) -> list:
    """The coefficients the rule sets after rollouts of these entropies (uniform 1.0)."""
    values = iter(entropies)
    monkeypatch.setattr(entropy, "rollout_entropy", lambda model: (next(values), 1.0))
    logger = SimpleNamespace(record=lambda *a, **k: None)
    callback = EntropyFloor(0.5)
    callback.model = SimpleNamespace(ent_coef=base, logger=logger)
    callback.num_timesteps = 0
    coefs = []
    for _ in entropies:
        callback._on_rollout_end()
        coefs.append(callback.model.ent_coef)
    return coefs


def test_the_coefficient_doubles_below_the_floor_and_returns_to_its_base(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert floor_after([0.2, 0.2, 0.2, 0.9, 0.9], 0.01, monkeypatch) == pytest.approx(
        [0.02, 0.04, 0.08, 0.04, 0.02]
    )
    assert floor_after([0.9, 0.9], 0.01, monkeypatch) == [0.01, 0.01]  # never below the base
    assert floor_after([0.1, 0.9, 0.9], 0.0, monkeypatch) == pytest.approx([1e-3, 5e-4, 2.5e-4])
    assert floor_after([0.1] * 20, 0.3, monkeypatch)[-1] == MAX_COEF
    with pytest.raises(ValueError, match="entropy_floor"):
        EntropyFloor(1.5)


@pytest.mark.parametrize("algo", ["ppo", "maskable_ppo"])
def test_rollout_entropy_is_at_most_the_uniform_policys(algo: str) -> None:
    env = gym.make(DESIGN)
    model = ALGOS[algo]("MlpPolicy", env, n_steps=16, batch_size=16, n_epochs=1, seed=0)
    model.learn(16)
    value, uniform = rollout_entropy(model)
    if algo == "ppo":
        assert uniform == pytest.approx(math.log(env.action_space.n))
    else:  # the masks allow fewer choices for most genes
        assert 0 < uniform < math.log(env.action_space.n)
    assert 0 < value <= uniform + 1e-5
    env.close()


@pytest.mark.parametrize(("algo", "ok"), [("ppo", True), ("maskable_ppo", True), ("dqn", False)])
def test_the_key_is_a_hyperparameter_of_the_ppo_family(
    algo: str, ok: bool, tmp_path: Path, capsys: Any
) -> None:
    env = DESIGN if algo != "dqn" else "nas_env/SurrogateLM-v0"
    hp = ["entropy_floor:0.5"] + (["n_steps:16", "batch_size:16"] if algo != "dqn" else [])
    argv = ["--algo", algo, "--env", env, "-n", "32", "--hyperparams", *hp]
    argv += ["--log-folder", str(tmp_path), "--no-progress", "--no-tensorboard"]
    assert train_rl.main(argv) == (0 if ok else 2)
    if not ok:
        assert "unknown hyperparameter 'entropy_floor'" in capsys.readouterr().err
