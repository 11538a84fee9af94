"""Analytic model size and compute, computed from the config without building the model.

Each family's counts live beside its builder (`models.transformer.transformer_params`,
`models.rnn.rnn_params`...), each part's beside its module (`models.attention`,
`models.ffn`, `models.norms`, `models.pooling`, `models.rnn_cells`), so that a gene is
added in two files: its field in `models.config` and the module it changes, counts
included. `tests/test_models_counting.py` checks every count against built models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.assembly import AssemblyConfig, assembly_flops, assembly_params
from models.checks import check_choice
from models.config import TransformerConfig
from models.dendritic import DendriticConfig, dendritic_flops, dendritic_params
from models.families import ModelConfig, resolve_config
from models.rnn import rnn_flops, rnn_params
from models.spec import TaskSpec
from models.transformer import transformer_flops, transformer_params

BYTES_PER_ELEMENT: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}

GenesOrConfig = Mapping[str, Any] | ModelConfig


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
        return transformer_params(config)
    if isinstance(config, DendriticConfig):
        return dendritic_params(config)
    if isinstance(config, AssemblyConfig):
        return assembly_params(config)
    return rnn_params(config)


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

    * Transformer: per layer the mixer's weights plus ``2 d h_i`` (``3 d h_i`` for gated
      FFNs), plus the mixer's context term. Attention: ``2 d^2 + 2 d kv`` (q, k, v, out;
      ``4 d^2`` for multi-head) and ``2 * 2 * seq_len * d_model`` for ``QK^T`` and ``AV``
      over the full context; linear attention ``4 d^2`` and retention ``5 d^2`` (the gate)
      with the same context term (their parallel form, as trained); the selective SSM its
      four projections and conv taps, and ``2 * 3 * E * N`` for the scan
      (`models.mixers`).
    * RNN: per layer and direction ``G * H * (I + H)`` with ``G`` = 4 (lstm), 3 (gru) or
      1 (vanilla) and ``I`` the layer's input width.
    * Dendritic: per example (an image is one "token"), the dense dendrite matrix, the
      somata and the linear layers (`models.dendritic.dendritic_flops`).
    * RNN assembly: per frame, the input projection, the assemblies' weights, the
      couplings, the query and the head (`models.assembly.assembly_flops`).

    Args:
        genes_or_config: A genome mapping (then ``task`` is required) or a model config.
        task: The task, when a genome is given.

    Returns:
        FLOPs per token.
    """
    config = resolve_config(genes_or_config, task)
    if isinstance(config, TransformerConfig):
        return transformer_flops(config)
    if isinstance(config, DendriticConfig):
        return dendritic_flops(config)
    if isinstance(config, AssemblyConfig):
        return assembly_flops(config)
    return rnn_flops(config)
