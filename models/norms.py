"""Normalisation layers."""

from __future__ import annotations

import torch
from torch import nn

from models.checks import check_choice

NORMS: tuple[str, ...] = ("layernorm", "rmsnorm")


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


def make_norm(kind: str, dim: int, bias: bool) -> nn.Module:
    """Builds a norm layer.

    Args:
        kind: ``"layernorm"`` or ``"rmsnorm"``.
        dim: Size of the normalised (last) dimension.
        bias: Whether a LayerNorm has a bias (RMSNorm never has one).

    Returns:
        The norm module.

    Raises:
        ModelConfigError: If ``kind`` is unknown.
    """
    if check_choice(kind, "norm kind", NORMS) == "layernorm":
        return nn.LayerNorm(dim, bias=bias)
    return RMSNorm(dim)


def norm_params(kind: str, dim: int, bias: bool) -> int:
    """Number of parameters of ``make_norm(kind, dim, bias)``."""
    return dim * 2 if kind == "layernorm" and bias else dim
