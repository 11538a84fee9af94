"""Transformer language model and sequence classifier."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from models.common import (
    check_tokens,
    cls_loss,
    init_linear_and_embedding,
    lm_loss,
    resolve_mask,
    unique_param_count,
)
from models.config import BlockConfig, TransformerConfig
from models.errors import ModelConfigError
from models.ffn import make_ffn
from models.norms import make_norm
from models.pooling import Pooling
from models.positions import alibi_bias, apply_rope, rope_cache, sinusoidal_table


class SelfAttention(nn.Module):
    """Multi-head self-attention through ``F.scaled_dot_product_attention``.

    Supports rotary embeddings (applied to q and k) and ALiBi biases; causal for LMs.
    """

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.causal = config.causal
        self.position = config.position
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.d_model, 3 * config.d_model, bias=config.bias)
        self.c_proj = nn.Linear(config.d_model, config.d_model, bias=config.bias)
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
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hd)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hd)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hd)
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
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, nh, T, hd) -> (B, T, C)
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    """Transformer block with pre-norm or post-norm residual wiring."""

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        self.pre_norm = config.norm_position == "pre"
        self.norm1 = make_norm(config.norm, config.d_model, config.bias)
        self.attn = SelfAttention(config)
        self.norm2 = make_norm(config.norm, config.d_model, config.bias)
        self.ffn = make_ffn(config)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Maps ``(B, T, C) -> (B, T, C)``."""
        if self.pre_norm:
            x = x + self.attn(self.norm1(x), key_mask)
            return x + self.ffn(self.norm2(x))
        x = self.norm1(x + self.attn(x, key_mask))
        return self.norm2(x + self.ffn(x))


class TransformerBackbone(nn.Module):
    """Token + position embedding, the block stack and (pre-norm only) a final norm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        task = config.task
        self.seq_len = task.seq_len
        self.tok_emb = nn.Embedding(task.vocab_size, config.d_model)
        learned = config.position == "learned"
        self.pos_emb = nn.Embedding(task.seq_len, config.d_model) if learned else None
        self.pos_table: torch.Tensor | None
        table = (
            sinusoidal_table(task.seq_len, config.d_model)
            if config.position == "sinusoidal"
            else None
        )
        self.register_buffer("pos_table", table, persistent=False)
        # Vaswani et al. (2017), as fairseq implements it: token embeddings initialised
        # N(0, d_model**-0.5) and multiplied by sqrt(d_model) before the fixed table is
        # added, so that content and position have the same scale (`init_embedding`). With
        # the N(0, 0.02) init of the other options the unit-amplitude table would swamp
        # the content for hundreds of steps.
        self.embed_scale = math.sqrt(config.d_model) if table is not None else 1.0
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config.block(i)) for i in range(config.layers))
        self.norm_f = (
            make_norm(config.norm, config.d_model, config.bias) if config.final_norm else None
        )

    def init_embedding(self) -> None:
        """Re-initialise the token embedding for the sinusoidal table (N(0, d**-0.5)); a
        no-op for the other position encodings (call after the model-wide init)."""
        if self.embed_scale != 1.0:
            nn.init.normal_(self.tok_emb.weight, mean=0.0, std=self.embed_scale**-1)

    def forward(self, idx: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Maps token ids ``(B, T)`` to hidden states ``(B, T, C)``."""
        T = idx.shape[1]
        x = self.tok_emb(idx)  # (B, T) -> (B, T, C)
        if self.embed_scale != 1.0:
            x = x * self.embed_scale
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(T, device=idx.device))  # (T, C) broadcast over B
        elif self.pos_table is not None:
            x = x + self.pos_table[:T].to(x.dtype)
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, key_mask)
        return self.norm_f(x) if self.norm_f is not None else x


class TransformerLM(nn.Module):
    """Causal transformer language model; the head is tied to the token embedding if asked."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not config.task.is_lm:
            raise ModelConfigError(f"TransformerLM needs task kind 'lm', got {config.task.kind!r}")
        self.config = config
        self.transformer = TransformerBackbone(config)
        self.lm_head = nn.Linear(config.d_model, config.task.vocab_size, bias=False)
        self.apply(init_linear_and_embedding)
        self.transformer.init_embedding()
        if config.tied_embeddings:
            self.lm_head.weight = self.transformer.tok_emb.weight

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Computes next-token logits.

        Args:
            idx: Token ids ``(B, T)`` with ``T <= seq_len``.
            targets: Optional next-token ids ``(B, T)``; ``-100`` entries are ignored.

        Returns:
            ``(logits (B, T, vocab), loss or None)``.
        """
        check_tokens(idx, self.config.task)
        logits = self.lm_head(self.transformer(idx))  # (B, T, C) -> (B, T, V)
        return logits, lm_loss(logits, targets)

    def num_params(self) -> int:
        """Number of unique parameters (tied weights counted once)."""
        return unique_param_count(self)


class TransformerClassifier(nn.Module):
    """Bidirectional transformer encoder with pooling and a linear classifier head."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        task = config.task
        if task.is_lm or task.num_classes is None:
            raise ModelConfigError(
                f"TransformerClassifier needs task kind 'cls', got {task.kind!r}"
            )
        self.config = config
        self.transformer = TransformerBackbone(config)
        self.pool = Pooling(config.pooling, config.d_model)
        self.head = nn.Linear(config.d_model, task.num_classes)
        self.apply(init_linear_and_embedding)
        self.transformer.init_embedding()

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Classifies each sequence.

        Args:
            idx: Token ids ``(B, T)`` with ``T <= seq_len``.
            targets: Optional labels ``(B,)``.
            mask: Optional bool ``(B, T)``, True marks real tokens. Defaults to
                ``idx != pad_id`` when the task has a pad id. Padding is excluded from the
                attention keys and from pooling.

        Returns:
            ``(logits (B, num_classes), loss or None)``.
        """
        check_tokens(idx, self.config.task)
        mask = resolve_mask(idx, mask, self.config.task)
        h = self.transformer(idx, mask)  # (B, T, C)
        logits = self.head(self.pool(h, mask))  # (B, C) -> (B, num_classes)
        return logits, cls_loss(logits, targets)

    def num_params(self) -> int:
        """Number of unique parameters."""
        return unique_param_count(self)
