"""Task kinds: what differs between language modelling, classification and any kind to come.

A task kind owns every rule that used to be decided by asking "is the metric
perplexity?": how a batch goes through the model, the per-item held-out loss, whether
predictions are classes (accuracy, macro-F1), and whether a loss is a log-perplexity. A
task (`nas_env.tasks.base.Task`) names its kind by ``kind`` (``"lm"``, ``"cls"``, ``"image"``,
``"series"``);
results name theirs by ``metric``. `task_kind` and `kind_of_metric` look them up.

Adding a kind: a `TaskKind` subclass and its entry in `TASK_KINDS` (this file), the
task class, and its ids in `nas_env.tasks.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas_env.errors import ConfigError


@dataclass(frozen=True)
class TaskKind:
    """The rules of one task kind.

    Attributes:
        name: The kind's id (``TaskSpec.kind``, ``task.kind``).
        metric: The quality metric its results report (``EvalResult.metric``).
        higher_is_better: Whether a larger ``metric`` is better.
        loss_is_log_perplexity: The held-out loss is a mean token cross-entropy, so
            ``exp(loss)`` is a perplexity.
        predicts_classes: Held-out predictions are class indices (accuracy, macro-F1).
        final_level: The fidelity level a search's final training uses by default (the
            CLI's ``--final-fidelity``): where the kind's candidates are judged.
        truth_level: The level the kind's cheaper levels are ranked against (long
            training); the final training's level where ``final_level``'s signal was not
            fitted on the space's family.
    """

    name: str
    metric: str
    higher_is_better: bool
    loss_is_log_perplexity: bool
    predicts_classes: bool
    final_level: str
    truth_level: str

    def forward(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, loss)`` of one batch (``model(inputs, targets)``)."""
        return model(batch.inputs, batch.targets)

    def item_losses(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One float32 cross-entropy per held-out item (window or example), shape ``(B,)``."""
        return F.cross_entropy(logits.float(), targets, reduction="none")


@dataclass(frozen=True)
class LanguageModelling(TaskKind):
    """Next-token prediction: logits ``(B, T, V)``, a loss per window (mean over tokens)."""

    def item_losses(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-window mean token cross-entropy: ``(B*T,) -> (B, T) -> (B,)``."""
        flat = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")
        return flat.view(targets.shape).mean(dim=1)


@dataclass(frozen=True)
class Classification(TaskKind):
    """Sequence (or image) classification: the padding mask goes in (None for images:
    every pixel is real), logits ``(B, C)`` come out."""

    def forward(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, loss)`` with the batch's padding mask."""
        return model(batch.inputs, batch.targets, mask=batch.mask)


TASK_KINDS: dict[str, TaskKind] = {
    # Re-ranked at `rerank`: 1,600 steps scored by a signal validated against long training.
    "lm": LanguageModelling(
        "lm", "perplexity", higher_is_better=False, loss_is_log_perplexity=True,
        predicts_classes=False, final_level="rerank",
        truth_level="long",
    ),
    "cls": Classification(
        "cls", "accuracy", higher_is_better=True, loss_is_log_perplexity=False,
        predicts_classes=True, final_level="long-cls",
        truth_level="long-cls",
    ),
    # Images of quantised intensities, one id per pixel row by row (`nas_env.tasks.digits`).
    "image": Classification(
        "image", "accuracy", higher_is_better=True, loss_is_log_perplexity=False,
        predicts_classes=True, final_level="long-img",
        truth_level="long-img",
    ),
    # Real-valued frames (B, T, C) with a mask of the real frames (`nas_env.tasks.series`).
    "series": Classification(
        "series", "accuracy", higher_is_better=True, loss_is_log_perplexity=False,
        predicts_classes=True, final_level="long-series",
        truth_level="long-series",
    ),
}  # fmt: skip
"""Every task kind by name."""


def task_kind(name: str) -> TaskKind:
    """The kind called ``name``.

    Raises:
        ConfigError: Not a known kind.
    """
    found = TASK_KINDS.get(name)
    if found is None:
        raise ConfigError(f"task kind {name!r} is unknown; allowed: {', '.join(TASK_KINDS)}")
    return found


def kind_of_metric(metric: str) -> TaskKind | None:
    """The first kind whose results report ``metric`` (None when no kind does); kinds
    that share a metric read it the same way (``cls`` and ``image``: accuracy)."""
    return next((k for k in TASK_KINDS.values() if k.metric == metric), None)


def metrics() -> tuple[str, ...]:
    """The metrics results may report, each once."""
    return tuple(dict.fromkeys(k.metric for k in TASK_KINDS.values()))
