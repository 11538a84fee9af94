"""A batch of model inputs and targets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Batch:
    """Inputs, targets and (for classification) the padding mask of one batch.

    Attributes:
        inputs: Token ids, ``(batch, seq_len)`` ``int64``.
        targets: Next-token ids ``(batch, seq_len)`` for language modelling, class ids
            ``(batch,)`` for classification; ``int64``.
        mask: ``(batch, seq_len)`` ``bool``, True at real (non-padding) tokens; None for
            language modelling.
    """

    inputs: Tensor
    targets: Tensor
    mask: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        """The batch on ``device`` (copies are asynchronous where the device allows)."""
        device = torch.device(device)
        if self.inputs.device == device:
            return self
        mask = None if self.mask is None else self.mask.to(device, non_blocking=True)
        return Batch(
            self.inputs.to(device, non_blocking=True),
            self.targets.to(device, non_blocking=True),
            mask,
        )

    @property
    def num_tokens(self) -> int:
        """Real input tokens in the batch (padding excluded)."""
        if self.mask is not None:
            return int(self.mask.sum())
        return self.inputs.numel()

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def iter_batches(
    inputs: Tensor, targets: Tensor, batch_size: int, mask: Tensor | None = None
) -> Iterator[Batch]:
    """Consecutive batches of ``batch_size`` rows (the last one may be smaller)."""
    for start in range(0, int(inputs.shape[0]), batch_size):
        rows = slice(start, start + batch_size)
        yield Batch(inputs[rows], targets[rows], None if mask is None else mask[rows])
