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


def resolve_mask(
    idx: torch.Tensor, mask: torch.Tensor | None, task: TaskSpec
) -> torch.Tensor | None:
    """Returns the padding mask a classifier should use (True marks real tokens).

    An explicit ``mask`` wins; otherwise ``idx != task.pad_id`` when the task has a pad id;
    otherwise None (every token is real). Rows without any real token become fully real.

    Raises:
        ValueError: If ``mask`` does not have the shape of ``idx``.
    """
    if mask is None:
        if task.pad_id is None:
            return None
        mask = idx != task.pad_id
    if mask.shape != idx.shape:
        raise ValueError(
            f"mask has shape {tuple(mask.shape)}; allowed: the shape of idx {tuple(idx.shape)}"
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
