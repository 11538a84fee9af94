"""The ``target`` reward: quality order within the targets, a smooth penalty beyond."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest

from nas_env.errors import ConfigError
from nas_env.evaluation.result import EvalResult
from nas_env.genome import Genome
from nas_env.ranking import spearman
from nas_env.rewards import TargetReward, make_reward, normalized_quality
from nas_env.rewards.target import excess
from nas_env.space import SearchSpace


def result(
    loss: float = 3.0,
    baseline: float | None = 5.0,
    size_mb: float = 0.5,
    latency_ms: float = 1.0,
    metric: str = "perplexity",
) -> EvalResult:
    return EvalResult(
        status="ok",
        metric=metric,
        val_loss=loss,
        baseline_loss=baseline,
        perplexity=math.exp(loss) if metric == "perplexity" else None,
        accuracy=0.5 if metric == "accuracy" else None,
        size_mb=size_mb,
        latency_ms=latency_ms,
        params=1000,
    )


def test_normalized_quality_is_the_share_of_the_baseline_removed() -> None:
    assert normalized_quality(result(3.0, 5.0)) == pytest.approx(0.4)
    assert normalized_quality(result(6.0, 5.0)) == 0.0  # worse than the baseline
    assert normalized_quality(result(0.0, 5.0)) == 1.0
    # without a baseline, an LM falls back to the uniform predictor
    assert normalized_quality(result(3.0, None), vocab_size=512) == pytest.approx(
        1 - 3.0 / math.log(512)
    )
    with pytest.raises(ValueError, match="baseline_loss"):
        normalized_quality(result(0.5, None, metric="accuracy"))


def test_within_the_targets_the_score_is_the_quality() -> None:
    reward = TargetReward(target_size_mb=1.0, target_latency_ms=2.0)
    losses = [4.5, 3.1, 3.9, 2.8, 4.2]
    results = [result(loss, size_mb=0.2 + i / 10, latency_ms=1.5) for i, loss in enumerate(losses)]
    scores = [reward.score(r) for r in results]
    assert all(reward.within(r) for r in results)
    assert scores == [pytest.approx(normalized_quality(r)) for r in results]
    assert spearman(scores, [-loss for loss in losses]) == pytest.approx(1.0)


def test_the_penalty_is_smooth_at_the_target_and_a_power_law_far_beyond() -> None:
    width = math.log(2)
    assert excess(1.0, 1.0, width) == 0.0
    assert excess(0.5, 1.0, width) == 0.0
    # value and slope (in x = ln(v / T)) continuous at 0 and at the width
    eps = 1e-6
    assert excess(math.exp(eps), 1.0, width) == pytest.approx(eps**2 / (2 * width))
    left = excess(math.exp(width - eps), 1.0, width)
    right = excess(math.exp(width + eps), 1.0, width)
    assert right - left == pytest.approx(2 * eps, rel=1e-3)
    reward = TargetReward(target_size_mb=1.0, beta=1.0)
    base = reward.score(result(size_mb=1.0))
    sizes = [1.0, 1.5, 2.0, 4.0, 8.0, 16.0]
    scores = [reward.score(result(size_mb=s)) for s in sizes]
    assert scores == sorted(scores, reverse=True) and scores[0] == base
    assert scores[2] / base == pytest.approx(math.exp(-width / 2))
    # beyond the soft zone, doubling the size halves the score (beta = 1)
    assert scores[4] / scores[3] == pytest.approx(0.5)


def test_a_large_enough_quality_gain_buys_the_excess() -> None:
    reward = TargetReward(target_size_mb=1.0)
    small = result(loss=3.5, size_mb=0.9)
    big_slightly_better = result(loss=3.4, size_mb=2.0)
    big_much_better = result(loss=2.0, size_mb=2.0)
    assert reward.score(small) > reward.score(big_slightly_better)
    assert reward.score(big_much_better) > reward.score(small)


def test_without_targets_the_score_is_the_quality() -> None:
    reward = TargetReward()
    r = result(size_mb=500.0, latency_ms=900.0)
    assert reward.score(r) == pytest.approx(normalized_quality(r))
    assert reward.within(r)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"target_size_mb": 0}, "target_size_mb"),
        ({"target_latency_ms": -1}, "target_latency_ms"),
        ({"beta": -0.5}, "beta"),
        ({"width": 0}, "width"),
        ({"width": 50}, "width"),
    ],
)
def test_bad_parameters_are_refused(params: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=match):
        TargetReward(**params)


def test_round_trip_through_the_registry() -> None:
    reward = make_reward({"name": "target", "target_size_mb": 2.0, "beta": 0.5})
    assert make_reward(reward.to_dict()) == reward


class ConstantEvaluator:
    """Every genome gets the same successful result (instant)."""

    def __init__(self) -> None:
        self.space = SearchSpace.load("tiny")

    def evaluate(self, genome: Genome) -> EvalResult:
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            metric="perplexity",
            val_loss=3.0,
            baseline_loss=5.0,
            perplexity=math.exp(3.0),
            size_mb=2.0,
            latency_ms=1.0,
            params=10,
        )


def test_the_env_default_reward_aims_at_the_space_targets() -> None:
    env = gym.make("nas_env/TransformerLM-v2", evaluator=ConstantEvaluator())
    reward = env.unwrapped.reward_fn
    targets = SearchSpace.load("tiny").targets
    assert reward.name == "target"
    assert (reward.target_size_mb, reward.target_latency_ms) == (
        targets.size_mb,
        targets.latency_ms,
    )
    obs, info = env.reset(seed=0)
    assert info["score"] == pytest.approx(0.4 * math.exp(-math.log(2) / 2))  # twice the size
    slot = env.unwrapped.observation_names.index("metric.quality")
    assert obs[slot] == pytest.approx(0.4)  # the observation shows the reward's own quality
    explicit = gym.make(
        "nas_env/TransformerLM-v2",
        evaluator=ConstantEvaluator(),
        reward={"name": "target", "target_size_mb": 4.0},
    )
    assert explicit.unwrapped.reward_fn.target_size_mb == 4.0
    assert explicit.unwrapped.reward_fn.target_latency_ms == targets.latency_ms


def test_on_the_shipped_table_the_default_reward_orders_by_quality_within_the_targets() -> None:
    env = gym.make("nas_env/BenchLM-v2")
    base = env.unwrapped
    reward = base.reward_fn
    results = [base.evaluator.evaluate(g) for g in base.space.enumerate()]
    within = [r for r in results if reward.within(r)]
    assert 20 <= len(within) < len(results)  # the targets bind, and leave a real choice
    scores = [reward.score(r) for r in within]
    assert spearman(scores, [-r.val_loss for r in within]) >= 0.95
    # the best score overall is the best quality among the genomes within the targets,
    # unless a genome beyond them is better by more than its penalty
    best = max(results, key=reward.score)
    best_within = max(within, key=reward.score)
    assert best is best_within or normalized_quality(best) > normalized_quality(best_within)
