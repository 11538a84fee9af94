"""Per-algorithm hyperparameters: YAML files in rl-baselines3-zoo style, plus CLI overrides.

``config/agents/<algo>.yaml`` holds a ``default:`` entry and optional entries keyed by
env id (``nas_env/BenchLM-v2: {...}``). The resolved set is
``default <- env entry <- CLI overrides`` (later wins, key by key). Besides the
algorithm's constructor arguments, three zoo keys are understood: ``n_timesteps`` (the
budget in env steps), ``policy`` (``MlpPolicy``...) and ``n_envs``.

Overrides are ``key:value`` strings; each value is parsed with ``yaml.safe_load``, so
``learning_rate:3e-4``, ``train_freq:[4,step]`` and ``policy_kwargs:{net_arch:[64,64]}``
work. Nothing is evaluated as Python: ``policy_kwargs:"dict(net_arch=[64,64])"`` is an
error. ``lin_<x>`` as a learning rate or clip range is a linear schedule from ``x`` to 0
(as in the zoo).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch.nn as nn
import yaml

from agents.algos import ALGOS, ALL_ALGOS, algo_class
from agents.entropy import FLOOR_ALGOS
from config import CONFIG_DIR
from nas_env.checks import suggest
from nas_env.errors import ConfigError

ZOO_KEYS: tuple[str, ...] = ("n_timesteps", "policy", "n_envs")
"""Keys that are not constructor arguments but are handled by the CLI (as in the zoo);
baselines take only ``n_timesteps`` (they run one env and have no policy)."""
CALLBACK_KEYS: dict[str, tuple[str, ...]] = {"entropy_floor": FLOOR_ALGOS}
"""Keys the CLI turns into a training callback, and the algorithms that take them
(``entropy_floor``: `agents.entropy.EntropyFloor`)."""

RESERVED: dict[str, str] = {
    "env": "the env comes from --env / --env-kwargs",
    "seed": "use --seed",
    "device": "use --device (the evaluator's device is --env-kwargs device:...)",
    "tensorboard_log": "use -tb/--tensorboard (logs go into the run folder)",
    "verbose": "use --verbose",
    "_init_setup_model": "internal to SB3",
    "run_log": "the episode log is made by the CLI",
}
"""Constructor arguments set by CLI flags instead of hyperparameters."""

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
"""``policy_kwargs.activation_fn`` by name (YAML cannot hold a class)."""

_SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_FLOW_KEY = re.compile(r"(?<=[{,\s])([A-Za-z_][\w.-]*):(?=\S)(?!//)")


class HyperparamError(ConfigError):
    """A hyperparameter file or override is wrong; the message says what is allowed."""


def agents_config_dir() -> Path:
    """``config/agents`` (the per-algorithm YAML files)."""
    return CONFIG_DIR / "agents"


def _floats(value: Any) -> Any:
    """YAML 1.1 reads ``3e-4`` as a string; read it as the float everybody means."""
    if isinstance(value, str) and _FLOAT.match(value):
        return float(value)
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return value


def parse_value(text: str) -> Any:
    """A CLI value: YAML scalar, list or mapping (``{a:1,b:2}`` needs no spaces)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        stripped = _FLOW_KEY.sub(r"\1: ", stripped)
    try:
        return _floats(yaml.safe_load(stripped))
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise HyperparamError(f"cannot parse value {text!r}: {problem}") from exc


def parse_overrides(items: Iterable[str] | None, what: str = "--hyperparams") -> dict[str, Any]:
    """``["key:value", ...]`` -> ``{key: parsed value}``.

    Raises:
        HyperparamError: An item without ``:`` or an empty key, or an unparsable value.
    """
    parsed: dict[str, Any] = {}
    for item in items or ():
        key, colon, value = item.partition(":")
        key = key.strip()
        if not colon or not key:
            raise HyperparamError(
                f"{what}: {item!r} is not of the form key:value "
                "(e.g. learning_rate:3e-4 or policy_kwargs:{net_arch:[64,64]})"
            )
        try:
            parsed[key] = parse_value(value)
        except HyperparamError as exc:
            raise HyperparamError(f"{what} {key}: {exc}") from exc
    return parsed


def constructor_keys(algo: str) -> list[str]:
    """Hyperparameters the algorithm's constructor accepts (sorted), minus CLI-set ones."""
    params = inspect.signature(algo_class(algo).__init__).parameters
    return sorted(k for k in params if k not in ("self", "policy", *RESERVED))


def valid_keys(algo: str) -> list[str]:
    """Everything a hyperparameter entry of ``algo`` may hold."""
    zoo = ZOO_KEYS if algo in ALGOS else ("n_timesteps",)
    callbacks = (k for k, algos in CALLBACK_KEYS.items() if algo in algos)
    return sorted({*constructor_keys(algo), *zoo, *callbacks})


