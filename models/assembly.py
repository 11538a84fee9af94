"""RNN assemblies: a recurrent classifier whose hidden state is ``blocks`` assemblies of
``units`` neurons, coupled by a few sparse connections between assemblies.

One step (``h`` of width ``H = blocks x units``, ``u_t`` the projected input frame)::

    r     = blockdiag(W_1 .. W_B) h  +  sum over couplings  w_k h[src_k] -> [dst_k]
    c     = tanh(u_t + r + bias)
    alpha = gate_min + (gate_max - gate_min) * sigmoid(g)        # per neuron, learned
    h     = LayerNorm((1 - alpha) * h + alpha * c)

Each assembly is fully connected within (``units x units`` weights); ``coupling`` directed
connections join neurons of different assemblies (chosen at random when the model is
built, a fixed buffer; one scalar weight each). The gates are leaky-integration rates held
between the genes ``gate_min`` and ``gate_max``: slow neurons integrate over many frames,
fast ones follow the input. Padding frames leave the state as it was. The states are
pooled by attention (``alpha_t = softmax_t(q . h_t)``, one learnable query), then a linear
head. Beyond a plain assembly's weights the LayerNorm and the query add ``3 x H``
parameters.

Inputs: a ``series`` task's frames ``(B, T, C)`` through ``Linear(C, H)``, or token ids
through ``Embedding(V, H)``. Classification only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

from models.checks import check_int, check_real
from models.common import check_inputs, cls_loss, resolve_mask, unique_param_count
from models.errors import ModelConfigError
from models.genes import gene_where
from models.pooling import Pooling
from models.spec import TaskSpec


@dataclass(frozen=True)
class AssemblyConfig:
    """An RNN assembly classifier plus the task it is built for."""

    task: TaskSpec
    units: int = 16
    blocks: int = 4
    coupling: int = 16
    gate_min: float = 1e-3
    gate_max: float = 0.5

    family: ClassVar[str] = "assembly"

    def __post_init__(self) -> None:
        fam = self.family
        if not isinstance(self.task, TaskSpec) or self.task.is_lm:
            raise ModelConfigError(
                f"the assembly family classifies; task {self.task!r} is invalid (allowed: a "
                "TaskSpec of kind cls, image or series)"
            )
        values: dict[str, Any] = {
            "units": check_int(self.units, gene_where(fam, "units")),
            "blocks": check_int(self.blocks, gene_where(fam, "blocks")),
            "coupling": check_int(self.coupling, gene_where(fam, "coupling"), 0),
            "gate_min": _closed(self.gate_min, gene_where(fam, "gate_min"), 1e-6, 1e-2),
            "gate_max": _closed(self.gate_max, gene_where(fam, "gate_max"), 1e-2, 1.0),
        }
        possible = values["blocks"] * (values["blocks"] - 1) * values["units"] ** 2
        if values["coupling"] > possible:
            raise ModelConfigError(
                f"assembly gene 'coupling'={values['coupling']} is invalid: {values['blocks']} "
                f"assemblies of {values['units']} have {possible} connections between them"
            )
        if values["gate_min"] >= values["gate_max"]:
            raise ModelConfigError(
                f"assembly genes gate_min={values['gate_min']} and gate_max="
                f"{values['gate_max']} are invalid; allowed: gate_min < gate_max"
            )
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def hidden(self) -> int:
        """Neurons in all: ``blocks x units``."""
        return self.blocks * self.units

    def to_genes(self) -> dict[str, Any]:
        """Returns the genes as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "task"}


def _closed(value: Any, where: str, low: float, high: float) -> float:
    """A real number in ``[low, high]``, both ends included."""
    number = check_real(value, where, low, 2 * high)
    if number > high:
        raise ModelConfigError(
            f"{where}={value!r} is invalid; allowed: a number in [{low}, {high}]"
        )
    return number


