"""The token mixers: exact counts against built models, causality, the recurrent forms,
grouped-query attention, the selective scan, GroupNorm, and the errors of their genes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from models import TaskSpec, build_model, model_config
from models.counting import count_params, flops_per_token
from models.errors import ModelConfigError
from models.mixers import residual_projection
from models.norms import GroupNorm
from models.transformer import scale_residual_init

LM = TaskSpec(kind="lm", vocab_size=128, seq_len=16)
CLS = TaskSpec(kind="cls", vocab_size=128, seq_len=16, num_classes=3, pad_id=0)
MIXERS = ("attention", "linear", "retention", "mamba")


def genes(**over: Any) -> dict[str, Any]:
    base = {"layers": 2, "d_model": 32, "heads": 4, "ffn_ratio": 2, "position": "learned"}
    return {**base, **over}


@pytest.mark.parametrize(
    ("mixer", "bias", "norm", "kv"),
    [
        (m, b, n, kv)
        for m, b, n, kv in itertools.product(
            MIXERS, (True, False), ("layernorm", "rmsnorm", "groupnorm"), (None, 1, 2)
        )
        if kv is None or m == "attention"
    ],
)
def test_counts_match_the_built_model(mixer: str, bias: bool, norm: str, kv: int | None) -> None:
    g = genes(mixer=mixer, bias=bias, norm=norm, kv_heads=kv, tied_embeddings=False)
    config = model_config(g, LM)
    model = build_model(config)
    assert count_params(config) == sum(p.numel() for p in model.parameters())
    idx = torch.randint(0, LM.vocab_size, (2, LM.seq_len))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(idx)
    assert counter.get_total_flops() / idx.numel() == flops_per_token(config)


def test_hybrid_layers_count_and_differ() -> None:
    config = model_config(genes(layers=4, mixer=list(MIXERS)), LM)
    model = build_model(config)
    assert count_params(config) == model.num_params()
    names = [type(b.attn).__name__ for b in model.transformer.blocks]
    assert names == ["SelfAttention", "LinearAttention", "Retention", "SelectiveSSM"]


@pytest.mark.parametrize("mixer", MIXERS)
def test_mixers_are_causal(mixer: str) -> None:
    torch.manual_seed(0)
    model = build_model(genes(mixer=mixer), LM).eval()
    idx = torch.randint(0, LM.vocab_size, (2, LM.seq_len))
    changed = idx.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % LM.vocab_size
    with torch.no_grad():
        a, b = model(idx)[0], model(changed)[0]
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-5)
    assert not torch.allclose(a[:, 10:], b[:, 10:], atol=1e-3)


@pytest.mark.parametrize("mixer", ["linear", "retention", "mamba"])
@pytest.mark.parametrize("d_model", [32, 24])
def test_parallel_form_equals_the_recurrent_form(mixer: str, d_model: int) -> None:
    torch.manual_seed(0)
    model = build_model(genes(mixer=mixer, d_model=d_model), LM)
    block = model.transformer.blocks[0].attn.eval()
    x = torch.randn(2, LM.seq_len, d_model)
    with torch.no_grad():
        parallel = block(x)
    torch.testing.assert_close(parallel, block.recurrent(x), atol=1e-5, rtol=1e-4)


def test_grouped_query_attention_is_multi_head_with_shared_keys_and_values() -> None:
    torch.manual_seed(0)
    gqa = build_model(genes(layers=1, kv_heads=2, position="rope"), LM).eval()
    mha = build_model(genes(layers=1, position="rope"), LM).eval()
    state = gqa.state_dict()
    w = state["transformer.blocks.0.attn.c_attn.weight"]  # (d + 2 kv, d): q, k, v rows
    b = state["transformer.blocks.0.attn.c_attn.bias"]
    d, hd = 32, 8
    q, k, v = w.split((d, 2 * hd, 2 * hd))
    qb, kb, vb = b.split((d, 2 * hd, 2 * hd))

    def repeat(t: torch.Tensor) -> torch.Tensor:  # 2 kv heads -> 4 heads, each twice
        rest = t.shape[1:]
        return t.reshape(2, hd, *rest).repeat_interleave(2, dim=0).reshape(4 * hd, *rest)

    state["transformer.blocks.0.attn.c_attn.weight"] = torch.cat([q, repeat(k), repeat(v)])
    state["transformer.blocks.0.attn.c_attn.bias"] = torch.cat([qb, repeat(kb), repeat(vb)])
    mha.load_state_dict(state)
    idx = torch.randint(0, LM.vocab_size, (2, LM.seq_len))
    with torch.no_grad():
        assert torch.allclose(gqa(idx)[0], mha(idx)[0], atol=1e-5)
    assert gqa.num_params() < mha.num_params()


def test_mamba_keeps_its_own_init_after_the_model_wide_one() -> None:
    torch.manual_seed(0)
    ssm = build_model(genes(mixer="mamba"), LM).transformer.blocks[0].attn
    minus_a = torch.exp(ssm.A_log.detach())
    assert float(minus_a.min()) >= 1.0 and float(minus_a.max()) <= 16.0
    assert torch.all(ssm.D == 1.0)
    dt = torch.nn.functional.softplus(ssm.dt_bias.detach())
    assert float(dt.min()) >= 1e-3 - 1e-6 and float(dt.max()) <= 1e-1 + 1e-6


@pytest.mark.parametrize("mixer", MIXERS)
def test_scaled_residual_init_reaches_every_mixer(mixer: str) -> None:
    torch.manual_seed(0)
    model = build_model(genes(layers=4, mixer=mixer, d_model=64), LM)
    scale_residual_init(model)
    for block in model.transformer.blocks:
        std = float(residual_projection(block.attn).weight.detach().std())
        assert std == pytest.approx(0.02 / 8**0.5, rel=0.2)


def test_group_norm_with_one_group_is_layer_norm() -> None:
    x = torch.randn(3, 5, 16)
    torch.testing.assert_close(GroupNorm(16, 1)(x), torch.nn.LayerNorm(16)(x))
    grouped = GroupNorm(16, 4, bias=False)(x).reshape(3, 5, 4, 4)
    assert torch.allclose(grouped.mean(dim=-1), torch.zeros(3, 5, 4), atol=1e-5)


@pytest.mark.parametrize(
    ("over", "task", "match"),
    [
        ({"kv_heads": 3}, LM, r"'kv_heads'=3 does not divide heads=4.*one of \[1, 2, 4\]"),
        ({"kv_heads": [1, 3]}, LM, r"'kv_heads'\[1\]=3 does not divide heads=4"),
        ({"mixer": "mamba"}, CLS, r"'mixer'='mamba' is causal only.*allowed.*'attention'"),
        ({"mixer": "rwkv"}, LM, r"'mixer'.*rwkv"),
        ({"norm": "groupnorm", "d_model": 30, "heads": 2}, LM, r"groupnorm.*divisible by 4"),
        ({"head_dim": 7, "position": "rope"}, LM, r"'head_dim'=7 is odd.*rope"),
    ],
)
def test_bad_mixer_genes_are_refused_by_name(over: dict, task: TaskSpec, match: str) -> None:
    with pytest.raises(ModelConfigError, match=match):
        model_config(genes(**over), task)


@pytest.mark.parametrize("mixer", MIXERS)
def test_every_mixer_learns_a_few_steps(mixer: str) -> None:
    torch.manual_seed(0)
    model = build_model(genes(mixer=mixer), LM)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    idx = torch.randint(0, 8, (8, LM.seq_len))  # a tiny vocabulary: quick to learn
    losses = []
    for _ in range(30):
        loss = model(idx, idx)[1]
        assert loss is not None
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0] - 1.0


def test_a_head_width_apart_from_d_model_counts_and_runs() -> None:
    config = model_config(genes(heads=3, head_dim=6, mixer=["attention", "retention"]), LM)
    model = build_model(config)
    assert count_params(config) == model.num_params()
    assert [b.attn.inner for b in model.transformer.blocks] == [18, 18]
    idx = torch.randint(0, LM.vocab_size, (2, LM.seq_len))
    assert model(idx)[0].shape == (2, LM.seq_len, LM.vocab_size)
