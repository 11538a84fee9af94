"""The zero-shot benchmark: target pairs drawn as the env draws them, regrets against the
best genome within the targets, and an end-to-end run of a tiny policy (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import train_rl
from agents.pretrained import export
from benchmarks import zero_shot
from nas_env.env.targets import declared_ranges


def test_pairs_are_seeded_log_uniform_draws_in_the_ranges() -> None:
    pairs = zero_shot.draw_pairs("mid", 50, 7)
    assert pairs == zero_shot.draw_pairs("mid", 50, 7) != zero_shot.draw_pairs("mid", 50, 8)
    for name, (low, high) in declared_ranges()["mid"].items():
        values = [p[name] for p in pairs]
        assert all(low <= v <= high for v in values)
        logs = [math.log(v) for v in values]  # log-uniform: the log median near the middle
        middle = (math.log(low) + math.log(high)) / 2
        assert abs(sorted(logs)[25] - middle) < 0.25 * (math.log(high) - math.log(low))


def test_regret_is_the_gap_to_the_best_of_the_first_k() -> None:
    assert zero_shot.regret(1.0, [0.2, 0.9, 0.5], 1) == pytest.approx(0.8)
    assert zero_shot.regret(1.0, [0.2, 0.9, 0.5], 2) == pytest.approx(0.1)
    assert zero_shot.regret(1.0, [], 3) == 1.0
    assert zero_shot.regret(1.0, [-math.inf], 1) == 1.0


@pytest.mark.slow
def test_a_tiny_policy_and_the_baselines_answer_target_pairs(tmp_path: Path, capsys) -> None:
    argv = ["--algo", "maskable_ppo", "--env", "nas_env/SurrogateLMDesign-v1", "-n", "32"]
    argv += ["--env-kwargs", "targets:random", "--hyperparams", "n_steps:16", "batch_size:16"]
    argv += ["--log-folder", str(tmp_path / "logs"), "--no-progress", "--no-tensorboard"]
    assert train_rl.main(argv) == 0
    (run,) = list((tmp_path / "logs" / "maskable_ppo").iterdir())
    policy = export(run, tmp_path / "p.safetensors")
    out = tmp_path / "zs.json"
    args = ["--policy", str(policy), "--pairs", "2", "--k", "1,2", "--seeds", "1"]
    assert zero_shot.main([*args, "--methods", "policy,random", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| policy | 2 |" in table and "| random | 6 |" in table
    regrets = json.loads(out.read_text())["regrets"]
    assert all(r >= 0 for values in regrets.values() for r in values)
    for a, b in zip(regrets["random@1"], regrets["random@6"], strict=True):
        assert b <= a  # more evaluations never lose the best found
