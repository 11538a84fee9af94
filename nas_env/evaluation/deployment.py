"""What a trained candidate is scored as: the model it deploys.

A genome's deployment genes (`models.config.TransformerConfig`: ``prune`` and
``precision``) turn the trained model into the deployed one, and everything the reward sees
is measured on that: held-out loss, size, latency.

* ``prune`` > 0: the FFN channels and attention heads of least importance are removed,
  the model rebuilt dense (`models.pruning.prune_model`), then fine-tuned to recover for
  `RECOVERY_SHARE` of the steps the model trained at `RECOVERY_LR` of its learning rate
  (its time and tokens are added to the candidate's training figures).
* A space with a ``precision`` gene deploys every candidate, fp32 ones included, on ONNX
  Runtime (`nas_env.compression`), so that all its latencies come from one runtime; the
  size is then the bytes of the deployed file. The deployment is the CPU's (ONNX Runtime's
  CPU provider) whatever device trained the model. Without that gene the model runs in PyTorch,
  as it trained.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from models import TransformerConfig
from models.pruning import prune_model
from nas_env.evaluation.fidelity import Fidelity

RECOVERY_SHARE = 0.1
"""Recovery fine-tune after pruning: this share of the steps the model trained (>= 10)."""
RECOVERY_LR = 0.3
"""... at this multiple of the fidelity's learning rate (warm-up a tenth, then cosine)."""

Train = Callable[[nn.Module, Fidelity], tuple[Any, nn.Module]]
"""Train a model for a fidelity's steps: ``(outcome, trained model)``."""


@dataclass
class Deployed:
    """A trained candidate as deployed.

    Attributes:
        model: The PyTorch model after pruning (what a run keeps and saves).
        runner: What is scored and timed: ``model``, or its ONNX Runtime session.
        outcome: The training outcome, recovery fine-tune included.
        size_mb: The deployed file's size in MiB (None: the analytic fp32 size stands).
    """

    model: nn.Module
    runner: nn.Module
    outcome: Any
    size_mb: float | None


def recovery_fidelity(fidelity: Fidelity) -> Fidelity:
    """The recovery fine-tune's recipe, derived from the candidate's fidelity."""
    steps = max(10, round(fidelity.steps * RECOVERY_SHARE))
    return dataclasses.replace(
        fidelity,
        name=f"{fidelity.name}-recovery",
        steps=steps,
        schedule_steps=None,
        warmup_steps=max(1, steps // 10),
        lr=fidelity.lr * RECOVERY_LR,
    )


def _add(outcome: Any, more: Any) -> Any:
    """``outcome`` with the recovery's time, tokens and steps added."""
    fields = {"seconds": outcome.seconds + more.seconds, "tokens": outcome.tokens + more.tokens}
    return dataclasses.replace(outcome, steps=outcome.steps + more.steps, **fields)


def deploy(
    model: nn.Module,
    config: Any,
    outcome: Any,
    fidelity: Fidelity,
    train: Train,
    onnx: bool,
    threads: int = 1,
) -> Deployed:
    """Prune (and recover) and deploy the trained ``model`` of ``config``.

    Args:
        model: The trained model.
        config: Its config (deployment genes apply to transformers only).
        outcome: Its training outcome.
        fidelity: The fidelity it trained at (the recovery recipe derives from it).
        train: Trains a model for a fidelity (the evaluator's backend).
        onnx: Deploy on ONNX Runtime at ``config.precision``.
        threads: ONNX Runtime's intra-op threads (the latency protocol's).
    """
    if not isinstance(config, TransformerConfig):
        return Deployed(model, model, outcome, None)
    if config.prune > 0:
        model = prune_model(model, config.prune)
        more, model = train(model, recovery_fidelity(fidelity))
        outcome = _add(outcome, more)
    if not onnx:
        return Deployed(model, model, outcome, None)
    from nas_env.compression import OrtModel, compress_to_onnx

    folder = tempfile.mkdtemp(prefix="nas-deploy-")
    runner = OrtModel(compress_to_onnx(model.cpu(), config.task, config.precision, folder), threads)
    return Deployed(model, runner, outcome, runner.size_bytes / 2**20)
