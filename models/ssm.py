"""A selective state-space mixer in the Mamba family (Mamba-2's state-space duality, Dao &
Gu, 2024): the module and its analytic counts.

The input is projected to a gate ``z`` and ``x`` (``E = EXPAND * d_model`` channels each,
split into heads of ``HEAD_DIM``), the input and output maps ``B`` and ``C`` (``N =
STATE`` numbers per token, shared by the heads) and one step size per head;
``x``, ``B`` and ``C`` go through a causal depthwise convolution and silu. The step size is
input-dependent (``dt = softplus(. + bias)``), and per head the state evolves as

    h_t = exp(dt_t A) h_(t-1) + dt_t x_t B_t^T,        y_t = h_t C_t + D x_t

with a scalar ``A < 0`` per head. Unrolled, ``y_t = sum_{s<=t} L[t, s] (C_t . B_s) dt_s
x_s`` with ``L[t, s] = exp(A * (dt_(s+1) + ... + dt_t))``: a decayed, input-gated linear
attention, which training computes in this parallel form with two matrix products per head
(fast on any device at this package's contexts); `SelectiveSSM.recurrent` runs the
recurrence itself. The output is RMS-normalised after the gate ``silu(z)`` and projected
back to ``d_model``, as in Mamba-2.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from models.config import BlockConfig
from models.norms import RMSNorm

EXPAND = 2
"""Inner width ``E = EXPAND * d_model`` (Mamba's default)."""
STATE = 16
"""State size ``N`` per head (Mamba-1's default; Mamba-2 uses more at larger widths)."""
HEAD_DIM = 16
"""Channels per head ``P``; heads ``H = E / P`` (one head of all ``E`` channels when
``HEAD_DIM`` does not divide ``E``)."""
CONV = 4
"""Width of the causal depthwise convolution (Mamba's default)."""
DT_MIN, DT_MAX = 1e-3, 1e-1
"""Range of the initial step sizes (log-uniform, as Mamba initialises them)."""
A_MIN, A_MAX = 1.0, 16.0
"""Range of the initial ``-A`` per head (uniform, as Mamba-2 initialises it)."""


def ssm_heads(d_model: int) -> int:
    """Heads ``H = EXPAND * d_model / HEAD_DIM``, or 1 when that is not a whole number."""
    inner = EXPAND * d_model
    return inner // HEAD_DIM if inner % HEAD_DIM == 0 else 1


class SelectiveSSM(nn.Module):
    """Mamba-2's mixer: in-projection to ``z, x, B, C, dt``, causal depthwise conv over
    ``x, B, C``, the selective state-space map per head, gated RMSNorm, out-projection.
    The layer's ``heads`` gene does not apply (``HEAD_DIM`` fixes them)."""

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        d = config.d_model
        self.inner = EXPAND * d
        self.n_head = ssm_heads(d)
        self.head_dim = self.inner // self.n_head
        conv_channels = self.inner + 2 * STATE
        self.in_proj = nn.Linear(d, 2 * self.inner + 2 * STATE + self.n_head, bias=config.bias)
        self.conv = nn.Conv1d(conv_channels, conv_channels, CONV, groups=conv_channels, bias=True)
        self.A_log = nn.Parameter(torch.empty(self.n_head))
        self.D = nn.Parameter(torch.empty(self.n_head))
        self.dt_bias = nn.Parameter(torch.empty(self.n_head))
        self.norm = RMSNorm(self.inner)
        self.out_proj = nn.Linear(self.inner, d, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.reset_special_parameters()

    def reset_special_parameters(self) -> None:
        """Mamba-2's own init of what the model-wide N(0, 0.02) must not touch: ``-A``
        uniform in [A_MIN, A_MAX] per head, ``D`` = 1, a step-size bias that puts
        softplus(bias) log-uniform in [DT_MIN, DT_MAX] (the models call it after their
        model-wide init; draws from torch's generator)."""
        with torch.no_grad():
            self.A_log.copy_(torch.log(torch.empty(self.n_head).uniform_(A_MIN, A_MAX)))
            self.D.fill_(1.0)
            low, high = math.log(DT_MIN), math.log(DT_MAX)
            dt = torch.exp(torch.rand(self.n_head) * (high - low) + low)
            self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)

    def residual_projection(self) -> nn.Linear:
        """The matrix that writes into the residual stream."""
        return self.out_proj

    def _inputs(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``z (b, T, E)``, ``x (b, H, T, P)``, ``B, C (b, T, N)`` and ``dt (b, H, T)``."""
        b, T, _ = x.shape
        z, xbc, dt = self.in_proj(x).split(
            (self.inner, self.inner + 2 * STATE, self.n_head), dim=-1
        )
        xbc = F.pad(xbc.transpose(1, 2), (CONV - 1, 0))  # (b, E + 2N, CONV - 1 + T)
        xbc = F.silu(self.conv(xbc)).transpose(1, 2)  # causal: t sees t-3..t; (b, T, E + 2N)
        u, B, C = xbc.split((self.inner, STATE, STATE), dim=-1)
        u = u.view(b, T, self.n_head, self.head_dim).transpose(1, 2)  # (b, H, T, P)
        dt = F.softplus(dt + self.dt_bias).transpose(1, 2)  # (b, T, H) -> (b, H, T)
        return z, u, B, C, dt

    def _output(self, z: torch.Tensor, y: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        b, _, T, _ = y.shape
        y = y + u * self.D[None, :, None, None]  # skip: (b, H, T, P)
        y = y.transpose(1, 2).reshape(b, T, self.inner)  # (b, H, T, P) -> (b, T, E)
        return self.out_proj(self.norm(y * F.silu(z)))  # gated RMSNorm, (b, T, E) -> (b, T, C)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Maps ``(B, T, C) -> (B, T, C)`` in the parallel form (``key_mask`` must be None:
        causal, no padding)."""
        z, u, B, C, dt = self._inputs(x)
        T = u.shape[2]
        A = -torch.exp(self.A_log.float())  # (H,)
        log_decay = torch.cumsum(dt.float() * A[None, :, None], dim=-1)  # (b, H, T)
        gap = log_decay[..., :, None] - log_decay[..., None, :]  # (b, H, T, T): sum over s+1..t
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        L = torch.exp(gap.masked_fill(~causal, float("-inf"))).to(u.dtype)  # 0 above diagonal
        scores = C @ B.transpose(1, 2)  # (b, T, N) x (b, N, T) -> (b, T, T): C_t . B_s
        weights = L * scores[:, None] * dt[:, :, None, :]  # (b, H, T, T), times dt_s
        y = weights @ u  # (b, H, T, T) x (b, H, T, P) -> (b, H, T, P)
        return self.resid_dropout(self._output(z, y, u))

    @torch.no_grad()
    def recurrent(self, x: torch.Tensor) -> torch.Tensor:
        """The same map through the state ``h (b, H, P, N)``, one step at a time (what
        generation would use); equal to `forward` up to rounding."""
        z, u, B, C, dt = self._inputs(x)
        b, H, T, P = u.shape
        A = -torch.exp(self.A_log.float())  # (H,)
        h = x.new_zeros(b, H, P, STATE)
        out = []
        for t in range(T):
            decay = torch.exp(dt[:, :, t] * A)[:, :, None, None]  # (b, H, 1, 1)
            drive = (dt[:, :, t, None] * u[:, :, t])[..., None] * B[:, None, t, None, :]
            h = decay * h + drive  # (b, H, P, N)
            out.append((h * C[:, None, t, None, :]).sum(dim=-1))  # (b, H, P)
        return self._output(z, torch.stack(out, dim=2), u)


def ssm_params(config: BlockConfig) -> int:
    """Parameters of `SelectiveSSM`: in-projection (to z, x, B, C, dt), the conv (weights
    and bias), ``A_log``, ``D``, ``dt_bias``, the norm's gain and the out-projection
    (``bias`` adds the two projections' biases)."""
    d, E, H = config.d_model, EXPAND * config.d_model, ssm_heads(config.d_model)
    proj_out, conv = 2 * E + 2 * STATE + H, E + 2 * STATE
    count = d * proj_out + conv * CONV + conv + 3 * H + E + E * d
    return count + (proj_out + d if config.bias else 0)


def ssm_weights(config: BlockConfig) -> int:
    """Weights `SelectiveSSM` multiplies per token: the two projections and the conv taps."""
    d, E, H = config.d_model, EXPAND * config.d_model, ssm_heads(config.d_model)
    return d * (2 * E + 2 * STATE + H) + (E + 2 * STATE) * CONV + E * d


def ssm_context_flops(config: BlockConfig) -> int:
    """FLOPs per token of the parallel form over the full context: ``C B^T`` (``2 T N``)
    and the weighted sum of the inputs (``2 T E``)."""
    return 2 * config.seq_len * (STATE + EXPAND * config.d_model)
