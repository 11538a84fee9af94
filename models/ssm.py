"""A selective state-space mixer in the Mamba family (Gu & Dao, 2023): the module and its
analytic counts.

The block of Mamba's reference implementation, in plain PyTorch: the input is projected
to ``2 E`` channels (``E = EXPAND * d_model``), one half goes through a causal depthwise
convolution, silu, and the selective scan, the other gates the result (silu), and a
projection returns to ``d_model``. The scan is input-dependent: from each token the model
computes its step size ``dt`` (softplus of a rank-``R`` projection), and ``B`` and ``C``
(``N = STATE`` numbers each); per channel the state evolves as
``h_t = exp(dt_t A) h_(t-1) + dt_t B_t x_t`` and is read out as ``y_t = C_t h_t + D x_t``.
The scan runs step by step on any device (`selective_scan`); a fast CUDA kernel is not
needed at the contexts of this package's spaces.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from models.config import BlockConfig

EXPAND = 2
"""Inner width ``E = EXPAND * d_model`` (Mamba's default)."""
STATE = 16
"""State size ``N`` per channel (Mamba's default)."""
CONV = 4
"""Width of the causal depthwise convolution (Mamba's default)."""
DT_MIN, DT_MAX = 1e-3, 1e-1
"""Range of the initial step sizes (log-uniform, as Mamba initialises them)."""


def dt_rank(d_model: int) -> int:
    """Rank ``R`` of the step-size projection: ``ceil(d_model / 16)`` (Mamba's default)."""
    return math.ceil(d_model / 16)


def selective_scan(
    x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    """The selective scan, one step at a time.

    Args:
        x: Inputs ``(batch, T, E)``.
        dt: Step sizes ``(batch, T, E)`` (positive).
        A: State matrix diagonals ``(E, N)`` (negative).
        B: Input maps ``(batch, T, N)``.
        C: Output maps ``(batch, T, N)``.

    Returns:
        ``y`` of shape ``(batch, T, E)`` with ``y_t = C_t h_t``.
    """
    batch, T, E = x.shape
    decay = torch.exp(dt.unsqueeze(-1) * A)  # (b, T, E, 1) * (E, N) -> (b, T, E, N)
    drive = (dt * x).unsqueeze(-1) * B.unsqueeze(2)  # (b, T, E, 1) * (b, T, 1, N)
    h = x.new_zeros(batch, E, A.shape[1])  # (b, E, N)
    out = []
    for t in range(T):
        h = decay[:, t] * h + drive[:, t]
        out.append((h * C[:, t, None, :]).sum(dim=-1))  # (b, E, N) . (b, 1, N) -> (b, E)
    return torch.stack(out, dim=1)  # (b, T, E)


class SelectiveSSM(nn.Module):
    """Mamba's mixer: in-projection, causal depthwise conv, selective scan, silu gate,
    out-projection. ``heads`` does not apply (every channel has its own state)."""

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        d = config.d_model
        self.inner = EXPAND * d
        self.rank = dt_rank(d)
        self.in_proj = nn.Linear(d, 2 * self.inner, bias=config.bias)
        self.conv = nn.Conv1d(self.inner, self.inner, CONV, groups=self.inner, bias=True)
        self.x_proj = nn.Linear(self.inner, self.rank + 2 * STATE, bias=False)
        self.dt_proj = nn.Linear(self.rank, self.inner, bias=True)
        self.A_log = nn.Parameter(torch.empty(self.inner, STATE))
        self.D = nn.Parameter(torch.empty(self.inner))
        self.out_proj = nn.Linear(self.inner, d, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.reset_special_parameters()

    def reset_special_parameters(self) -> None:
        """Mamba's own init of what the model-wide N(0, 0.02) must not touch: ``A`` =
        -(1..N) per channel, ``D`` = 1, the step-size projection uniform in
        +-R^-0.5 with a bias that puts softplus(bias) log-uniform in [DT_MIN, DT_MAX]
        (the models call it after their model-wide init; draws from torch's generator)."""
        with torch.no_grad():
            states = torch.arange(1, STATE + 1, dtype=torch.float32)
            self.A_log.copy_(torch.log(states).expand(self.inner, STATE))
            self.D.fill_(1.0)
            bound = self.rank**-0.5
            nn.init.uniform_(self.dt_proj.weight, -bound, bound)
            low, high = math.log(DT_MIN), math.log(DT_MAX)
            dt = torch.exp(torch.rand(self.inner) * (high - low) + low)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)

    def residual_projection(self) -> nn.Linear:
        """The matrix that writes into the residual stream."""
        return self.out_proj

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Maps ``(B, T, C) -> (B, T, C)`` (``key_mask`` must be None: causal, no padding)."""
        u, gate = self.in_proj(x).chunk(2, dim=-1)  # (B, T, C) -> 2 x (B, T, E)
        u = F.pad(u.transpose(1, 2), (CONV - 1, 0))  # (B, E, T) -> (B, E, CONV - 1 + T)
        u = self.conv(u).transpose(1, 2)  # causal: step t sees t-3..t; (B, T, E)
        u = F.silu(u)  # (B, T, E)
        dt, B, C = self.x_proj(u).split((self.rank, STATE, STATE), dim=-1)  # (B, T, R + 2N)
        dt = F.softplus(self.dt_proj(dt))  # (B, T, R) -> (B, T, E)
        A = -torch.exp(self.A_log.float())  # (E, N)
        y = selective_scan(u.float(), dt.float(), A, B.float(), C.float()).type_as(u)
        y = (y + u * self.D) * F.silu(gate)  # (B, T, E)
        return self.resid_dropout(self.out_proj(y))  # (B, T, E) -> (B, T, C)


def ssm_params(config: BlockConfig) -> int:
    """Parameters of `SelectiveSSM`: projections in, x (to dt, B, C), dt and out, the conv
    (weights and bias), ``A_log`` and ``D`` (``bias`` adds the in/out projections')."""
    d, E, R = config.d_model, EXPAND * config.d_model, dt_rank(config.d_model)
    count = d * 2 * E + E * CONV + E + E * (R + 2 * STATE) + R * E + E + E * STATE + E + E * d
    return count + (2 * E + d if config.bias else 0)


def ssm_weights(config: BlockConfig) -> int:
    """Weights `SelectiveSSM` multiplies per token: the four projections and the conv taps."""
    d, E, R = config.d_model, EXPAND * config.d_model, dt_rank(config.d_model)
    return d * 2 * E + E * CONV + E * (R + 2 * STATE) + R * E + E * d


def ssm_context_flops(config: BlockConfig) -> int:
    """FLOPs per token of the scan: three multiply-adds per state (decay, drive,
    readout), ``2 * 3 * E * N``."""
    return 2 * 3 * EXPAND * config.d_model * STATE
