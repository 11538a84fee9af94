"""An entropy floor for the PPO family: ``entropy_floor`` in a hyperparameter entry.

In design mode PPO sharpens its policy within a dozen updates; once it is nearly
deterministic every episode rebuilds a genome already evaluated (free, but no new
information), the advantages vanish and it never recovers (BENCHMARKS.md, "Why PPO
collapses"). `EntropyFloor` adapts the entropy coefficient after every rollout, the way
SAC adapts its temperature: while the policy's mean entropy over the rollout's
observations is below ``entropy_floor`` times the uniform policy's (over the allowed
actions, with masks), the coefficient doubles; once it is back above, it halves again,
never below the configured ``ent_coef`` nor above `MAX_COEF`. ``entropy_floor: 0`` (the
default) leaves PPO as it is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

FLOOR_ALGOS: tuple[str, ...] = ("ppo", "maskable_ppo", "a2c")
"""The algorithms with an entropy bonus (``ent_coef``) an entropy floor can steer."""
MAX_COEF = 1.0
RATE = 2.0


def rollout_entropy(model: Any) -> tuple[float, float]:
    """The policy's mean entropy over its rollout buffer's observations, and the uniform
    policy's over the same allowed actions (nats)."""
    buffer = model.rollout_buffer
    obs = buffer.observations
    if isinstance(obs, dict):
        flat: Any = {k: torch.as_tensor(v.reshape(-1, *v.shape[2:])) for k, v in obs.items()}
    else:
        flat = torch.as_tensor(obs.reshape(-1, *buffer.obs_shape))
    masks = getattr(buffer, "action_masks", None)
    n_actions = int(model.action_space.n)
    with torch.no_grad():
        if masks is not None:
            allowed = masks.reshape(-1, n_actions)
            dist = model.policy.get_distribution(flat, action_masks=allowed)
            uniform = float(np.mean(np.log(np.maximum(allowed.sum(axis=1), 1))))
        else:
            dist = model.policy.get_distribution(flat)
            uniform = math.log(n_actions)
        return float(dist.entropy().mean()), uniform


class EntropyFloor(BaseCallback):
    """Keeps the policy's entropy above a share of the uniform policy's (module docstring).

    Args:
        floor: The share of the uniform entropy to keep (0 < floor < 1).
    """

    def __init__(self, floor: float) -> None:
        super().__init__()
        if not 0.0 < floor < 1.0:
            raise ValueError(f"entropy_floor: {floor!r}; allowed: 0 < entropy_floor < 1")
        self.floor = floor
        self.base: float | None = None
        self.history: list[tuple[int, float, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        model = self.model
        if self.base is None:
            self.base = float(model.ent_coef)
        entropy, uniform = rollout_entropy(model)
        coef = float(model.ent_coef)
        if entropy < self.floor * uniform:
            coef = min(MAX_COEF, max(coef * RATE, 1e-3))
        else:
            coef = max(self.base, coef / RATE)
        model.ent_coef = coef
        self.history.append((int(self.num_timesteps), entropy, coef))
        self.logger.record("train/entropy_floor_coef", coef)
        self.logger.record("train/rollout_entropy", entropy)
