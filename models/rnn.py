"""Recurrent language model and sequence classifier (LSTM / GRU / vanilla tanh RNN), and
their analytic counts (`rnn_params`, `rnn_flops`)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.common import (
    check_inputs,
    check_tokens,
    cls_loss,
    init_linear_and_embedding,
    lm_loss,
    resolve_mask,
    unique_param_count,
)
from models.config import RNNConfig
from models.errors import ModelConfigError
from models.pooling import Pooling, pooling_params
from models.rnn_cells import NormRecurrentLayer, norm_cell_params

GATES: dict[str, int] = {"lstm": 4, "gru": 3, "vanilla": 1}
"""Gate blocks per cell: the recurrent weights of a layer are ``GATES * H x (I + H)``."""


def _torch_rnn(config: RNNConfig) -> nn.RNNBase:
    """Builds the fused PyTorch recurrent module for ``cell_norm=False``."""
    kwargs = dict(
        input_size=config.embed_dim,
        hidden_size=config.hidden_size,
        num_layers=config.layers,
        batch_first=True,
        bidirectional=config.bidirectional,
        dropout=config.dropout if config.layers > 1 else 0.0,
    )
    if config.cell == "lstm":
        return nn.LSTM(**kwargs)
    if config.cell == "gru":
        return nn.GRU(**kwargs)
    return nn.RNN(nonlinearity="tanh", **kwargs)


class RNNStack(nn.Module):
    """Stack of recurrent layers: ``(B, T, E) -> (B, T, H * num_directions)``.

    ``cell_norm=False`` uses PyTorch's fused ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``;
    ``cell_norm=True`` uses the layer-normalised cells of :mod:`models.rnn_cells`.
    Recurrent weights keep PyTorch's ``U(-1/sqrt(H), 1/sqrt(H))`` init, biases start at
    zero and the LSTM forget-gate bias starts at an effective 1.
    """

    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        self.rnn: nn.RNNBase | None = None
        self.norm_layers: nn.ModuleList | None = None
        if config.cell_norm:
            self.norm_layers = nn.ModuleList(
                NormRecurrentLayer(
                    config.cell,
                    config.embed_dim if i == 0 else config.out_dim,
                    config.hidden_size,
                    config.bidirectional,
                )
                for i in range(config.layers)
            )
            self.drop = nn.Dropout(config.dropout)
        else:
            self.rnn = _torch_rnn(config)
            self._init_torch_biases(config)

    def _init_torch_biases(self, config: RNNConfig) -> None:
        """Zeros the fused module's biases; LSTM forget slice of ``b_ih`` set to 1."""
        assert self.rnn is not None
        H = config.hidden_size
        with torch.no_grad():
            for name, param in self.rnn.named_parameters():
                if name.startswith("bias"):
                    param.zero_()
                    if config.cell == "lstm" and name.startswith("bias_ih"):
                        param[H : 2 * H] = 1.0

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Runs the stack.

        Args:
            x: Embedded inputs ``(B, T, E)``.
            mask: Optional bool ``(B, T)`` marking real tokens; must be right-padded (a
                prefix of True per row). Padding then affects no state in either direction.

        Returns:
            Hidden states ``(B, T, H * num_directions)``.
        """
        if self.norm_layers is not None:
            for i, layer in enumerate(self.norm_layers):
                x = layer(self.drop(x) if i > 0 else x, mask)
            return x
        assert self.rnn is not None
        if mask is None or bool(mask.all()):
            return self.rnn(x)[0]
        lengths = mask.sum(dim=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])
        return out


class RNNLM(nn.Module):
    """Recurrent causal language model with an untied ``Linear(H, vocab)`` head."""

    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        if not config.task.is_lm:
            raise ModelConfigError(
                f"RNNLM needs a language-modelling task, got {config.task.kind!r}"
            )
        self.config = config
        self.embedding = nn.Embedding(config.task.vocab_size, config.embed_dim)
        self.rnn = RNNStack(config)
        self.lm_head = nn.Linear(config.hidden_size, config.task.vocab_size)
        init_linear_and_embedding(self.embedding)
        init_linear_and_embedding(self.lm_head)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Computes next-token logits.

        Args:
            idx: Token ids ``(B, T)`` with ``T <= seq_len``.
            targets: Optional next-token ids ``(B, T)``; ``-100`` entries are ignored.

        Returns:
            ``(logits (B, T, vocab), loss or None)``.
        """
        check_tokens(idx, self.config.task)
        h = self.rnn(self.embedding(idx))  # (B, T) -> (B, T, E) -> (B, T, H)
        logits = self.lm_head(h)  # (B, T, H) -> (B, T, V)
        return logits, lm_loss(logits, targets)

    def num_params(self) -> int:
        """Number of unique parameters."""
        return unique_param_count(self)


