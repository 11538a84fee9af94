"""Structured pruning of FFN channels, rebuilt dense.

The criterion (magnitude, per hidden channel ``j`` of a layer's FFN): the product of the
L2 norms of the weights that read the channel in and write it out, ``||W_in[j, :]|| x
||W_out[:, j]||`` (with a gated FFN, the gate's row too). A channel whose input or output
weights are near zero moves the output little whatever its activation: the first-order
magnitude criterion of structured pruning (Li et al., 2017, for filters; Molchanov et
al., 2017, discuss why it works). Each layer keeps ``round(hidden x (1 - share))``
channels (at least one) with the highest importance, in their original order, and the
model is rebuilt with that FFN width (per-layer ``ffn_ratio`` = kept / d_model) and the
surviving weights copied: the pruned model is dense and smaller for real, not masked.
"""

from __future__ import annotations

import torch
from torch import nn

from models.build import build_model
from models.config import TransformerConfig
from models.errors import ModelConfigError
from models.ffn import GatedMLP


def channel_importance(ffn: nn.Module) -> torch.Tensor:
    """Importance of each hidden channel of ``ffn``, shape ``(hidden,)``."""
    if isinstance(ffn, GatedMLP):
        rows = ffn.w1.weight.norm(dim=1) * ffn.w3.weight.norm(dim=1)  # (hidden,)
        return (rows * ffn.w2.weight.norm(dim=0)).detach()
    return (ffn.fc1.weight.norm(dim=1) * ffn.fc2.weight.norm(dim=0)).detach()


def kept_channels(hidden: int, share: float) -> int:
    """Channels a layer of ``hidden`` keeps when ``share`` of them is pruned (>= 1)."""
    return max(1, round(hidden * (1.0 - share)))


def pruned_config(config: TransformerConfig, share: float) -> TransformerConfig:
    """``config`` with every layer's FFN width cut by ``share``.

    Raises:
        ModelConfigError: ``share`` is outside [0, 1).
    """
    if not 0.0 <= share < 1.0:
        raise ModelConfigError(f"pruning share={share!r} is invalid; allowed: 0 <= share < 1")
    d = config.d_model
    ratios = tuple(kept_channels(h, share) / d for h in config.ffn_hidden)
    genes = {**config.to_genes(), "ffn_ratio": list(ratios), "prune": 0.0}
    return TransformerConfig(task=config.task, **genes)


def deployed_config(config: TransformerConfig) -> TransformerConfig:
    """The architecture that is deployed: ``config`` after its ``prune`` share of FFN
    channels is removed (``config`` itself when ``prune`` is 0)."""
    return pruned_config(config, config.prune) if config.prune > 0 else config


def prune_ffn(model: nn.Module, share: float) -> nn.Module:
    """A dense copy of the transformer ``model`` with ``share`` of each FFN's channels
    removed, the least important first (see the module docstring); ``model`` is left as
    it was. With ``share = 0`` the copy equals the model.

    Raises:
        ModelConfigError: ``model`` is not a transformer built by `models.build_model`, or
            ``share`` is outside [0, 1).
    """
    config = getattr(model, "config", None)
    if not isinstance(config, TransformerConfig):
        raise ModelConfigError(
            f"prune_ffn needs a transformer built by build_model, got {type(model).__name__}"
        )
    small = build_model(pruned_config(config, share)).to(next(model.parameters()).device)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for i, block in enumerate(model.transformer.blocks):  # type: ignore[union-attr]
        keep = kept_channels(block.ffn.hidden, share)
        order = channel_importance(block.ffn).topk(keep).indices.sort().values
        prefix = f"transformer.blocks.{i}.ffn."
        for name, param in block.ffn.named_parameters():
            key = prefix + name
            if name.endswith("weight") and name.split(".")[0] in ("fc2", "w2"):
                state[key] = param.detach()[:, order].clone()  # (d, hidden) -> (d, keep)
            elif name.split(".")[0] in ("fc1", "w1", "w3"):
                state[key] = param.detach()[order].clone()  # (hidden, ...) -> (keep, ...)
    small.load_state_dict(state)
    return small.train(model.training)
