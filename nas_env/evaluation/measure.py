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


@dataclass
class Validation:
    """Held-out scores: mean loss, and accuracy for classifiers."""

    loss: float
    accuracy: float | None
    items: int


@torch.inference_mode()
def validate(
    model: nn.Module,
    task: Any,
    seq_len: int,
    batch_size: int,
    max_tokens: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
) -> Validation:
    """Score ``model`` on the task's held-out split (never on training data).

    Args:
        model: The trained model; its ``forward`` returns ``(logits, loss)``.
        task: An LM or classification task with ``eval_batches``.
        seq_len: Sequence length the model was trained at.
        batch_size: Sequences per forward pass.
        max_tokens: Held-out tokens to score (classification: examples x ``seq_len``).
        device: Where the model lives.
        autocast_dtype: Run under autocast with this dtype (None: full precision).

    Returns:
        Token-weighted mean loss (LM) or example-weighted loss and accuracy (cls).
    """
    was_training = model.training
    model.eval()
    total_loss = 0.0
    total_items = 0
    correct = 0
    is_lm = task.metric == "perplexity"
    for batch in task.eval_batches(batch_size, seq_len, max_tokens=max_tokens):
        batch = batch.to(device)
        with torch.autocast(
            device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
        ):
            if is_lm:
                logits, loss = model(batch.inputs, batch.targets)
            else:
                logits, loss = model(batch.inputs, batch.targets, mask=batch.mask)
        items = batch.targets.numel()
        total_loss += float(loss) * items
        total_items += items
        if not is_lm:
            correct += int((logits.argmax(dim=-1) == batch.targets).sum())
    model.train(was_training)
    if total_items == 0:
        raise ValueError(f"task {task!r} produced no held-out batches for seq_len={seq_len}")
    accuracy = None if is_lm else correct / total_items
    return Validation(total_loss / total_items, accuracy, total_items)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure_latency(
    model: nn.Module, spec: TaskSpec, device: torch.device, warmup: int = 3, repeats: int = 15
) -> float:
    """Median milliseconds of one forward pass at batch 1 and the task's sequence length."""
    was_training = model.training
    model.eval()
    x = torch.randint(0, spec.vocab_size, (1, spec.seq_len), device=device)
    for _ in range(warmup):
        model(x)
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        _sync(device)
        times.append((time.perf_counter() - start) * 1000.0)
    model.train(was_training)
    return statistics.median(times)


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


def is_finite(value: float) -> bool:
    """True for a finite float (not NaN, not inf)."""
    return math.isfinite(value)
