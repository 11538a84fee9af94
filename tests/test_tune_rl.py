"""The tuning command (tune_rl.py): samples hyperparameters every algorithm accepts,
scores runs by the benchmark's regret, keeps a resumable journal, prints a pasteable
entry, refuses the reported seeds and ids without a known best."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

import tune_rl as tune
from agents.hyperparams import load_hyperparams
from agents.tune_space import SAMPLERS
from nas_env.errors import ConfigError

ENV_ID = "nas_env/SurrogateLM-v0"


@pytest.mark.parametrize("algo", sorted(SAMPLERS))
def test_every_sample_is_a_valid_hyperparameter_entry(algo: str) -> None:
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    for _ in range(5):
        params = SAMPLERS[algo](study.ask())
        merged = load_hyperparams(algo, ENV_ID, params)
        assert {k: merged[k] for k in params} == params
        if "n_steps" in params and "batch_size" in params:
            assert params["batch_size"] <= params["n_steps"]


def test_seeds_parse_and_bad_ones_are_refused() -> None:
    assert tune.parse_seeds("100-103") == [100, 101, 102, 103]
    assert tune.parse_seeds("100,105") == [100, 105]
    with pytest.raises(ConfigError, match="expected a range"):
        tune.parse_seeds("a-b")


@pytest.mark.slow  # 6 s
def test_regret_is_zero_only_for_the_best_genome() -> None:
    scores, best = tune.truth(ENV_ID)
    assert len(scores) == 56_364 and best == max(scores.values())
    regrets = tune.run_regrets("random", ENV_ID, {}, 100, 12, [4, 12])
    assert regrets[0] >= regrets[1] >= 0.0


@pytest.mark.slow  # real training; the default suite stays under 5 minutes
def test_a_tiny_study_prints_an_entry_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--algo", "dqn", "--env", ENV_ID, "--seeds", "100", "--budget", "10"]
    argv += ["--checkpoints", "5,10", "--study-dir", str(tmp_path)]
    assert tune.main([*argv, "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "best of 2 trials" in out and "paste it into config/agents/dqn.yaml" in out
    assert "(shipped entry: " in out  # measured once on the same seeds, kept in the study
    written = tmp_path / "dqn__SurrogateLM-v0.yaml"
    entry = yaml.safe_load(written.read_text())
    assert list(entry) == [ENV_ID]
    agents_file = tmp_path / "dqn.yaml"
    agents_file.write_text(yaml.safe_dump({"default": {"n_timesteps": 10}, **entry}))
    merged = load_hyperparams("dqn", ENV_ID, path=agents_file)
    assert merged["gradient_steps"] == entry[ENV_ID]["gradient_steps"]
    assert tune.main([*argv, "--trials", "3"]) == 0  # continues the journal
    assert "best of 3 trials" in capsys.readouterr().out
    assert (tmp_path / "dqn__SurrogateLM-v0.journal").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "0-4"], "reported ones"),
        (["--env", "nas_env/TransformerLM-v2"], "needs a benchmark id"),
        (["--seeds", "x"], "expected a range"),
    ],
)
def test_usage_errors_exit_2(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--algo", "ppo", "--study-dir", str(tmp_path), *extra]
    assert tune.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
