"""Structured pruning of FFN channels and attention heads, rebuilt dense.

The criterion is magnitude: a unit's importance is the product of the L2 norms of the
weights that read it in and write it out. For hidden channel ``j`` of a layer's FFN,
``||W_in[j, :]|| x ||W_out[:, j]||`` (with a gated FFN, the gate's row too); for head
``h`` of a multi-head attention layer, ``||W_q[h]|| x ||W_k[h]|| x ||W_v[h]|| x
||W_o[:, h]||`` over the head's rows and columns. A unit whose input or output weights are
near zero moves the output little whatever its activation: the first-order magnitude
criterion of structured pruning (Li et al., 2017, for filters; Michel et al., 2019, prune
heads). Each layer keeps ``round(n x (1 - share))`` of its ``n`` channels, and of its
heads (at least one of each), the most important, in their original order. Heads are
pruned in softmax-attention layers with one key/value head per query head and position
encodings other than ALiBi (whose slopes are tied to the head count); grouped-query layers
and the other mixers keep their heads. The model is rebuilt with the new widths (per-layer
``ffn_ratio`` = kept / d_model, ``heads`` = kept heads at the same ``head_dim``) and the
surviving weights copied: the pruned model is dense and smaller for real, not masked.
"""

from __future__ import annotations

import torch
from torch import nn

from models.attention import SelfAttention
from models.build import build_model
from models.config import BlockConfig, TransformerConfig
from models.errors import ModelConfigError
from models.ffn import GatedMLP


def channel_importance(ffn: nn.Module) -> torch.Tensor:
    """Importance of each hidden channel of ``ffn``, shape ``(hidden,)``."""
    if isinstance(ffn, GatedMLP):
        rows = ffn.w1.weight.norm(dim=1) * ffn.w3.weight.norm(dim=1)  # (hidden,)
        return (rows * ffn.w2.weight.norm(dim=0)).detach()
    return (ffn.fc1.weight.norm(dim=1) * ffn.fc2.weight.norm(dim=0)).detach()


def head_importance(attn: SelfAttention) -> torch.Tensor:
    """Importance of each head of a multi-head ``attn``, shape ``(n_head,)``."""
    nh, hd = attn.n_head, attn.head_dim
    q, k, v = attn.c_attn.weight.detach().split(attn.inner, dim=0)  # 3 x (I, d)
    norms = [w.reshape(nh, hd, -1).flatten(1).norm(dim=1) for w in (q, k, v)]  # 3 x (nh,)
    out = attn.c_proj.weight.detach().reshape(-1, nh, hd).transpose(0, 1).flatten(1).norm(dim=1)
    return norms[0] * norms[1] * norms[2] * out


def kept_channels(hidden: int, share: float) -> int:
    """Units (FFN channels or heads) a layer of ``hidden`` keeps when ``share`` of them is
    pruned (>= 1)."""
    return max(1, round(hidden * (1.0 - share)))


def heads_prunable(block: BlockConfig) -> bool:
    """Whether a layer's heads are pruned (see the module docstring)."""
    return (
        block.mixer == "attention" and block.n_kv_head == block.n_head and block.position != "alibi"
    )


def pruned_config(config: TransformerConfig, share: float) -> TransformerConfig:
    """``config`` with every layer's FFN width cut by ``share``.

    Raises:
        ModelConfigError: ``share`` is outside [0, 1).
    """
    if not 0.0 <= share < 1.0:
        raise ModelConfigError(f"pruning share={share!r} is invalid; allowed: 0 <= share < 1")
    d = config.d_model
    blocks = [config.block(i) for i in range(config.layers)]
    genes = {
        **config.to_genes(),
        "ffn_ratio": [kept_channels(h, share) / d for h in config.ffn_hidden],
        "heads": [
            kept_channels(b.n_head, share) if heads_prunable(b) else b.n_head for b in blocks
        ],
        "kv_heads": [None if heads_prunable(b) else b.kv_heads for b in blocks],
        "head_dim": [b.head_dim for b in blocks],
        "prune": 0.0,
    }
    return TransformerConfig(task=config.task, **genes)


def deployed_config(config: TransformerConfig) -> TransformerConfig:
    """The architecture that is deployed: ``config`` after its ``prune`` share of FFN
    channels is removed (``config`` itself when ``prune`` is 0)."""
    return pruned_config(config, config.prune) if config.prune > 0 else config


def prune_model(model: nn.Module, share: float) -> nn.Module:
    """A dense copy of the transformer ``model`` with ``share`` of each FFN's channels and
    of each prunable attention layer's heads removed, the least important first (see the
    module docstring); ``model`` is left as it was. With ``share = 0`` the copy equals it.

    Raises:
        ModelConfigError: ``model`` is not a transformer built by `models.build_model`, or
            ``share`` is outside [0, 1).
    """
    config = getattr(model, "config", None)
    if not isinstance(config, TransformerConfig):
        raise ModelConfigError(
            f"prune_model needs a transformer built by build_model, got {type(model).__name__}"
        )
    small = build_model(pruned_config(config, share)).to(next(model.parameters()).device)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for i, block in enumerate(model.transformer.blocks):  # type: ignore[union-attr]
        state.update(_ffn_state(block.ffn, share, f"transformer.blocks.{i}.ffn."))
        if heads_prunable(config.block(i)):
            state.update(_head_state(block.attn, share, f"transformer.blocks.{i}.attn."))
    small.load_state_dict(state)
    return small.train(model.training)


def _ffn_state(ffn: nn.Module, share: float, prefix: str) -> dict[str, torch.Tensor]:
    """The kept channels' weights of ``ffn``, under their state-dict keys."""
    keep = kept_channels(ffn.hidden, share)
    order = channel_importance(ffn).topk(keep).indices.sort().values
    out = {}
    for name, param in ffn.named_parameters():
        part = name.split(".")[0]
        if part in ("fc2", "w2") and name.endswith("weight"):
            out[prefix + name] = param.detach()[:, order].clone()  # (d, hidden) -> (d, keep)
        elif part in ("fc1", "w1", "w3"):
            out[prefix + name] = param.detach()[order].clone()  # (hidden, ...) -> (keep, ...)
    return out


def _head_state(attn: SelfAttention, share: float, prefix: str) -> dict[str, torch.Tensor]:
    """The kept heads' rows of the q, k, v projection and columns of the output one."""
    keep = kept_channels(attn.n_head, share)
    heads = head_importance(attn).topk(keep).indices.sort().values
    hd = attn.head_dim
    cols = (heads[:, None] * hd + torch.arange(hd)).flatten()  # kept channels of one of q/k/v
    rows = torch.cat([cols + part * attn.inner for part in range(3)])  # of q, k and v
    out = {prefix + "c_attn.weight": attn.c_attn.weight.detach()[rows].clone()}
    if attn.c_attn.bias is not None:
        out[prefix + "c_attn.bias"] = attn.c_attn.bias.detach()[rows].clone()
    out[prefix + "c_proj.weight"] = attn.c_proj.weight.detach()[:, cols].clone()
    return out
