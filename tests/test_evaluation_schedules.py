"""One-cycle and plateau schedules: PyTorch's curves, the plateau rule, and runs that
continue a checkpoint exactly."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from nas_env.evaluation import Evaluator
from nas_env.evaluation.checkpoints import CheckpointStore
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.schedules import (
    PLATEAU_FACTOR,
    PLATEAU_PATIENCE,
    PLATEAU_WINDOWS,
    Plateau,
    onecycle_lr,
    plateau_of,
)


@pytest.mark.parametrize(("total", "warmup"), [(100, 0), (37, 0), (1000, 0), (100, 20), (8, 3)])
def test_onecycle_is_pytorchs_one_cycle(total: int, warmup: int) -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    pct = warmup / total if warmup else 0.3
    reference = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=total, pct_start=pct, cycle_momentum=False
    )
    for step in range(total):
        assert onecycle_lr(0.1, step, total, warmup) == pytest.approx(
            optimizer.param_groups[0]["lr"], rel=1e-12
        )
        optimizer.step()
        if step < total - 1:
            reference.step()


def test_a_fidelity_with_onecycle_rises_then_falls_far_below_its_floor() -> None:
    level = Fidelity.resolve("fast", lr_schedule="onecycle")
    rates = [level.lr_at(s) for s in range(level.steps)]
    peak = max(range(level.steps), key=rates.__getitem__)
    assert rates[0] == pytest.approx(level.lr / 25)
    assert rates[peak] == pytest.approx(level.lr, rel=1e-3)
    assert rates[-1] < level.lr * level.min_lr_ratio / 100
    assert "lr_schedule=onecycle" in level.cache_token()


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1.0)


def test_the_plateau_rule_halves_the_rate_only_when_the_loss_stalls() -> None:
    total, warmup = 200, 20
    window = total // PLATEAU_WINDOWS
    falling = Plateau(_optimizer(), total, warmup)
    for step in range(total):
        falling.add(torch.tensor(10.0 - step * 0.01), step)
    assert falling.scale == 1.0
    flat = Plateau(_optimizer(), total, warmup)
    scales = []
    for step in range(total):
        flat.add(torch.tensor(3.0), step)
        scales.append(flat.scale)
    # the first window sets the best; each PLATEAU_PATIENCE + 1 stalled windows halve it
    first_cut = warmup + window * (PLATEAU_PATIENCE + 2) - 1
    assert scales[first_cut - 1] == 1.0 and scales[first_cut] == PLATEAU_FACTOR
    windows_after = (total - warmup) // window - 1
    assert scales[-1] == PLATEAU_FACTOR ** (windows_after // (PLATEAU_PATIENCE + 1))
    assert all(s == 1.0 for s in scales[: warmup + window])  # nothing during the warm-up


def test_the_plateau_state_lives_in_the_optimizer_and_continues_exactly() -> None:
    losses = [3.0] * 60 + [2.0] * 5 + [2.5] * 135
    whole = Plateau(_optimizer(), 200, 10)
    for step, loss in enumerate(losses):
        whole.add(torch.tensor(loss), step)
    first_optimizer = _optimizer()
    first = Plateau(first_optimizer, 200, 10)
    for step, loss in enumerate(losses[:77]):  # stop inside a window
        first.add(torch.tensor(loss), step)
    saved = first_optimizer.state_dict()
    resumed_optimizer = _optimizer()
    resumed_optimizer.load_state_dict(saved)
    resumed = Plateau(resumed_optimizer, 200, 10)
    for step, loss in enumerate(losses[77:], start=77):
        resumed.add(torch.tensor(loss), step)
    assert resumed.scale == whole.scale < 1.0
    assert plateau_of(Fidelity.resolve("fast"), _optimizer()) is None


@pytest.mark.parametrize("schedule", ["onecycle", "plateau"])
def test_continuing_a_rung_equals_training_at_once(schedule: str, tmp_path: Path) -> None:
    level = replace(Fidelity.resolve("tiny"), lr_schedule=schedule, warmup_steps=4)
    plain = Evaluator("tiny", fidelity=level, cache=False)
    genome = plain.space.default_genome()
    expected = plain.evaluate(genome)
    store = CheckpointStore(tmp_path / "ckpt")
    base = Evaluator("tiny", fidelity=level, cache=False)
    low = base.at_rung(13, store, None)
    top = base.at_rung(level.steps, store, low)
    low.evaluate(genome)
    continued = top.evaluate(genome)
    assert continued.resumed_from == 13
    assert continued.val_loss == expected.val_loss  # bit for bit on the CPU
    assert math.isfinite(expected.val_loss)
    # the schedule counts (plateau: against the constant rate it cuts)
    other = replace(level, lr_schedule="cosine" if schedule == "onecycle" else "constant")
    assert Evaluator("tiny", fidelity=other, cache=False).evaluate(genome).val_loss != (
        expected.val_loss
    )
