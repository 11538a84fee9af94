"""What `tune_rl.py` samples for each algorithm (rl-baselines3-zoo's ``hyperparams_opt``
layout), scaled to runs of a few hundred unique evaluations.

Each sampler takes an Optuna trial and returns ``--hyperparams`` overrides for
``train_rl.py``. Candidates the issue list names for sample efficiency are in the
ranges: many gradient updates per new transition (DQN ``gradient_steps``, PPO
``n_epochs``), short rollouts, exploration schedules, discounting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NET_ARCHS: dict[str, list[int]] = {"tiny": [32], "small": [64, 64], "medium": [128, 128]}


def _net(trial: Any) -> dict[str, Any]:
    return {"net_arch": NET_ARCHS[trial.suggest_categorical("net_arch", list(NET_ARCHS))]}


def sample_ppo(trial: Any) -> dict[str, Any]:
    """PPO and MaskablePPO (one env)."""
    n_steps = trial.suggest_categorical("n_steps", [16, 32, 64, 128, 256])
    batch = trial.suggest_categorical("batch_size", [8, 16, 32, 64, 128])
    return {
        "n_steps": n_steps,
        "batch_size": min(batch, n_steps),
        "n_epochs": trial.suggest_categorical("n_epochs", [1, 5, 10, 20]),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-2, log=True),
        "gamma": trial.suggest_categorical("gamma", [0.8, 0.9, 0.95, 0.99, 1.0]),
        "gae_lambda": trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95, 1.0]),
        "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-6, 0.1, log=True),
        # the diagnosed collapse: many epochs over a few designs sharpen the policy at once
        "target_kl": trial.suggest_categorical("target_kl", [None, 0.01, 0.03, 0.1]),
        "normalize_advantage": trial.suggest_categorical("normalize_advantage", [True, False]),
        # and what keeps it from collapsing later (agents.entropy): 0 is off
        "entropy_floor": trial.suggest_categorical("entropy_floor", [0.0, 0.25, 0.5]),
        "policy_kwargs": _net(trial),
    }


def sample_a2c(trial: Any) -> dict[str, Any]:
    """A2C (one env)."""
    return {
        "n_steps": trial.suggest_categorical("n_steps", [4, 8, 16, 32, 64]),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-2, log=True),
        "gamma": trial.suggest_categorical("gamma", [0.8, 0.9, 0.95, 0.99, 1.0]),
        "gae_lambda": trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95, 1.0]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-6, 0.1, log=True),
        "normalize_advantage": trial.suggest_categorical("normalize_advantage", [False, True]),
        # the same revisit collapse as PPO's in design mode (agents.entropy): 0 is off
        "entropy_floor": trial.suggest_categorical("entropy_floor", [0.0, 0.25, 0.5]),
        "policy_kwargs": _net(trial),
    }


def sample_dqn(trial: Any) -> dict[str, Any]:
    """DQN."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
        "learning_starts": trial.suggest_categorical("learning_starts", [0, 20, 50, 100]),
        "train_freq": trial.suggest_categorical("train_freq", [1, 4, 8]),
        "gradient_steps": trial.suggest_categorical("gradient_steps", [1, 2, 4, 8, 16]),
        "target_update_interval": trial.suggest_categorical(
            "target_update_interval", [10, 50, 200, 1000]
        ),
        "exploration_fraction": trial.suggest_float("exploration_fraction", 0.05, 0.6),
        "exploration_final_eps": trial.suggest_float("exploration_final_eps", 0.0, 0.3),
        "gamma": trial.suggest_categorical("gamma", [0.8, 0.9, 0.95, 0.99, 1.0]),
        "policy_kwargs": _net(trial),
    }


SAMPLERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "ppo": sample_ppo,
    "maskable_ppo": sample_ppo,
    "a2c": sample_a2c,
    "dqn": sample_dqn,
}
"""The algorithms `tune_rl.py` can tune, by CLI name."""
