"""An evaluation leaves the caller's random streams where they were."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_env.evaluation import Evaluator, Fidelity, TrainSettings
from nas_env.evaluation.rng import isolated_rng

FIDELITY = Fidelity.resolve("tiny", steps=3, eval_tokens=256)


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.random()), float(torch.rand(()))


def test_isolated_rng_restores_python_numpy_and_torch() -> None:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    expected = _draws()
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    with isolated_rng(torch.device("cpu")):
        random.seed(99)
        np.random.seed(99)
        torch.manual_seed(99)
        _draws()
    assert _draws() == expected


def test_evaluation_leaves_global_rng_states_alone(tmp_path: Path) -> None:
    evaluator = Evaluator(
        "tiny",
        fidelity=FIDELITY,
        settings=TrainSettings(device="cpu", latency_repeats=2),
        cache=False,
        cache_root=tmp_path,
    )
    torch.manual_seed(5)
    random.seed(5)
    np.random.seed(5)
    states = (torch.random.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    result = evaluator.evaluate(evaluator.space.default_genome())
    assert result.status == "ok", result.message
    assert torch.equal(states[0], torch.random.get_rng_state())
    assert states[1] == random.getstate()
    assert np.array_equal(states[2], np.random.get_state()[1])


@pytest.mark.parametrize("mode", ["edit", "design"])
def test_one_agent_seed_gives_one_trajectory_on_cold_and_warm_caches(
    tmp_path: Path, mode: str
) -> None:
    """A CleanRL-style loop drawing actions from torch's global RNG, as SB3 policies do."""
    from nas_env.env import NASEnv

    def trajectory() -> list[tuple[int, float]]:
        env = NASEnv(
            "tiny",
            fidelity=FIDELITY,
            mode=mode,
            cache=tmp_path / "results.sqlite",
            cache_root=tmp_path,
            device="cpu",
        )
        torch.manual_seed(0)
        env.reset(seed=0)
        steps = []
        for _ in range(40 if mode == "design" else 6):
            valid = np.flatnonzero(env.action_masks())
            action = int(valid[int(torch.randint(len(valid), ()))])
            _, reward, terminated, truncated, _ = env.step(action)
            steps.append((action, round(float(reward), 9)))
            if terminated or truncated:
                env.reset()
        env.close()
        return steps

    cold = trajectory()
    warm = trajectory()
    assert cold == warm
