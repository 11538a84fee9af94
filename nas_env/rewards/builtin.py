"""The built-in rewards: ``quality``, ``weighted``, ``mnasnet`` and ``budget``.

Every built-in is a frozen, keyword-only dataclass whose fields are its parameters; the
constructor validates them and raises `ConfigError` naming the field, the bad value and
what is allowed. "quality" below is `quality_score` of the result with the reward's
``vocab_size`` (accuracy for classifiers, ``1 - ln(ppl) / ln(vocab_size)`` clipped to
[0, 1] for language models).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from nas_env.checks import expect_choice, expect_int
from nas_env.errors import ConfigError
from nas_env.evaluation.result import EvalResult
from nas_env.rewards.base import (
    DEFAULT_FAILURE_PENALTY,
    DEFAULT_LATENCY_BOUNDS_MS,
    DEFAULT_SIZE_BOUNDS_MB,
    DEFAULT_VOCAB_SIZE,
    TARGET_SPAN,
    MetricBounds,
    Reward,
    around,
    check_ok,
    log_score,
    measured,
    param_number,
    param_vocab,
    quality_score,
)

_TINY = 1e-12


def _set(reward: Reward, field: str, value: object) -> None:
    object.__setattr__(reward, field, value)


def _bounds(reward: Reward, low_field: str, high_field: str) -> None:
    low = param_number(reward.name, low_field, getattr(reward, low_field), strict=True)
    high = param_number(reward.name, high_field, getattr(reward, high_field), strict=True)
    if high <= low:
        raise ConfigError(
            f"reward {reward.name}.{high_field}: must be > {low_field} ({low:g}), got {high:g}"
        )
    _set(reward, low_field, low)
    _set(reward, high_field, high)


@dataclass(frozen=True, kw_only=True)
class QualityReward(Reward):
    """``quality``: the task quality alone, ``score = quality`` in [0, 1].

    Parameters (defaults): ``vocab_size`` (1024), ``failure_penalty`` (1.0).
    """

    name: ClassVar[str] = "quality"
    vocab_size: int = DEFAULT_VOCAB_SIZE
    failure_penalty: float = DEFAULT_FAILURE_PENALTY

    def __post_init__(self) -> None:
        _set(self, "vocab_size", param_vocab(self.name, self.vocab_size))
        _set(
            self,
            "failure_penalty",
            param_number(self.name, "failure_penalty", self.failure_penalty),
        )

    def score(self, result: EvalResult) -> float:
        check_ok(self, result)
        return quality_score(result, self.vocab_size)


@dataclass(frozen=True, kw_only=True)
class WeightedReward(Reward):
    """``weighted``: a weighted sum of quality, size and latency scores.

    ``score = w_quality * quality + w_size * size_score + w_latency * latency_score`` with
    ``size_score = log_score(size_mb, size_low_mb, size_high_mb)`` and
    ``latency_score = log_score(latency_ms, latency_low_ms, latency_high_ms)``: 1 at or
    below the low bound, 0 at or above the high bound, linear in the logarithm between.

    Parameters (defaults): ``w_quality`` (0.5), ``w_size`` (0.3), ``w_latency`` (0.2),
    ``size_low_mb`` (0.05), ``size_high_mb`` (50.0), ``latency_low_ms`` (0.1),
    ``latency_high_ms`` (100.0), ``vocab_size`` (1024), ``failure_penalty`` (1.0).
    The bounds suit CPU-sized models. The weights are used as given (not normalised):
    each must be >= 0 and at least one > 0; with weights summing to 1 the score is in
    [0, 1]. A measurement whose weight is 0 is not needed.
    """

    name: ClassVar[str] = "weighted"
    w_quality: float = 0.5
    w_size: float = 0.3
    w_latency: float = 0.2
    size_low_mb: float = DEFAULT_SIZE_BOUNDS_MB[0]
    size_high_mb: float = DEFAULT_SIZE_BOUNDS_MB[1]
    latency_low_ms: float = DEFAULT_LATENCY_BOUNDS_MS[0]
    latency_high_ms: float = DEFAULT_LATENCY_BOUNDS_MS[1]
    vocab_size: int = DEFAULT_VOCAB_SIZE
    failure_penalty: float = DEFAULT_FAILURE_PENALTY

    def __post_init__(self) -> None:
        for field in ("w_quality", "w_size", "w_latency", "failure_penalty"):
            _set(self, field, param_number(self.name, field, getattr(self, field)))
        if self.w_quality == self.w_size == self.w_latency == 0:
            raise ConfigError(
                f"reward {self.name}: w_quality, w_size and w_latency are all 0; "
                "allowed: weights >= 0 with at least one > 0"
            )
        _bounds(self, "size_low_mb", "size_high_mb")
        _bounds(self, "latency_low_ms", "latency_high_ms")
        _set(self, "vocab_size", param_vocab(self.name, self.vocab_size))

    def metric_bounds(self) -> MetricBounds:
        """The reward's own size and latency bounds."""
        return MetricBounds(
            size_mb=(self.size_low_mb, self.size_high_mb),
            latency_ms=(self.latency_low_ms, self.latency_high_ms),
            vocab_size=self.vocab_size,
        )

    def score(self, result: EvalResult) -> float:
        check_ok(self, result)
        total = 0.0
        if self.w_quality:
            total += self.w_quality * quality_score(result, self.vocab_size)
        if self.w_size:
            size = measured(self, result, "size_mb")
            total += self.w_size * log_score(size, self.size_low_mb, self.size_high_mb)
        if self.w_latency:
            latency = measured(self, result, "latency_ms")
            total += self.w_latency * log_score(latency, self.latency_low_ms, self.latency_high_ms)
        return total


