"""Dendritic networks: neurons whose dendrites each see a few inputs (dANN-style).

A `DendriticLayer` has ``n_neurons`` neurons of ``n_dendrites`` dendrites each; every
dendrite is a LeakyReLU unit over ``n_dendrite_inputs`` of the layer's inputs, chosen at
random when the layer is built (a fixed binary mask over a dense weight matrix); a neuron's
soma sums its own dendrites with learned weights and a bias (linear: the architectures add
the nonlinearities they name). Without a soma the layer's outputs are the ``n_dendrites``
dendrites themselves. With ``synaptic_resampling``, every `RESAMPLE_EVERY` training steps
each dendrite moves its weakest connection (smallest ``|w|``) to a random input it does not
see yet, with a zero weight (a structural-plasticity step; deterministic under the seed).

Parameters are counted as the original system defined them (the mask is a buffer, the
dense matrix is stored): with a soma ``in x D x N + D x N`` (dendrite weights and biases)
``+ D x N + N`` (soma weights and biases); without one ``in x D + D``; a linear layer
``in x out + out``. Architectures (``architecture`` gene):

* ``dendritic_simple``: dendritic layer with soma -> linear -> output;
* ``soma_disabled``: dendritic layer without soma -> linear (``hidden``) -> LeakyReLU ->
  linear -> output;
* ``dendritic_with_hidden``: dendritic layer with soma -> LeakyReLU -> linear (``hidden``)
  -> LeakyReLU -> linear -> output.

Inputs are token ids read as numbers: an image task's pixel intensities ``0..V-1``
scaled to ``[0, 1]`` (``id / (V - 1)``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from models.checks import check_bool, check_int
from models.common import check_tokens, cls_loss, unique_param_count
from models.errors import ModelConfigError
from models.genes import check_gene_choice, gene_where
from models.spec import TaskSpec

ARCHITECTURES: tuple[str, ...] = ("dendritic_simple", "soma_disabled", "dendritic_with_hidden")
SLOPE = 0.01  # LeakyReLU's negative slope
RESAMPLE_EVERY = 50
DEFAULTS: dict[str, Any] = {"hidden": 16, "n_neurons": 16, "synaptic_resampling": False}
"""The defaults of the genes that do not act in every architecture (`DendriticConfig`)."""


@dataclass(frozen=True)
class DendriticConfig:
    """A dendritic classifier plus the task it is built for (classification kinds only).

    A gene that does not act must stay at its default, so that one network has one
    genome: ``hidden`` in ``dendritic_simple`` (no hidden layer), ``n_neurons`` in
    ``soma_disabled`` (no somata), ``synaptic_resampling`` when every dendrite already
    sees every input.
    """

    task: TaskSpec
    architecture: str = "dendritic_simple"
    n_neurons: int = 16
    n_dendrites: int = 4
    n_dendrite_inputs: int = 16
    hidden: int = 16
    synaptic_resampling: bool = False

    family: ClassVar[str] = "dendritic"

    def __post_init__(self) -> None:
        fam = self.family
        if not isinstance(self.task, TaskSpec):
            raise ModelConfigError(
                f"DendriticConfig.task={self.task!r} is invalid; allowed: a TaskSpec"
            )
        if self.task.is_lm or self.task.reads_frames:
            raise ModelConfigError(
                f"the dendritic family classifies token ids read as numbers; task kind "
                f"{self.task.kind!r} is invalid (allowed: cls, image)"
            )
        values: dict[str, Any] = {
            "architecture": check_gene_choice(
                fam, "architecture", self.architecture, ARCHITECTURES
            ),
            "n_neurons": check_int(self.n_neurons, gene_where(fam, "n_neurons")),
            "n_dendrites": check_int(self.n_dendrites, gene_where(fam, "n_dendrites")),
            "n_dendrite_inputs": check_int(
                self.n_dendrite_inputs, gene_where(fam, "n_dendrite_inputs")
            ),
            "hidden": check_int(self.hidden, gene_where(fam, "hidden")),
            "synaptic_resampling": check_bool(
                self.synaptic_resampling, gene_where(fam, "synaptic_resampling")
            ),
        }
        if values["n_dendrite_inputs"] > self.task.seq_len:
            raise ModelConfigError(
                f"dendritic gene 'n_dendrite_inputs'={values['n_dendrite_inputs']} is invalid: "
                f"a dendrite cannot see more than the task's {self.task.seq_len} inputs"
            )
        inert = []
        if values["architecture"] == "dendritic_simple" and values["hidden"] != DEFAULTS["hidden"]:
            inert.append(("hidden", "dendritic_simple has no hidden layer"))
        if (
            values["architecture"] == "soma_disabled"
            and values["n_neurons"] != DEFAULTS["n_neurons"]
        ):
            inert.append(("n_neurons", "soma_disabled has no somata"))
        full = values["n_dendrite_inputs"] == self.task.seq_len
        if full and values["synaptic_resampling"]:
            inert.append(("synaptic_resampling", "every dendrite already sees every input"))
        for gene, why in inert:
            raise ModelConfigError(
                f"dendritic gene {gene!r}={values[gene]!r} does not act ({why}); allowed: "
                f"{DEFAULTS[gene]!r}, its default, so that one network has one genome"
            )
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def soma(self) -> bool:
        """Whether the dendritic layer has somata (every architecture but ``soma_disabled``)."""
        return self.architecture != "soma_disabled"

    @property
    def units(self) -> int:
        """Dendrites in the layer: ``n_dendrites`` per neuron with a soma, else in all."""
        return self.n_dendrites * (self.n_neurons if self.soma else 1)

    def to_genes(self) -> dict[str, Any]:
        """Returns the genes as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "task"}


