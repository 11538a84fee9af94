"""Dendritic networks: exact parameter counts (the original system's definition) against
the built models for every architecture, sparse dendrites, resampling, clear errors."""

from __future__ import annotations

import itertools

import pytest
import torch

from models import TaskSpec, build_model, count_params, flops_per_token, model_config
from models.dendritic import ARCHITECTURES, DendriticClassifier, dendritic_params
from models.errors import ModelConfigError

DIGITS = TaskSpec(kind="image", vocab_size=17, seq_len=64, num_classes=10)


@pytest.mark.parametrize(
    ("architecture", "neurons", "dendrites", "inputs"),
    list(itertools.product(ARCHITECTURES, (4, 16), (1, 8), (4, 64))),
)
def test_counts_are_exact(architecture: str, neurons: int, dendrites: int, inputs: int) -> None:
    hidden = 16 if architecture == "dendritic_simple" else 24  # genes that act only
    neurons = 16 if architecture == "soma_disabled" else neurons
    genes = {"architecture": architecture, "n_neurons": neurons, "n_dendrites": dendrites,
             "n_dendrite_inputs": inputs, "hidden": hidden}  # fmt: skip
    model = build_model(genes, DIGITS)
    assert isinstance(model, DendriticClassifier)
    assert count_params(genes, DIGITS) == model.num_params()
    assert flops_per_token(genes, DIGITS) > 0
    c = 10
    if architecture == "dendritic_simple":  # the formula as the original system stated it
        layer = 64 * dendrites * neurons + dendrites * neurons + dendrites * neurons + neurons
        assert model.num_params() == layer + neurons * c + c
    elif architecture == "soma_disabled":
        assert model.num_params() == 64 * dendrites + dendrites + dendrites * 24 + 24 + 24 * c + c


def test_each_dendrite_sees_its_inputs_and_resampling_keeps_the_count() -> None:
    genes = {"architecture": "dendritic_simple", "n_neurons": 8, "n_dendrites": 4,
             "n_dendrite_inputs": 16, "synaptic_resampling": True}  # fmt: skip
    torch.manual_seed(0)
    model = build_model(genes, DIGITS)
    mask = model.layer.mask.clone()
    assert mask.shape == (32, 64) and (mask.sum(dim=1) == 16).all()
    x = torch.randint(0, 17, (8, 64))
    y = torch.randint(0, 10, (8,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(50):  # the 50th training step resamples
        optimizer.zero_grad()
        model(x, y)[1].backward()
        optimizer.step()
    after = model.layer.mask
    assert (after.sum(dim=1) == 16).all() and not torch.equal(after, mask)
    # an unseen input gets no gradient: the masked weights stay as they were
    unseen = ~after
    model.zero_grad()
    model(x, y)[1].backward()
    assert model.layer.dendrite.weight.grad[unseen].abs().max() == 0
    model.eval()
    first = model(x)[0]
    assert torch.equal(first, model(x)[0])  # evaluation does not resample


def test_the_same_seed_builds_the_same_connections() -> None:
    genes = {"architecture": "soma_disabled", "n_dendrites": 8, "n_dendrite_inputs": 8}
    torch.manual_seed(1)
    a = build_model(genes, DIGITS).layer.mask
    torch.manual_seed(1)
    assert torch.equal(a, build_model(genes, DIGITS).layer.mask)


@pytest.mark.parametrize(
    ("genes", "gene"),
    [
        ({"architecture": "dendritic_simple", "hidden": 32}, "hidden"),
        ({"architecture": "soma_disabled", "n_neurons": 8}, "n_neurons"),
        ({"n_dendrite_inputs": 64, "synaptic_resampling": True}, "synaptic_resampling"),
    ],
)
def test_a_gene_that_does_not_act_stays_at_its_default(genes: dict, gene: str) -> None:
    with pytest.raises(ModelConfigError, match=f"dendritic gene '{gene}'.*does not act"):
        model_config({"architecture": "dendritic_simple", **genes}, DIGITS)


def test_bad_genes_are_refused() -> None:
    with pytest.raises(ModelConfigError, match="n_dendrite_inputs'=65 is invalid"):
        model_config({"architecture": "dendritic_simple", "n_dendrite_inputs": 65}, DIGITS)
    with pytest.raises(ModelConfigError, match="'architecture'"):
        model_config({"architecture": "tree"}, DIGITS)
    lm = TaskSpec(kind="lm", vocab_size=17, seq_len=64)
    with pytest.raises(ModelConfigError, match="task kind 'lm' is invalid"):
        model_config({"architecture": "dendritic_simple"}, lm)
    assert dendritic_params(model_config({"architecture": "dendritic_simple"}, DIGITS)) == 4410
