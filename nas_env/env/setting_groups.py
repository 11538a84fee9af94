"""The evaluator settings of one concern each: the benchmark served, how candidates train,
and promotion (where they train: `nas_env.evaluation.executors.ExecutorSettings`).

Each class holds the arguments of one group of `nas_env.env.arguments` (its fields are
their ``attribute``: ``table_allow_mismatch`` is ``TableSettings.allow_mismatch``), checks
its own values and names the argument in its errors. What spans groups (a GPU device on
remote workers, promotion in a parallel env) is checked by `EvaluatorSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nas_env.checks import describe, expect_choice, expect_int, expect_positive
from nas_env.env.arguments import arguments_of
from nas_env.errors import ConfigError
from nas_env.evaluation.train_settings import TrainSettings


def _check_choices(settings: object, group: str) -> None:
    """Every argument of ``group`` with a fixed set of values has one of them."""
    for argument in arguments_of(group):
        if argument.choices:
            expect_choice(getattr(settings, argument.attribute), argument.name, argument.choices)


def _check_path(value: object, name: str) -> None:
    if value is not None and not isinstance(value, str | Path):
        raise ConfigError(f"{name}: {describe(value)} is not allowed; allowed: a path or None")


@dataclass(frozen=True)
class TableSettings:
    """The benchmark a ``table`` or ``surrogate`` evaluator serves.

    Attributes:
        path: The table's or surrogate benchmark's file (argument ``table``: a path, or
            the name of a file shipped in ``config/tables/`` such as ``mid-long.npz``;
            None: the space's shipped ``config/tables/<space>.sqlite``, or
            ``<space>.npz`` for a surrogate).
        missing: What a table does for a genome it lacks: ``error``, or ``train`` it with
            the training settings.
        allow_mismatch: Serve a table built by another evaluator version or on other task
            data (with a warning) instead of refusing it (``table_allow_mismatch``).
    """

    path: str | Path | None = None
    missing: str = "error"
    allow_mismatch: bool = False

    def __post_init__(self) -> None:
        _check_choices(self, "table")
        _check_path(self.path, "table")
        if not isinstance(self.allow_mismatch, bool):
            raise ConfigError(
                f"table_allow_mismatch: {describe(self.allow_mismatch)} is not allowed; "
                "allowed: true, false"
            )


@dataclass(frozen=True)
class TrainingSettings:
    """How a candidate trains and where its results are cached.

    Attributes:
        backend: ``torch`` (PyTorch + AMP) or ``deepspeed`` (`nas_env.evaluation.backends`).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (whether this machine has it is
            checked by `EvaluatorSettings`: remote GPU workers need none here).
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16``.
        seed: Seeds model initialisation and batch sampling (``training_seed``).
        cache: The result database path, False for none, None for the default one.
        cache_root: Folder of tokenizers, token arrays and the default result database
            (None: ``$NAS_ENV_CACHE`` or the user's cache folder).
        vocab_size: The task's vocabulary size (None: the space's task spec).
        latency: ``measured`` or ``predicted`` (by the space's latency profile for the
            device, `nas_env.latency`).
        latency_profile: The profile's path (None: ``config/latency/<space>-<device>.json``).
        latency_profile_mismatch: Use a profile made elsewhere, with a warning.
        residual_init: ``scaled`` (GPT-2's, the default since evaluator version 5) or
            ``flat`` (versions up to 4; the deprecated ``-v1`` training ids use it).
    """

    backend: str = "torch"
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    cache: str | Path | bool | None = None
    cache_root: str | Path | None = None
    vocab_size: int | None = None
    latency: str = "measured"
    latency_profile: str | Path | None = None
    latency_profile_mismatch: bool = False
    residual_init: str = "scaled"

    def __post_init__(self) -> None:
        _check_choices(self, "training")
        _check_path(self.latency_profile, "latency_profile")
        if not isinstance(self.latency_profile_mismatch, bool):
            raise ConfigError(
                f"latency_profile_mismatch: {describe(self.latency_profile_mismatch)} is not "
                "allowed; allowed: true, false"
            )
        if not isinstance(self.device, str):
            raise ConfigError(f"device: {describe(self.device)} is not a device name")
        expect_int(self.seed, "training_seed")
        expect_int(self.vocab_size, "vocab_size", minimum=2, allow_none=True)
        _check_path(self.cache_root, "cache_root")
        if self.cache is not None and not isinstance(self.cache, str | Path | bool):
            raise ConfigError(
                f"cache: {describe(self.cache)} is not allowed; allowed: a path, false (no "
                "persistent cache) or None (the default database)"
            )

    def train_settings(self) -> TrainSettings:
        """What the evaluator trains with (`TrainSettings` adds the latency protocol,
        limits and threads, which the env leaves at their defaults)."""
        profile = None if self.latency_profile is None else str(self.latency_profile)
        return TrainSettings(
            backend=self.backend, device=self.device, precision=self.precision, seed=self.seed,
            latency=self.latency, latency_profile=profile,
            latency_profile_mismatch=self.latency_profile_mismatch,
            residual_init=self.residual_init,
        )  # fmt: skip


@dataclass(frozen=True)
class PromotionSettings:
    """Successive halving inside the env (`nas_env.evaluation.promotion`).

    Attributes:
        kind: ``off`` (every candidate trains the whole fidelity) or ``asha`` (a new
            candidate trains the lowest rung and continues from its checkpoint while it
            stays in the top 1/eta of its rung); argument ``promotion``. A surrogate
            benchmark serves its own rungs (``rungs`` is then ignored); a table cannot
            promote.
        rungs: Rungs of the ladder: rung ``i`` trains the first
            ``steps / eta**(rungs - 1 - i)`` steps of the fidelity's schedule.
        eta: Promotion rate: the top ``ceil(n / eta)`` of a rung go on.
        checkpoint_mb: Size cap of the promotion checkpoints kept in the cache folder
            (``<cache root>/checkpoints``; the oldest go first).
    """

    kind: str = "off"
    rungs: int = 2
    eta: int = 3
    checkpoint_mb: float = 512.0

    def __post_init__(self) -> None:
        _check_choices(self, "promotion")
        expect_int(self.rungs, "rungs", minimum=1)
        expect_int(self.eta, "eta", minimum=2)
        expect_positive(self.checkpoint_mb, "checkpoint_mb")

    @property
    def on(self) -> bool:
        """Candidates are promoted over rungs (``asha``)."""
        return self.kind == "asha"
