"""Helpers shared by the language-model and classifier wrappers of both families."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from models.pooling import sanitize_mask
from models.spec import TaskSpec

INIT_STD = 0.02


def init_linear_and_embedding(module: nn.Module) -> None:
    """GPT-2 style init: N(0, 0.02) for Linear / Embedding weights and zero Linear biases.

    Meant for ``nn.Module.apply``; other module types are left untouched.
    """
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)


def check_tokens(idx: torch.Tensor, task: TaskSpec) -> None:
    """Checks that ``idx`` is a ``(B, T)`` integer tensor with ``T <= task.seq_len``.

    Raises:
        ValueError: On a wrong rank, dtype or a sequence longer than ``task.seq_len``.
    """
    if idx.dim() != 2 or idx.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"idx has shape {tuple(idx.shape)} and dtype {idx.dtype}; "
            "allowed: an integer tensor of shape (B, T)"
        )
    if idx.shape[1] > task.seq_len:
        raise ValueError(
            f"input length T={idx.shape[1]} is invalid; allowed: T <= task.seq_len={task.seq_len}"
        )


def check_inputs(x: torch.Tensor, task: TaskSpec) -> None:
    """`check_tokens` for token tasks; for a ``series`` task, that ``x`` is a float
    ``(B, T, channels)`` tensor with ``T <= task.seq_len``.

    Raises:
        ValueError: On a wrong rank, dtype, channel count or length.
    """
    if not task.reads_frames:
        check_tokens(x, task)
        return
    if x.dim() != 3 or not x.is_floating_point() or x.shape[2] != task.channels:
        raise ValueError(
            f"series input has shape {tuple(x.shape)} and dtype {x.dtype}; allowed: a float "
            f"tensor of shape (B, T, {task.channels})"
        )
    if x.shape[1] > task.seq_len:
        raise ValueError(
            f"input length T={x.shape[1]} is invalid; allowed: T <= task.seq_len={task.seq_len}"
        )


def example_input(
    task: TaskSpec, batch: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A pseudo-random input of ``batch`` rows at the task's full length: token ids in
    ``[0, vocab_size)``, or standard-normal frames for a ``series`` task."""
    if task.reads_frames:
        shape = (batch, task.seq_len, int(task.channels))  # type: ignore[arg-type]
        return torch.randn(shape, generator=generator)
    return torch.randint(0, task.vocab_size, (batch, task.seq_len), generator=generator)


def resolve_mask(
    idx: torch.Tensor, mask: torch.Tensor | None, task: TaskSpec
) -> torch.Tensor | None:
    """Returns the padding mask a classifier should use (True marks real tokens).

    An explicit ``mask`` wins; otherwise ``idx != task.pad_id`` when the task has a pad id;
    otherwise None (every token is real). Rows without any real token become fully real.

    Raises:
        ValueError: If ``mask`` does not have the shape of ``idx`` (of its first two
            dimensions for series frames ``(B, T, C)``).
    """
    if mask is None:
        if task.pad_id is None:
            return None
        mask = idx != task.pad_id
    rows = idx.shape[:2]
    if mask.shape != rows:
        raise ValueError(
            f"mask has shape {tuple(mask.shape)}; allowed: {tuple(rows)}, the (B, T) of the "
            f"inputs {tuple(idx.shape)}"
        )
    return sanitize_mask(mask.bool())


def lm_loss(logits: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor | None:
    """Mean next-token cross-entropy over all positions (``ignore_index=-100``).

    Args:
        logits: ``(B, T, V)``.
        targets: ``(B, T)`` or None.
    """
    if targets is None:
        return None
    # (B, T, V) -> (B*T, V)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def cls_loss(logits: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor | None:
    """Mean cross-entropy of ``(B, num_classes)`` logits against ``(B,)`` labels."""
    if targets is None:
        return None
    return F.cross_entropy(logits, targets)


def unique_param_count(module: nn.Module) -> int:
    """Number of parameters, counting shared (tied) tensors once."""
    return sum(p.numel() for p in module.parameters())
