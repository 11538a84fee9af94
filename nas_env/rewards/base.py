"""The `Reward` base class, the shared score helpers and the edit-mode `step_reward`."""

from __future__ import annotations

import abc
import inspect
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from nas_env.checks import describe, expect_int, expect_number
from nas_env.errors import ConfigError
from nas_env.evaluation.result import FAILURES, EvalResult
from nas_env.tasks.kinds import kind_of_metric, metrics

DEFAULT_VOCAB_SIZE = 1024
"""Vocabulary size `quality_score` assumes when a reward is not told the task's."""

DEFAULT_FAILURE_PENALTY = 1.0
"""What a failed evaluation costs by default (`Reward.failure_penalty`)."""

DEFAULT_SIZE_BOUNDS_MB: tuple[float, float] = (0.05, 50.0)
"""Model size (MiB) scoring 1 and 0 on `log_score` unless a reward has its own bounds."""

DEFAULT_LATENCY_BOUNDS_MS: tuple[float, float] = (0.1, 100.0)
"""Latency (ms) scoring 1 and 0 on `log_score` unless a reward has its own bounds."""

TARGET_SPAN = math.sqrt(1000.0)
"""Around a reward's target, the observation's log scale runs from ``target / TARGET_SPAN``
(1) to ``target * TARGET_SPAN`` (0): three decades, like the default bounds, with the
target itself at 0.5."""


def quality_score(result: EvalResult, vocab_size: int = DEFAULT_VOCAB_SIZE) -> float:
    """Return the task quality of a successful result as a score in [0, 1] (1 = best).

    * ``metric == "accuracy"``: the accuracy itself (already in [0, 1]).
    * ``metric == "perplexity"``: ``1 - ln(perplexity) / ln(vocab_size)`` clipped to [0, 1]:
      0 when the model is no better than uniform guessing over the vocabulary
      (perplexity >= vocab_size, including an infinite perplexity), 1 for a perfect model
      (perplexity 1).

    Raises:
        ValueError: The metric is neither, its value is missing or NaN, or ``vocab_size < 2``.
    """
    vocab_size = expect_int(vocab_size, "quality_score: vocab_size", minimum=2)
    kind = kind_of_metric(result.metric)
    if kind is None:
        raise ValueError(
            f"quality_score: unknown metric {describe(result.metric)} of task "
            f"{describe(result.task)}; allowed: {', '.join(metrics())}"
        )
    value = result.quality
    if value is None or math.isnan(value):
        raise ValueError(
            f"quality_score: result with status {result.status!r} has no {result.metric} "
            f"(got {describe(value)})"
        )
    if not kind.loss_is_log_perplexity:  # accuracy
        return float(value)
    if value <= 1.0:
        return 1.0
    return min(1.0, max(0.0, 1.0 - math.log(value) / math.log(vocab_size)))


def log_score(value: float, low: float, high: float) -> float:
    """Return 1 at or below ``low``, 0 at or above ``high``, linear in ``log(value)`` between.

    For costs where smaller is better (size, latency):
    ``(ln(high) - ln(value)) / (ln(high) - ln(low))`` for ``low < value < high``.
    The midpoint in log space, ``sqrt(low * high)``, scores 0.5.

    Raises:
        ConfigError: The bounds are not ``0 < low < high``.
        ValueError: ``value`` is None or NaN.
    """
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise ConfigError(
            f"log_score: bounds must satisfy 0 < low < high (finite), got low={low}, high={high}"
        )
    if value is None or math.isnan(value):
        raise ValueError(f"log_score: expected a number, got {describe(value)}")
    if value <= low:
        return 1.0
    if value >= high:
        return 0.0
    return (math.log(high) - math.log(value)) / (math.log(high) - math.log(low))


@dataclass(frozen=True)
class MetricBounds:
    """How the observation's metric slots normalise a result for one reward.

    Attributes:
        size_mb: ``(low, high)``: sizes at or below ``low`` show as 1, at or above
            ``high`` as 0, log-linear between (`log_score`).
        latency_ms: The same for latency.
        vocab_size: Vocabulary the perplexity score is measured against (None: the task's).
        quality: How the quality slot is scaled: ``"vocabulary"`` (`quality_score`:
            ``1 - ln(ppl) / ln(vocab_size)``, or the accuracy) or ``"baseline"``
            (`nas_env.rewards.target.normalized_quality`: ``1 - val_loss /
            baseline_loss``, the scale of the ``target`` reward).
    """

    size_mb: tuple[float, float] = DEFAULT_SIZE_BOUNDS_MB
    latency_ms: tuple[float, float] = DEFAULT_LATENCY_BOUNDS_MS
    vocab_size: int | None = None
    quality: str = "vocabulary"


