"""RNN assemblies: exact counts, couplings only between assemblies, gates inside their
bounds, padding that never reaches the logits, clear errors."""

from __future__ import annotations

import itertools

import pytest
import torch

from models import TaskSpec, build_model, count_params, flops_per_token, model_config
from models.assembly import AssemblyClassifier
from models.common import example_input
from models.errors import ModelConfigError

SERIES = TaskSpec(kind="series", vocab_size=0, seq_len=29, num_classes=9, channels=12)
TOKENS = TaskSpec(kind="cls", vocab_size=50, seq_len=16, num_classes=3)


@pytest.mark.parametrize(
    ("units", "blocks", "coupling", "task"),
    [
        (*c, t)
        for c in itertools.product((4, 8), (1, 3), (0, 5))
        for t in (SERIES, TOKENS)
        if c[1] > 1 or c[2] == 0
    ],
)
def test_counts_are_exact(units: int, blocks: int, coupling: int, task: TaskSpec) -> None:
    genes = {"units": units, "blocks": blocks, "coupling": coupling}
    torch.manual_seed(0)
    model = build_model(genes, task)
    assert isinstance(model, AssemblyClassifier)
    assert count_params(genes, task) == model.num_params()
    assert flops_per_token(genes, task) > 0
    x = example_input(task, 2, torch.Generator().manual_seed(1))
    assert model(x)[0].shape == (2, task.num_classes)


def test_couplings_join_different_assemblies_and_padding_stays_out() -> None:
    torch.manual_seed(0)
    model = build_model({"units": 4, "blocks": 3, "coupling": 20}, SERIES).eval()
    src, dst = model.src, model.dst
    assert len(set(zip(src.tolist(), dst.tolist(), strict=True))) == 20  # distinct pairs
    assert ((src // 4) != (dst // 4)).all()
    x = example_input(SERIES, 3, torch.Generator().manual_seed(2))
    mask = torch.ones(3, 29, dtype=torch.bool)
    mask[0, 7:] = False
    noisy = x.clone()
    noisy[0, 7:] = 100.0
    assert torch.allclose(model(x, mask=mask)[0], model(noisy, mask=mask)[0], atol=1e-5)


def test_gates_stay_between_their_bounds() -> None:
    model = build_model({"family": "assembly", "gate_min": 1e-4, "gate_max": 0.1}, SERIES)
    with torch.no_grad():
        model.gate.uniform_(-40.0, 40.0)  # far into both saturations of the sigmoid
    rates = model.rates()
    assert float(rates.min()) >= 1e-4 * (1 - 1e-6) and float(rates.max()) <= 0.1 * (1 + 1e-6)
    assert float(rates.min()) < 2e-4 and float(rates.max()) > 0.099  # both bounds reached


@pytest.mark.parametrize(
    ("genes", "message"),
    [
        ({"gate_min": 0.05}, "gate_min'=0.05 is invalid; allowed: a number in"),
        ({"gate_max": 1.5}, "gate_max'=1.5 is invalid"),
        ({"gate_min": 0.01, "gate_max": 0.01}, "allowed: gate_min < gate_max"),
        ({"blocks": 1, "coupling": 3}, "have 0 connections between them"),
    ],
)
def test_bad_genes_are_refused(genes: dict, message: str) -> None:
    with pytest.raises(ModelConfigError, match=message):
        model_config({"units": 4, "blocks": 2, **genes}, SERIES)
    lm = TaskSpec(kind="lm", vocab_size=50, seq_len=16)
    with pytest.raises(ModelConfigError, match="the assembly family classifies"):
        model_config({"blocks": 2}, lm)
