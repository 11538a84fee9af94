"""The ``target`` reward: the best quality within the space's size and latency targets.

The default reward of every registered id. Within the targets genomes are ordered by
quality alone; beyond a target a smooth penalty lets an agent trade quality for size or
latency (MnasNet-style, Tan et al., 2019). Quality is normalised by the task itself:
``1 - val_loss / baseline_loss``, the fraction of the task's context-free cross-entropy
(unigram tokens for LM, class priors for classification) that the model removes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from nas_env.errors import ConfigError
from nas_env.evaluation.result import EvalResult
from nas_env.rewards.base import (
    DEFAULT_FAILURE_PENALTY,
    DEFAULT_LATENCY_BOUNDS_MS,
    DEFAULT_SIZE_BOUNDS_MB,
    DEFAULT_VOCAB_SIZE,
    MetricBounds,
    Reward,
    around,
    check_ok,
    measured,
    param_number,
    param_vocab,
)
from nas_env.tasks.kinds import kind_of_metric

SOFT_ZONE = math.log(2.0)
"""Default width (in ``ln(value / target)``) of the quadratic part of the penalty: up to
twice the target the penalty grows gently, beyond it like a power law."""


def normalized_quality(result: EvalResult, vocab_size: int = DEFAULT_VOCAB_SIZE) -> float:
    """``1 - val_loss / baseline_loss`` clipped to [0, 1] (1 = a perfect model).

    0 is the task's context-free predictor (or worse), so the useful range of held-out
    losses spans the score whatever the vocabulary. A result without ``baseline_loss``
    (from an external evaluator) falls back, for language models, to the uniform
    predictor's ``ln(vocab_size)``, and one without ``val_loss`` uses ``ln(perplexity)``.

    Raises:
        ValueError: No ``val_loss``, or no baseline for a classification result.
    """
    loss = result.val_loss
    kind = kind_of_metric(result.metric)
    log_ppl = kind is not None and kind.loss_is_log_perplexity
    if (loss is None or math.isnan(loss)) and log_ppl and result.perplexity:
        loss = math.log(result.perplexity)  # a result that only reports its perplexity
    if loss is None or math.isnan(loss):
        raise ValueError(
            f"normalized_quality: result of {result.genome_key!r} with status "
            f"{result.status!r} has no val_loss"
        )
    baseline = result.baseline_loss
    if baseline is None and log_ppl:
        baseline = math.log(vocab_size)
    if baseline is None or not baseline > 0:
        raise ValueError(
            f"normalized_quality: result of {result.genome_key!r} has baseline_loss "
            f"{baseline!r}; allowed: a positive cross-entropy (evaluator version >= 4)"
        )
    return min(1.0, max(0.0, 1.0 - loss / baseline))


def excess(value: float, target: float, width: float) -> float:
    """The penalty exponent of ``value`` against ``target``: 0 at or under the target.

    With ``x = ln(value / target)``: ``x**2 / (2 * width)`` for ``0 < x <= width`` and
    ``x - width / 2`` beyond, so the penalty and its slope are continuous everywhere
    (smooth at the target, linear in ``x`` far from it).
    """
    x = math.log(max(value, 1e-12) / target)
    if x <= 0:
        return 0.0
    if x <= width:
        return x * x / (2.0 * width)
    return x - width / 2.0


@dataclass(frozen=True, kw_only=True)
class TargetReward(Reward):
    """``target``: quality within the targets, a smooth penalty beyond them.

    ``score = quality * exp(-beta * (excess(size_mb, target_size_mb) +
    excess(latency_ms, target_latency_ms)))`` with ``quality = normalized_quality``.
    Within both targets the score is the quality itself, so it orders those genomes
    exactly by quality. Beyond a target, far from it, the factor is
    ``(value / target) ** -beta`` up to a constant: with ``beta = 1`` a genome twice
    over its size target keeps ``exp(-ln(2) / 2) = 0.71`` of its quality, four times over
    0.35.

    Parameters (defaults): ``target_size_mb`` and ``target_latency_ms`` (None: the
    space's ``targets``, filled in by the env; a target still None drops its term),
    ``beta`` (1.0), ``width`` (ln 2), ``vocab_size`` (1024, only for results without a
    baseline), ``failure_penalty`` (1.0).
    """

    name: ClassVar[str] = "target"
    space_targets: ClassVar[bool] = True
    target_size_mb: float | None = None
    target_latency_ms: float | None = None
    beta: float = 1.0
    width: float = SOFT_ZONE
    vocab_size: int = DEFAULT_VOCAB_SIZE
    failure_penalty: float = DEFAULT_FAILURE_PENALTY

    def __post_init__(self) -> None:
        for field in ("target_size_mb", "target_latency_ms"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, param_number(self.name, field, value, strict=True))
        for field in ("beta", "failure_penalty"):
            object.__setattr__(self, field, param_number(self.name, field, getattr(self, field)))
        width = param_number(self.name, "width", self.width, strict=True)
        if width > 10:
            raise ConfigError(f"reward {self.name}.width: must be in (0, 10], got {width:g}")
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "vocab_size", param_vocab(self.name, self.vocab_size))

    def metric_bounds(self) -> MetricBounds:
        """Three decades around each target (the target shows as 0.5), and quality on the
        reward's own scale (`normalized_quality`)."""
        return MetricBounds(
            size_mb=around(self.target_size_mb, DEFAULT_SIZE_BOUNDS_MB),
            latency_ms=around(self.target_latency_ms, DEFAULT_LATENCY_BOUNDS_MS),
            vocab_size=self.vocab_size,
            quality="baseline",
        )

    def within(self, result: EvalResult) -> bool:
        """True when ``result`` is at or under every target that is set."""
        return self.penalty(result) == 0.0

    def penalty(self, result: EvalResult) -> float:
        """The summed `excess` of the result's size and latency over their targets."""
        total = 0.0
        if self.target_size_mb is not None:
            total += excess(measured(self, result, "size_mb"), self.target_size_mb, self.width)
        if self.target_latency_ms is not None:
            latency = measured(self, result, "latency_ms")
            total += excess(latency, self.target_latency_ms, self.width)
        return total

    def score(self, result: EvalResult) -> float:
        check_ok(self, result)
        return normalized_quality(result, self.vocab_size) * math.exp(
            -self.beta * self.penalty(result)
        )
