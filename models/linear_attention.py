"""Causal linear attention (Katharopoulos et al., 2020): the module and its analytic counts.

Softmax(q k^T) is replaced by the kernel ``phi(q) phi(k)^T`` with ``phi = elu + 1``, so
the output at step t is ``phi(q_t) S_t / phi(q_t) z_t`` with the running sums
``S_t = sum_{s<=t} phi(k_s) v_s^T`` and ``z_t = sum_{s<=t} phi(k_s)``: constant memory
and time per generated token (`LinearAttention.recurrent`). Training uses the equal
parallel form (a causally masked ``phi(Q) phi(K)^T``), which is faster at the contexts of
this package's spaces. Position encodings other than the embedding-level ones (rope,
alibi) act in attention layers only.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from models.config import BlockConfig

EPS = 1e-6
"""Added to the normaliser ``phi(q_t) z_t`` (positive: ``phi > 0``)."""


def split_heads(
    qkv: torch.Tensor, n_head: int, head_dim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fused q, k, v projections ``(B, T, 3 I)`` -> three ``(B, nh, T, hd)`` tensors."""
    B, T, _ = qkv.shape
    return tuple(  # type: ignore[return-value]
        t.view(B, T, n_head, head_dim).transpose(1, 2) for t in qkv.split(n_head * head_dim, dim=2)
    )


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """The kernel feature map ``elu(x) + 1`` (positive everywhere)."""
    return F.elu(x) + 1.0


class LinearAttention(nn.Module):
    """Multi-head causal linear attention: q, k, v projections, ``phi = elu + 1``, output
    projection (the same matrices as `models.attention.SelfAttention`)."""

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.inner = config.inner
        self.c_attn = nn.Linear(config.d_model, 3 * self.inner, bias=config.bias)
        self.c_proj = nn.Linear(self.inner, config.d_model, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def residual_projection(self) -> nn.Linear:
        """The matrix that writes into the residual stream."""
        return self.c_proj

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = split_heads(self.c_attn(x), self.n_head, self.head_dim)
        return feature_map(q), feature_map(k), v

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Maps ``(B, T, C) -> (B, T, C)`` in the parallel form (``key_mask`` must be None:
        a causal LM has no padding)."""
        B, T, _ = x.shape
        q, k, v = self._heads(x)
        scores = q @ k.transpose(-2, -1)  # (B, nh, T, hd) x (B, nh, hd, T) -> (B, nh, T, T)
        scores = scores.tril()  # step t sees s <= t only
        y = scores @ v  # (B, nh, T, T) x (B, nh, T, hd) -> (B, nh, T, hd)
        y = y / (scores.sum(dim=-1, keepdim=True) + EPS)  # phi(q_t) z_t
        y = y.transpose(1, 2).contiguous().view(B, T, self.inner)  # (B, nh, T, hd) -> (B, T, I)
        return self.resid_dropout(self.c_proj(y))

    @torch.no_grad()
    def recurrent(self, x: torch.Tensor) -> torch.Tensor:
        """The same map, one step at a time through the running sums ``S`` and ``z``
        (what generation would use); equal to `forward` up to rounding."""
        B, T, _ = x.shape
        q, k, v = self._heads(x)
        state = x.new_zeros(B, self.n_head, self.head_dim, self.head_dim)  # (B, nh, hd, hd)
        norm = x.new_zeros(B, self.n_head, self.head_dim)  # (B, nh, hd)
        out = []
        for t in range(T):
            state = state + k[:, :, t, :, None] * v[:, :, t, None, :]  # += phi(k_t) v_t^T
            norm = norm + k[:, :, t]
            num = (q[:, :, t, :, None] * state).sum(dim=-2)  # (B, nh, hd)
            den = (q[:, :, t] * norm).sum(dim=-1, keepdim=True) + EPS  # (B, nh, 1)
            out.append(num / den)
        y = torch.stack(out, dim=2).transpose(1, 2).reshape(B, T, self.inner)  # (B, T, I)
        return self.c_proj(y)


def linear_attention_params(config: BlockConfig) -> int:
    """Parameters of `LinearAttention`: q, k, v and output projections (and biases)."""
    return linear_attention_weights(config) + (
        3 * config.inner + config.d_model if config.bias else 0
    )


def linear_attention_weights(config: BlockConfig) -> int:
    """Weights `LinearAttention` multiplies per token: ``4 d I`` (``4 d^2`` unpruned)."""
    return 4 * config.d_model * config.inner


def linear_attention_context_flops(config: BlockConfig) -> int:
    """FLOPs per token of the parallel form's ``phi(Q) phi(K)^T`` and its product with V
    over the full context, as trained: ``2 * 2 * T * I`` (the recurrent form would spend
    ``2 * 2 * I * head_dim``)."""
    return 2 * 2 * config.seq_len * config.inner
