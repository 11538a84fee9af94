"""How candidates are trained beyond the fidelity's budget: backend, device, precision,
seed, limits and the latency protocol (every field is part of the evaluator's cache key)."""

from __future__ import annotations

from dataclasses import dataclass

from nas_env.checks import check_int, expect_choice, expect_number

STATISTICS: tuple[str, ...] = ("median", "min", "q25")
"""How a latency protocol summarises its timed passes (`nas_env.evaluation.measure`)."""
LATENCY_SOURCES: tuple[str, ...] = ("measured", "predicted")
RESIDUAL_INITS: tuple[str, ...] = ("scaled", "flat")
"""Where a result's latency comes from (`nas_env.evaluation.latency_source`)."""


@dataclass(frozen=True)
class TrainSettings:
    """How candidates are trained, beyond the fidelity's budget.

    Attributes:
        backend: ``torch`` (plain PyTorch + AMP) or ``deepspeed``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        precision: ``auto`` (what the device accelerates), ``fp32``, ``bf16`` or ``fp16``.
        seed: Seeds model initialisation and batch sampling.
        max_memory_mb: Memory a candidate may allocate before it is an ``oom`` (None: no cap).
        latency_repeats: Timed forward passes for the latency median.
        latency_warmup: Untimed forward passes before them.
        latency_threads: CPU threads pinned while timing latency (default 1, so that the
            figure does not depend on the machine's core count or its load).
        latency_warmup_seconds: Untimed passes also last at least this long (0: only
            ``latency_warmup`` passes).
        latency_statistic: ``median``, ``min`` or ``q25`` of the timed passes
            (`nas_env.evaluation.measure.LATENCY_STATISTICS`).
        latency: ``measured`` (timed on the trained model) or ``predicted`` by a latency
            profile (`nas_env.latency`), which results and records name.
        latency_profile: The profile's path (None: ``config/latency/<space>-<device>.json``).
        latency_profile_mismatch: Use a profile made on another processor, thread count
            or torch version, with a warning, instead of refusing it.
        residual_init: ``scaled`` (GPT-2's N(0, 0.02 / sqrt(2 x layers)) for the
            projections of pre-norm blocks into the residual stream, post-norm blocks
            keep N(0, 0.02): `models.transformer.scale_residual_init`;
            the default since evaluator version 5) or ``flat`` (every Linear N(0, 0.02),
            as evaluator versions up to 4 trained).
        threads: CPU threads for training (None: torch's current setting).
        deepspeed_config: Path of the DeepSpeed JSON (None: ``config/deepspeed.json``).

    Every field is part of the cache key (through `Evaluator.key`).
    """

    backend: str = "torch"
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    max_memory_mb: float | None = None
    latency_repeats: int = 15
    latency_warmup: int = 3
    latency_threads: int = 1
    latency_warmup_seconds: float = 0.0
    latency_statistic: str = "median"
    latency: str = "measured"
    latency_profile: str | None = None
    latency_profile_mismatch: bool = False
    residual_init: str = "scaled"
    threads: int | None = None
    deepspeed_config: str | None = None

    def __post_init__(self) -> None:
        check_int(self.latency_repeats, "TrainSettings.latency_repeats", 1)
        check_int(self.latency_warmup, "TrainSettings.latency_warmup", 0)
        check_int(self.latency_threads, "TrainSettings.latency_threads", 1)
        check_int(self.threads, "TrainSettings.threads", 1, allow_none=True)
        expect_number(self.latency_warmup_seconds, "TrainSettings.latency_warmup_seconds", 0)
        expect_choice(self.latency_statistic, "TrainSettings.latency_statistic", STATISTICS)
        expect_choice(self.latency, "TrainSettings.latency", LATENCY_SOURCES)
        expect_choice(self.residual_init, "TrainSettings.residual_init", RESIDUAL_INITS)

    def key_suffix(self) -> str:
        """The cache key's part for a latency protocol beyond warm-up passes, repeats and
        threads, and for a residual init other than the default ``scaled`` ("" for the
        defaults)."""
        init = "" if self.residual_init == "scaled" else f"init={self.residual_init};"
        if self.latency_warmup_seconds == 0.0 and self.latency_statistic == "median":
            return init
        return f"latw={self.latency_warmup_seconds:g}s,{self.latency_statistic};{init}"
