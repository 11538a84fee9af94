"""Learning-rate schedules that are more than a fixed curve: one-cycle and plateau.

``onecycle`` is PyTorch's `torch.optim.lr_scheduler.OneCycleLR` with its defaults, as a
function of the step: the rate rises along a half cosine from ``lr / 25`` to ``lr`` over
the first ``pct_start`` of the schedule's steps, then falls along a half cosine to
``lr / 250,000``. Its rise is its warm-up: ``pct_start`` is the fidelity's warm-up share
(``warmup_steps / total``) when it has one, else PyTorch's 0.3.

``plateau`` follows `torch.optim.lr_scheduler.ReduceLROnPlateau` on the training loss
(no held-out data is seen while training): after the warm-up, the mean training loss of
each window of ``total / PLATEAU_WINDOWS`` steps is compared with the best window so far;
when it has not improved by ``PLATEAU_THRESHOLD`` (relative) for more than
``PLATEAU_PATIENCE`` windows in a row, the rate is multiplied by ``PLATEAU_FACTOR``. Its
state lives in the optimizer's first parameter group (plain numbers), so a checkpoint of
the optimizer continues it exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch

ONECYCLE_DIV = 25.0
ONECYCLE_FINAL_DIV = 1e4
ONECYCLE_PCT_START = 0.3
PLATEAU_WINDOWS = 20
PLATEAU_PATIENCE = 1
PLATEAU_FACTOR = 0.5
PLATEAU_THRESHOLD = 1e-3


def _anneal(start: float, end: float, pct: float) -> float:
    """Half-cosine from ``start`` (pct 0) to ``end`` (pct 1), as OneCycleLR anneals."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)


def onecycle_lr(lr: float, step: int, total: int, warmup_steps: int) -> float:
    """The one-cycle rate at optimizer step ``step`` (0-based) of ``total``."""
    pct_start = warmup_steps / total if warmup_steps > 0 else ONECYCLE_PCT_START
    initial = lr / ONECYCLE_DIV
    end_rise = pct_start * total - 1.0
    if step <= end_rise:
        return _anneal(initial, lr, step / end_rise if end_rise > 0 else 1.0)
    span = (total - 1.0) - end_rise
    pct = (step - end_rise) / span if span > 0 else 1.0
    return _anneal(lr, initial / ONECYCLE_FINAL_DIV, min(1.0, pct))


class Plateau:
    """The plateau rule of one training run (see the module docstring).

    Args:
        optimizer: The run's optimizer; the rule's state is kept in its first group.
        total_steps: Steps of the whole schedule (its windows are a share of them).
        warmup_steps: Steps before the first window.
    """

    def __init__(self, optimizer: Any, total_steps: int, warmup_steps: int) -> None:
        self.group = optimizer.param_groups[0]
        self.window = max(1, total_steps // PLATEAU_WINDOWS)
        self.warmup = warmup_steps
        for key, value in (("plateau_scale", 1.0), ("plateau_best", math.inf),
                           ("plateau_bad", 0), ("plateau_sum", 0.0)):  # fmt: skip
            self.group.setdefault(key, value)

    @property
    def scale(self) -> float:
        """What the schedule's rate is multiplied by now."""
        return float(self.group["plateau_scale"])

    def add(self, loss: torch.Tensor, step: int) -> None:
        """Count step ``step``'s training loss; decide at the end of each window."""
        if step < self.warmup:
            return
        group = self.group
        group["plateau_sum"] += float(loss.detach())
        if (step - self.warmup + 1) % self.window:
            return
        mean, group["plateau_sum"] = group["plateau_sum"] / self.window, 0.0
        if mean < group["plateau_best"] * (1.0 - PLATEAU_THRESHOLD):
            group["plateau_best"], group["plateau_bad"] = mean, 0
            return
        group["plateau_bad"] += 1
        if group["plateau_bad"] > PLATEAU_PATIENCE:
            group["plateau_scale"] *= PLATEAU_FACTOR
            group["plateau_bad"] = 0


def plateau_of(fidelity: Any, optimizer: Any) -> Plateau | None:
    """The plateau rule of a run at ``fidelity`` (None unless its schedule is ``plateau``)."""
    if fidelity.lr_schedule != "plateau":
        return None
    return Plateau(optimizer, fidelity.total_steps, fidelity.warmup_steps)
