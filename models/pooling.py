"""Sequence pooling for classifiers: ``(B, T, C) -> (B, C)`` respecting a padding mask."""

from __future__ import annotations

import torch
from torch import nn

from models.checks import check_choice

POOLINGS: tuple[str, ...] = ("mean", "first", "last", "attention")


def sanitize_mask(mask: torch.Tensor) -> torch.Tensor:
    """Treats rows without any real token as fully real, so pooling stays finite.

    Args:
        mask: Bool tensor ``(B, T)``, True marks real tokens.

    Returns:
        Bool tensor ``(B, T)``.
    """
    return mask | ~mask.any(dim=1, keepdim=True)


class Pooling(nn.Module):
    """Pools hidden states over time.

    Kinds: ``"mean"`` (mean over real tokens), ``"first"`` (first real token), ``"last"``
    (last real token) and ``"attention"`` (``alpha_t = softmax_t(q . h_t)`` with a learnable
    query ``q``, output ``sum_t alpha_t h_t``).

    Args:
        kind: One of :data:`POOLINGS`.
        dim: Width ``C`` of the hidden states.
    """

    def __init__(self, kind: str, dim: int) -> None:
        super().__init__()
        self.kind = check_choice(kind, "pooling kind", POOLINGS)
        self.query = nn.Parameter(torch.zeros(dim)) if kind == "attention" else None

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pools ``h``.

        Args:
            h: Hidden states ``(B, T, C)``.
            mask: Optional bool ``(B, T)``, True marks real tokens; None means all real.

        Returns:
            Pooled tensor ``(B, C)``.
        """
        B, T, _ = h.shape
        if mask is None:
            mask = torch.ones(B, T, dtype=torch.bool, device=h.device)
        mask = sanitize_mask(mask)
        if self.kind == "mean":
            weights = mask.to(h.dtype)  # (B, T)
            return (h * weights[..., None]).sum(1) / weights.sum(1, keepdim=True)
        if self.kind == "attention":
            assert self.query is not None
            scores = (h @ self.query).masked_fill(~mask, float("-inf"))  # (B, T)
            alpha = torch.softmax(scores, dim=1)
            return (alpha[..., None] * h).sum(1)  # (B, T, C) -> (B, C)
        pos = torch.arange(T, device=h.device).expand(B, T)
        if self.kind == "first":
            index = torch.where(mask, pos, T).amin(dim=1)  # (B,)
        else:
            index = torch.where(mask, pos, -1).amax(dim=1)  # (B,)
        return h[torch.arange(B, device=h.device), index]


def pooling_params(kind: str, dim: int) -> int:
    """Parameters of ``Pooling(kind, dim)``: the query of ``attention`` pooling, else none."""
    return dim if kind == "attention" else 0
