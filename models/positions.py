"""Position encodings: sinusoidal table, rotary embedding and ALiBi biases."""

from __future__ import annotations

import math

import torch

from models.errors import ModelConfigError


def sinusoidal_table(seq_len: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Fixed sinusoidal position table of Vaswani et al. (2017).

    Even channels hold ``sin(pos / base**(2i/dim))`` and odd channels the matching cosine.

    Args:
        seq_len: Number of positions.
        dim: Embedding width (odd widths are supported).
        base: Wavelength base.

    Returns:
        Tensor of shape ``(seq_len, dim)``.
    """
    pos = torch.arange(seq_len, dtype=torch.float32)[:, None]  # (T, 1)
    inv_freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (ceil(C/2),)
    angles = pos * inv_freq  # (T, ceil(C/2))
    table = torch.zeros(seq_len, dim)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return table


def rope_cache(
    seq_len: int, head_dim: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and sine tables for rotary position embedding (Su et al., 2021).

    Args:
        seq_len: Number of positions.
        head_dim: Width of one attention head; must be even.
        base: Wavelength base.

    Returns:
        ``(cos, sin)``, each of shape ``(seq_len, head_dim // 2)``.

    Raises:
        ModelConfigError: If ``head_dim`` is odd.
    """
    if head_dim % 2 != 0:
        raise ModelConfigError(f"rope head_dim={head_dim} is invalid; allowed: an even number")
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.arange(seq_len, dtype=torch.float32)[:, None] * inv_freq  # (T, hd/2)
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates channel pairs ``(i, i + hd/2)`` of ``x`` by position-dependent angles.

    After rotation, the dot product of a query at position ``m`` and a key at position
    ``n`` depends on the positions only through ``m - n``.

    Args:
        x: Tensor of shape ``(..., T, hd)``.
        cos: Cosine table of shape ``(T, hd/2)`` (first ``T`` rows of :func:`rope_cache`).
        sin: Sine table of shape ``(T, hd/2)``.

    Returns:
        Tensor with the same shape and dtype as ``x``.
    """
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # (..., T, hd) -> 2 x (..., T, hd/2)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def alibi_slopes(n_head: int) -> torch.Tensor:
    """Per-head ALiBi slopes (Press et al., 2022).

    For a power of two ``n`` the slopes are the geometric sequence
    ``2**(-8/n * (h + 1))``, ``h = 0..n-1``. Otherwise the slopes of the closest lower
    power of two ``p`` are followed by every other slope of ``2p`` until ``n`` are taken.

    Args:
        n_head: Number of attention heads.

    Returns:
        Tensor of shape ``(n_head,)``.
    """

    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 / n * (h + 1)) for h in range(n)]

    if math.log2(n_head).is_integer():
        slopes = power_of_two(n_head)
    else:
        closest = 2 ** math.floor(math.log2(n_head))
        slopes = power_of_two(closest) + power_of_two(2 * closest)[0::2][: n_head - closest]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(n_head: int, seq_len: int, causal: bool) -> torch.Tensor:
    """Additive ALiBi attention bias.

    Causal: ``-m_h * (i - j)`` for keys ``j <= i`` and ``-inf`` for future keys ``j > i``.
    Non-causal: the symmetric ``-m_h * |i - j|``.

    Args:
        n_head: Number of attention heads.
        seq_len: Number of positions.
        causal: Whether to build the causal variant (with the ``-inf`` future mask).

    Returns:
        Float tensor of shape ``(n_head, seq_len, seq_len)`` indexed ``[h, i, j]``.
    """
    pos = torch.arange(seq_len)
    distance = (pos[:, None] - pos[None, :]).float()  # (T, T): i - j
    bias = -alibi_slopes(n_head)[:, None, None] * distance.abs()  # (nh, T, T)
    if causal:
        future = pos[None, :] > pos[:, None]  # (T, T): j > i
        bias = bias.masked_fill(future, float("-inf"))
    return bias