class AssemblyClassifier(nn.Module):
    """The classifier of the module docstring."""

    def __init__(self, config: AssemblyConfig) -> None:
        super().__init__()
        self.config = config
        task, H, A, B = config.task, config.hidden, config.units, config.blocks
        self.inputs: nn.Module = (
            nn.Linear(int(task.channels), H)  # type: ignore[arg-type]
            if task.reads_frames
            else nn.Embedding(task.vocab_size, H)
        )
        self.blocks = nn.Parameter(torch.randn(B, A, A) / A**0.5)  # within each assembly
        self.bias = nn.Parameter(torch.zeros(H))
        # Couplings: random (source, target) neuron pairs in different assemblies.
        src, dst = _couplings(B, A, config.coupling)
        self.register_buffer("src", src)
        self.register_buffer("dst", dst)
        self.coupling_weight = nn.Parameter(torch.randn(config.coupling) / A**0.5)
        self.gate = nn.Parameter(torch.zeros(H))  # alpha halfway between the bounds at init
        self.norm = nn.LayerNorm(H)
        self.pool = Pooling("attention", H)
        self.head = nn.Linear(H, int(task.num_classes))  # type: ignore[arg-type]

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Classifies each sequence: ``(B, T[, C]) -> (B, num_classes)`` logits."""
        config = self.config
        check_inputs(idx, config.task)
        mask = resolve_mask(idx, mask, config.task)
        u = self.inputs(idx)  # (N, T, H)
        N, T, H = u.shape
        alpha = self.rates()
        h = u.new_zeros(N, H)
        states = []
        for t in range(T):
            r = torch.einsum("nba,bac->nbc", h.view(N, config.blocks, config.units), self.blocks)
            r = r.reshape(N, H)  # (N, B, A) -> (N, H)
            if config.coupling:
                r = r.index_add(1, self.dst, h[:, self.src] * self.coupling_weight)
            c = torch.tanh(u[:, t] + r + self.bias)
            new = self.norm((1 - alpha) * h + alpha * c)
            h = new if mask is None else torch.where(mask[:, t, None], new, h)
            states.append(h)
        pooled = self.pool(torch.stack(states, dim=1), mask)  # (N, T, H) -> (N, H)
        logits = self.head(pooled)
        return logits, cls_loss(logits, targets)

    def rates(self) -> torch.Tensor:
        """Each neuron's integration rate, inside ``[gate_min, gate_max]``: ``(H,)``."""
        low, high = self.config.gate_min, self.config.gate_max
        return low + (high - low) * torch.sigmoid(self.gate)

    def num_params(self) -> int:
        """Number of unique parameters."""
        return unique_param_count(self)


def _couplings(blocks: int, units: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` distinct (source, target) neuron pairs whose assemblies differ, drawn from
    torch's global generator (seeded by the evaluator before a model is built)."""
    if count == 0:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    H = blocks * units
    block = torch.arange(H) // units
    src, dst = torch.meshgrid(torch.arange(H), torch.arange(H), indexing="ij")
    allowed = block[src] != block[dst]
    candidates = torch.stack([src[allowed], dst[allowed]], dim=1)  # (pairs, 2)
    chosen = candidates[torch.randperm(candidates.shape[0])[:count]]
    return chosen[:, 0].contiguous(), chosen[:, 1].contiguous()


def assembly_params(config: AssemblyConfig) -> int:
    """Parameters of the model `models.build_model` makes from ``config``."""
    task, H, A = config.task, config.hidden, config.units
    classes = int(task.num_classes)  # type: ignore[arg-type]
    channels = int(task.channels or 0)
    inputs = channels * H + H if task.reads_frames else task.vocab_size * H
    recurrent = config.blocks * A * A + H + config.coupling + H  # blocks, bias, couplings, gates
    return inputs + recurrent + 2 * H + H + H * classes + classes  # LayerNorm, query, head


def assembly_flops(config: AssemblyConfig) -> int:
    """Forward FLOPs per frame (2 per multiply-add): the input projection (a lookup for
    ids), the assemblies, the couplings, the query and the head."""
    task, H = config.task, config.hidden
    weights = int(task.channels or 0) * H
    weights += config.blocks * config.units**2 + config.coupling + H
    return 2 * (weights + H * int(task.num_classes))  # type: ignore[arg-type]
