"""Analytic model size and compute, computed from the config without building the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.checks import check_choice
from models.config import ModelConfig, RNNConfig, TransformerConfig, resolve_config
from models.ffn import ffn_matrices
from models.norms import norm_params
from models.rnn import GATES
from models.rnn_cells import norm_cell_params
from models.spec import TaskSpec

BYTES_PER_ELEMENT: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}

GenesOrConfig = Mapping[str, Any] | ModelConfig


def _transformer_params(c: TransformerConfig) -> int:
    """Parameter count of a transformer built from ``c``."""
    task, d = c.task, c.d_model
    norm = norm_params(c.norm, d, c.bias)
    count = task.vocab_size * d  # token embedding
    if c.position == "learned":
        count += task.seq_len * d
    mats = ffn_matrices(c.activation)
    for hidden in c.ffn_hidden:
        count += 4 * d * d + (4 * d if c.bias else 0)  # q, k, v, out projections
        count += mats * d * hidden + ((mats - 1) * hidden + d if c.bias else 0)  # FFN
        count += 2 * norm
    if c.final_norm:
        count += norm
    if task.is_lm:
        return count + (0 if c.tied_embeddings else d * task.vocab_size)
    assert task.num_classes is not None
    pool = d if c.pooling == "attention" else 0
    return count + pool + d * task.num_classes + task.num_classes


def _rnn_params(c: RNNConfig) -> int:
    """Parameter count of a recurrent model built from ``c``."""
    task, H = c.task, c.hidden_size
    count = task.vocab_size * c.embed_dim  # token embedding
    for layer in range(c.layers):
        in_dim = c.embed_dim if layer == 0 else c.out_dim
        if c.cell_norm:
            per_direction = norm_cell_params(c.cell, in_dim, H)
        else:
            gates = GATES[c.cell] * H
            per_direction = gates * (in_dim + H) + 2 * gates  # W_ih, W_hh, b_ih, b_hh
        count += c.num_directions * per_direction
    if task.is_lm:
        return count + H * task.vocab_size + task.vocab_size
    assert task.num_classes is not None
    pool = c.out_dim if c.pooling == "attention" else 0
    return count + pool + c.out_dim * task.num_classes + task.num_classes


def count_params(genes_or_config: GenesOrConfig, task: TaskSpec | None = None) -> int:
    """Counts parameters analytically, without building the model.

    The result equals ``sum(p.numel() for p in model.parameters())`` of
    ``build_model(genes_or_config, task)`` (tied weights counted once).

    Args:
        genes_or_config: A genome mapping (then ``task`` is required) or a model config.
        task: The task, when a genome is given.

    Returns:
        Number of parameters.
    """
    config = resolve_config(genes_or_config, task)
    if isinstance(config, TransformerConfig):
        return _transformer_params(config)
    return _rnn_params(config)


def size_mb(
    genes_or_config: GenesOrConfig, task: TaskSpec | None = None, dtype: str = "float32"
) -> float:
    """Parameter memory in mebibytes: ``count_params * bytes_per_element / 2**20``.

    Args:
        genes_or_config: A genome mapping (then ``task`` is required) or a model config.
        task: The task, when a genome is given.
        dtype: One of ``"float32"``, ``"float16"``, ``"bfloat16"``, ``"int8"``.

    Raises:
        ModelConfigError: If ``dtype`` is unknown.
    """
    check_choice(dtype, "dtype", BYTES_PER_ELEMENT)
    return count_params(genes_or_config, task) * BYTES_PER_ELEMENT[dtype] / 2**20


def flops_per_token(genes_or_config: GenesOrConfig, task: TaskSpec | None = None) -> int:
    """Forward FLOPs per token, counting one multiply-add as 2 FLOPs.

    Convention (Kaplan et al., 2020): ``2 * W`` where ``W`` is the number of weights used
    in matrix multiplies for one token, excluding embedding lookups and including the
    LM / classifier head (and the attention-pooling query). Biases, norms, activations and
    softmax are ignored. A classifier's head is charged as if applied at every token, an
    upper bound that is negligible next to the body.

    * Transformer: per layer ``4 d^2`` (q, k, v, out) plus ``2 d h_i`` (``3 d h_i`` for
      gated FFNs), plus the attention term ``2 * 2 * layers * seq_len * d_model`` for
      ``QK^T`` and ``AV`` over the full context.
    * RNN: per layer and direction ``G * H * (I + H)`` with ``G`` = 4 (lstm), 3 (gru) or
      1 (vanilla) and ``I`` the layer's input width.

    Args:
        genes_or_config: A genome mapping (then ``task`` is required) or a model config.
        task: The task, when a genome is given.

    Returns:
        FLOPs per token.
    """
    config = resolve_config(genes_or_config, task)
    task = config.task
    if isinstance(config, TransformerConfig):
        d = config.d_model
        mats = ffn_matrices(config.activation)
        weights = sum(4 * d * d + mats * d * hidden for hidden in config.ffn_hidden)
        attention = 2 * 2 * config.layers * task.seq_len * d
        out_dim = d
    else:
        H = config.hidden_size
        weights = 0
        for layer in range(config.layers):
            in_dim = config.embed_dim if layer == 0 else config.out_dim
            weights += config.num_directions * GATES[config.cell] * H * (in_dim + H)
        attention = 0
        out_dim = H if task.is_lm else config.out_dim
    if task.is_lm:
        weights += out_dim * task.vocab_size
    else:
        assert task.num_classes is not None
        weights += out_dim * task.num_classes + (out_dim if config.pooling == "attention" else 0)
    return 2 * weights + attention
