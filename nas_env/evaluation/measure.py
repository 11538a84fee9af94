"""Measurements shared by the training backends: validation, latency, peak memory."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models import TaskSpec
from models.common import example_input
from nas_env.evaluation.train_settings import STATISTICS
from nas_env.tasks.kinds import task_kind


@dataclass
class Validation:
    """Held-out scores.

    Attributes:
        loss: Mean cross-entropy over the scored items (nats per token for LM windows of
            equal length, per example for classifiers).
        loss_se: Standard error of that mean: the standard deviation of per-item losses
            (per window for LM, per example for classifiers) over the square root of their
            number (0 for a single item).
        accuracy: Classifiers: share of correct predictions, else None.
        macro_f1: Classifiers: unweighted mean of per-class F1 over the classes present in
            the scored set, else None.
        items: Scored windows (LM) or examples (classification).
        tokens: Scored target tokens (LM) or examples (classification).
    """

    loss: float
    loss_se: float
    accuracy: float | None
    macro_f1: float | None
    items: int
    tokens: int


def macro_f1(predicted: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """Unweighted mean F1 over the classes that occur in ``target``."""
    scores = []
    for label in range(num_classes):
        actual = target == label
        if not bool(actual.any()):
            continue
        guessed = predicted == label
        hits = int((actual & guessed).sum())
        denominator = int(actual.sum()) + int(guessed.sum())
        scores.append(2.0 * hits / denominator)
    return sum(scores) / len(scores)


@torch.inference_mode()
def score_heldout(
    model: nn.Module,
    task: Any,
    seq_len: int,
    batch_size: int,
    max_tokens: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
) -> Validation:
    """Score ``model`` on the task's held-out selection (never on training data).

    The selection is the task's own (`LMTask.scored_windows`, `ClsTask.scored_examples`):
    a fixed sample over all held-out documents (stratified by class for classifiers).

    Args:
        model: The trained model; its ``forward`` returns ``(logits, loss)``.
        task: An LM or classification task with ``eval_batches``.
        seq_len: The task's context length.
        batch_size: Sequences per forward pass.
        max_tokens: Held-out tokens to score (classification: examples x ``seq_len``).
        device: Where the model lives.
        autocast_dtype: Run under autocast with this dtype (None: full precision).

    Returns:
        Mean loss with its standard error, and accuracy and macro-F1 for classifiers.
    """
    was_training = model.training
    model.eval()
    kind = task_kind(task.kind)
    losses: list[torch.Tensor] = []
    predicted: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    tokens = 0
    for batch in task.eval_batches(batch_size, seq_len, max_tokens=max_tokens):
        batch = batch.to(device)
        with torch.autocast(
            device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
        ):
            logits, _ = kind.forward(model, batch)
        losses.append(kind.item_losses(logits, batch.targets).cpu())
        tokens += batch.targets.numel()
        if kind.predicts_classes:
            predicted.append(logits.argmax(dim=-1).cpu())
            targets.append(batch.targets.cpu())
    model.train(was_training)
    if not losses:
        raise ValueError(f"task {task!r} produced no held-out batches for seq_len={seq_len}")
    per_item = torch.cat(losses).double()
    count = per_item.numel()
    se = float(per_item.std(correction=1) / math.sqrt(count)) if count > 1 else 0.0
    accuracy = f1 = None
    if kind.predicts_classes:
        guess, truth = torch.cat(predicted), torch.cat(targets)
        accuracy = float((guess == truth).double().mean())
        f1 = macro_f1(guess, truth, int(task.num_classes))
    return Validation(float(per_item.mean()), se, accuracy, f1, count, tokens)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Latency:
    """Inference latency of one forward pass at batch 1.

    Attributes:
        median_ms: The figure: the median over the timed repeats (or the statistic the
            protocol names, `measure_latency`).
        spread_ms: Interquartile range of the repeats (a robust spread).
        threads: CPU threads torch used while timing (pinned for the measurement).
        repeats: Timed passes, after ``warmup`` untimed ones.
        warmup: Untimed passes first.
    """

    median_ms: float
    spread_ms: float
    threads: int
    repeats: int
    warmup: int


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(threads)`` (None: leave it); restore after."""
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


LATENCY_STATISTICS = STATISTICS
"""How the timed passes become one figure: their median, minimum or lower quartile."""


@torch.inference_mode()
def measure_latency(
    model: nn.Module,
    spec: TaskSpec,
    device: torch.device,
    warmup: int = 3,
    repeats: int = 15,
    threads: int | None = 1,
    warmup_seconds: float = 0.0,
    statistic: str = "median",
    batch: int = 1,
) -> Latency:
    """Time one forward pass of ``batch`` sequences (default 1) at the task's context.

    The input is a fixed pseudo-random token sequence, or series of frames (a private
    generator: the global
    RNG is not touched). On the CPU torch is pinned to ``threads`` for the measurement, so
    that the figure does not depend on how many cores the machine or the training used.
    Untimed passes run until both ``warmup`` passes and ``warmup_seconds`` are done; the
    ``repeats`` timed passes are summarised by ``statistic`` (`LATENCY_STATISTICS`; the
    figure is in ``Latency.median_ms`` whatever the statistic).
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(0)
    x = example_input(spec, batch, generator).to(device)
    pinned = threads if device.type == "cpu" else None
    with torch_threads(pinned) as used:
        start, done = time.perf_counter(), 0
        while done < warmup or time.perf_counter() - start < warmup_seconds:
            model(x)
            done += 1
        _sync(device)
        times = []
        for _ in range(repeats):
            begin = time.perf_counter()
            model(x)
            _sync(device)
            times.append((time.perf_counter() - begin) * 1000.0)
    model.train(was_training)
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    figure = {"median": statistics.median(times), "min": min(times), "q25": quartiles[0]}
    return Latency(figure[statistic], quartiles[2] - quartiles[0], used, repeats, warmup)


def _read_hwm_mb() -> float | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return None


@contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, float | None]]:
    """Measure peak memory of the enclosed block into ``out["peak_mb"]``.

    CUDA: the caching allocator's peak of allocated bytes on ``device``. CPU (Linux):
    the process' peak resident set, reset at entry through ``/proc/self/clear_refs``
    (where the kernel allows it, else the peak since process start).
    """
    out: dict[str, float | None] = {"peak_mb": None}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        with suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
    try:
        yield out
    finally:
        if device.type == "cuda":
            out["peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        else:
            out["peak_mb"] = _read_hwm_mb()
