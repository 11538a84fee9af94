"""Position-wise feed-forward networks and their analytic counts."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from models.config import BlockConfig

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}
_GATED = {"swiglu": F.silu, "geglu": F.gelu}


class MLP(nn.Module):
    """Plain FFN: ``fc2(act(fc1(x)))`` with ``act`` in relu / gelu / silu."""

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        self.hidden = config.ffn_hidden
        self.act = _ACTIVATIONS[config.activation]
        self.fc1 = nn.Linear(config.d_model, config.ffn_hidden, bias=config.bias)
        self.fc2 = nn.Linear(config.ffn_hidden, config.d_model, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``(B, T, C) -> (B, T, C)``."""
        return self.dropout(self.fc2(self.act(self.fc1(x))))


class GatedMLP(nn.Module):
    """Gated FFN (Shazeer, 2020): ``w2(act(w1(x)) * w3(x))`` with silu (SwiGLU) or gelu (GeGLU)."""

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        self.hidden = config.ffn_hidden
        self.act = _GATED[config.activation]
        self.w1 = nn.Linear(config.d_model, config.ffn_hidden, bias=config.bias)
        self.w3 = nn.Linear(config.d_model, config.ffn_hidden, bias=config.bias)
        self.w2 = nn.Linear(config.ffn_hidden, config.d_model, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``(B, T, C) -> (B, T, C)``."""
        return self.dropout(self.w2(self.act(self.w1(x)) * self.w3(x)))


def make_ffn(config: BlockConfig) -> nn.Module:
    """Builds the FFN selected by ``config.activation``."""
    return GatedMLP(config) if config.activation in _GATED else MLP(config)


def ffn_matrices(activation: str) -> int:
    """Number of ``d_model x hidden`` weight matrices in the FFN for ``activation``."""
    return 3 if activation in _GATED else 2


def ffn_params(config: BlockConfig) -> int:
    """Parameters of `make_ffn(config)`: its matrices and (with ``bias``) their biases."""
    mats, hidden, d = ffn_matrices(config.activation), config.ffn_hidden, config.d_model
    return mats * d * hidden + ((mats - 1) * hidden + d if config.bias else 0)


def ffn_weights(config: BlockConfig) -> int:
    """Weights the FFN multiplies per token (``2 d h``, gated ``3 d h``)."""
    return ffn_matrices(config.activation) * config.d_model * config.ffn_hidden
