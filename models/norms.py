"""Normalisation layers."""

from __future__ import annotations

import torch
from torch import nn

from models.checks import check_choice

NORMS: tuple[str, ...] = ("layernorm", "rmsnorm", "groupnorm")
GROUPS = 4
"""Channel groups of `GroupNorm` (``models.config`` checks that d_model divides)."""


class RMSNorm(nn.Module):
    """Root-mean-square norm: ``x * rsqrt(mean(x**2) + eps) * weight``.

    No mean subtraction and no bias (Zhang & Sennrich, 2019).

    Args:
        dim: Size of the last dimension.
        eps: Added to the mean square for numerical stability.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalises ``x`` over its last dimension."""
        x_float = x.float()
        normed = x_float * torch.rsqrt(x_float.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.weight


class GroupNorm(nn.Module):
    """Per-token group norm: the channels split into ``groups`` groups, each normalised to
    zero mean and unit variance on its own (Wu & He, 2018, over one token's channels, as
    RetNet normalises its heads), then a per-channel gain and (with ``bias``) shift.

    With one group it is LayerNorm; with ``dim`` groups every channel is only shifted.

    Args:
        dim: Size of the last dimension (divisible by ``groups``).
        groups: Number of channel groups.
        bias: Whether there is a per-channel shift.
        eps: Added to each group's variance.
    """

    def __init__(self, dim: int, groups: int = GROUPS, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.groups, self.eps = groups, eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalises ``(..., C)`` per group of ``C / groups`` channels."""
        shape = x.shape
        grouped = x.float().reshape(*shape[:-1], self.groups, -1)  # (..., C) -> (..., G, C/G)
        mean = grouped.mean(dim=-1, keepdim=True)
        var = grouped.var(dim=-1, unbiased=False, keepdim=True)
        normed = ((grouped - mean) * torch.rsqrt(var + self.eps)).reshape(shape).type_as(x)
        normed = normed * self.weight
        return normed + self.bias if self.bias is not None else normed


def make_norm(kind: str, dim: int, bias: bool) -> nn.Module:
    """Builds a norm layer.

    Args:
        kind: ``"layernorm"``, ``"rmsnorm"`` or ``"groupnorm"``.
        dim: Size of the normalised (last) dimension.
        bias: Whether a LayerNorm or GroupNorm has a bias (RMSNorm never has one).

    Returns:
        The norm module.

    Raises:
        ModelConfigError: If ``kind`` is unknown.
    """
    kind = check_choice(kind, "norm kind", NORMS)
    if kind == "layernorm":
        return nn.LayerNorm(dim, bias=bias)
    if kind == "groupnorm":
        return GroupNorm(dim, GROUPS, bias)
    return RMSNorm(dim)


def norm_params(kind: str, dim: int, bias: bool) -> int:
    """Number of parameters of ``make_norm(kind, dim, bias)``."""
    return dim * 2 if kind in ("layernorm", "groupnorm") and bias else dim
