"""A latency model: analytic counts of a genome's forward pass, weighted by per-device costs.

The forward pass of a small model on a CPU is a sum of per-operator costs: a fixed cost
per call (dispatch, allocation), a cost per multiply-add and a cost per byte of weights
read (nn-Meter and HAT sum such kernel costs). `features` counts them for one genome at a
profile's batch size and context, from the model config alone:

* ``forward``: 1 (embedding, head, the call itself);
* ``blocks``: transformer blocks, recurrent layers x directions, or the dendritic layer;
* ``matmul_gflop``: multiply-add FLOPs of the weight matrices over the whole input
  (``flops_per_token`` without attention's context term, times batch x context);
* ``attention_gflop``: ``QK^T`` and ``AV`` over the context (transformers);
* ``weight_mb``: float32 parameter bytes read;
* ``rope_blocks``, ``alibi_blocks``, ``gated_blocks``, ``gelu_blocks``: blocks that run the
  extra element-wise work of rotary embeddings, ALiBi biases, gated FFNs and GELUs;
* ``layer_norms``, ``rms_norms``: norm calls of each kind (a fused LayerNorm kernel and the
  element-wise RMSNorm cost differently);
* ``heads``: attention heads summed over blocks (a per-head cost in attention);
* ``lstm_steps``, ``gru_steps``, ``vanilla_steps``: sequential time steps x recurrent
  layers x directions of a fused PyTorch RNN, by cell (each step's gate work differs);
  ``lstm_cell_steps``, ``gru_cell_steps``, ``vanilla_cell_steps``: the same for the
  LayerNorm cells (``cell_norm``), which step in Python and cost more per step;
* ``recurrent_mflop``: the recurrent matmuls' multiply-adds (gates x hidden^2 per step),
  which run one small step at a time and cost more per FLOP than the input projections;
* ``soma_blocks``, ``head_ops``: a dendritic network's somata (1 or 0: their reshape, product
  and sum) and the modules of its head (linear layers and activations), which at tens of
  microseconds a forward pass are most of its cost;
* ``coupled_steps``: an RNN assembly's time steps that also gather, scale and add its
  couplings between assemblies (0 without couplings).

A profile stores the feature names it was fitted with; a feature added later counts as
cost 0 in an older profile (it was absent from that profile's space).

`fit` finds non-negative costs by least squares (an active-set solution: a cost cannot be
negative), so a prediction is a closed form, deterministic, and small enough to ship.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models import TaskSpec, count_params, flops_per_token, model_config
from models.assembly import AssemblyConfig
from models.config import RNNConfig, TransformerConfig
from models.dendritic import DendriticConfig
from nas_env.training_genes import model_genes

FEATURES: tuple[str, ...] = (
    "forward",
    "blocks",
    "matmul_gflop",
    "attention_gflop",
    "weight_mb",
    "rope_blocks",
    "alibi_blocks",
    "gated_blocks",
    "gelu_blocks",
    "layer_norms",
    "rms_norms",
    "heads",
    "lstm_steps",
    "gru_steps",
    "vanilla_steps",
    "lstm_cell_steps",
    "gru_cell_steps",
    "vanilla_cell_steps",
    "recurrent_mflop",
    "soma_blocks",
    "head_ops",
    "coupled_steps",
)
HEAD_OPS = {"dendritic_simple": 1, "soma_disabled": 3, "dendritic_with_hidden": 4}
"""Modules of a dendritic head (`models.dendritic.DendriticClassifier`)."""
GATES = {"lstm": 4, "gru": 3, "vanilla": 1}
"""Recurrent weight matrices (hidden x hidden) per step of each cell."""


def features(
    genes: Mapping[str, Any], family: str, task: TaskSpec, batch: int = 1
) -> dict[str, float]:
    """The counts of `FEATURES` for one forward pass of ``genes`` on ``batch`` sequences of
    the task's context."""
    config = model_config(model_genes(genes, family), task)
    tokens = batch * task.seq_len
    out = dict.fromkeys(FEATURES, 0.0)
    out["forward"] = 1.0
    out["weight_mb"] = count_params(config) * 4 / 2**20
    flops = float(flops_per_token(config))
    if isinstance(config, TransformerConfig):
        layers = config.layers
        attention = 2 * 2 * layers * task.seq_len * config.d_model
        out["blocks"] = float(layers)
        out["attention_gflop"] = attention * tokens / 1e9
        out["matmul_gflop"] = (flops - attention) * tokens / 1e9
        out["rope_blocks"] = float(layers * (config.position == "rope"))
        out["alibi_blocks"] = float(layers * (config.position == "alibi"))
        out["gated_blocks"] = float(layers * (config.activation in ("swiglu", "geglu")))
        out["gelu_blocks"] = float(layers * (config.activation in ("gelu", "geglu")))
        norms = 2 * layers + (1 if config.final_norm else 0)
        out["layer_norms" if config.norm == "layernorm" else "rms_norms"] = float(norms)
        out["heads"] = float(sum(config.heads))  # type: ignore[arg-type]
    elif isinstance(config, AssemblyConfig):  # a cell stepped in Python, like LayerNorm cells
        out["blocks"] = 1.0
        out["matmul_gflop"] = flops * tokens / 1e9
        out["vanilla_cell_steps"] = float(task.seq_len)
        out["coupled_steps"] = float(task.seq_len if config.coupling else 0)
    elif isinstance(config, DendriticConfig):  # FLOPs are per example, not per pixel
        out["blocks"] = 1.0
        out["matmul_gflop"] = flops * batch / 1e9
        out["soma_blocks"] = float(config.soma)
        out["head_ops"] = float(HEAD_OPS[config.architecture])
    else:
        assert isinstance(config, RNNConfig)
        stacks = config.layers * config.num_directions
        out["blocks"] = float(stacks)
        out["matmul_gflop"] = flops * tokens / 1e9
        steps = stacks * task.seq_len
        out[f"{config.cell}_cell_steps" if config.cell_norm else f"{config.cell}_steps"] = steps
        out["recurrent_mflop"] = steps * GATES[config.cell] * config.hidden_size**2 / 1e6
    return out


def matrix(rows: Sequence[Mapping[str, float]], names: Sequence[str] = FEATURES) -> np.ndarray:
    """Feature rows as a matrix in ``names``' order (default `FEATURES`)."""
    return np.array([[float(r[name]) for name in names] for r in rows], dtype=np.float64)


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least-squares costs: ``argmin ||x c - y||`` with ``c >= 0``.

    An active-set solution (Lawson and Hanson): solve on the columns still free, drop the
    column whose cost would be most negative, repeat. Columns that are all zero (a feature
    the space never uses) get cost 0.
    """
    free = [j for j in range(x.shape[1]) if np.any(x[:, j])]
    costs = np.zeros(x.shape[1])
    while free:
        solution, *_ = np.linalg.lstsq(x[:, free], y, rcond=None)
        if np.all(solution >= 0):
            costs[free] = solution
            break
        free.pop(int(np.argmin(solution)))
    return costs


def predict(
    costs: Sequence[float], rows: Sequence[Mapping[str, float]], names: Sequence[str] = FEATURES
) -> np.ndarray:
    """Predicted latency (ms) of each feature row; ``costs`` are those of ``names``."""
    return matrix(rows, names) @ np.asarray(costs, dtype=np.float64)