def check_hyperparam_keys(algo: str, params: Mapping[str, Any], where: str) -> None:
    """Reject keys the algorithm does not take, listing the valid ones."""
    allowed = valid_keys(algo)
    for key in params:
        if key in RESERVED:
            raise HyperparamError(f"{where}: {key!r} is not a hyperparameter here: {RESERVED[key]}")
        if key not in allowed:
            raise HyperparamError(
                f"{where}: unknown hyperparameter {key!r} for {algo}{suggest(key, allowed)}; "
                f"valid: {', '.join(allowed)}"
            )


def read_file(algo: str, path: str | Path | None = None) -> dict[str, Any]:
    """The raw YAML of ``algo`` (``config/agents/<algo>.yaml`` unless ``path``)."""
    path = Path(path) if path else agents_config_dir() / f"{algo}.yaml"
    if not path.is_file():
        raise HyperparamError(f"no hyperparameter file {path} for algorithm {algo!r}")
    try:
        data = _floats(yaml.safe_load(path.read_text(encoding="utf-8"))) or {}
    except yaml.YAMLError as exc:
        raise HyperparamError(f"{path}: cannot parse: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise HyperparamError(f"{path}: expected a mapping of entry name -> mapping")
    return data


def load_hyperparams(
    algo: str,
    env_id: str,
    overrides: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
) -> dict[str, Any]:
    """Merged hyperparameters: ``default <- <env_id> entry <- overrides``, validated.

    Raises:
        HyperparamError: Unknown algorithm, unreadable file, unknown or reserved key,
            ``policy_kwargs`` that is not a mapping.
    """
    if algo not in ALL_ALGOS:
        raise HyperparamError(f"unknown algorithm {algo!r}; allowed: {', '.join(ALL_ALGOS)}")
    data = read_file(algo, path)
    where = str(path or f"config/agents/{algo}.yaml")
    merged: dict[str, Any] = {}
    for name in ("default", env_id):
        entry = data.get(name, {})
        check_hyperparam_keys(algo, entry, f"{where} [{name}]")
        merged.update(entry)
    overrides = dict(overrides or {})
    check_hyperparam_keys(algo, overrides, "--hyperparams")
    merged.update(overrides)
    if algo in ALGOS:
        merged.setdefault("policy", "MlpPolicy")
        merged.setdefault("n_envs", 1)
    if "policy_kwargs" in merged:
        merged["policy_kwargs"] = _check_policy_kwargs(merged["policy_kwargs"])
    for key in ("n_timesteps", "n_envs"):
        if key in merged and (not isinstance(merged[key], int) or merged[key] < 1):
            raise HyperparamError(f"{key}: expected a positive integer, got {merged[key]!r}")
    check = getattr(algo_class(algo), "check_hyperparams", None)
    if check is not None:
        try:
            check({k: v for k, v in merged.items() if k != "n_timesteps"})
        except (TypeError, ValueError) as exc:
            raise HyperparamError(f"{where} / --hyperparams: {exc}") from None
    return merged


def _check_policy_kwargs(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        raise HyperparamError(
            f"policy_kwargs: {value!r} is a string; Python expressions are not evaluated. "
            "Give a mapping instead, e.g. policy_kwargs:{net_arch:[64,64],activation_fn:tanh}"
        )
    if not isinstance(value, dict):
        raise HyperparamError(f"policy_kwargs: expected a mapping, got {value!r}")
    act = value.get("activation_fn")
    if act is not None and (not isinstance(act, str) or act.lower() not in ACTIVATIONS):
        raise HyperparamError(
            f"policy_kwargs.activation_fn: {act!r} is not allowed; allowed: "
            f"{', '.join(ACTIVATIONS)}"
        )
    return dict(value)


def linear_schedule(initial: float) -> Callable[[float], float]:
    """``progress_remaining * initial`` (SB3 schedules run from 1 to 0)."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * initial

    return schedule


def _schedule(key: str, value: Any) -> Any:
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            return linear_schedule(float(value[4:]))
        except ValueError as exc:
            raise HyperparamError(f"{key}: cannot read schedule {value!r}") from exc
    if isinstance(value, str):
        raise HyperparamError(f"{key}: expected a number or lin_<number>, got {value!r}")
    return value


def model_kwargs(hyperparams: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor keyword arguments from resolved hyperparameters (zoo keys removed,
    schedules and activation names turned into objects, lists into tuples where SB3 wants).
    """
    kwargs = {k: v for k, v in hyperparams.items() if k not in (*ZOO_KEYS, *CALLBACK_KEYS)}
    for key in _SCHEDULED:
        if key in kwargs:
            kwargs[key] = _schedule(key, kwargs[key])
    if isinstance(kwargs.get("train_freq"), list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    if "policy_kwargs" in kwargs:
        policy = dict(kwargs["policy_kwargs"])
        if isinstance(policy.get("activation_fn"), str):
            policy["activation_fn"] = ACTIVATIONS[policy["activation_fn"].lower()]
        kwargs["policy_kwargs"] = policy
    return kwargs
