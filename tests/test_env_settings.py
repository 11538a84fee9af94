"""The env's declared arguments: names, values and where a bad one came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import nas_env  # noqa: F401  (registers the ids)
from nas_env import ConfigError, SearchSpace
from nas_env.env import NASEnv
from nas_env.env.setting_groups import PromotionSettings, TableSettings, TrainingSettings
from nas_env.env.settings import ENV_ARGUMENTS, EvaluatorSettings, check_arguments
from nas_env.evaluation import EvalResult
from nas_env.evaluation.executors import ExecutorSettings

VALID: dict[str, Any] = {
    "space": "tiny",
    "task": "lm/stdlib",
    "fidelity": "tiny",
    "reward": "mnasnet",
    "mode": "design",
    "start": "random",
    "targets": "fixed",
    "reward_scale": 2.0,
    "horizon": 7,
    "invalid_action_penalty": 0.2,
    "observation": "dict",
    "render_mode": "ansi",
    "table": "somewhere.sqlite",
    "missing": "train",
    "table_allow_mismatch": True,
    "backend": "torch",
    "device": "cpu",
    "precision": "fp32",
    "training_seed": 3,
    "cache": False,
    "cache_root": "/tmp/somewhere",
    "vocab_size": 256,
    "latency": "measured",
    "latency_profile": None,
    "latency_profile_mismatch": False,
    "residual_init": "flat",
    "promotion": "asha",
    "rungs": 3,
    "eta": 2,
    "checkpoint_mb": 64,
    "executor": "local",
    "workers": 1,
    "ray_address": None,
    "cpus_per_eval": 2,
    "gpus_per_eval": 0.0,
    "max_retries": 1,
}
"""A valid value for every argument but ``evaluator``."""


class Instant:
    """An evaluator object: the env then builds none of its own."""

    def __init__(self) -> None:
        self.space = SearchSpace.load("tiny")

    def evaluate(self, genome: Any) -> EvalResult:
        return EvalResult(status="ok", genome_key=genome.key(), metric="perplexity", perplexity=9)


def test_the_declaration_is_what_the_constructor_accepts() -> None:
    assert set(NASEnv.argument_names()) == {*VALID, "evaluator"}
    assert NASEnv.argument_names()[: len(ENV_ARGUMENTS)] == ENV_ARGUMENTS
    env = NASEnv(evaluator=Instant(), **VALID)
    assert env.mode == "design" and env.observation_mode == "dict"
    assert env.settings.training.device == "cpu" and env.settings.training.seed == 3
    assert check_arguments(VALID).training.vocab_size == 256


def test_an_unknown_argument_lists_the_allowed_names_with_a_close_match() -> None:
    with pytest.raises(ConfigError, match="did you mean 'device'") as caught:
        gym.make("nas_env/TransformerLM-v2", devcie="cpu")
    message = str(caught.value)
    assert "unknown argument 'devcie'" in message
    assert all(name in message for name in NASEnv.argument_names())
    with pytest.raises(ConfigError, match="--env-kwargs: unknown argument 'spaec'"):
        NASEnv.check_arguments({"spaec": "tiny"}, "--env-kwargs")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"backend": "jax"}, 'src backend: "jax" is not allowed'),
        ({"missing": "guess"}, "src missing:"),
        ({"evaluator": "oracle"}, 'src evaluator: "oracle" is not allowed'),
        ({"precision": "fp8"}, "allowed: auto, fp32, bf16, fp16"),
        ({"device": "tpu"}, "src device: 'tpu' is not a device"),
        ({"training_seed": "1"}, "src training_seed: expected an integer"),
        ({"vocab_size": 1}, "src vocab_size: must be >= 2, got 1"),
        ({"cache": 3}, "src cache: 3"),
        ({"mode": "sculpt"}, "src mode:"),
        ({"horizon": 0}, "src horizon: must be >= 1, got 0"),
        ({"reward_scale": -1}, "src reward_scale"),
        ({"invalid_action_penalty": "a lot"}, "src invalid_action_penalty: expected a number"),
        ({"invalid_action_penalty": float("nan")}, "src invalid_action_penalty: must be finite"),
        ({"render_mode": "human"}, "src render_mode"),
        ({"space": "nosuch"}, "presets: "),
        ({"fidelity": "nosuch"}, "nosuch"),
        ({"reward": "nosuch"}, "registered rewards"),
        ({"task": "lm/nosuch"}, "allowed: lm/stdlib"),
    ],
)
def test_bad_values_name_the_value_its_source_and_what_is_allowed(
    kwargs: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        NASEnv.check_arguments(kwargs, "src")
    assert expected in str(caught.value)


def test_a_cuda_device_without_cuda_is_refused_by_the_env_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="NASEnv device: 'cuda' needs CUDA") as caught:
        NASEnv(evaluator=Instant(), device="cuda")
    assert "allowed here: auto, cpu" in str(caught.value)


def test_settings_round_trip_through_plain_data(tmp_path: Path) -> None:
    settings = EvaluatorSettings.from_kwargs(
        {"evaluator": "table", "table": tmp_path / "t.sqlite", "cache": False, "workers": 2}
    )
    assert settings.table.path == tmp_path / "t.sqlite" and settings.training.cache is False
    assert settings.executor.workers == 2 and settings.promotion == PromotionSettings()
    data = settings.to_dict()
    assert data["table"] == str(tmp_path / "t.sqlite") and data["cache"] is False
    assert list(data) == list(EvaluatorSettings.names())
    assert EvaluatorSettings.from_kwargs(data) == EvaluatorSettings(
        "table",
        table=TableSettings(path=str(tmp_path / "t.sqlite")),
        training=TrainingSettings(cache=False),
        executor=ExecutorSettings(workers=2),
    )
    with pytest.raises(ConfigError, match="did you mean 'cache'"):
        EvaluatorSettings.from_kwargs({"cahce": True})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"executor": "dask"}, "allowed: local, ray"),
        ({"workers": 0}, "workers"),
        ({"cpus_per_eval": 0}, "cpus_per_eval"),
        ({"max_retries": -1}, "max_retries"),
        ({"gpus_per_eval": 1}, "needs a remote executor (ray"),
        ({"ray_address": "auto"}, "needs a remote executor (ray"),
        ({"executor": "ray", "ray_address": ""}, "ray_address"),
        ({"executor": "ray", "gpus_per_eval": 1, "device": "cpu"}, "the workers' GPU"),
    ],
)
def test_bad_executor_settings_name_the_value_and_what_is_allowed(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as caught:
        EvaluatorSettings.from_kwargs(settings, "--env-kwargs")
    assert str(caught.value).startswith("--env-kwargs ")


def test_executor_settings_say_when_candidates_train_elsewhere() -> None:
    def executor(**kwargs: Any) -> ExecutorSettings:
        return EvaluatorSettings.from_kwargs(kwargs).executor

    assert not executor().parallel
    assert executor(workers=2).parallel
    assert executor(executor="ray").parallel and executor(executor="ray").kind == "ray"
    gpus = executor(executor="ray", gpus_per_eval=1, device="cuda")
    assert gpus.remote_gpus  # accepted without a local GPU: the workers have them
