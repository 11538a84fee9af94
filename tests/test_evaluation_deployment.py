"""Deployment of a trained candidate: pruning with a recovery fine-tune, ONNX Runtime at the
genome's precision, and an evaluator that reports what is deployed."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from models import TaskSpec, build_model, count_params, model_config
from models.pruning import deployed_config
from nas_env.evaluation import Evaluator, Fidelity
from nas_env.evaluation.deployment import RECOVERY_LR, deploy, recovery_fidelity
from nas_env.evaluation.loop import TrainOutcome

LM = TaskSpec(kind="lm", vocab_size=64, seq_len=16)


def test_the_recovery_recipe_derives_from_the_fidelity() -> None:
    fast = Fidelity.resolve("fast")
    recovery = recovery_fidelity(fast)
    assert recovery.steps == max(10, round(fast.steps * 0.1))
    assert recovery.lr == pytest.approx(fast.lr * RECOVERY_LR)
    assert recovery.name == "fast-recovery" and recovery.batch_size == fast.batch_size


def test_pruning_fine_tunes_and_counts_the_recovery() -> None:
    config = model_config({"layers": 2, "d_model": 32, "ffn_ratio": 4, "prune": 0.5}, LM)
    model = build_model(config)
    trained: list[tuple[int, int]] = []

    def train(m: torch.nn.Module, fidelity: Fidelity) -> tuple[Any, torch.nn.Module]:
        trained.append((m.transformer.blocks[0].ffn.hidden, fidelity.steps))
        return TrainOutcome(steps=fidelity.steps, tokens=100, seconds=1.0, final_loss=1.0), m

    first = TrainOutcome(steps=200, tokens=1000, seconds=5.0, final_loss=2.0)
    shipped = deploy(model, config, first, Fidelity.resolve("fast"), train, onnx=False)
    assert trained == [(64, recovery_fidelity(Fidelity.resolve("fast")).steps)]
    assert shipped.runner is shipped.model and shipped.size_mb is None
    assert shipped.model.num_params() == count_params(deployed_config(config))
    assert shipped.outcome.steps == 200 + trained[0][1] and shipped.outcome.tokens == 1100
    assert shipped.outcome.seconds == pytest.approx(6.0)


def test_a_model_without_deployment_genes_is_itself() -> None:
    config = model_config({"layers": 1, "d_model": 16}, LM)
    model = build_model(config)
    outcome = TrainOutcome(steps=1, tokens=1, seconds=1.0, final_loss=1.0)
    shipped = deploy(model, config, outcome, Fidelity.resolve("tiny"), None, onnx=False)  # type: ignore[arg-type]
    assert shipped.model is model and shipped.runner is model and shipped.outcome is outcome


@pytest.mark.parametrize(("precision", "prune"), [("fp32", 0.0), ("int8", 0.4)])
def test_the_evaluator_reports_the_deployed_model(precision: str, prune: float) -> None:
    pytest.importorskip("onnxruntime")
    fidelity = Fidelity.resolve("tiny", steps=5, batch_size=4, eval_tokens=1024)
    evaluator = Evaluator("modern", fidelity=fidelity, cache=False)
    space = evaluator.space
    genome = space.default_genome().replace(precision=precision, prune=prune, d_model=32)
    result = evaluator.evaluate(genome)
    assert result.ok, result.message
    config = model_config({**genome, "family": "transformer"}, space.task)
    assert result.params == count_params(deployed_config(config))
    assert result.steps == 5 + (10 if prune else 0)
    assert result.latency_source == "measured" and result.latency_ms > 0
    fp32_bytes = count_params(config) * 4 / 2**20
    if precision == "fp32":
        assert result.size_mb > 0.9 * fp32_bytes  # the serialized graph, not a formula
    else:
        assert result.size_mb < 0.8 * fp32_bytes * (2 if config.tied_embeddings else 1)