def around(target: float | None, default: tuple[float, float]) -> tuple[float, float]:
    """Bounds centred (in log space) on ``target``, spanning three decades; ``default``
    when there is no target."""
    if target is None:
        return default
    return (target / TARGET_SPAN, target * TARGET_SPAN)


class Reward(abc.ABC):
    """A named, deterministic scoring rule for evaluated architectures.

    Subclasses set ``name`` (the registry name, see `register_reward`), implement `score`
    and take their parameters as keyword arguments of ``__init__``; `to_dict` records each
    ``__init__`` parameter read from the attribute of the same name, so that
    ``make_reward(reward.to_dict())`` rebuilds an equal reward.

    Attributes:
        name: Registry name, written by `to_dict` and read by `make_reward`.
        failure_penalty: What a failed evaluation (status in ``FAILURES``) costs; the
            default is 1.0. `step_reward` returns ``-failure_penalty`` for a failure.
    """

    name: ClassVar[str]
    failure_penalty: float = DEFAULT_FAILURE_PENALTY

    @abc.abstractmethod
    def score(self, result: EvalResult) -> float:
        """Return the score of a successful (``status == "ok"``) result; higher is better."""

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """The keyword parameters ``__init__`` accepts (what `to_dict` records)."""
        return tuple(
            p.name
            for p in inspect.signature(cls).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )

    def metric_bounds(self) -> MetricBounds:
        """How observations show a result's quality, size and latency under this reward.

        The default: `DEFAULT_SIZE_BOUNDS_MB`, `DEFAULT_LATENCY_BOUNDS_MS` and the reward's
        own ``vocab_size`` if it has one. Rewards with bounds or targets of their own
        override it, so that the agent sees the metrics on the scale it is rewarded on.
        """
        vocab = getattr(self, "vocab_size", None)
        return MetricBounds(vocab_size=int(vocab) if vocab is not None else None)

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., **parameters}``: plain data for run folders and records."""
        data: dict[str, Any] = {"name": self.name}
        for key in self.parameter_names():
            data[key] = getattr(self, key)
        return data


def check_ok(reward: Reward, result: EvalResult) -> None:
    """Raise ValueError unless ``result`` succeeded (rewards score successful results only)."""
    if not result.ok:
        raise ValueError(
            f"reward {reward.name!r} scores successful results only, got status "
            f"{result.status!r} ({result.message or 'no message'}); use step_reward, which "
            "charges failure_penalty for failures"
        )


def measured(reward: Reward, result: EvalResult, field: str) -> float:
    """Return the measurement ``field`` of ``result``; ValueError when it is missing or NaN."""
    value = getattr(result, field)
    if value is None or math.isnan(value):
        raise ValueError(
            f"reward {reward.name!r} needs {field} but the result of "
            f"{describe(result.genome_key)} has {describe(value)}"
        )
    return float(value)


def param_number(
    reward_name: str, field: str, value: Any, *, minimum: float = 0.0, strict: bool = False
) -> float:
    """Validate a numeric reward parameter: finite and ``>= minimum`` (``> minimum`` if strict).

    Raises:
        ConfigError: Naming the reward, the field, the bad value and what is allowed.
    """
    where = f"reward {reward_name}.{field}"
    number = expect_number(value, where, minimum, strict=strict, finite=True)
    assert number is not None
    return number


def param_vocab(reward_name: str, value: Any) -> int:
    """Validate a ``vocab_size`` parameter: an integer >= 2."""
    result = expect_int(value, f"reward {reward_name}.vocab_size", minimum=2)
    assert result is not None
    return result


def step_reward(
    reward: Reward, previous_score: float | None, result: EvalResult
) -> tuple[float, float | None]:
    """Return ``(step reward, new current score)`` for one edit-mode step.

    * ok result with score ``s``: ``(s - previous_score, s)``, or ``(s, s)`` when
      ``previous_score`` is None (nothing scored yet).
    * failed result (status in ``FAILURES``): ``(-reward.failure_penalty, previous_score)``:
      the episode keeps its previous score.

    The returns telescope: if the episode's first genome scored ``s_0`` (at reset) and the
    last successful one ``s_T``, the step rewards sum to ``s_T - s_0`` when no evaluation
    failed, and to ``s_T - s_0 - failure_penalty * n_failures`` in general.

    Raises:
        ValueError: ``result.status`` is neither ``ok`` nor one of ``FAILURES``.
    """
    if result.status in FAILURES:
        return -float(reward.failure_penalty), previous_score
    if not result.ok:
        raise ValueError(f"step_reward: unknown result status {describe(result.status)}")
    score = float(reward.score(result))
    if previous_score is None:
        return score, score
    return score - previous_score, score
