"""Hyperparameter files, merge order, CLI overrides and the learn-within-budget rules."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from sb3_contrib.common.wrappers import ActionMasker

from agents.algos import ALGOS, ALL_ALGOS
from agents.budget import BudgetError, fit_budget, guaranteed_steps
from agents.hyperparams import (
    HyperparamError,
    agents_config_dir,
    load_hyperparams,
    model_kwargs,
    parse_overrides,
    parse_value,
    valid_keys,
)

SB3_ALGOS = list(ALGOS)


@pytest.mark.parametrize("algo", ALL_ALGOS)
def test_every_algorithm_has_a_valid_yaml(algo: str) -> None:
    path = agents_config_dir() / f"{algo}.yaml"
    data = yaml.safe_load(path.read_text())
    assert "default" in data and "n_timesteps" in data["default"]
    for env_id in data:
        load_hyperparams(algo, env_id)  # every entry validates


def test_merge_order_default_then_env_entry_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "dqn.yaml"
    path.write_text(
        "default: {learning_rate: 1.0e-3, batch_size: 32, gamma: 0.9}\n"
        "nas_env/BenchLM-v2: {batch_size: 64, gamma: 0.95}\n"
    )
    hp = load_hyperparams("dqn", "nas_env/BenchLM-v2", {"gamma": 0.5}, path=path)
    assert hp["learning_rate"] == 1e-3  # from default
    assert hp["batch_size"] == 64  # env entry beats default
    assert hp["gamma"] == 0.5  # CLI beats both
    assert hp["policy"] == "MlpPolicy" and hp["n_envs"] == 1  # zoo defaults
    other = load_hyperparams("dqn", "nas_env/TransformerLM-v2", path=path)
    assert other["batch_size"] == 32  # another env id gets the default entry only


def test_shipped_env_entries_override_defaults() -> None:
    default = load_hyperparams("dqn", "nas_env/TransformerLM-v2")
    bench = load_hyperparams("dqn", "nas_env/BenchLM-v2")
    assert bench["n_timesteps"] > default["n_timesteps"]
    assert bench["learning_rate"] == 3e-3 != default["learning_rate"]  # the entry's own
    assert bench["policy_kwargs"] == default["policy_kwargs"]  # not in the entry: default


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3e-4", 3e-4),
        ("0.001", 0.001),
        ("64", 64),
        ("true", True),
        ("cpu", "cpu"),
        ("cuda:0", "cuda:0"),
        ("[4, step]", [4, "step"]),
        ("{net_arch:[64,64]}", {"net_arch": [64, 64]}),
        ("{steps:2,batch_size:4,lr:1e-3}", {"steps": 2, "batch_size": 4, "lr": 1e-3}),
        ("{cache:/tmp/x.sqlite}", {"cache": "/tmp/x.sqlite"}),
        ('{"net_arch": {"pi": [32], "vf": [32]}}', {"net_arch": {"pi": [32], "vf": [32]}}),
    ],
)
def test_parse_value(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_parse_overrides_splits_on_the_first_colon() -> None:
    parsed = parse_overrides(["learning_rate:3e-4", "device:cuda:0", "train_freq:[4,step]"])
    assert parsed == {"learning_rate": 3e-4, "device": "cuda:0", "train_freq": [4, "step"]}


@pytest.mark.parametrize("item", ["learning_rate", ":3", "policy_kwargs:{net_arch: [64"])
def test_malformed_override_is_an_error(item: str) -> None:
    with pytest.raises(HyperparamError, match=r"key:value|cannot parse"):
        parse_overrides([item])


def test_python_expressions_are_never_evaluated() -> None:
    overrides = parse_overrides(['policy_kwargs:"dict(net_arch=[64,64])"'])
    with pytest.raises(HyperparamError, match="not evaluated"):
        load_hyperparams("ppo", "nas_env/TransformerLM-v2", overrides)


def test_unknown_key_lists_the_valid_constructor_arguments() -> None:
    with pytest.raises(HyperparamError) as err:
        load_hyperparams("dqn", "nas_env/TransformerLM-v2", {"learning_rat": 1e-3})
    message = str(err.value)
    assert "did you mean 'learning_rate'" in message
    for key in ("buffer_size", "target_update_interval", "n_timesteps"):
        assert key in message
    assert "n_epochs" not in valid_keys("dqn") and "n_epochs" in valid_keys("ppo")


def test_cli_flags_are_not_hyperparameters() -> None:
    with pytest.raises(HyperparamError, match="--seed"):
        load_hyperparams("ppo", "nas_env/TransformerLM-v2", {"seed": 3})


def test_baselines_take_their_own_arguments() -> None:
    hp = load_hyperparams("evolution", "nas_env/TransformerLM-v2", {"population_size": 8})
    assert hp["population_size"] == 8 and "policy" not in hp
    with pytest.raises(HyperparamError, match="population_size"):
        load_hyperparams("random", "nas_env/TransformerLM-v2", {"population_size": 8})


def test_model_kwargs_builds_schedules_and_activations() -> None:
    hp = load_hyperparams(
        "dqn",
        "nas_env/TransformerLM-v2",
        {
            "learning_rate": "lin_1e-3",
            "train_freq": [2, "step"],
            "policy_kwargs": {"net_arch": [8], "activation_fn": "tanh"},
        },
    )
    kwargs = model_kwargs(hp)
    assert "n_timesteps" not in kwargs and "policy" not in kwargs
    assert kwargs["learning_rate"](0.5) == pytest.approx(5e-4)
    assert kwargs["train_freq"] == (2, "step")
    assert kwargs["policy_kwargs"]["activation_fn"].__name__ == "Tanh"
    with pytest.raises(HyperparamError, match="activation_fn"):
        load_hyperparams("dqn", "x", {"policy_kwargs": {"activation_fn": "swish!"}})


# -- learn within the budget -----------------------------------------------------------
def test_dqn_learning_starts_shrinks_to_fit() -> None:
    hp = {"learning_starts": 50, "train_freq": 1, "target_update_interval": 50}
    fitted, changes = fit_budget("dqn", hp, n_timesteps=20, n_envs=1)
    assert fitted["learning_starts"] < 20 and hp["learning_starts"] == 50
    assert any("learning_starts 50 ->" in c for c in changes)
    assert fitted["target_update_interval"] <= 20 - fitted["learning_starts"]


def test_dqn_that_fits_is_left_alone() -> None:
    hp = {"learning_starts": 50, "train_freq": 1, "target_update_interval": 50}
    fitted, changes = fit_budget("dqn", hp, n_timesteps=500, n_envs=1)
    assert fitted == hp and changes == []


def test_dqn_train_freq_in_episodes_longer_than_the_budget() -> None:
    hp = {"learning_starts": 0, "train_freq": [4, "episode"], "target_update_interval": 5}
    fitted, changes = fit_budget("dqn", hp, n_timesteps=30, n_envs=1, horizon=20)
    assert isinstance(fitted["train_freq"], int) and fitted["train_freq"] <= 30
    assert changes


def test_on_policy_n_steps_and_batch_shrink() -> None:
    fitted, changes = fit_budget("ppo", {"n_steps": 64, "batch_size": 32}, 24, n_envs=2)
    assert fitted["n_steps"] == 12
    assert 24 % fitted["batch_size"] == 0 and fitted["batch_size"] <= 24
    assert any(c.startswith("n_steps 64 -> 12") for c in changes)


def test_on_policy_tail_note() -> None:
    _fitted, changes = fit_budget("a2c", {"n_steps": 8}, 20, n_envs=1)
    assert changes == [
        "note: the last 4 of 20 steps do not fill a rollout of 8 steps and are not trained on"
    ]


@pytest.mark.parametrize(
    ("algo", "hp", "n", "envs", "match"),
    [
        ("dqn", {}, 1, 2, "smaller than n_envs"),
        ("dqn", {"gradient_steps": 0}, 100, 1, "gradient_steps is 0"),
        ("ppo", {"n_steps": 64}, 1, 1, "at least 2 steps"),
        ("maskable_ppo", {"n_steps": 64}, 1, 1, "at least 2 steps"),
    ],
)
def test_budget_refusals(algo: str, hp: dict, n: int, envs: int, match: str) -> None:
    with pytest.raises(BudgetError, match=match):
        fit_budget(algo, hp, n, envs)


@pytest.mark.parametrize("algo", SB3_ALGOS)
@pytest.mark.parametrize("n_timesteps", [9, 30])
def test_fitted_hyperparameters_really_train(algo: str, n_timesteps: int) -> None:
    """Run the fitted agent on CartPole (instant steps): at least one gradient update."""
    hp = load_hyperparams(algo, "nas_env/TransformerLM-v2")
    fitted, _ = fit_budget(algo, hp, n_timesteps, n_envs=1)
    kwargs = model_kwargs(fitted)
    env = ActionMasker(gym.make("CartPole-v1"), lambda _env: np.ones(2, dtype=bool))
    model = ALGOS[algo]("MlpPolicy", env, seed=0, device="cpu", **kwargs)
    model.learn(n_timesteps)
    assert model._n_updates > 0


# -- evaluation budgets ----------------------------------------------------------------
def test_evaluation_budget_fits_the_steps_it_guarantees() -> None:
    hp = {"learning_starts": 1000, "train_freq": 4, "target_update_interval": 500}
    fitted, changes = fit_budget("dqn", hp, 20_000, n_envs=1, max_evaluations=100)
    assert guaranteed_steps(100) == 50 and guaranteed_steps(7) == 4
    assert fitted["learning_starts"] < 50 and fitted["target_update_interval"] <= 50
    assert changes[0].startswith("note: fitted to 50 steps rather than n_timesteps 20000")
    assert "--max-evaluations 100" in changes[0]


def test_evaluation_budget_shrinks_rollouts_but_notes_the_real_tail() -> None:
    fitted, changes = fit_budget("ppo", {"n_steps": 256, "batch_size": 64}, 1000, 1, 20, 60)
    assert fitted["n_steps"] == 30 and 30 % fitted["batch_size"] == 0
    assert changes[-1] == (
        "note: the last 10 of 1000 steps do not fill a rollout of 30 steps and are not trained on"
    )


def test_a_large_evaluation_budget_changes_nothing() -> None:
    hp = {"learning_starts": 50, "train_freq": 1, "target_update_interval": 50}
    assert fit_budget("dqn", hp, 500, 1, max_evaluations=10_000) == (hp, [])
