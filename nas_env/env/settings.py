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
from dataclasses import dataclass, fields
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
from nas_env.env.arguments import (
    ARGUMENTS,
    BY_NAME,
)
from nas_env.errors import ConfigError
from nas_env.evaluation.executors import REMOTE_EXECUTORS, executor_kind
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
    (``mode``, ``start``, ``observation``, ``render_mode``, ``reward_scale``, ``horizon``,
    ``invalid_action_penalty``); the env and `NASEnv.check_arguments` both use it.

    Raises:
        ConfigError: ``"<where> <name>: ..."`` with what is allowed.
    """
    for name in ("mode", "start", "observation", "render_mode"):
        allowed = BY_NAME[name].choices or ()
        if options.get(name) is not None:
            expect_choice(options[name], f"{where} {name}", allowed)
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
    """How an env scores genomes: which evaluator, on which device, cached where.

    Every field is a keyword argument of `NASEnv` (and so of ``gymnasium.make(id, ...)``).

    Attributes:
        evaluator: ``train`` (real training), ``table`` (a benchmark table) or
            ``surrogate`` (a surrogate benchmark, `nas_env.table.SurrogateEvaluator`).
        table: The table's or surrogate benchmark's path (None: the space's shipped
            ``config/tables/<space>.sqlite``, or ``<space>.npz`` for a surrogate).
        missing: What a table does for a genome it lacks: ``error`` or ``train`` it.
        table_allow_mismatch: Serve a table built by another evaluator version or on other
            task data (with a warning) instead of refusing it.
        backend: ``torch`` (PyTorch + AMP) or ``deepspeed``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``: one this machine has.
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16``.
        training_seed: Seeds model initialisation and batch sampling.
        cache: The result database path, False for none, None for the default one.
        cache_root: Folder of tokenizers, token arrays and the default result database
            (None: ``$NAS_ENV_CACHE`` or the user's cache folder).
        vocab_size: The task's vocabulary size (None: the space's task spec).
        promotion: ``off`` (every candidate trains the whole fidelity) or ``asha``
            (successive halving inside the env, `nas_env.evaluation.promotion`: a new
            candidate trains the lowest rung and continues from its checkpoint while it
            stays in the top 1/eta of its rung). A surrogate benchmark serves its own
            rungs (``rungs`` is then ignored); a table cannot promote.
        rungs: Rungs of the ladder (``asha``): rung ``i`` trains the first
            ``steps / eta**(rungs - 1 - i)`` steps of the fidelity's schedule.
        eta: Promotion rate (``asha``): the top ``ceil(n / eta)`` of a rung go on.
        checkpoint_mb: Size cap of the promotion checkpoints kept in the cache folder
            (``<cache root>/checkpoints``; the oldest go first).
        executor: Where trained evaluations run: ``local`` (in this process, or a pool of
            ``workers`` processes on this machine) or ``ray`` (Ray core, the extra
            ``nas_env[ray]``; `nas_env.evaluation.ray_executor`). With ``ray`` or
            ``workers > 1`` the env's evaluator is a `ParallelEvaluator`: candidates
            submitted together train at once, the driver alone writes the cache.
        workers: Evaluations in flight at once (1 with ``local``: in this process).
        ray_address: The Ray cluster to join (``auto``, ``ray://host:10001``; None:
            ``$RAY_ADDRESS``, else a private local Ray instance).
        cpus_per_eval: CPUs, and so torch threads, of one evaluation on a worker (part
            of the cache key, as ``threads``).
        gpus_per_eval: GPUs of one evaluation (``ray`` only; > 0 runs one long-lived
            actor per worker slot, and ``device`` is the workers' CUDA device).
        max_retries: Times an evaluation whose worker died is run again before it is
            recorded as ``error``.

    Raises:
        ConfigError: A field has a bad value (``"<field>: ..."``; `from_kwargs` prefixes
            where the value came from).
    """

    evaluator: str = DEFAULT_EVALUATOR
    table: str | Path | None = None
    missing: str = "error"
    table_allow_mismatch: bool = False
    backend: str = "torch"
    device: str = "auto"
    precision: str = "auto"
    training_seed: int = 0
    cache: str | Path | bool | None = None
    cache_root: str | Path | None = None
    vocab_size: int | None = None
    promotion: str = "off"
    rungs: int = 2
    eta: int = 3
    checkpoint_mb: float = 512.0
    executor: str = "local"
    workers: int = 1
    ray_address: str | None = None
    cpus_per_eval: int = 1
    gpus_per_eval: float = 0.0
    max_retries: int = 2

    @property
    def parallel(self) -> bool:
        """Evaluations run on an executor's workers (not in the env's process)."""
        return executor_kind(self.executor).remote or self.workers > 1

    @property
    def remote_gpus(self) -> bool:
        """Evaluations run on GPUs of remote workers (the driver needs none)."""
        return executor_kind(self.executor).remote and bool(self.gpus_per_eval)

    def __post_init__(self) -> None:
        for name in self.names():  # the allowed values, as declared (nas_env.env.arguments)
            choices = BY_NAME[name].choices
            if choices:
                expect_choice(getattr(self, name), name, choices)
        self._check_executor()
        expect_int(self.rungs, "rungs", minimum=1)
        expect_int(self.eta, "eta", minimum=2)
        expect_positive(self.checkpoint_mb, "checkpoint_mb")
        if not isinstance(self.device, str):
            raise ConfigError(f"device: {describe(self.device)} is not a device name")
        if self.remote_gpus:
            if self.device != "auto" and not self.device.startswith("cuda"):
                raise ConfigError(
                    f"device: {self.device!r} with gpus_per_eval={self.gpus_per_eval}; "
                    "allowed: auto, cuda, cuda:N (the workers' GPU)"
                )
        else:
            check_device(self.device, "device")
        if not isinstance(self.table_allow_mismatch, bool):
            raise ConfigError(
                f"table_allow_mismatch: {describe(self.table_allow_mismatch)} is not allowed; "
                "allowed: true, false"
            )
        expect_int(self.training_seed, "training_seed")
        expect_int(self.vocab_size, "vocab_size", minimum=2, allow_none=True)
        for name in ("table", "cache_root"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str | Path):
                raise ConfigError(
                    f"{name}: {describe(value)} is not allowed; allowed: a path or None"
                )
        if self.cache is not None and not isinstance(self.cache, str | Path | bool):
            raise ConfigError(
                f"cache: {describe(self.cache)} is not allowed; allowed: a path, false (no "
                "persistent cache) or None (the default database)"
            )

    def _check_executor(self) -> None:
        expect_int(self.workers, "workers", minimum=1)
        expect_int(self.cpus_per_eval, "cpus_per_eval", minimum=1)
        expect_int(self.max_retries, "max_retries", minimum=0)
        gpus = expect_number(self.gpus_per_eval, "gpus_per_eval", minimum=0)
        remote = executor_kind(self.executor).remote
        if gpus and not remote:
            raise ConfigError(
                f"gpus_per_eval: {gpus:g} needs a remote executor ({', '.join(REMOTE_EXECUTORS)}: "
                f"GPU actors); with executor={self.executor!r} candidates train on this "
                "process' device"
            )
        if self.ray_address is not None:
            if not isinstance(self.ray_address, str) or not self.ray_address:
                raise ConfigError(
                    f"ray_address: {describe(self.ray_address)} is not allowed; allowed: "
                    "auto, host:port, ray://host:port or None"
                )
            if not remote:
                raise ConfigError(
                    f"ray_address: {self.ray_address!r} needs a remote executor "
                    f"({', '.join(REMOTE_EXECUTORS)}; it is {self.executor!r})"
                )
        if self.parallel and self.promotion == "asha":
            raise ConfigError(
                f"promotion='asha' continues candidates from checkpoints in this process; it "
                f"does not run on executor={self.executor!r} with workers={self.workers} yet: "
                "use executor='local', workers=1, or promotion='off'"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names, i.e. the evaluator arguments `NASEnv` accepts."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], where: str = "NASEnv") -> EvaluatorSettings:
        """Settings from keyword arguments, every error prefixed with ``where``.

        Args:
            kwargs: Field values (missing ones take their defaults).
            where: Where they came from (``--env-kwargs``, ``NASEnv``, a config file).

        Raises:
            ConfigError: An unknown name (with a close match) or a bad value.
        """
        check_names(kwargs, cls.names(), where)
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{where} {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (paths as strings), ``from_kwargs(to_dict())`` gives the same settings."""
        return {
            f.name: str(v) if isinstance(v, Path) else v
            for f in fields(self)
            for v in (getattr(self, f.name),)
        }
