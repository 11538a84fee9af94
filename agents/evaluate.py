"""Greedy episodes of a trained policy: which architecture does the agent itself build?

`greedy_episodes` plays deterministic episodes on a fresh env (same env kwargs, so the
same result cache: genomes seen in training cost nothing). MaskablePPO gets the env's
``action_masks()`` at every prediction, as sb3-contrib requires; other agents act
unmasked (an invalid action is a no-op with a small penalty, as in training).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from sb3_contrib import MaskablePPO
from stable_baselines3.common.base_class import BaseAlgorithm


def greedy_episodes(
    model: BaseAlgorithm, env_id: str, env_kwargs: dict[str, Any], episodes: int, seed: int = 0
) -> list[dict[str, Any]]:
    """Play ``episodes`` deterministic episodes; one summary dict per episode."""
    env = gym.make(f"nas_env:{env_id}", **env_kwargs)
    masked = isinstance(model, MaskablePPO)
    out: list[dict[str, Any]] = []
    try:
        for episode in range(episodes):
            obs, info = env.reset(seed=seed + episode)
            actions: list[str] = []
            total, done, invalid = 0.0, False, 0
            while not done:
                if masked:
                    masks = env.unwrapped.action_masks()
                    action, _ = model.predict(obs, deterministic=True, action_masks=masks)
                else:
                    action, _ = model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, info = env.step(int(action))
                actions.append(str(info.get("action", int(action))))
                invalid += bool(info.get("invalid_action"))
                total += float(reward)
                done = terminated or truncated
            result = info.get("result") or {}
            out.append(
                {
                    "episode": episode,
                    "return": total,
                    "score": info.get("score"),
                    "actions": actions,
                    "invalid_actions": invalid,
                    "genome": info.get("genome"),
                    "genome_key": info.get("genome_key"),
                    "metric": result.get("metric"),
                    "quality": result.get(result.get("metric") or "", None),
                    "params": result.get("params"),
                    "latency_ms": result.get("latency_ms"),
                    "source": result.get("source"),
                }
            )
    finally:
        env.close()
    return out
