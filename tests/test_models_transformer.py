"""Behavioural tests of the transformer LM and classifier."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from models import TaskSpec, build_model
from models.norms import RMSNorm
from models.positions import alibi_bias, alibi_slopes, apply_rope, rope_cache

VOCAB, SEQ, CLASSES = 37, 8, 3
LM = TaskSpec("lm", VOCAB, SEQ)
CLS = TaskSpec("cls", VOCAB, SEQ, num_classes=CLASSES)
BASE = {"layers": 2, "d_model": 16, "heads": 2, "ffn_ratio": 2}

NORMS = ("layernorm", "rmsnorm")
NORM_POSITIONS = ("pre", "post")
ACTIVATIONS = ("relu", "gelu", "silu", "swiglu", "geglu")
POSITIONS = ("learned", "sinusoidal", "rope", "alibi")
POOLINGS = ("mean", "first", "attention")


def _tokens(batch: int = 2, length: int = SEQ, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (batch, length), generator=gen)


def _assert_all_grads(model: nn.Module) -> None:
    for name, param in model.named_parameters():
        assert param.grad is not None, f"no gradient reached {name}"
        assert param.grad.abs().sum() > 0, f"zero gradient for {name}"


@pytest.mark.parametrize("norm,norm_position", list(itertools.product(NORMS, NORM_POSITIONS)))
def test_lm_every_option_trains(norm: str, norm_position: str) -> None:
    for activation, position, bias, tied in itertools.product(
        ACTIVATIONS, POSITIONS, (True, False), (True, False)
    ):
        genes = dict(BASE, norm=norm, norm_position=norm_position, activation=activation)
        genes.update(position=position, bias=bias, tied_embeddings=tied)
        torch.manual_seed(0)
        model = build_model(genes, LM)
        idx = _tokens()
        logits, loss = model(idx, idx)
        assert logits.shape == (2, SEQ, VOCAB)
        assert loss is not None and torch.isfinite(loss)
        loss.backward()
        _assert_all_grads(model)


@pytest.mark.parametrize("norm,norm_position", list(itertools.product(NORMS, NORM_POSITIONS)))
def test_classifier_every_option_trains(norm: str, norm_position: str) -> None:
    for activation, position, bias, pooling in itertools.product(
        ACTIVATIONS, POSITIONS, (True, False), POOLINGS
    ):
        genes = dict(BASE, norm=norm, norm_position=norm_position, activation=activation)
        genes.update(position=position, bias=bias, pooling=pooling)
        torch.manual_seed(0)
        model = build_model(genes, CLS)
        logits, loss = model(_tokens(), torch.tensor([0, 2]))
        assert logits.shape == (2, CLASSES)
        assert loss is not None and torch.isfinite(loss)
        loss.backward()
        _assert_all_grads(model)


def test_lm_accepts_shorter_inputs_and_rejects_longer() -> None:
    for position in POSITIONS:
        model = build_model(dict(BASE, position=position), LM)
        logits, _ = model(_tokens(length=5))
        assert logits.shape == (2, 5, VOCAB)
        with pytest.raises(ValueError, match="T=9"):
            model(_tokens(length=SEQ + 1))


def test_initialisation_is_deterministic_and_gpt2_style() -> None:
    torch.manual_seed(3)
    first = build_model(BASE, LM)
    torch.manual_seed(3)
    second = build_model(BASE, LM)
    for (name, a), b in zip(first.named_parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b), name
    fc1 = first.transformer.blocks[0].ffn.fc1
    assert torch.count_nonzero(fc1.bias) == 0
    big = build_model(dict(BASE, d_model=64), LM)
    std = big.transformer.blocks[0].ffn.fc1.weight.std().item()
    assert abs(std - 0.02) < 0.002


def test_tied_embeddings_share_storage() -> None:
    tied = build_model(dict(BASE, tied_embeddings=True), LM)
    assert tied.lm_head.weight is tied.transformer.tok_emb.weight
    untied = build_model(dict(BASE, tied_embeddings=False), LM)
    assert untied.lm_head.weight is not untied.transformer.tok_emb.weight
    assert untied.num_params() == tied.num_params() + VOCAB * 16


def test_per_layer_genes_make_layers_differ() -> None:
    genes = dict(BASE, layers=3, d_model=24, heads=[1, 2, 4], ffn_ratio=[1, 2.5, 0.5])
    model = build_model(genes, CLS)
    blocks = model.transformer.blocks
    assert [b.attn.n_head for b in blocks] == [1, 2, 4]
    assert [b.attn.head_dim for b in blocks] == [24, 12, 6]
    assert [b.ffn.hidden for b in blocks] == [24, 60, 12]
    assert [b.ffn.fc1.out_features for b in blocks] == [24, 60, 12]
    logits, _ = model(_tokens())
    assert logits.shape == (2, CLASSES)


def test_rope_dot_product_depends_only_on_relative_position() -> None:
    head_dim, length = 8, 12
    cos, sin = rope_cache(length, head_dim)
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, head_dim, generator=gen)
    q_rot = apply_rope(q.expand(length, head_dim), cos, sin)  # q at every position
    k_rot = apply_rope(k.expand(length, head_dim), cos, sin)
    scores = q_rot @ k_rot.T  # (m, n): q at position m, k at position n
    for offset in range(-length + 1, length):
        diagonal = torch.diagonal(scores, offset=offset)
        assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-5)
    assert not torch.allclose(scores[0, 0], scores[0, 3])  # it does rotate
    assert torch.allclose(q_rot.norm(dim=-1), q.norm().expand(length), atol=1e-5)


def test_alibi_slopes_and_bias_follow_the_formula() -> None:
    for n in (1, 2, 4, 8):
        expected = [2 ** (-8 / n * (h + 1)) for h in range(n)]
        assert torch.allclose(alibi_slopes(n), torch.tensor(expected))
    # Non power of two: slopes of 4 heads, then every other slope of 8 heads.
    six = [2 ** (-2 * (h + 1)) for h in range(4)] + [2**-1.0 * 2**-0, 2**-3.0]
    assert torch.allclose(
        alibi_slopes(6), torch.tensor([0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125])
    )
    assert torch.allclose(alibi_slopes(6), torch.tensor(six))
    slopes = alibi_slopes(4)
    causal = alibi_bias(4, 5, causal=True)
    symmetric = alibi_bias(4, 5, causal=False)
    for h, i, j in itertools.product(range(4), range(5), range(5)):
        assert math.isclose(symmetric[h, i, j].item(), -slopes[h].item() * abs(i - j), abs_tol=1e-6)
        if j <= i:
            assert math.isclose(causal[h, i, j].item(), -slopes[h].item() * (i - j), abs_tol=1e-6)
        else:
            assert causal[h, i, j].item() == float("-inf")


def test_rmsnorm_has_unit_rms() -> None:
    norm = RMSNorm(32)
    x = torch.randn(5, 32) * 7 + 3
    rms = norm(x).pow(2).mean(dim=-1).sqrt()
    assert torch.allclose(rms, torch.ones(5), atol=1e-3)
    assert [name for name, _ in norm.named_parameters()] == ["weight"]


@pytest.mark.parametrize("norm", NORMS)
def test_final_norm_only_with_pre_norm(norm: str) -> None:
    pre = build_model(dict(BASE, norm=norm, norm_position="pre"), LM)
    post = build_model(dict(BASE, norm=norm, norm_position="post"), LM)
    assert pre.transformer.norm_f is not None
    assert post.transformer.norm_f is None
    expected = RMSNorm if norm == "rmsnorm" else nn.LayerNorm
    assert isinstance(pre.transformer.norm_f, expected)


def test_layernorm_bias_follows_bias_gene() -> None:
    model = build_model(dict(BASE, bias=False), LM)
    block = model.transformer.blocks[0]
    assert block.norm1.bias is None and block.attn.c_attn.bias is None
    assert block.ffn.fc1.bias is None


@pytest.mark.parametrize("position", POSITIONS)
def test_lm_is_causal(position: str) -> None:
    torch.manual_seed(0)
    model = build_model(dict(BASE, position=position), LM).eval()
    idx = _tokens(batch=1)
    with torch.no_grad():
        reference, _ = model(idx)
        for t in range(SEQ):
            changed = idx.clone()
            changed[0, t] = (changed[0, t] + 1) % VOCAB
            logits, _ = model(changed)
            assert torch.allclose(logits[0, :t], reference[0, :t], atol=1e-5), (position, t)
            assert not torch.allclose(logits[0, t], reference[0, t])


@pytest.mark.parametrize("position,pooling", list(itertools.product(POSITIONS, POOLINGS)))
def test_classifier_padding_is_ignored(position: str, pooling: str) -> None:
    torch.manual_seed(0)
    model = build_model(dict(BASE, position=position, pooling=pooling), CLS).eval()
    idx = _tokens()
    mask = torch.ones_like(idx, dtype=torch.bool)
    mask[0, 5:] = False
    mask[1, 3:] = False
    other = torch.where(mask, idx, (idx + 7) % VOCAB)
    with torch.no_grad():
        a, _ = model(idx, mask=mask)
        b, _ = model(other, mask=mask)
        unmasked, _ = model(other)
        short, _ = model(idx[:1, :5])
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, unmasked, atol=1e-5)
    assert torch.allclose(a[:1], short, atol=1e-5)  # same as dropping the padding


def test_pad_id_derives_the_mask() -> None:
    task = TaskSpec("cls", VOCAB, SEQ, num_classes=CLASSES, pad_id=0)
    model = build_model(dict(BASE, pooling="mean"), task).eval()
    idx = _tokens().clamp(min=1)
    idx[:, 6:] = 0
    with torch.no_grad():
        derived, _ = model(idx)
        explicit, _ = model(idx, mask=idx != 0)
        all_pad, _ = model(torch.zeros_like(idx))
    assert torch.allclose(derived, explicit)
    assert torch.isfinite(all_pad).all()


def test_dropout_changes_training_outputs_only() -> None:
    model = build_model(dict(BASE, dropout=0.5), LM)
    idx = _tokens()
    model.train()
    assert not torch.allclose(model(idx)[0], model(idx)[0])
    model.eval()
    assert torch.allclose(model(idx)[0], model(idx)[0])


def test_post_norm_is_the_original_wiring_and_pre_norm_keeps_the_residual() -> None:
    """Post-LN (Vaswani et al. 2017; Xiong et al. 2020, fig. 1a): x <- LN(x + F(x)) after
    each sub-layer, so every block's output is normalised and the block computes
    exactly that; pre-LN: x <- x + F(LN(x)), so the residual stream passes unnormalised."""
    torch.manual_seed(0)
    x = torch.randn(2, SEQ, 16) * 3 + 1
    for position in ("post", "pre"):
        model = build_model({**BASE, "norm": "layernorm", "norm_position": position}, LM)
        block = model.transformer.blocks[0]
        out = block(x)
        if position == "post":
            expected = block.norm1(x + block.attn(x))
            expected = block.norm2(expected + block.ffn(expected))
            assert torch.allclose(out, expected)
            assert torch.allclose(out.mean(-1), torch.zeros(2, SEQ), atol=1e-5)
            assert torch.allclose(out.var(-1, unbiased=False), torch.ones(2, SEQ), atol=1e-3)
        else:
            mid = x + block.attn(block.norm1(x))
            assert torch.allclose(out, mid + block.ffn(block.norm2(mid)))
            assert out.mean().abs() > 0.5  # the input's offset survives


def test_scaled_residual_init_shrinks_only_the_residual_projections() -> None:
    from models.transformer import scale_residual_init

    task = TaskSpec("lm", 64, 16)
    for activation, out_proj in (("gelu", "fc2"), ("swiglu", "w2")):
        torch.manual_seed(0)
        model = build_model(
            {"layers": 4, "d_model": 128, "heads": 2, "activation": activation}, task
        )
        scale_residual_init(model)
        want = 0.02 / math.sqrt(2 * 4)
        for block in model.transformer.blocks:
            for weight in (block.attn.c_proj.weight, getattr(block.ffn, out_proj).weight):
                assert float(weight.std()) == pytest.approx(want, rel=0.15)
            assert float(block.attn.c_attn.weight.std()) == pytest.approx(0.02, rel=0.15)


def test_post_norm_blocks_keep_the_flat_init() -> None:
    from models.transformer import scale_residual_init

    task = TaskSpec("lm", 64, 16)
    torch.manual_seed(0)
    model = build_model({"layers": 4, "d_model": 128, "heads": 2, "norm_position": "post"}, task)
    before = [b.attn.c_proj.weight.clone() for b in model.transformer.blocks]
    scale_residual_init(model)
    for block, weight in zip(model.transformer.blocks, before, strict=True):
        assert torch.equal(block.attn.c_proj.weight, weight)
        assert float(weight.std()) == pytest.approx(0.02, rel=0.15)
