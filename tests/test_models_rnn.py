"""Behavioural tests of the recurrent LM and classifier."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from models import TaskSpec, build_model

VOCAB, SEQ, CLASSES = 37, 8, 3
LM = TaskSpec("lm", VOCAB, SEQ)
CLS = TaskSpec("cls", VOCAB, SEQ, num_classes=CLASSES)
BASE = {"layers": 2, "embed_dim": 12, "hidden_size": 10}

CELLS = ("lstm", "gru", "vanilla")
POOLINGS = ("last", "mean", "attention")


def _tokens(batch: int = 2, length: int = SEQ, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (batch, length), generator=gen)


def _assert_all_grads(model: nn.Module) -> None:
    for name, param in model.named_parameters():
        assert param.grad is not None, f"no gradient reached {name}"
        assert param.grad.abs().sum() > 0, f"zero gradient for {name}"


@pytest.mark.parametrize("cell,cell_norm", list(itertools.product(CELLS, (False, True))))
def test_lm_trains(cell: str, cell_norm: bool) -> None:
    torch.manual_seed(0)
    model = build_model(dict(BASE, cell=cell, cell_norm=cell_norm, dropout=0.1), LM)
    idx = _tokens()
    logits, loss = model(idx, idx)
    assert logits.shape == (2, SEQ, VOCAB)
    assert loss is not None and torch.isfinite(loss)
    loss.backward()
    _assert_all_grads(model)
    short, _ = model(idx[:, :3])
    assert short.shape == (2, 3, VOCAB)


@pytest.mark.parametrize(
    "cell,cell_norm,bidirectional",
    list(itertools.product(CELLS, (False, True), (False, True))),
)
def test_classifier_every_option_trains(cell: str, cell_norm: bool, bidirectional: bool) -> None:
    for pooling in POOLINGS:
        genes = dict(BASE, cell=cell, cell_norm=cell_norm, bidirectional=bidirectional)
        torch.manual_seed(0)
        model = build_model(dict(genes, pooling=pooling), CLS)
        mask = torch.ones(2, SEQ, dtype=torch.bool)
        mask[1, 5:] = False
        logits, loss = model(_tokens(), torch.tensor([1, 2]), mask=mask)
        assert logits.shape == (2, CLASSES)
        assert loss is not None and torch.isfinite(loss)
        loss.backward()
        _assert_all_grads(model)
        assert model.head.in_features == 10 * (2 if bidirectional else 1)


def test_bidirectional_lm_is_rejected() -> None:
    with pytest.raises(ValueError, match="cannot look ahead"):
        build_model(dict(BASE, cell="lstm", bidirectional=True), LM)


@pytest.mark.parametrize("bidirectional", (False, True))
def test_lstm_forget_bias_is_one(bidirectional: bool) -> None:
    H = BASE["hidden_size"]
    fused = build_model(dict(BASE, cell="lstm", bidirectional=bidirectional), CLS)
    for name, param in fused.rnn.rnn.named_parameters():
        if name.startswith("bias_ih"):
            assert torch.equal(param[H : 2 * H], torch.ones(H)), name
            assert torch.count_nonzero(param[:H]) == 0 and torch.count_nonzero(param[2 * H :]) == 0
        elif name.startswith("bias_hh"):
            assert torch.count_nonzero(param) == 0, name
    custom = build_model(dict(BASE, cell="lstm", cell_norm=True, bidirectional=bidirectional), CLS)
    cells = [c for c in custom.modules() if hasattr(c, "norm_c")]
    assert len(cells) == 2 * (2 if bidirectional else 1)
    for cell in cells:
        assert torch.equal(cell.bias[H : 2 * H], torch.ones(H))
        assert torch.count_nonzero(cell.bias) == H


@pytest.mark.parametrize("cell,cell_norm", list(itertools.product(CELLS, (False, True))))
def test_lm_is_causal(cell: str, cell_norm: bool) -> None:
    torch.manual_seed(0)
    model = build_model(dict(BASE, cell=cell, cell_norm=cell_norm), LM).eval()
    idx = _tokens(batch=1)
    with torch.no_grad():
        reference, _ = model(idx)
        for t in (0, 3, SEQ - 1):
            changed = idx.clone()
            changed[0, t] = (changed[0, t] + 1) % VOCAB
            logits, _ = model(changed)
            assert torch.allclose(logits[0, :t], reference[0, :t], atol=1e-6)
            assert not torch.allclose(logits[0, t], reference[0, t])


@pytest.mark.parametrize(
    "cell_norm,bidirectional,pooling",
    list(itertools.product((False, True), (False, True), POOLINGS)),
)
def test_classifier_padding_is_ignored(cell_norm: bool, bidirectional: bool, pooling: str) -> None:
    genes = dict(BASE, cell="gru", cell_norm=cell_norm, bidirectional=bidirectional)
    torch.manual_seed(0)
    model = build_model(dict(genes, pooling=pooling), CLS).eval()
    idx = _tokens()
    mask = torch.ones_like(idx, dtype=torch.bool)
    mask[0, 5:] = False  # right padding
    mask[1, :2] = False  # left padding
    other = torch.where(mask, idx, (idx + 7) % VOCAB)
    with torch.no_grad():
        a, _ = model(idx, mask=mask)
        b, _ = model(other, mask=mask)
        unmasked, _ = model(other)
        first, _ = model(idx[:1, :5])
        second, _ = model(idx[1:, 2:])
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, unmasked, atol=1e-5)
    assert torch.allclose(a, torch.cat((first, second)), atol=1e-5)


def test_fused_and_custom_paths_share_the_interface() -> None:
    for cell_norm in (False, True):
        model = build_model(dict(BASE, cell="vanilla", cell_norm=cell_norm), CLS)
        assert model.config.cell_norm is cell_norm
        assert model.num_params() == sum(p.numel() for p in model.parameters())
