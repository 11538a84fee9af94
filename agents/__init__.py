"""Agents for nas_env: thin Stable-Baselines3 wiring and search baselines.

* `agents.algos`: ``ALGOS = {"dqn": DQN, "ppo": PPO, "a2c": A2C, "maskable_ppo": MaskablePPO}``
  and the baselines ``random``, ``evolution``, ``local``, ``tpe`` and ``nsga2``.
* `agents.hyperparams`: ``config/agents/<algo>.yaml`` (rl-baselines3-zoo style) + overrides.
* `agents.budget`: makes sure an agent makes gradient updates within its step budget.
* `agents.records` / `agents.runlog` / `agents.tracking`: records from the env's ``info``
  (the format itself is `runfolder`), scalars, ``best.json`` and ``pareto.json``.
* `agents.callbacks`: SB3 callbacks (records, budgets, checkpoints).
* `agents.progress`: SB3's schedules follow an evaluation budget (``--max-evaluations``).
* `agents.baselines`: random search and regularized evolution on the same env;
  `agents.optuna_search`: TPE and NSGA-II.
* `agents.local_search`: local search (hill climbing with random restarts) on it.
* `agents.config`: `RunConfig`, the one validated configuration of a run (``config.yaml``).
* `agents.runs` / `agents.session`: run folders and running a `RunConfig` (used by
  ``train_rl.py``); `agents.tune_space`: what ``tune_rl.py`` samples per algorithm.
"""

from __future__ import annotations

from typing import Any

from agents.baselines import RandomSearch, RegularizedEvolution
from agents.local_search import LocalSearch
from agents.records import RECORD_FIELDS, RecordWriter, read_records
from agents.runlog import RunLog

_LAZY = ("ALGOS", "ALL_ALGOS", "BASELINES")


def __getattr__(name: str) -> Any:
    """``ALGOS`` and friends import SB3; load them only when asked (readers of the
    episode records, like ``analyze``, do not need it)."""
    if name in _LAZY:
        from agents import algos

        return getattr(algos, name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")


__all__ = [
    "ALGOS",
    "ALL_ALGOS",
    "BASELINES",
    "RECORD_FIELDS",
    "LocalSearch",
    "RandomSearch",
    "RecordWriter",
    "RegularizedEvolution",
    "RunLog",
    "read_records",
]
