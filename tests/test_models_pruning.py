"""Structured pruning: the rebuilt model is dense and smaller by the requested share, keeps
the most important FFN channels and heads, and computes what the masked original does."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from models import TaskSpec, build_model, count_params
from models.errors import ModelConfigError
from models.pruning import (
    channel_importance,
    head_importance,
    kept_channels,
    prune_model,
    pruned_config,
)

LM = TaskSpec(kind="lm", vocab_size=64, seq_len=16)


def model_of(**over: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    genes = {"layers": 2, "d_model": 32, "heads": 4, "ffn_ratio": 4, "position": "rope"}
    return build_model({**genes, **over}, LM).eval()


def prunable_params(model: torch.nn.Module) -> int:
    """FFN and attention parameters, less the output biases pruning never touches."""
    total = 0
    for b in model.transformer.blocks:
        total += sum(p.numel() for p in [*b.ffn.parameters(), *b.attn.parameters()])
        total -= 2 * 32 if b.ffn.fc2.bias is not None else 0  # fc2 and c_proj biases
    return total


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 0.75])
def test_the_rebuilt_model_loses_the_requested_share(share: float) -> None:
    model = model_of()
    small = prune_model(model, share)
    assert all(b.ffn.hidden == kept_channels(128, share) for b in small.transformer.blocks)
    assert all(b.attn.n_head == kept_channels(4, share) for b in small.transformer.blocks)
    assert all(b.attn.head_dim == 8 for b in small.transformer.blocks)
    assert small.num_params() == count_params(pruned_config(model.config, share))
    removed = 1 - prunable_params(small) / prunable_params(model)
    assert removed == pytest.approx(share, abs=0.01)


@pytest.mark.parametrize("activation", ["relu", "geglu"])
def test_pruned_model_equals_the_original_with_those_units_zeroed(activation: str) -> None:
    model = model_of(activation=activation)
    small = prune_model(model, 0.5)
    masked = model_of(activation=activation)
    with torch.no_grad():
        for block in masked.transformer.blocks:
            drop = channel_importance(block.ffn).topk(64, largest=False).indices
            out = block.ffn.fc2 if hasattr(block.ffn, "fc2") else block.ffn.w2
            out.weight[:, drop] = 0.0
            for head in head_importance(block.attn).topk(2, largest=False).indices:
                block.attn.c_proj.weight[:, head * 8 : (head + 1) * 8] = 0.0
        idx = torch.randint(0, LM.vocab_size, (2, LM.seq_len))
        torch.testing.assert_close(small(idx)[0], masked(idx)[0], atol=1e-5, rtol=1e-4)


def test_the_least_important_units_go_first() -> None:
    model = model_of(bias=False)
    block = model.transformer.blocks[0]
    with torch.no_grad():
        block.ffn.fc2.weight[:, :10] = 0.0  # channels 0-9 write nothing
        block.attn.c_proj.weight[:, 8:16] = 0.0  # head 1 writes nothing
    small = prune_model(model, 10 / 128)
    kept = small.transformer.blocks[0]
    torch.testing.assert_close(kept.ffn.fc1.weight, block.ffn.fc1.weight[10:])
    smaller = prune_model(model, 0.25)
    assert smaller.transformer.blocks[0].attn.n_head == 3
    q = smaller.transformer.blocks[0].attn.c_attn.weight[:24]
    torch.testing.assert_close(
        q, torch.cat([block.attn.c_attn.weight[:8], block.attn.c_attn.weight[16:32]])
    )


@pytest.mark.parametrize(
    "over", [{"kv_heads": 2}, {"position": "alibi"}, {"mixer": "linear"}, {"mixer": "mamba"}]
)
def test_heads_stay_where_pruning_them_would_change_the_layer(over: dict) -> None:
    model = model_of(**over)
    small = prune_model(model, 0.5)
    for before, after in zip(model.transformer.blocks, small.transformer.blocks, strict=True):
        assert getattr(after.attn, "n_head", None) == getattr(before.attn, "n_head", None)
        assert after.ffn.hidden == 64
    assert small.num_params() == count_params(pruned_config(model.config, 0.5))


def test_bad_shares_and_models_are_refused() -> None:
    with pytest.raises(ModelConfigError, match=r"share=1\.0 is invalid; allowed: 0 <= share < 1"):
        prune_model(model_of(), 1.0)
    with pytest.raises(ModelConfigError, match="needs a transformer"):
        prune_model(torch.nn.Linear(2, 2), 0.5)