class DendriticLayer(nn.Module):
    """Sparse dendrites (masked dense weights), then optionally a soma per neuron."""

    def __init__(self, in_dim: int, config: DendriticConfig) -> None:
        super().__init__()
        self.config = config
        units = config.units
        self.dendrite = nn.Linear(in_dim, units)  # weight (units, in), bias (units,)
        # Each dendrite's inputs: the first k of a random permutation of the inputs.
        order = torch.rand(units, in_dim).argsort(dim=1)
        mask = torch.zeros(units, in_dim, dtype=torch.bool)
        mask.scatter_(1, order[:, : config.n_dendrite_inputs], True)
        self.register_buffer("mask", mask)
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        if config.soma:
            self.soma_weight = nn.Parameter(torch.randn(config.n_neurons, config.n_dendrites) * 0.5)
            self.soma_bias = nn.Parameter(torch.zeros(config.n_neurons))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in) -> (B, n_neurons)`` with a soma, ``(B, n_dendrites)`` without."""
        if self.training and self.config.synaptic_resampling:
            self.steps += 1
            if int(self.steps) % RESAMPLE_EVERY == 0:
                self.resample()
        weight = self.dendrite.weight * self.mask
        h = F.leaky_relu(F.linear(x, weight, self.dendrite.bias), SLOPE)  # (B, units)
        if not self.config.soma:
            return h
        h = h.view(x.shape[0], self.config.n_neurons, self.config.n_dendrites)  # (B, N, D)
        return (h * self.soma_weight).sum(dim=-1) + self.soma_bias  # (B, N)

    @torch.no_grad()
    def resample(self) -> None:
        """Move each dendrite's weakest connection to an input it does not see, weight 0."""
        units, in_dim = self.mask.shape
        if self.config.n_dendrite_inputs >= in_dim:
            return
        strength = self.dendrite.weight.abs().masked_fill(~self.mask, float("inf"))
        weakest = strength.argmin(dim=1)  # (units,)
        generator = torch.Generator().manual_seed(int(self.steps))
        noise = torch.rand(units, in_dim, generator=generator).masked_fill(self.mask, -1.0)
        target = noise.argmax(dim=1)  # a random input not yet connected
        rows = torch.arange(units)
        self.mask[rows, weakest] = False
        self.mask[rows, target] = True
        self.dendrite.weight[rows, target] = 0.0


class DendriticClassifier(nn.Module):
    """One of `ARCHITECTURES` over the task's inputs read as numbers."""

    def __init__(self, config: DendriticConfig) -> None:
        super().__init__()
        self.config = config
        task = config.task
        self.layer = DendriticLayer(task.seq_len, config)
        classes = int(task.num_classes)  # type: ignore[arg-type]
        if config.architecture == "dendritic_simple":
            self.head = nn.Sequential(nn.Linear(config.n_neurons, classes))
        else:
            width = config.n_neurons if config.soma else config.n_dendrites
            pre = [nn.LeakyReLU(SLOPE)] if config.architecture == "dendritic_with_hidden" else []
            self.head = nn.Sequential(
                *pre, nn.Linear(width, config.hidden), nn.LeakyReLU(SLOPE),
                nn.Linear(config.hidden, classes),
            )  # fmt: skip

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Classifies each input row: ``(B, T)`` ids -> ``(B, num_classes)`` logits.

        ``mask`` is accepted for the classification interface; a dendritic network reads
        every input position (pad ids read as zero intensity).
        """
        check_tokens(idx, self.config.task)
        x = idx.float() / max(self.config.task.vocab_size - 1, 1)  # (B, T) in [0, 1]
        if x.shape[1] < self.config.task.seq_len:  # shorter rows: zero intensity beyond
            x = F.pad(x, (0, self.config.task.seq_len - x.shape[1]))
        logits = self.head(self.layer(x))
        return logits, cls_loss(logits, targets)

    def num_params(self) -> int:
        """Number of unique parameters."""
        return unique_param_count(self)


def dendritic_params(config: DendriticConfig) -> int:
    """Parameters of the model `models.build_model` makes (the module docstring's counts)."""
    inputs, classes = config.task.seq_len, int(config.task.num_classes)  # type: ignore[arg-type]
    d, n = config.n_dendrites, config.n_neurons
    # with a soma: dendrite weights and biases, then soma weights and biases
    layer = inputs * d * n + d * n + d * n + n if config.soma else inputs * d + d
    if config.architecture == "dendritic_simple":
        return layer + n * classes + classes
    width = n if config.soma else d
    return layer + width * config.hidden + config.hidden + config.hidden * classes + classes


def dendritic_flops(config: DendriticConfig) -> int:
    """Forward FLOPs per example (2 per multiply-add of the weights as run: the masked
    dendrite matrix is multiplied dense)."""
    classes = int(config.task.num_classes)  # type: ignore[arg-type]
    weights = config.task.seq_len * config.units
    if config.soma:
        weights += config.units
    if config.architecture == "dendritic_simple":
        weights += config.n_neurons * classes
    else:
        width = config.n_neurons if config.soma else config.n_dendrites
        weights += width * config.hidden + config.hidden * classes
    return 2 * weights
