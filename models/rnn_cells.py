"""Layer-normalised recurrent cells (Ba et al., 2016) and the layer that runs them over time.

Each cell splits its update into :meth:`project_input` (``LN(W_x x) + b`` for all time
steps at once) and ``forward`` (one step, adding ``LN(W_h h)``). Gate order follows
PyTorch: LSTM ``(i, f, g, o)``, GRU ``(r, z, n)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

State = tuple[torch.Tensor, ...]


class _NormCell(nn.Module):
    """Shared parts: ``W_x``, ``W_h`` (no bias), their gain-only LayerNorms and one bias."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        width = self.gates * hidden_size
        self.hidden_size = hidden_size
        self.weight_x = nn.Linear(input_size, width, bias=False)
        self.weight_h = nn.Linear(hidden_size, width, bias=False)
        self.norm_x = nn.LayerNorm(width, bias=False)
        self.norm_h = nn.LayerNorm(width, bias=False)
        self.bias = nn.Parameter(torch.zeros(width))
        bound = 1.0 / math.sqrt(hidden_size)  # PyTorch's default for recurrent weights
        nn.init.uniform_(self.weight_x.weight, -bound, bound)
        nn.init.uniform_(self.weight_h.weight, -bound, bound)

    def initial_state(self, x: torch.Tensor) -> State:
        """Zero state for a batch ``x`` of shape ``(B, T, I)``."""
        return (x.new_zeros(x.shape[0], self.hidden_size),)

    def project_input(self, x: torch.Tensor) -> torch.Tensor:
        """``LN(W_x x) + b`` for every step: ``(B, T, I) -> (B, T, gates * H)``."""
        return self.norm_x(self.weight_x(x)) + self.bias

    def recurrent(self, h: torch.Tensor) -> torch.Tensor:
        """``LN(W_h h)``: ``(B, H) -> (B, gates * H)``."""
        return self.norm_h(self.weight_h(h))


class NormLSTMCell(_NormCell):
    """``c' = f*c + i*g``, ``h' = o * tanh(LN(c'))``; forget-gate bias starts at 1."""

    gates = 4

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.norm_c = nn.LayerNorm(hidden_size)
        with torch.no_grad():
            self.bias[hidden_size : 2 * hidden_size] = 1.0

    def initial_state(self, x: torch.Tensor) -> State:
        """Zero ``(h, c)``."""
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        return zeros, zeros

    def forward(self, x_proj: torch.Tensor, state: State) -> State:
        """One step from the projected input ``(B, 4H)``; returns ``(h, c)``."""
        h, c = state
        i, f, g, o = (x_proj + self.recurrent(h)).chunk(4, dim=-1)  # (B, 4H) -> 4 x (B, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self.norm_c(c))
        return h, c


class NormGRUCell(_NormCell):
    """``r, z = sigmoid(.)``, ``n = tanh(x_n + r * (LN(W_hn h) + b_hn))``, ``h' = (1-z)n + zh``."""

    gates = 3

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.bias_hn = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x_proj: torch.Tensor, state: State) -> State:
        """One step from the projected input ``(B, 3H)``; returns ``(h,)``."""
        (h,) = state
        x_r, x_z, x_n = x_proj.chunk(3, dim=-1)  # (B, 3H) -> 3 x (B, H)
        h_r, h_z, h_n = self.recurrent(h).chunk(3, dim=-1)  # (B, 3H) -> 3 x (B, H)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * (h_n + self.bias_hn))
        return ((1.0 - z) * n + z * h,)


class NormVanillaCell(_NormCell):
    """``h' = tanh(LN(W_x x) + LN(W_h h) + b)``."""

    gates = 1

    def forward(self, x_proj: torch.Tensor, state: State) -> State:
        """One step from the projected input ``(B, H)``; returns ``(h,)``."""
        (h,) = state
        return (torch.tanh(x_proj + self.recurrent(h)),)


NORM_CELLS: dict[str, type[_NormCell]] = {
    "lstm": NormLSTMCell,
    "gru": NormGRUCell,
    "vanilla": NormVanillaCell,
}


def norm_cell_params(cell: str, input_size: int, hidden_size: int) -> int:
    """Parameter count of one ``NORM_CELLS[cell](input_size, hidden_size)``."""
    gates = NORM_CELLS[cell].gates
    width = gates * hidden_size
    count = width * (input_size + hidden_size) + 3 * width  # W_x, W_h, LN gains, bias
    if cell == "lstm":
        count += 2 * hidden_size  # LN(c) gain and bias
    elif cell == "gru":
        count += hidden_size  # b_hn
    return count


def run_cell(
    cell: _NormCell, x: torch.Tensor, mask: torch.Tensor | None, reverse: bool
) -> torch.Tensor:
    """Runs ``cell`` over time.

    Args:
        cell: The recurrent cell.
        x: Inputs ``(B, T, I)``.
        mask: Optional bool ``(B, T)``; the state is only updated at True positions, so
            padding does not affect it in either direction.
        reverse: Whether to run from the last step to the first.

    Returns:
        Hidden states ``(B, T, H)``; entry ``t`` is the state after step ``t``.
    """
    T = x.shape[1]
    x_proj = cell.project_input(x)  # (B, T, I) -> (B, T, gates * H)
    state = cell.initial_state(x)
    outputs: list[torch.Tensor] = [x_proj] * T
    for t in reversed(range(T)) if reverse else range(T):
        new_state = cell(x_proj[:, t], state)
        if mask is not None:
            keep = mask[:, t, None]  # (B, 1)
            pairs = zip(new_state, state, strict=True)
            new_state = tuple(torch.where(keep, new, old) for new, old in pairs)
        state = new_state
        outputs[t] = state[0]
    return torch.stack(outputs, dim=1)  # T x (B, H) -> (B, T, H)


class NormRecurrentLayer(nn.Module):
    """One layer of layer-normalised cells, optionally bidirectional.

    Args:
        cell: ``"lstm"``, ``"gru"`` or ``"vanilla"``.
        input_size: Input width.
        hidden_size: Hidden width per direction.
        bidirectional: Whether to add a second cell run over the reversed sequence.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, bidirectional: bool) -> None:
        super().__init__()
        self.forward_cell = NORM_CELLS[cell](input_size, hidden_size)
        self.backward_cell = NORM_CELLS[cell](input_size, hidden_size) if bidirectional else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Maps ``(B, T, I) -> (B, T, H * num_directions)`` (forward half first)."""
        out = run_cell(self.forward_cell, x, mask, reverse=False)
        if self.backward_cell is None:
            return out
        backward = run_cell(self.backward_cell, x, mask, reverse=True)
        return torch.cat((out, backward), dim=-1)
