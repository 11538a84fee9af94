"""Transformer language model and sequence classifier, and their analytic counts.

The block's parts live in their own modules, each beside its counts: the token mixers
(`models.mixers`: attention, linear attention, retention, selective SSM), the FFN
(`models.ffn`), norms (`models.norms`), positions (`models.positions`), pooling
(`models.pooling`). `transformer_params` and
`transformer_flops` sum them as the modules here assemble them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from models.common import (
    INIT_STD,
    check_tokens,
    cls_loss,
    init_linear_and_embedding,
    lm_loss,
    resolve_mask,
    unique_param_count,
)
from models.config import BlockConfig, TransformerConfig
from models.errors import ModelConfigError
from models.ffn import ffn_params, ffn_weights, make_ffn
from models.mixers import (
    make_mixer,
    mixer_context_flops,
    mixer_params,
    mixer_weights,
    residual_projection,
)
from models.norms import make_norm, norm_params
from models.pooling import Pooling, pooling_params
from models.positions import sinusoidal_table


class Block(nn.Module):
    """Transformer block with pre-norm or post-norm residual wiring around its token mixer
    (``attn``, whichever mixer the layer's gene names) and its FFN."""

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        self.pre_norm = config.norm_position == "pre"
        self.norm1 = make_norm(config.norm, config.d_model, config.bias)
        self.attn = make_mixer(config)
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
        reset_special_parameters(self)
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
                f"TransformerClassifier needs a classification task, got {task.kind!r}"
            )
        self.config = config
        self.transformer = TransformerBackbone(config)
        self.pool = Pooling(config.pooling, config.d_model)
        self.head = nn.Linear(config.d_model, task.num_classes)
        self.apply(init_linear_and_embedding)
        self.transformer.init_embedding()
        reset_special_parameters(self)

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


def reset_special_parameters(model: nn.Module) -> None:
    """Re-apply the own init of the modules that have one (the selective SSM's ``A``,
    ``D`` and step sizes), after the model-wide N(0, 0.02)."""
    for module in model.modules():
        reset = getattr(module, "reset_special_parameters", None)
        if callable(reset) and module is not model:
            reset()


def scale_residual_init(model: nn.Module) -> nn.Module:
    """GPT-2's init of the projections that write into the residual stream (attention's
    output projection and the FFN's last matrix): N(0, 0.02 / sqrt(2 x layers)), so that
    the stream's variance does not grow with depth (Radford et al., 2019). Pre-norm blocks
    only: that stream is what accumulates every block's output, as in GPT-2; a post-norm
    block re-normalises the stream after each branch, and with the scaled init the `tiny`
    space's default genome in post-norm stalled at the unigram level where its flat-init
    twin learned (the option-health test), so post-norm blocks keep N(0, 0.02). The model
    is changed in place (drawn from torch's global generator) and returned; a model
    without transformer blocks is returned as it is."""
    backbone = getattr(model, "transformer", None)
    blocks = list(getattr(backbone, "blocks", ()))
    std = INIT_STD / math.sqrt(2 * max(1, len(blocks)))
    for block in blocks:
        if not block.pre_norm:
            continue
        ffn = block.ffn
        for layer in (residual_projection(block.attn), getattr(ffn, "fc2", None) or ffn.w2):
            nn.init.normal_(layer.weight, mean=0.0, std=std)
    return model


def block_params(config: BlockConfig) -> int:
    """Parameters of one `Block`: two norms, the token mixer and the FFN."""
    norms = 2 * norm_params(config.norm, config.d_model, config.bias)
    return norms + mixer_params(config) + ffn_params(config)


def transformer_params(config: TransformerConfig) -> int:
    """Parameters of the model `build_model` makes from ``config`` (tied weights once)."""
    task, d = config.task, config.d_model
    count = task.vocab_size * d  # token embedding
    if config.position == "learned":
        count += task.seq_len * d
    count += sum(block_params(config.block(i)) for i in range(config.layers))
    if config.final_norm:
        count += norm_params(config.norm, d, config.bias)
    if task.is_lm:
        return count + (0 if config.tied_embeddings else d * task.vocab_size)
    assert task.num_classes is not None
    return count + pooling_params(config.pooling, d) + d * task.num_classes + task.num_classes


def transformer_flops(config: TransformerConfig) -> int:
    """Forward FLOPs per token (`models.counting.flops_per_token` states the convention)."""
    task, d = config.task, config.d_model
    weights, context = 0, 0
    for block in (config.block(i) for i in range(config.layers)):
        weights += mixer_weights(block) + ffn_weights(block)
        context += mixer_context_flops(block)
    if task.is_lm:
        weights += d * task.vocab_size
    else:
        assert task.num_classes is not None
        weights += d * task.num_classes + pooling_params(config.pooling, d)
    return 2 * weights + context