@dataclass(frozen=True, kw_only=True)
class MnasNetReward(Reward):
    """``mnasnet``: MnasNet's multi-objective reward (Tan et al., 2019).

    ``score = quality * (latency_ms / target_latency_ms) ** w_l * (size_mb / target_size_mb)
    ** w_s`` where each exponent is ``alpha`` when the measured value is <= its target and
    ``beta`` above it: ``mode="soft"``: alpha = beta = -0.07 (smaller than the target is
    rewarded a little, larger penalised a little; the score can exceed 1); ``mode="hard"``:
    alpha = 0, beta = -1 (no effect at or below the target, ``target / value`` above it).

    Parameters (defaults): ``target_latency_ms`` (5.0), ``target_size_mb`` (1.0), ``mode``
    ("soft"), ``vocab_size`` (1024), ``failure_penalty`` (1.0). A target set to None drops
    its factor (and the measurement is not needed). Measured values are floored at 1e-12 so
    that the score stays finite.
    """

    name: ClassVar[str] = "mnasnet"
    EXPONENTS: ClassVar[dict[str, tuple[float, float]]] = {
        "soft": (-0.07, -0.07),
        "hard": (0.0, -1.0),
    }
    target_latency_ms: float | None = 5.0
    target_size_mb: float | None = 1.0
    mode: str = "soft"
    vocab_size: int = DEFAULT_VOCAB_SIZE
    failure_penalty: float = DEFAULT_FAILURE_PENALTY

    def __post_init__(self) -> None:
        for field in ("target_latency_ms", "target_size_mb"):
            value = getattr(self, field)
            if value is not None:
                _set(self, field, param_number(self.name, field, value, strict=True))
        expect_choice(self.mode, f"reward {self.name}.mode", list(self.EXPONENTS))
        _set(self, "vocab_size", param_vocab(self.name, self.vocab_size))
        _set(
            self,
            "failure_penalty",
            param_number(self.name, "failure_penalty", self.failure_penalty),
        )

    def metric_bounds(self) -> MetricBounds:
        """Three decades around each target (the target shows as 0.5); the default
        bounds for a target set to None."""
        return MetricBounds(
            size_mb=around(self.target_size_mb, DEFAULT_SIZE_BOUNDS_MB),
            latency_ms=around(self.target_latency_ms, DEFAULT_LATENCY_BOUNDS_MS),
            vocab_size=self.vocab_size,
        )

    def factor(self, value: float, target: float) -> float:
        """``(value / target) ** w`` with ``w = alpha if value <= target else beta``."""
        alpha, beta = self.EXPONENTS[self.mode]
        return (max(value, _TINY) / target) ** (alpha if value <= target else beta)

    def score(self, result: EvalResult) -> float:
        check_ok(self, result)
        total = quality_score(result, self.vocab_size)
        if self.target_latency_ms is not None:
            total *= self.factor(measured(self, result, "latency_ms"), self.target_latency_ms)
        if self.target_size_mb is not None:
            total *= self.factor(measured(self, result, "size_mb"), self.target_size_mb)
        return total


@dataclass(frozen=True, kw_only=True)
class BudgetReward(Reward):
    """``budget``: quality within a resource budget, a flat penalty outside it.

    ``score = quality`` when ``params <= max_params`` and ``size_mb <= max_size_mb``,
    else ``score = quality - over_penalty``. With the default penalty 1.0 every
    over-budget score (<= 0) is at most every within-budget score (>= 0).

    Parameters (defaults): ``max_params`` (None), ``max_size_mb`` (None), ``over_penalty``
    (1.0), ``vocab_size`` (1024), ``failure_penalty`` (1.0). A limit set to None is not
    checked (and its measurement is not needed); with both None the score is the quality.
    """

    name: ClassVar[str] = "budget"
    max_params: int | None = None
    max_size_mb: float | None = None
    over_penalty: float = 1.0
    vocab_size: int = DEFAULT_VOCAB_SIZE
    failure_penalty: float = DEFAULT_FAILURE_PENALTY

    def __post_init__(self) -> None:
        if self.max_params is not None:
            expect_int(self.max_params, f"reward {self.name}.max_params", minimum=1)
        if self.max_size_mb is not None:
            size = param_number(self.name, "max_size_mb", self.max_size_mb, strict=True)
            _set(self, "max_size_mb", size)
        for field in ("over_penalty", "failure_penalty"):
            _set(self, field, param_number(self.name, field, getattr(self, field)))
        _set(self, "vocab_size", param_vocab(self.name, self.vocab_size))

    def metric_bounds(self) -> MetricBounds:
        """Size shows the room left under ``max_size_mb`` (0 at the limit, 1 three decades
        below it); the default bounds without that limit."""
        bounds = super().metric_bounds()
        if self.max_size_mb is None:
            return bounds
        return replace(bounds, size_mb=(self.max_size_mb / TARGET_SPAN**2, self.max_size_mb))

    def within(self, result: EvalResult) -> bool:
        """True when ``result`` respects every limit that is set."""
        if self.max_params is not None and measured(self, result, "params") > self.max_params:
            return False
        return not (
            self.max_size_mb is not None and measured(self, result, "size_mb") > self.max_size_mb
        )

    def score(self, result: EvalResult) -> float:
        check_ok(self, result)
        quality = quality_score(result, self.vocab_size)
        return quality if self.within(result) else quality - self.over_penalty


BUILTIN_REWARDS: tuple[type[Reward], ...] = (
    QualityReward,
    WeightedReward,
    MnasNetReward,
    BudgetReward,
)