def _left_align(idx: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Moves real tokens to the front of each row, keeping their order.

    Returns:
        ``(idx, mask)`` where ``mask`` is a per-row prefix of True values.
    """
    order = torch.argsort((~mask).int(), dim=1, stable=True)  # real tokens first
    lengths = mask.sum(dim=1, keepdim=True)  # (B, 1)
    prefix = torch.arange(idx.shape[1], device=idx.device)[None, :] < lengths  # (B, T)
    if idx.dim() == 3:  # series frames (B, T, C): move whole frames
        order = order[..., None].expand(-1, -1, idx.shape[2])
    return idx.gather(1, order), prefix


class RNNClassifier(nn.Module):
    """Recurrent sequence classifier with last / mean / attention pooling.

    ``"last"`` pooling takes the forward direction's state at the last real token and, if
    bidirectional, the backward direction's state at the first real token.
    """

    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        task = config.task
        if task.is_lm or task.num_classes is None:
            raise ModelConfigError(f"RNNClassifier needs a classification task, got {task.kind!r}")
        self.config = config
        # token ids are embedded; a series' real-valued frames are projected
        self.embedding: nn.Module = (
            nn.Linear(int(task.channels), config.embed_dim)  # type: ignore[arg-type]
            if task.reads_frames
            else nn.Embedding(task.vocab_size, config.embed_dim)
        )
        self.rnn = RNNStack(config)
        self.pool = Pooling(config.pooling, config.out_dim)
        self.pool_first = Pooling("first", config.hidden_size)
        self.head = nn.Linear(config.out_dim, task.num_classes)
        init_linear_and_embedding(self.embedding)
        init_linear_and_embedding(self.head)

    def _pool(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Pools ``(B, T, H * dirs) -> (B, H * dirs)``."""
        if self.config.pooling == "last" and self.config.bidirectional:
            H = self.config.hidden_size
            forward_last = self.pool(h[..., :H], mask)  # (B, H)
            backward_first = self.pool_first(h[..., H:], mask)  # (B, H)
            return torch.cat((forward_last, backward_first), dim=-1)
        return self.pool(h, mask)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Classifies each sequence.

        Args:
            idx: Token ids ``(B, T)`` with ``T <= seq_len``.
            targets: Optional labels ``(B,)``.
            mask: Optional bool ``(B, T)``, True marks real tokens (any padding layout).
                Defaults to ``idx != pad_id`` when the task has a pad id. Padding never
                enters the recurrence or the pooling.

        Returns:
            ``(logits (B, num_classes), loss or None)``.
        """
        check_inputs(idx, self.config.task)
        mask = resolve_mask(idx, mask, self.config.task)
        if mask is not None:
            idx, mask = _left_align(idx, mask)
        h = self.rnn(self.embedding(idx), mask)  # (B, T) -> (B, T, E) -> (B, T, H * dirs)
        logits = self.head(self._pool(h, mask))  # (B, H * dirs) -> (B, num_classes)
        return logits, cls_loss(logits, targets)

    def num_params(self) -> int:
        """Number of unique parameters."""
        return unique_param_count(self)


def _layer_inputs(config: RNNConfig) -> list[int]:
    """Input width of every recurrent layer (the embedding, then the layer below)."""
    return [config.embed_dim if layer == 0 else config.out_dim for layer in range(config.layers)]


def rnn_params(config: RNNConfig) -> int:
    """Parameters of the model `build_model` makes from ``config``."""
    task, H = config.task, config.hidden_size
    if task.reads_frames:  # the frames' input projection (weights and biases)
        count = int(task.channels) * config.embed_dim + config.embed_dim  # type: ignore[arg-type]
    else:
        count = task.vocab_size * config.embed_dim  # token embedding
    for in_dim in _layer_inputs(config):
        if config.cell_norm:
            per_direction = norm_cell_params(config.cell, in_dim, H)
        else:
            gates = GATES[config.cell] * H
            per_direction = gates * (in_dim + H) + 2 * gates  # W_ih, W_hh, b_ih, b_hh
        count += config.num_directions * per_direction
    if task.is_lm:
        return count + H * task.vocab_size + task.vocab_size
    assert task.num_classes is not None
    out = config.out_dim
    return count + pooling_params(config.pooling, out) + out * task.num_classes + task.num_classes


def rnn_flops(config: RNNConfig) -> int:
    """Forward FLOPs per token (`models.counting.flops_per_token` states the convention)."""
    task, H = config.task, config.hidden_size
    weights = sum(
        config.num_directions * GATES[config.cell] * H * (in_dim + H)
        for in_dim in _layer_inputs(config)
    )
    if task.reads_frames:  # the frames' input projection is a matmul, not a lookup
        weights += int(task.channels) * config.embed_dim  # type: ignore[arg-type]
    if task.is_lm:
        weights += H * task.vocab_size
    else:
        assert task.num_classes is not None
        out = config.out_dim
        weights += out * task.num_classes + pooling_params(config.pooling, out)
    return 2 * weights
