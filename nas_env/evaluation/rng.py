"""Random-state isolation: an evaluation must not move the caller's random streams."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


@contextmanager
def isolated_rng(device: torch.device | None = None) -> Iterator[None]:
    """Run the block, then restore Python's, NumPy's and torch's global random states.

    torch's CPU generator is restored, and the CUDA generator of ``device`` when it is a
    CUDA device (`torch.random.fork_rng`). Code inside may seed and draw freely; the
    caller's next draws are the ones it would have made without the block.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    devices = [device] if device is not None and device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
