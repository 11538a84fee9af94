"""What `NASEnv` accepts, declared once: its own arguments and the evaluator's settings.

`NASEnv` takes the arguments named in `ENV_ARGUMENTS` explicitly; every other keyword
argument (``gymnasium.make(id, device="cpu")``, rl-baselines3-zoo's ``--env-kwargs``,
``train_rl.py --env-kwargs``) must be a field of `EvaluatorSettings`, the frozen record of
how candidates are scored. The env and the command line check names and values through
this module (`NASEnv.check_arguments`), so that a misspelt or bad argument fails the same
way everywhere: naming the value, where it came from and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_env.checks import (
    describe,
    expect_choice,
    expect_int,
    expect_number,
    expect_positive,
    suggest,
)
from nas_env.env.arguments import ARGUMENTS, BY_NAME, SETTINGS_GROUPS, arguments_of
from nas_env.env.setting_groups import PromotionSettings, TableSettings, TrainingSettings
from nas_env.errors import ConfigError
from nas_env.evaluation.executors import ExecutorSettings
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.interface import as_genome_evaluator
from nas_env.rewards import Reward, make_reward
from nas_env.space import SearchSpace, load_space
from nas_env.tasks import parse_task_id

DEFAULT_SPACE = "tiny"
DEFAULT_TASK = "lm/stdlib"
DEFAULT_FIDELITY = "search"
DEFAULT_REWARD = "target"
DEFAULT_EVALUATOR = "train"
ENV_ARGUMENTS: tuple[str, ...] = tuple(a.name for a in ARGUMENTS if a.group == "env")
"""`NASEnv`'s own arguments, in signature order (``evaluator`` is a kind or an object);
every argument is declared once, in `nas_env.env.arguments`."""


def argument_names() -> tuple[str, ...]:
    """Every keyword argument `NASEnv` accepts: `ENV_ARGUMENTS`, then the fields of
    `EvaluatorSettings` (``evaluator`` once)."""
    own = set(ENV_ARGUMENTS)
    return (*ENV_ARGUMENTS, *(n for n in EvaluatorSettings.names() if n not in own))


def check_arguments(kwargs: Mapping[str, Any], where: str = "NASEnv") -> EvaluatorSettings:
    """Check `NASEnv` keyword arguments as the env would, without training or loading a
    table: names, the env's options, the evaluator settings (device included), the
    space, task, fidelity and reward.

    Args:
        kwargs: ``gymnasium.make``-style keyword arguments (absent ones default).
        where: Where they came from, for messages (``--env-kwargs``, a config file).

    Returns:
        The evaluator settings they give.

    Raises:
        ConfigError: The first bad name or value, prefixed with ``where``.
    """
    check_names(kwargs, argument_names(), where)
    check_options(kwargs, where)
    own = set(ENV_ARGUMENTS)
    values = {k: v for k, v in kwargs.items() if k not in own}
    evaluator = kwargs.get("evaluator", DEFAULT_EVALUATOR)
    if isinstance(evaluator, str):
        values["evaluator"] = evaluator
    else:
        as_genome_evaluator(evaluator)
    settings = EvaluatorSettings.from_kwargs(values, where)
    if not isinstance(kwargs.get("space"), SearchSpace | None):
        load_space(kwargs["space"])
    if "task" in kwargs:
        parse_task_id(kwargs["task"])
    if "fidelity" in kwargs:
        Fidelity.resolve(kwargs["fidelity"])
    if not isinstance(kwargs.get("reward"), Reward | None):
        make_reward(kwargs["reward"])
    return settings


def check_names(given: Iterable[str], allowed: Iterable[str], where: str) -> None:
    """Reject a name that is not in ``allowed``, with a close match and the allowed list.

    Raises:
        ConfigError: ``"<where>: unknown argument 'x' (did you mean 'y'?); allowed: ..."``.
    """
    allowed = list(allowed)
    for name in given:
        if name not in allowed:
            raise ConfigError(
                f"{where}: unknown argument {name!r}{suggest(str(name), allowed)}; "
                f"allowed: {', '.join(allowed)}"
            )


def check_device(value: Any, where: str) -> None:
    """Reject a training device this machine cannot use (``cuda`` without CUDA...).

    Args:
        value: The requested device (``auto``, ``cpu``, ``cuda``, ``cuda:N``).
        where: Where the value came from, for the message (``--env-kwargs device``).

    Raises:
        ConfigError: Naming the value, where it came from and what is allowed here.
    """
    import torch

    text = str(value)
    if text == "auto":
        return
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ConfigError(f"{where}: {text!r} is not a device; allowed: auto, cpu, cuda, cuda:N")
    if device.type == "cpu":
        return
    if not torch.cuda.is_available():
        raise ConfigError(
            f"{where}: {text!r} needs CUDA, but torch {torch.__version__} sees no CUDA device "
            "on this machine; allowed here: auto, cpu"
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ConfigError(
            f"{where}: {text!r}, but this machine has {count} CUDA device(s); allowed here: "
            f"auto, cpu, cuda, cuda:0 to cuda:{count - 1}"
        )


def check_options(options: Mapping[str, Any], where: str) -> None:
    """Check the values of `NASEnv`'s own scalar options present in ``options``
    (``mode``, ``start``, ``targets``, ``observation``, ``render_mode``, ``reward_scale``,
    ``horizon``, ``invalid_action_penalty``); the env and `NASEnv.check_arguments` both use
    it.

    Raises:
        ConfigError: ``"<where> <name>: ..."`` with what is allowed.
    """
    for name in ("mode", "start", "targets", "observation", "render_mode"):
        allowed = BY_NAME[name].choices or ()
        if options.get(name) is not None:
            expect_choice(options[name], f"{where} {name}", allowed)
    if options.get("start") == "incumbent" and options.get("targets") == "random":
        raise ConfigError(
            f"{where} start: 'incumbent' (the best genome under the targets so far) with "
            "targets='random' (new targets every episode); allowed: start='default' or "
            "'random' with random targets"
        )
    if "reward_scale" in options:
        expect_positive(options["reward_scale"], f"{where} reward_scale")
    expect_int(options.get("horizon"), f"{where} horizon", minimum=1, allow_none=True)
    if "invalid_action_penalty" in options:
        where_penalty = f"{where} invalid_action_penalty"
        penalty = expect_number(options["invalid_action_penalty"], where_penalty)
        if not math.isfinite(penalty or 0.0):
            raise ConfigError(f"{where_penalty}: must be finite, got {penalty}")


@dataclass(frozen=True)
class EvaluatorSettings:
    """How an env scores genomes: which evaluator, and its settings by concern.

    Every argument of `nas_env.env.arguments` outside the env's own is a keyword argument
    of `NASEnv` (and so of ``gymnasium.make(id, ...)``) that lands in one group here:
    ``settings.table`` (`TableSettings`), ``settings.training`` (`TrainingSettings`),
    ``settings.promotion`` (`PromotionSettings`) and ``settings.executor``
    (`ExecutorSettings`). Build them from the flat arguments with `from_kwargs`;
    `to_dict` gives those arguments back.

    Attributes:
        evaluator: ``train`` (real training), ``table`` (a benchmark table) or
            ``surrogate`` (a surrogate benchmark, `nas_env.table.SurrogateEvaluator`).
        table: The benchmark served (path, what a table does for a genome it lacks).
        training: How candidates train and where results are cached.
        promotion: Successive halving inside the env. With ``executor`` parallel each rung
            trains on the executor's workers, continuing from the checkpoint the rung
            below left in the cache folder.
        executor: Where trained evaluations run. With a remote executor or
            ``workers > 1`` the env's evaluator is a `ParallelEvaluator`: candidates
            submitted together train at once, the driver alone writes the cache.

    Raises:
        ConfigError: A bad value (``"<argument>: ..."``; `from_kwargs` prefixes where the
            value came from).
    """

    evaluator: str = DEFAULT_EVALUATOR
    table: TableSettings = field(default_factory=TableSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    promotion: PromotionSettings = field(default_factory=PromotionSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)

    def __post_init__(self) -> None:
        expect_choice(self.evaluator, "evaluator", BY_NAME["evaluator"].choices or ())
        for group in SETTINGS_GROUPS:
            if not isinstance(getattr(self, group), GROUP_TYPES[group]):
                raise ConfigError(
                    f"{group}: {describe(getattr(self, group))} is not a "
                    f"{GROUP_TYPES[group].__name__}"
                )
        device = self.training.device
        if self.executor.remote_gpus:
            if device != "auto" and not device.startswith("cuda"):
                raise ConfigError(
                    f"device: {device!r} with gpus_per_eval={self.executor.gpus_per_eval}; "
                    "allowed: auto, cuda, cuda:N (the workers' GPU)"
                )
        else:
            check_device(device, "device")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The argument names these settings take: ``evaluator``, then every argument of
        the groups in declaration order."""
        return ("evaluator", *(a.name for g in SETTINGS_GROUPS for a in arguments_of(g)))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], where: str = "NASEnv") -> EvaluatorSettings:
        """Settings from flat keyword arguments, every error prefixed with ``where``.

        Args:
            kwargs: Argument values (missing ones take their defaults).
            where: Where they came from (``--env-kwargs``, ``NASEnv``, a config file).

        Raises:
            ConfigError: An unknown name (with a close match) or a bad value.
        """
        check_names(kwargs, cls.names(), where)
        try:
            groups = {
                group: GROUP_TYPES[group](
                    **{a.attribute: kwargs[a.name] for a in arguments_of(group) if a.name in kwargs}
                )
                for group in SETTINGS_GROUPS
            }
            return cls(kwargs.get("evaluator", DEFAULT_EVALUATOR), **groups)
        except ConfigError as exc:
            raise ConfigError(f"{where} {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The flat arguments (paths as strings): ``from_kwargs(to_dict())`` gives the same
        settings."""
        data: dict[str, Any] = {"evaluator": self.evaluator}
        for group in SETTINGS_GROUPS:
            for argument in arguments_of(group):
                value = getattr(getattr(self, group), argument.attribute)
                data[argument.name] = str(value) if isinstance(value, Path) else value
        return data


GROUP_TYPES: dict[str, type] = {
    "table": TableSettings,
    "training": TrainingSettings,
    "promotion": PromotionSettings,
    "executor": ExecutorSettings,
}
"""The settings object of each concern (`SETTINGS_GROUPS`)."""
