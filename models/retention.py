"""Multi-scale retention (Sun et al., 2023, RetNet): the module and its analytic counts.

A decayed linear attention: head h forgets at the fixed rate ``gamma_h = 1 - 2^(-5-h)``,
so step t reads ``sum_{s<=t} gamma_h^(t-s) (q_t . k_s) v_s / sqrt(head_dim)``. Trained in
the parallel form ``(Q K^T * D) V`` with the decay matrix ``D[t, s] = gamma^(t-s)`` for
``s <= t`` (0 above the diagonal); `Retention.recurrent` is the equal recurrent form
``S_t = gamma S_(t-1) + k_t^T v_t``. Each head's output is group-normalised (one group
per head), gated by ``silu(x W_g)`` and projected, as in RetNet. The decay carries the
order of the tokens; rope and alibi act in attention layers only.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from models.config import BlockConfig
from models.linear_attention import split_heads
from models.norms import GroupNorm


def decays(n_head: int) -> torch.Tensor:
    """RetNet's per-head decay rates ``1 - 2^(-5-h)``, shape ``(n_head,)``."""
    return 1.0 - torch.pow(2.0, -5.0 - torch.arange(n_head, dtype=torch.float32))


def decay_matrix(n_head: int, T: int) -> torch.Tensor:
    """``D[h, t, s] = gamma_h^(t-s)`` for ``s <= t``, else 0; shape ``(n_head, T, T)``."""
    steps = torch.arange(T, dtype=torch.float32)
    gap = steps[:, None] - steps[None, :]  # (T, T): t - s
    log_gamma = torch.log(decays(n_head))[:, None, None]  # (nh, 1, 1)
    decay = torch.exp(gap.clamp(min=0) * log_gamma)  # (nh, T, T)
    return decay.masked_fill(gap < 0, 0.0)


class Retention(nn.Module):
    """Multi-scale retention: q, k, v and gate projections, per-head decays, a group
    norm over the heads, the silu gate and the output projection."""

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.inner = config.inner
        self.c_attn = nn.Linear(config.d_model, 3 * self.inner, bias=config.bias)
        self.gate = nn.Linear(config.d_model, self.inner, bias=config.bias)
        self.c_proj = nn.Linear(self.inner, config.d_model, bias=config.bias)
        self.head_norm = GroupNorm(self.inner, config.n_head, config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.decay: torch.Tensor
        self.register_buffer("decay", decay_matrix(config.n_head, config.seq_len), persistent=False)

    def residual_projection(self) -> nn.Linear:
        """The matrix that writes into the residual stream."""
        return self.c_proj

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = split_heads(self.c_attn(x), self.n_head, self.head_dim)
        return q, k / math.sqrt(self.head_dim), v

    def _output(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        y = y.transpose(1, 2).reshape(B, T, self.inner)  # (B, nh, T, hd) -> (B, T, I)
        y = self.head_norm(y)  # one group per head
        return self.c_proj(F.silu(self.gate(x)) * y)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Maps ``(B, T, C) -> (B, T, C)`` in the parallel form (``key_mask`` must be None:
        a causal LM has no padding)."""
        T = x.shape[1]
        q, k, v = self._heads(x)
        scores = q @ k.transpose(-2, -1)  # (B, nh, T, hd) x (B, nh, hd, T) -> (B, nh, T, T)
        scores = scores * self.decay[:, :T, :T].to(scores.dtype)  # decayed, causal
        y = scores @ v  # (B, nh, T, T) x (B, nh, T, hd) -> (B, nh, T, hd)
        return self.resid_dropout(self._output(x, y))

    @torch.no_grad()
    def recurrent(self, x: torch.Tensor) -> torch.Tensor:
        """The same map through the recurrent state ``S_t = gamma S_(t-1) + k_t^T v_t``;
        equal to `forward` up to rounding."""
        B, T, _ = x.shape
        q, k, v = self._heads(x)
        gamma = decays(self.n_head).to(x.dtype)[None, :, None, None]  # (1, nh, 1, 1)
        state = x.new_zeros(B, self.n_head, self.head_dim, self.head_dim)  # (B, nh, hd, hd)
        out = []
        for t in range(T):
            state = gamma * state + k[:, :, t, :, None] * v[:, :, t, None, :]
            out.append((q[:, :, t, :, None] * state).sum(dim=-2))  # (B, nh, hd)
        return self._output(x, torch.stack(out, dim=2))


def retention_params(config: BlockConfig) -> int:
    """Parameters of `Retention`: q, k, v, gate and output projections, the group norm
    (gain, and with ``bias`` the biases and the norm's shift)."""
    inner, d = config.inner, config.d_model
    return retention_weights(config) + (4 * inner + d + 2 * inner if config.bias else inner)


def retention_weights(config: BlockConfig) -> int:
    """Weights `Retention` multiplies per token: ``5 d I`` (``5 d^2`` unpruned)."""
    return 5 * config.d_model * config.inner


def retention_context_flops(config: BlockConfig) -> int:
    """FLOPs per token of the parallel form's ``Q K^T`` and its product with V over the
    full context: ``2 * 2 * T * I``."""
    return 2 * 2 * config.seq_len * config.inner
