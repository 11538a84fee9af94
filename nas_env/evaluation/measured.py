"""The fields a trained candidate's result gets from its measurements.

`static_fields` are the figures counted from the config; `measured_fields` turns the
held-out scores, the latency and the training outcome into `EvalResult` fields;
`signal_scored` replaces the held-out loss by a level's signal (its estimate of the loss
after long training), keeping the measurement beside it.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from nas_env.evaluation.loop import TrainOutcome
from nas_env.evaluation.measure import Latency, Validation
from nas_env.evaluation.signals import Signal
from nas_env.genome import Genome
from nas_env.tasks.kinds import TaskKind


def static_fields(config: Any) -> dict[str, Any]:
    """Parameters, float32 size and FLOPs per token of the model ``config`` deploys (a
    Transformer's pruned model where its genes prune; else the model itself)."""
    from models import count_params, flops_per_token, size_mb
    from models.config import TransformerConfig
    from models.pruning import deployed_config

    shipped = deployed_config(config) if isinstance(config, TransformerConfig) else config
    return {
        "params": count_params(shipped),
        "size_mb": size_mb(shipped, dtype="float32"),
        "flops_per_token": flops_per_token(shipped),
    }


def measured_fields(
    scores: Validation,
    latency: Latency,
    outcome: TrainOutcome,
    kind: TaskKind,
    device: torch.device,
) -> dict[str, Any]:
    """Held-out quality, latency and training figures as `EvalResult` fields."""
    log_ppl = kind.loss_is_log_perplexity
    return {
        "val_loss": scores.loss,
        "val_loss_se": scores.loss_se,
        "scored_tokens": scores.tokens,
        "perplexity": float(torch.tensor(scores.loss).exp()) if log_ppl else None,
        "accuracy": scores.accuracy,
        "macro_f1": scores.macro_f1,
        "latency_ms": latency.median_ms,
        "latency_spread_ms": latency.spread_ms,
        "latency_threads": latency.threads if device.type == "cpu" else None,
        "latency_repeats": latency.repeats,
        "train_seconds": outcome.seconds,
        "train_tokens": outcome.tokens,
        "tokens_per_second": outcome.call_tokens / max(outcome.seconds, 1e-9),
        "steps": outcome.steps,
        "final_train_loss": outcome.final_loss,
        "mean_train_loss": outcome.mean_loss,
        "late_train_loss": outcome.late_loss,
        "resumed_from": outcome.start_step or None,
    }


def signal_scored(
    measured: dict[str, Any],
    static: dict[str, Any],
    genome: Genome,
    signal: Signal | None,
    kind: TaskKind,
) -> dict[str, Any]:
    """``measured`` with the signal's estimate as ``val_loss`` (and perplexity), the
    measurement kept in ``measured_val_loss``; unchanged without a signal."""
    if signal is None:
        return measured
    estimate = signal.estimate(dict(genome), {**measured, **static})
    return {
        **measured,
        "val_loss": estimate,
        "perplexity": math.exp(estimate) if kind.loss_is_log_perplexity else None,
        "measured_val_loss": measured["val_loss"],
        "signal": signal.tag,
    }
