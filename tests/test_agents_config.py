"""The run configuration: built once from the command line, saved, read back on resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

import train_rl
from agents.config import NOT_SAVED, RunConfig, RunConfigError
from nas_env import ConfigError

PREVIOUS_FORMAT = """\
algo: dqn
env_id: nas_env/TransformerLM-v2
seed: 3
n_timesteps: 8
n_envs: 1
max_evaluations: null
hyperparams:
  policy: MlpPolicy
  learning_rate: 0.001
  train_freq: [4, step]
  policy_kwargs: {net_arch: [64, 64]}
budget_changes: ['learning_starts 50 -> 4: ...']
env_kwargs: {fidelity: tiny, vocab_size: 256, device: cpu, cache: /somewhere/results.sqlite}
cache: /somewhere/results.sqlite
vec_env: dummy
device: cpu
tensorboard: true
save_freq: 4
command: [--algo, dqn, -n, '8']
run_dir: runs/dqn/TransformerLM-v2__3__20250101-120000
created: '2025-01-01 12:00:00'
"""
"""A ``config.yaml`` as the CLI wrote it before `RunConfig` existed."""


def prepare(*argv: str) -> RunConfig:
    args = train_rl.build_parser().parse_args(list(argv))
    return train_rl.prepare(args, list(argv))


def run_folder(tmp_path: Path, text: str = PREVIOUS_FORMAT) -> Path:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "state.json").write_text("{}")
    (run / "config.yaml").write_text(text)
    return run


def test_the_command_line_builds_one_config_and_it_round_trips(tmp_path: Path) -> None:
    argv = ["--algo", "ppo", "-n", "40", "--seed", "2", "--env-kwargs", "cache:false"]
    config = prepare(*argv, "--hyperparams", "n_steps:8", "--no-progress", "--threads", "2")
    assert (config.algo, config.env_id, config.n_timesteps, config.seed) == (
        "ppo",
        "nas_env/MidLMDesign-v1",
        40,
        2,
    )
    assert config.hyperparams["n_steps"] == 8 and "fidelity" not in config.env_kwargs
    assert (config.final_top, config.final_fidelity) == (3, "rerank")
    assert config.cache is False and not config.progress and config.threads == 2
    assert config.save_freq == 4 and config.command == config.argv and not config.resumed
    data = yaml.safe_load(yaml.safe_dump(config.to_dict(), sort_keys=False))
    assert not set(NOT_SAVED) & set(data)
    again = RunConfig.from_dict(data, "config.yaml", argv=config.argv)
    assert again == config


def test_a_config_is_frozen() -> None:
    config = prepare("--algo", "random", "--env-kwargs", "cache:false")
    assert config.env_id == "nas_env/MidLM-v1"  # the baselines' default: they edit genomes
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.env_kwargs["space"] = "cls"  # type: ignore[index]


def test_a_previous_config_file_resumes_with_this_invocations_flags(tmp_path: Path) -> None:
    run = run_folder(tmp_path)
    config = prepare("--resume", str(run), "-n", "20", "--no-progress", "--verbose", "1")
    assert config.resumed and config.run_dir == str(run)
    assert (config.algo, config.seed, config.n_timesteps, config.save_freq) == ("dqn", 3, 20, 4)
    assert config.hyperparams["train_freq"] == [4, "step"]
    assert config.cache == "/somewhere/results.sqlite"
    assert not config.progress and config.verbose == 1 and config.eval_episodes == 0
    assert config.command == ("--algo", "dqn", "-n", "8")  # the run's first command line
    assert "cache" not in config.to_dict()  # kept once, in env_kwargs


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-n", "0"], "-n/--n-timesteps: must be >= 1, got 0"),
        (["--seed", "-1"], "--seed: must be >= 0, got -1"),
        (["--save-freq", "-2"], "--save-freq: must be >= 0, got -2"),
        (["--max-evaluations", "0"], "--max-evaluations: must be >= 1, got 0"),
        (["--eval-episodes", "-1"], "--eval-episodes: must be >= 0"),
        (["--algo", "evolution", "--n-envs", "2"], "--n-envs: evolution runs a single env"),
        (["--env-kwargs", "devcie:cpu"], "--env-kwargs: unknown argument 'devcie'"),
        (["--env-kwargs", "backend:jax"], '--env-kwargs backend: "jax" is not allowed'),
        (["--algo", "ppo3"], "--algo: unknown algorithm \"ppo3\" (did you mean 'ppo'?)"),
    ],
)
def test_command_line_errors_name_the_flag(argv: list[str], expected: str) -> None:
    extra = [] if "--env-kwargs" in argv else ["--env-kwargs", "cache:false"]
    with pytest.raises(ConfigError) as caught:
        prepare(*argv, *extra)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"n_timesteps": 0}, "config.yaml: n_timesteps: must be >= 1, got 0"),
        ({"vec_env": "threads"}, 'config.yaml: vec_env: "threads" is not allowed'),
        ({"n_timestep": 9}, "unknown key 'n_timestep' (did you mean 'n_timesteps'?)"),
        ({"tensorboard": "yes"}, 'config.yaml: tensorboard: "yes" is not allowed'),
        ({"hyperparams": {"learning_rat": 1}}, "config.yaml: hyperparams"),
        ({"env_kwargs": {"space": "nosuch"}}, "presets: "),
        ({"cache": "/elsewhere.sqlite"}, "differs from env_kwargs.cache"),
        ({"algo": None}, "config.yaml: algo: unknown algorithm null"),
    ],
)
def test_a_bad_config_file_names_the_file_the_key_and_what_is_allowed(
    tmp_path: Path, edit: dict[str, Any], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {**yaml.safe_load(PREVIOUS_FORMAT), **edit}
    run = run_folder(tmp_path, yaml.safe_dump(data))
    assert train_rl.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert str(run / "config.yaml") in err or "presets: " in expected


def test_a_config_without_required_keys_is_refused() -> None:
    with pytest.raises(RunConfigError, match=r"f\.yaml: missing env_id, n_timesteps"):
        RunConfig.from_dict({"algo": "dqn"}, "f.yaml")
