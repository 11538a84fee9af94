"""Structured FFN pruning: the rebuilt model is dense and smaller by the requested share,
keeps the most important channels, and computes what the masked original computes."""

from __future__ import annotations

import pytest
import torch

from models import TaskSpec, build_model, count_params
from models.errors import ModelConfigError
from models.pruning import channel_importance, kept_channels, prune_ffn, pruned_config

LM = TaskSpec(kind="lm", vocab_size=64, seq_len=16)


def model_of(activation: str, bias: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    genes = {"layers": 2, "d_model": 32, "heads": 2, "ffn_ratio": 4, "activation": activation}
    return build_model({**genes, "bias": bias}, LM).eval()


@pytest.mark.parametrize("activation", ["gelu", "swiglu"])
@pytest.mark.parametrize("share", [0.0, 0.2, 0.4, 0.6])
def test_the_rebuilt_model_loses_the_requested_share_of_ffn_weights(
    activation: str, share: float
) -> None:
    model = model_of(activation)
    small = prune_ffn(model, share)
    assert all(b.ffn.hidden == kept_channels(128, share) for b in small.transformer.blocks)
    assert small.num_params() == count_params(pruned_config(model.config, share))
    ffn = sum(p.numel() for b in model.transformer.blocks for p in b.ffn.parameters())
    small_ffn = sum(p.numel() for b in small.transformer.blocks for p in b.ffn.parameters())
    removed = 1 - (small_ffn - 2 * 32) / (ffn - 2 * 32)  # the output biases stay
    assert removed == pytest.approx(share, abs=0.01)
    assert model.num_params() - small.num_params() == ffn - small_ffn


@pytest.mark.parametrize("activation", ["relu", "geglu"])
def test_pruned_model_equals_the_original_with_those_channels_zeroed(activation: str) -> None:
    model = model_of(activation)
    small = prune_ffn(model, 0.5)
    masked = model_of(activation)
    with torch.no_grad():
        for block in masked.transformer.blocks:
            drop = channel_importance(block.ffn).topk(64, largest=False).indices
            out = block.ffn.fc2 if hasattr(block.ffn, "fc2") else block.ffn.w2
            out.weight[:, drop] = 0.0
        idx = torch.randint(0, LM.vocab_size, (2, LM.seq_len))
        torch.testing.assert_close(small(idx)[0], masked(idx)[0], atol=1e-5, rtol=1e-4)


def test_the_least_important_channels_go_first() -> None:
    model = model_of("gelu", bias=False)
    with torch.no_grad():
        model.transformer.blocks[0].ffn.fc2.weight[:, :10] = 0.0  # channels 0-9 write nothing
    small = prune_ffn(model, 10 / 128)
    kept = small.transformer.blocks[0].ffn.fc1.weight
    torch.testing.assert_close(kept, model.transformer.blocks[0].ffn.fc1.weight[10:])


def test_bad_shares_and_models_are_refused() -> None:
    with pytest.raises(ModelConfigError, match=r"share=1\.0 is invalid; allowed: 0 <= share < 1"):
        prune_ffn(model_of("gelu"), 1.0)
    with pytest.raises(ModelConfigError, match="needs a transformer"):
        prune_ffn(torch.nn.Linear(2, 2), 0.5)
