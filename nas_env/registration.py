"""Registered environment ids (namespaced and versioned, Gymnasium style).

Importing `nas_env` registers them, so both ``gymnasium.make("nas_env:nas_env/
TransformerLM-v1")`` and ``import nas_env; gymnasium.make("nas_env/TransformerLM-v1")``
work, as does rl-baselines3-zoo's ``--gym-packages nas_env``. Every keyword argument of
`NASEnv` can be overridden through ``gymnasium.make(id, **kwargs)``.

Ids that train candidates are registered ``nondeterministic=True``: the genome reached
from a seed and actions is fully determined, but a fresh evaluation measures latency
(wall-clock) and reports ``info["cache_hit"]``, both of which depend on what ran
before; given the same result cache, episodes repeat exactly. Ids served by a
benchmark table are deterministic and pass Gymnasium's step-determinism check.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

ENTRY_POINT = "nas_env.env:NASEnv"
EDIT_STEPS = 20
BENCH_REWARD_SCALE = 20.0
"""Reward multiplier of the benchmark-table ids: neighbouring genomes of the ``bench``
table differ by 0.001-0.03 in score, too little signal for value-based agents unscaled.
The table ids also start each edit episode at a random genome, so that an agent must
learn edits that help from anywhere (the default genome is one edit from the table's
best)."""

ENV_IDS: dict[str, dict[str, Any]] = {
    "nas_env/TransformerLM-v1": {
        "kwargs": {"space": "tiny", "task": "lm/stdlib", "fidelity": "search", "mode": "edit"},
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/TransformerLMDesign-v1": {
        "kwargs": {"space": "tiny", "task": "lm/stdlib", "fidelity": "search", "mode": "design"},
        "max_episode_steps": None,
    },
    # v0: the same, scored by the held-out loss after `fast`'s 100 steps as measured.
    "nas_env/TransformerLM-v0": {
        "kwargs": {"space": "tiny", "task": "lm/stdlib", "fidelity": "fast", "mode": "edit"},
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/TransformerLMDesign-v0": {
        "kwargs": {"space": "tiny", "task": "lm/stdlib", "fidelity": "fast", "mode": "design"},
        "max_episode_steps": None,
    },
    "nas_env/TransformerCls-v1": {
        "kwargs": {
            "space": "cls",
            "task": "cls/stdlib-modules",
            "fidelity": "fast-cls",
            "mode": "edit",
        },
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/RNNCls-v1": {
        "kwargs": {
            "space": "rnn",
            "task": "cls/stdlib-modules",
            "fidelity": "fast-cls",
            "mode": "edit",
        },
        "max_episode_steps": EDIT_STEPS,
    },
    # v0: the same settings; results changed under them (evaluator versions 3 and 4, the
    # `target` reward), so the ids moved to v1 (Gymnasium warns on making an old version).
    "nas_env/TransformerCls-v0": {
        "kwargs": {
            "space": "cls",
            "task": "cls/stdlib-modules",
            "fidelity": "fast-cls",
            "mode": "edit",
        },
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/RNNCls-v0": {
        "kwargs": {
            "space": "rnn",
            "task": "cls/stdlib-modules",
            "fidelity": "fast-cls",
            "mode": "edit",
        },
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/BenchLM-v1": {
        "kwargs": {
            "space": "bench",
            "evaluator": "table",
            "mode": "edit",
            "start": "random",
            "reward_scale": BENCH_REWARD_SCALE,
        },
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/BenchLMDesign-v1": {
        "kwargs": {
            "space": "bench",
            "evaluator": "table",
            "mode": "design",
            "reward_scale": BENCH_REWARD_SCALE,
        },
        "max_episode_steps": None,
    },
    # v0: the same table and settings; its rewards changed under v0 (the `target`
    # reward became the default), so the ids moved to v1.
    "nas_env/BenchLM-v0": {
        "kwargs": {
            "space": "bench",
            "evaluator": "table",
            "mode": "edit",
            "start": "random",
            "reward_scale": BENCH_REWARD_SCALE,
        },
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/BenchLMDesign-v0": {
        "kwargs": {
            "space": "bench",
            "evaluator": "table",
            "mode": "design",
            "reward_scale": BENCH_REWARD_SCALE,
        },
        "max_episode_steps": None,
    },
}


SURROGATE_IDS: dict[str, dict[str, Any]] = {
    "nas_env/SurrogateLM-v1": {
        "kwargs": {
            "space": "mid",
            "evaluator": "surrogate",
            "table": "mid-long.npz",
            "mode": "edit",
            "start": "random",
            "reward_scale": BENCH_REWARD_SCALE,
        },
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/SurrogateLMDesign-v1": {
        "kwargs": {
            "space": "mid",
            "evaluator": "surrogate",
            "table": "mid-long.npz",
            "mode": "design",
            "reward_scale": BENCH_REWARD_SCALE,
        },
        "max_episode_steps": None,
    },
    # v0: the same space and settings over `config/tables/mid.npz`, whose truth is `fast`.
    "nas_env/SurrogateLM-v0": {
        "kwargs": {
            "space": "mid",
            "evaluator": "surrogate",
            "mode": "edit",
            "start": "random",
            "reward_scale": BENCH_REWARD_SCALE,
        },
        "max_episode_steps": EDIT_STEPS,
    },
    "nas_env/SurrogateLMDesign-v0": {
        "kwargs": {
            "space": "mid",
            "evaluator": "surrogate",
            "mode": "design",
            "reward_scale": BENCH_REWARD_SCALE,
        },
        "max_episode_steps": None,
    },
}
"""The surrogate benchmark's ids (`nas_env.table.SurrogateEvaluator` over the 56,364 genomes
of the ``mid`` space): ``-v1`` predicts long training (``config/tables/mid-long.npz``, five
rungs of ``long``: 500 to 8,000 steps; latency and sizes those of ``-v0``),
``-v0`` the held-out loss after ``fast``'s 100 steps (``config/tables/mid.npz``, two
rungs). Instant and deterministic; ``promotion="asha"`` runs successive halving over the
rungs."""
ENV_IDS.update(SURROGATE_IDS)


def register_envs() -> None:
    """Register every id of `ENV_IDS` that is not registered yet."""
    for env_id, spec in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=ENTRY_POINT,
            kwargs=dict(spec["kwargs"]),
            max_episode_steps=spec["max_episode_steps"],
            nondeterministic=spec["kwargs"].get("evaluator") not in ("table", "surrogate"),
        )
