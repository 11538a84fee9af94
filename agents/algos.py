"""The algorithms `train_rl.py` can run: SB3 agents by name, plus the search baselines."""

from __future__ import annotations

from sb3_contrib import MaskablePPO
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from agents.baselines import RandomSearch, RegularizedEvolution, SearchBaseline
from agents.grid_search import GridSearch
from agents.local_search import LocalSearch
from agents.optuna_search import NSGA2Search, TPESearch

ALGOS: dict[str, type[BaseAlgorithm]] = {
    "dqn": DQN,
    "ppo": PPO,
    "a2c": A2C,
    "maskable_ppo": MaskablePPO,
}
"""Stable-Baselines3 (and sb3-contrib) agents by their CLI name."""

BASELINE_CLASSES: dict[str, type[SearchBaseline]] = {
    "random": RandomSearch,
    "evolution": RegularizedEvolution,
    "local": LocalSearch,
    "tpe": TPESearch,
    "nsga2": NSGA2Search,
    "grid": GridSearch,
}
"""The search baselines by CLI name."""

BASELINES: tuple[str, ...] = tuple(BASELINE_CLASSES)
"""Search baselines (`agents.baselines`) that run on the same environment."""

ALL_ALGOS: tuple[str, ...] = (*ALGOS, *BASELINES)


def algo_class(algo: str) -> type[BaseAlgorithm] | type[SearchBaseline]:
    """The class behind a CLI algorithm name (SB3 agent or baseline)."""
    if algo in ALGOS:
        return ALGOS[algo]
    if algo in BASELINE_CLASSES:
        return BASELINE_CLASSES[algo]
    raise KeyError(f"unknown algorithm {algo!r}; allowed: {', '.join(ALL_ALGOS)}")


def is_on_policy(algo: str) -> bool:
    """True for rollout-based agents (PPO, A2C, MaskablePPO)."""
    return algo in ALGOS and issubclass(ALGOS[algo], OnPolicyAlgorithm)
