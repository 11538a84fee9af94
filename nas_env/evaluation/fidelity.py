"""Fidelity: how much training one candidate evaluation gets.

Levels are data (``config/fidelities.yaml``: ``tiny``, ``fast``, ``medium``,
``full``); a custom level is a mapping with the same fields, or a named level with
some fields overridden (``Fidelity.resolve("fast", steps=50)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from config import CONFIG_DIR
from nas_env.checks import (
    check_keys,
    describe,
    expect_int,
    expect_mapping,
    expect_number,
    load_data_file,
    suggest,
)
from nas_env.errors import ConfigError
from nas_env.evaluation.schedules import onecycle_lr

_FIELDS = (
    "steps",
    "tokens",
    "batch_size",
    "seq_len",
    "lr",
    "warmup_steps",
    "min_lr_ratio",
    "weight_decay",
    "grad_clip",
    "eval_tokens",
    "max_seconds",
    "schedule_steps",
    "signal",
    "lr_scaling",
    "lr_schedule",
    "label_smoothing",
)
LR_SCALINGS = ("width",)
SCHEDULES = ("cosine", "linear", "constant", "onecycle", "plateau")
"""How the learning rate moves: after the warm-up, to ``lr * min_lr_ratio`` along a half
cosine or a straight line, or not at all; or PyTorch's one-cycle curve (its rise is the
warm-up), or constant until the training loss stops improving, then halved at each
plateau (`nas_env.evaluation.schedules`)."""
# The fields that change how a candidate trains (a signal's level must match them).
TRAINING_FIELDS = tuple(
    f for f in _FIELDS if f not in ("tokens", "eval_tokens", "max_seconds", "signal")
)


@dataclass(frozen=True)
class Fidelity:
    """A training budget and recipe for one candidate.

    Attributes:
        name: Level name (``fast``...) or ``custom``.
        steps: Optimizer steps.
        batch_size: Sequences per step.
        seq_len: Tokens per sequence, or None for the task's default.
        lr: Peak learning rate of AdamW.
        warmup_steps: Linear warm-up steps from 0 to ``lr``.
        min_lr_ratio: Cosine decay ends at ``lr * min_lr_ratio``.
        weight_decay: AdamW weight decay on matrices (not on norms, biases, embeddings' rows).
        grad_clip: Max global gradient norm (0 disables clipping).
        eval_tokens: Held-out tokens scored for validation (LM), or their equivalent in
            examples of ``seq_len`` tokens (classification).
        max_seconds: Wall-clock cap for training plus validation; beyond it the result
            has status ``timeout``.
        schedule_steps: The length of the learning-rate schedule when it differs from
            ``steps``: a promotion rung (`rung`) trains the first ``steps`` of a longer
            run, so that continuing from its checkpoint to the next rung is the same
            training as running the longer schedule at once (None: ``steps``).
        signal: The scoring rule that turns this level's measurement into an estimate
            of the held-out loss after long training (a name or path for
            `nas_env.evaluation.signals.load_signal`; None: the held-out loss as measured).
            A partial promotion rung (`rung`) is measured as it is.
        lr_scaling: ``width``: every matrix but the embeddings trains at
            ``lr * 64 / fan_in`` (muP-style for Adam), so that one learning rate does not
            favour one width; None: one learning rate for all.
        lr_schedule: `SCHEDULES`: after the warm-up ``cosine`` (default), ``linear`` or
            ``constant``; ``onecycle`` (OneCycleLR's defaults); ``plateau`` (constant,
            halved when the training loss stops improving: the loop applies that part).
        label_smoothing: Label smoothing of the training loss (0 to 0.5; held-out scoring
            is never smoothed).
    """

    name: str
    steps: int
    batch_size: int
    seq_len: int | None
    lr: float
    warmup_steps: int
    min_lr_ratio: float
    weight_decay: float
    grad_clip: float
    eval_tokens: int
    max_seconds: float
    schedule_steps: int | None = None
    signal: str | None = None
    lr_scaling: str | None = None
    lr_schedule: str = "cosine"
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if self.lr_schedule not in SCHEDULES:
            raise ConfigError(
                f"fidelity {self.name!r}: lr_schedule {self.lr_schedule!r} is not allowed; "
                f"allowed: {', '.join(SCHEDULES)}"
            )
        if not 0.0 <= self.label_smoothing <= 0.5:
            raise ConfigError(
                f"fidelity {self.name!r}: label_smoothing {self.label_smoothing!r} is not "
                "allowed; allowed: 0 to 0.5"
            )
        if self.schedule_steps is not None and self.schedule_steps < self.steps:
            raise ConfigError(
                f"fidelity {self.name!r}: schedule_steps ({self.schedule_steps}) must be at "
                f"least steps ({self.steps})"
            )

    @property
    def total_steps(self) -> int:
        """Steps of the whole learning-rate schedule (``schedule_steps`` or ``steps``)."""
        return self.schedule_steps or self.steps

    def rung(self, steps: int) -> Fidelity:
        """The first ``steps`` of this fidelity's schedule, as a fidelity of its own.

        The learning rate follows this level's whole schedule, so training a rung and
        then continuing from its checkpoint gives exactly the training of a longer rung.
        ``rung(total_steps)`` is this fidelity itself (the same cache key).

        Raises:
            ConfigError: ``steps`` is not in ``1..total_steps``.
        """
        total = self.total_steps
        if not isinstance(steps, int) or not 1 <= steps <= total:
            raise ConfigError(
                f"fidelity {self.name!r}: a rung needs 1 <= steps <= {total}, got {steps!r}"
            )
        base = self.name.split("@", 1)[0]
        if steps == total:
            return replace(self, name=base, steps=total, schedule_steps=None)
        return replace(self, name=f"{base}@{steps}", steps=steps, schedule_steps=total, signal=None)

    def lr_at(self, step: int) -> float:
        """Learning rate for optimizer step ``step`` (0-based): warm-up, then the
        ``lr_schedule`` (cosine by default)."""
        if self.lr_schedule == "onecycle":
            return onecycle_lr(self.lr, step, self.total_steps, self.warmup_steps)
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.lr_schedule in ("constant", "plateau"):  # plateau: times `Plateau.scale`
            return self.lr
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        floor = self.lr * self.min_lr_ratio
        if self.lr_schedule == "linear":
            return self.lr - (self.lr - floor) * progress
        return floor + 0.5 * (self.lr - floor) * (1.0 + math.cos(math.pi * progress))

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as stored with every result."""
        return asdict(self)

    def cache_token(self) -> str:
        """A canonical string of every field that changes the result (for cache keys)."""
        items = sorted(self.to_dict().items())
        return ",".join(
            f"{k}={v}"
            for k, v in items
            if k != "name"
            and (k not in ("schedule_steps", "signal", "lr_scaling", "label_smoothing") or v)
            and (k != "lr_schedule" or v != "cosine")  # the defaults keep the old keys
        )

    def training_fields(self) -> dict[str, Any]:
        """The fields that change how a candidate trains (not what is scored or capped)."""
        return {k: getattr(self, k) for k in TRAINING_FIELDS}

    @classmethod
    def from_dict(cls, raw: Any, name: str = "custom", where: str = "fidelity") -> Fidelity:
        """Parse a fidelity mapping; exactly one of ``steps`` and ``tokens`` is required."""
        data = expect_mapping(raw, where)
        check_keys(data, where, ["batch_size", "lr"], [f for f in _FIELDS if f != "batch_size"])
        if ("steps" in data) == ("tokens" in data):
            raise ConfigError(f"{where}: give exactly one of 'steps' and 'tokens'")
        batch = expect_int(data["batch_size"], f"{where}.batch_size", minimum=1)
        seq_len = expect_int(data.get("seq_len"), f"{where}.seq_len", minimum=2, allow_none=True)
        if "steps" in data:
            steps = expect_int(data["steps"], f"{where}.steps", minimum=1)
        else:
            tokens = expect_int(data["tokens"], f"{where}.tokens", minimum=1)
            if seq_len is None:
                raise ConfigError(f"{where}: 'tokens' needs an explicit 'seq_len'")
            steps = max(1, tokens // (batch * seq_len))
        warmup = expect_int(data.get("warmup_steps", 0), f"{where}.warmup_steps", minimum=0)
        ratio = expect_number(data.get("min_lr_ratio", 0.1), f"{where}.min_lr_ratio", minimum=0)
        if ratio > 1:
            raise ConfigError(f"{where}.min_lr_ratio: must be in [0, 1], got {ratio}")
        schedule = expect_int(
            data.get("schedule_steps"), f"{where}.schedule_steps", minimum=1, allow_none=True
        )
        if schedule is not None and schedule < steps:
            raise ConfigError(
                f"{where}.schedule_steps: must be at least steps ({steps}), got {schedule}"
            )
        signal = data.get("signal")
        if signal is not None and (not isinstance(signal, str) or not signal):
            raise ConfigError(
                f"{where}.signal: expected a signal name or path (config/signals/), "
                f"got {describe(signal)}"
            )
        scaling = data.get("lr_scaling")
        if scaling is not None and scaling not in LR_SCALINGS:
            raise ConfigError(
                f"{where}.lr_scaling: {describe(scaling)} is not allowed; allowed: "
                f"{', '.join(LR_SCALINGS)} or null"
            )
        lr_schedule = data.get("lr_schedule", "cosine")
        if lr_schedule not in SCHEDULES:
            raise ConfigError(
                f"{where}.lr_schedule: {describe(lr_schedule)} is not allowed; allowed: "
                f"{', '.join(SCHEDULES)}"
            )
        smoothing = expect_number(
            data.get("label_smoothing", 0.0), f"{where}.label_smoothing", minimum=0
        )
        return cls(
            lr_schedule=lr_schedule,
            label_smoothing=smoothing,
            signal=signal,
            lr_scaling=scaling,
            schedule_steps=schedule,
            name=name,
            steps=steps,
            batch_size=batch,
            seq_len=seq_len,
            lr=expect_number(data["lr"], f"{where}.lr", minimum=0),
            warmup_steps=warmup,
            min_lr_ratio=ratio,
            weight_decay=expect_number(
                data.get("weight_decay", 0.0), f"{where}.weight_decay", minimum=0
            ),
            grad_clip=expect_number(data.get("grad_clip", 1.0), f"{where}.grad_clip", minimum=0),
            eval_tokens=expect_int(data.get("eval_tokens", 8192), f"{where}.eval_tokens", 1),
            max_seconds=expect_number(
                data.get("max_seconds", 600), f"{where}.max_seconds", minimum=0
            ),
        )

    @classmethod
    def resolve(cls, spec: str | Mapping[str, Any] | Fidelity, **overrides: Any) -> Fidelity:
        """A named level, a mapping, or a `Fidelity`, with optional field overrides.

        Raises:
            ConfigError: Unknown level (lists the levels) or a bad field.
        """
        if isinstance(spec, Fidelity):
            base = spec
        elif isinstance(spec, str):
            levels = fidelity_levels()
            if spec not in levels:
                raise ConfigError(
                    f"unknown fidelity {spec!r}{suggest(spec, levels)}; "
                    f"levels: {', '.join(levels)}, or a mapping of fields"
                )
            base = cls.from_dict(levels[spec], name=spec, where=f"fidelities.yaml: {spec}")
        else:
            base = cls.from_dict(spec)
        if not overrides:
            return base
        unknown = [k for k in overrides if k not in _FIELDS]
        if unknown:
            raise ConfigError(
                f"fidelity override {unknown[0]!r} is not a field{suggest(unknown[0], _FIELDS)}; "
                f"fields: {', '.join(_FIELDS)}"
            )
        data = {k: v for k, v in base.to_dict().items() if k != "name"}
        data.update(overrides)
        if "tokens" in overrides:
            data.pop("steps")
        custom = cls.from_dict(data, where=f"fidelity {base.name} with {describe(overrides)}")
        return replace(custom, name=f"{base.name}+custom")


def fidelity_levels() -> dict[str, Any]:
    """The named levels of ``config/fidelities.yaml`` as raw mappings."""
    raw = load_data_file(CONFIG_DIR / "fidelities.yaml")
    return dict(expect_mapping(raw, "fidelities.yaml"))


def measured_ranking(space: str, level: str) -> dict[str, Any] | None:
    """How well ``level`` ranks genomes of ``space`` against the ``reference`` level, as
    measured by ``benchmarks/fidelity_rank.py`` and recorded in
    ``config/fidelity_ranking.yaml`` (None when not measured).

    The mapping holds ``tau`` and ``spearman`` (against the reference, on a uniform
    sample), ``noise_tau`` (seed 0 against seed 1 at this level, when measured),
    ``reference``, ``genomes``, ``s_per_candidate``, ``source`` (the command that measured
    it: the space's, or the level's own where it names one) and, where measured on the
    decision sample (genomes near the size target, `nas_env.samples`), ``tau_decision``,
    ``decision_genomes`` and ``regret_decision`` (the perplexity at the reference of the
    level's top pick over the best, minus 1).
    """
    path = CONFIG_DIR / "fidelity_ranking.yaml"
    if not path.is_file():
        return None
    raw = expect_mapping(load_data_file(path), "fidelity_ranking.yaml")
    entry = raw.get(space)
    if not isinstance(entry, Mapping):
        return None
    levels = entry.get("levels", {})
    row = levels.get(level) if isinstance(levels, Mapping) else None
    if not isinstance(row, Mapping):
        return None
    return {
        "reference": entry.get("reference"),
        "genomes": entry.get("genomes"),
        "decision_genomes": entry.get("decision_genomes"),
        "source": entry.get("source", "benchmarks/fidelity_rank.py"),
        **row,
    }
