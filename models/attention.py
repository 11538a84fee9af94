"""Self-attention with multi-head, grouped-query or multi-query heads: the module and its
analytic counts."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from models.config import BlockConfig
from models.positions import alibi_bias, apply_rope, rope_cache


class SelfAttention(nn.Module):
    """Self-attention through ``F.scaled_dot_product_attention``.

    ``n_head`` query heads share ``n_kv_head`` key/value heads, each serving
    ``n_head / n_kv_head`` query heads: multi-head attention when they are equal,
    grouped-query attention (Ainslie et al., 2023) when fewer, multi-query (Shazeer, 2019)
    with one. Supports rotary embeddings (applied to q and k) and ALiBi biases; causal for
    LMs.
    """

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_kv_head = config.n_kv_head
        self.head_dim = config.head_dim
        self.kv_dim = self.n_kv_head * self.head_dim
        self.inner = config.inner
        self.causal = config.causal
        self.position = config.position
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.d_model, self.inner + 2 * self.kv_dim, bias=config.bias)
        self.c_proj = nn.Linear(self.inner, config.d_model, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.rope_cos: torch.Tensor | None
        self.rope_sin: torch.Tensor | None
        self.alibi: torch.Tensor | None
        cos, sin = (
            rope_cache(config.seq_len, self.head_dim) if self.position == "rope" else (None, None)
        )
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        alibi = (
            alibi_bias(self.n_head, config.seq_len, self.causal)
            if self.position == "alibi"
            else None
        )
        self.register_buffer("alibi", alibi, persistent=False)

    def residual_projection(self) -> nn.Linear:
        """The matrix that writes into the residual stream."""
        return self.c_proj

    def _attn_mask(
        self, T: int, key_mask: torch.Tensor | None, dtype: torch.dtype
    ) -> tuple[torch.Tensor | None, bool]:
        """Returns ``(attn_mask, is_causal)`` for SDPA.

        Args:
            T: Current sequence length.
            key_mask: Optional bool ``(B, T)``, True marks keys that may be attended to.
            dtype: Dtype of the attention scores.
        """
        if self.alibi is not None:
            bias = self.alibi[:, :T, :T].to(dtype)  # (nh, T, T), causal -inf already inside
            if key_mask is not None:
                bias = bias.masked_fill(~key_mask[:, None, None, :], float("-inf"))  # (B, nh, T, T)
            return bias, False
        if key_mask is not None:
            key_mask = key_mask[:, None, None, :]  # (B, T) -> (B, 1, 1, T)
            if self.causal:
                causal = torch.ones(T, T, dtype=torch.bool, device=key_mask.device).tril()
                key_mask = key_mask & causal  # (B, 1, T, T)
            return key_mask, False
        return None, self.causal

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attends over ``x`` of shape ``(B, T, C)``; returns ``(B, T, C)``."""
        B, T, _ = x.shape
        q, k, v = self.c_attn(x).split((self.inner, self.kv_dim, self.kv_dim), dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # -> (B, nh, T, hd)
        k = k.view(B, T, self.n_kv_head, -1).transpose(1, 2)  # (B, T, kv) -> (B, nkv, T, hd)
        v = v.view(B, T, self.n_kv_head, -1).transpose(1, 2)  # (B, T, kv) -> (B, nkv, T, hd)
        if self.n_kv_head != self.n_head:
            group = self.n_head // self.n_kv_head
            k = k.repeat_interleave(group, dim=1)  # (B, nkv, T, hd) -> (B, nh, T, hd)
            v = v.repeat_interleave(group, dim=1)  # (B, nkv, T, hd) -> (B, nh, T, hd)
        if self.rope_cos is not None and self.rope_sin is not None:
            q = apply_rope(q, self.rope_cos[:T], self.rope_sin[:T])
            k = apply_rope(k, self.rope_cos[:T], self.rope_sin[:T])
        attn_mask, is_causal = self._attn_mask(T, key_mask, q.dtype)
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal,
        )
        y = y.transpose(1, 2).contiguous().view(B, T, self.inner)  # (B, nh, T, hd) -> (B, T, I)
        return self.resid_dropout(self.c_proj(y))  # (B, T, I) -> (B, T, C)


def attention_params(config: BlockConfig) -> int:
    """Parameters of `SelfAttention`: q, k, v and output projections (and their biases)."""
    kv = config.n_kv_head * config.head_dim
    return attention_weights(config) + (
        config.inner + 2 * kv + config.d_model if config.bias else 0
    )


def attention_weights(config: BlockConfig) -> int:
    """Weights `SelfAttention` multiplies per token: q and output ``2 d I`` with ``I`` the
    query heads' width, k and v ``2 d kv`` with ``kv = n_kv_head * head_dim`` (``4 d^2`` for
    multi-head attention with ``I = d``)."""
    d, kv = config.d_model, config.n_kv_head * config.head_dim
    return 2 * d * config.inner + 2 * d * kv


def attention_context_flops(config: BlockConfig) -> int:
    """FLOPs per token of ``QK^T`` and ``AV`` over the full context: ``2 * 2 * T * I``."""
    return 2 * 2 * config.seq_len * config.inner
