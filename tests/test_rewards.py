"""Rewards: formulas against hand-computed numbers, validation errors and step_reward."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from nas_env.errors import ConfigError
from nas_env.evaluation.result import FAILURES, EvalResult
from nas_env.rewards import (
    REWARDS,
    BudgetReward,
    MnasNetReward,
    QualityReward,
    Reward,
    WeightedReward,
    log_score,
    make_reward,
    quality_score,
    step_reward,
)


def lm(
    perplexity: float = 32.0,
    params: int = 1000,
    size_mb: float | None = 0.5,
    latency_ms: float | None = 1.0,
) -> EvalResult:
    """A successful language-model result (quality 0.5 at perplexity 32, vocabulary 1024)."""
    return EvalResult(
        status="ok",
        metric="perplexity",
        perplexity=perplexity,
        params=params,
        size_mb=size_mb,
        latency_ms=latency_ms,
    )


def cls_result(accuracy: float = 0.8, size_mb: float = 1.0, latency_ms: float = 5.0) -> EvalResult:
    return EvalResult(
        status="ok",
        metric="accuracy",
        accuracy=accuracy,
        params=10,
        size_mb=size_mb,
        latency_ms=latency_ms,
    )


def failed(status: str = "oom") -> EvalResult:
    return EvalResult(status=status, message="boom", metric="perplexity")  # type: ignore[arg-type]


# --- quality_score and log_score ----------------------------------------------------------


def test_quality_score_accuracy_is_the_accuracy() -> None:
    assert quality_score(cls_result(accuracy=0.8)) == pytest.approx(0.8)
    assert quality_score(cls_result(accuracy=0.0)) == 0.0
    assert quality_score(cls_result(accuracy=1.0), vocab_size=2) == 1.0


@pytest.mark.parametrize(
    ("perplexity", "vocab", "expected"),
    [
        (32.0, 1024, 0.5),  # 1 - ln 32 / ln 1024 = 1 - 5/10
        (2.0, 1024, 0.9),
        (10.0, 100, 0.5),
        (1.0, 1024, 1.0),  # perfect model
        (0.5, 1024, 1.0),  # clipped at 1
        (1024.0, 1024, 0.0),  # uniform guessing
        (5000.0, 1024, 0.0),  # clipped at 0
        (math.inf, 1024, 0.0),
    ],
)
def test_quality_score_perplexity(perplexity: float, vocab: int, expected: float) -> None:
    assert quality_score(lm(perplexity), vocab) == pytest.approx(expected)


def test_quality_score_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="bleu"):
        quality_score(EvalResult(status="ok", metric="bleu"))
    with pytest.raises(ValueError, match="perplexity"):
        quality_score(EvalResult(status="ok", metric="perplexity"))
    with pytest.raises(ValueError, match=r"vocab_size: must be >= 2, got 1"):
        quality_score(lm(), vocab_size=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.01, 1.0),  # below low
        (0.1, 1.0),  # at low
        (1.0, 0.5),  # log midpoint sqrt(0.1 * 10)
        (10.0, 0.0),  # at high
        (1000.0, 0.0),  # above high
        (0.0, 1.0),
        (10 ** (-0.5), 0.75),  # a quarter of the way in log space
    ],
)
def test_log_score(value: float, expected: float) -> None:
    assert log_score(value, 0.1, 10.0) == pytest.approx(expected)


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (2.0, 1.0), (1.0, 1.0), (-1.0, 1.0)])
def test_log_score_bad_bounds(low: float, high: float) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"low={low}, high={high}")):
        log_score(0.5, low, high)


# --- built-in formulas ------------------------------------------------------------------


def test_quality_reward() -> None:
    assert QualityReward().score(lm(32.0)) == pytest.approx(0.5)
    assert QualityReward(vocab_size=100).score(lm(10.0)) == pytest.approx(0.5)
    assert QualityReward().score(cls_result(0.7)) == pytest.approx(0.7)


def test_weighted_defaults_by_hand() -> None:
    reward = WeightedReward()
    assert (reward.w_quality, reward.w_size, reward.w_latency) == (0.5, 0.3, 0.2)
    # quality 0.5; size 0.5 MiB in [0.05, 50]: ln(100)/ln(1000) = 2/3;
    # latency 1 ms in [0.1, 100]: ln(100)/ln(1000) = 2/3.
    expected = 0.5 * 0.5 + 0.3 * 2 / 3 + 0.2 * 2 / 3
    assert reward.score(lm(32.0, size_mb=0.5, latency_ms=1.0)) == pytest.approx(expected)


def test_weighted_clip_boundaries() -> None:
    reward = WeightedReward()
    best = lm(1.0, size_mb=0.05, latency_ms=0.1)
    assert reward.score(best) == pytest.approx(1.0)
    worst = lm(2000.0, size_mb=50.0, latency_ms=100.0)
    assert reward.score(worst) == pytest.approx(0.0)
    assert reward.score(lm(2000.0, size_mb=500.0, latency_ms=1e4)) == 0.0


def test_weighted_custom_weights_and_bounds_used_as_given() -> None:
    reward = WeightedReward(
        w_quality=1.0, w_size=1.0, w_latency=0.0, size_low_mb=1.0, size_high_mb=100.0
    )
    # Not normalised: 1 * 0.8 + 1 * ln(100/10)/ln(100) = 0.8 + 0.5.
    assert reward.score(cls_result(0.8, size_mb=10.0)) == pytest.approx(1.3)
    # A zero weight does not need its measurement.
    assert reward.score(lm(32.0, size_mb=1.0, latency_ms=None)) == pytest.approx(1.5)


def test_weighted_missing_measurement_is_named() -> None:
    with pytest.raises(ValueError, match="latency_ms"):
        WeightedReward().score(lm(latency_ms=None))


def test_mnasnet_soft_by_hand() -> None:
    reward = MnasNetReward()
    assert (reward.target_latency_ms, reward.target_size_mb, reward.mode) == (5.0, 1.0, "soft")
    # Below both targets: rewarded a little.
    below = lm(32.0, latency_ms=2.5, size_mb=0.5)
    assert reward.score(below) == pytest.approx(0.5 * 0.5**-0.07 * 0.5**-0.07)
    assert reward.score(below) > 0.5
    # Above both targets: penalised a little.
    above = lm(32.0, latency_ms=10.0, size_mb=4.0)
    assert reward.score(above) == pytest.approx(0.5 * 2.0**-0.07 * 4.0**-0.07)
    # At the targets: exactly the quality.
    assert reward.score(lm(32.0, latency_ms=5.0, size_mb=1.0)) == pytest.approx(0.5)


def test_mnasnet_hard_by_hand() -> None:
    reward = MnasNetReward(mode="hard")
    # Below (or at) the targets: alpha = 0, no effect.
    assert reward.score(lm(32.0, latency_ms=2.5, size_mb=0.5)) == pytest.approx(0.5)
    assert reward.score(lm(32.0, latency_ms=5.0, size_mb=1.0)) == pytest.approx(0.5)
    # Above: beta = -1, i.e. target / value.
    assert reward.score(lm(32.0, latency_ms=10.0, size_mb=0.5)) == pytest.approx(0.25)
    assert reward.score(lm(32.0, latency_ms=10.0, size_mb=4.0)) == pytest.approx(0.0625)


def test_mnasnet_targets_and_none() -> None:
    reward = MnasNetReward(target_latency_ms=20.0, target_size_mb=None, mode="hard")
    assert reward.score(lm(32.0, latency_ms=40.0, size_mb=None)) == pytest.approx(0.25)
    assert math.isfinite(MnasNetReward().score(lm(32.0, latency_ms=0.0)))


def test_budget_inside_and_outside() -> None:
    reward = BudgetReward(max_params=1000, max_size_mb=1.0)
    assert reward.score(lm(32.0, params=1000, size_mb=1.0)) == pytest.approx(0.5)
    assert reward.score(lm(32.0, params=1001, size_mb=1.0)) == pytest.approx(-0.5)
    assert reward.score(lm(32.0, params=10, size_mb=1.5)) == pytest.approx(-0.5)
    assert BudgetReward(max_params=10, over_penalty=0.2).score(lm(32.0)) == pytest.approx(0.3)
    # No size limit: size not checked (nor needed).
    assert BudgetReward(max_params=1000).score(lm(32.0, size_mb=None)) == pytest.approx(0.5)
    assert BudgetReward().score(cls_result(0.9)) == pytest.approx(0.9)


def test_over_budget_never_beats_within_budget() -> None:
    reward = BudgetReward(max_params=100)
    best_over = reward.score(lm(1.0, params=101))
    worst_within = reward.score(lm(5000.0, params=100))
    assert best_over <= worst_within


@pytest.mark.parametrize("reward", [make_reward(name) for name in REWARDS])
def test_score_of_failure_raises(reward: Reward) -> None:
    with pytest.raises(ValueError, match="oom"):
        reward.score(failed("oom"))


@pytest.mark.parametrize("name", ["quality", "weighted", "mnasnet", "budget"])
def test_scores_are_deterministic(name: str) -> None:
    result = lm(50.0, size_mb=3.0, latency_ms=7.0)
    assert make_reward(name).score(result) == make_reward(name).score(result)


# --- validation errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "needles"),
    [
        ("weighted", {"w_size": -1}, ["w_size", "-1", ">= 0"]),
        ("weighted", {"w_quality": "high"}, ["w_quality", "high", "number"]),
        ("weighted", {"w_quality": 0, "w_size": 0, "w_latency": 0}, ["all 0", "> 0"]),
        ("weighted", {"size_low_mb": 0}, ["size_low_mb", "0", "> 0"]),
        ("weighted", {"latency_high_ms": 0.05}, ["latency_high_ms", "0.05", "> latency_low_ms"]),
        ("weighted", {"w_latency": math.nan}, ["w_latency", "NaN", "finite"]),
        ("mnasnet", {"target_latency_ms": 0}, ["target_latency_ms", "0", "> 0"]),
        ("mnasnet", {"target_size_mb": -2.0}, ["target_size_mb", "-2.0", "> 0"]),
        ("mnasnet", {"mode": "sotf"}, ["mode", "sotf", "soft", "hard", "did you mean"]),
        ("budget", {"max_params": 0}, ["max_params", "0", ">= 1"]),
        ("budget", {"max_params": 1.5}, ["max_params", "1.5", "integer"]),
        ("budget", {"over_penalty": -0.5}, ["over_penalty", "-0.5", ">= 0"]),
        ("quality", {"vocab_size": 1}, ["vocab_size", "1", ">= 2"]),
        ("quality", {"failure_penalty": -1}, ["failure_penalty", "-1", ">= 0"]),
    ],
)
def test_bad_values_name_field_value_and_allowed(
    name: str, params: dict[str, Any], needles: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        make_reward({"name": name, **params})
    for needle in needles:
        assert needle in str(info.value)


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ConfigError, match="w_size"):
        WeightedReward(w_size=-0.1)


def test_unknown_name_lists_registered_with_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        make_reward("wieghted")
    message = str(info.value)
    assert "wieghted" in message
    assert "did you mean 'weighted'" in message
    for name in ("quality", "weighted", "mnasnet", "budget"):
        assert name in message


def test_unknown_parameter_lists_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        make_reward({"name": "weighted", "w_sise": 0.5})
    message = str(info.value)
    assert "w_sise" in message
    assert "did you mean 'w_size'" in message
    assert "latency_high_ms" in message
    with pytest.raises(ConfigError, match="target_ms"):
        make_reward("mnasnet", target_ms=3.0)


@pytest.mark.parametrize(("spec", "needle"), [(42, "42"), ({"w_size": 1.0}, "name"), ({1: 2}, "1")])
def test_bad_spec(spec: Any, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        make_reward(spec)


# --- step_reward ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quality", "weighted", "mnasnet", "budget"])
def test_step_reward_telescopes(name: str) -> None:
    reward = make_reward(name, **({"max_params": 3000} if name == "budget" else {}))
    results = [
        lm(100.0, params=1000, size_mb=2.0, latency_ms=3.0),
        lm(50.0, params=2000, size_mb=4.0, latency_ms=8.0),
        lm(80.0, params=4000, size_mb=0.3, latency_ms=0.5),
        lm(20.0, params=1500, size_mb=1.0, latency_ms=2.0),
    ]
    first, current = step_reward(reward, None, results[0])
    assert first == current == pytest.approx(reward.score(results[0]))
    total = 0.0
    for result in results[1:]:
        step, current = step_reward(reward, current, result)
        total += step
    expected = reward.score(results[-1]) - reward.score(results[0])
    assert total == pytest.approx(expected)
    assert current == pytest.approx(reward.score(results[-1]))


@pytest.mark.parametrize("status", FAILURES)
def test_step_reward_failure_keeps_previous(status: str) -> None:
    reward = WeightedReward(failure_penalty=0.25)
    assert step_reward(reward, 0.4, failed(status)) == (-0.25, 0.4)
    assert step_reward(reward, None, failed(status)) == (-0.25, None)
    assert step_reward(QualityReward(), 0.4, failed(status)) == (-1.0, 0.4)


def test_step_reward_with_failures_sums_to_difference_minus_penalties() -> None:
    reward = QualityReward(failure_penalty=0.5)
    sequence = [lm(100.0), failed("oom"), lm(32.0), failed("diverged"), failed(), lm(10.0)]
    _, current = step_reward(reward, None, sequence[0])
    total = 0.0
    for result in sequence[1:]:
        step, current = step_reward(reward, current, result)
        total += step
    expected = reward.score(lm(10.0)) - reward.score(lm(100.0)) - 3 * 0.5
    assert total == pytest.approx(expected)


def test_step_reward_ok_values() -> None:
    reward = QualityReward()
    assert step_reward(reward, 0.2, lm(32.0)) == (pytest.approx(0.3), pytest.approx(0.5))
    assert step_reward(reward, None, lm(32.0)) == (pytest.approx(0.5), pytest.approx(0.5))


def test_default_failure_penalty_is_one() -> None:
    assert Reward.failure_penalty == 1.0
    for cls in REWARDS.values():
        assert cls().failure_penalty == 1.0


def test_metric_bounds_follow_each_rewards_own_scale() -> None:
    from nas_env.rewards import MetricBounds

    assert make_reward("quality").metric_bounds() == MetricBounds(vocab_size=1024)
    weighted = make_reward({"name": "weighted", "size_low_mb": 1, "size_high_mb": 8})
    assert weighted.metric_bounds().size_mb == (1.0, 8.0)
    assert weighted.metric_bounds().latency_ms == MetricBounds().latency_ms
    mnasnet = make_reward({"name": "mnasnet", "target_size_mb": 2.0, "target_latency_ms": None})
    low, high = mnasnet.metric_bounds().size_mb
    assert low * high == pytest.approx(4.0) and high / low == pytest.approx(1000.0)
    assert mnasnet.metric_bounds().latency_ms == MetricBounds().latency_ms
    budget = make_reward({"name": "budget", "max_size_mb": 3.0})
    assert budget.metric_bounds().size_mb[1] == 3.0
    assert make_reward("budget").metric_bounds().size_mb == MetricBounds().size_mb
