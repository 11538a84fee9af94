"""Device and mixed-precision choice: use what the hardware actually accelerates.

``auto`` picks, per device:

- CUDA with bf16 support (Ampere and newer): bf16 autocast, no loss scaling;
- older CUDA: fp16 autocast with a `torch.amp.GradScaler`;
- CPU: bf16 autocast only when the processor has native bf16 matrix units (AMX,
  ``amx_bf16`` in the CPU flags). ``avx512_bf16`` alone is not enough: on such a
  processor (where ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` also says True),
  autocast's casts and non-matmul ops made the project's small Transformers train no
  faster, and often several times slower, than fp32, and a timing probe flipped with the
  machine's load. The choice is part of every result's cache key, so it is made from
  the flags alone, the same on every run. Everything else trains in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from nas_env.checks import expect_choice

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """Resolved arithmetic for training.

    Attributes:
        name: ``fp32``, ``bf16`` or ``fp16``.
        dtype: Autocast dtype (float32 means autocast is off).
        use_grad_scaler: fp16 needs loss scaling against gradient underflow.
        reason: Why this precision was chosen (recorded with results).
    """

    name: str
    dtype: torch.dtype
    use_grad_scaler: bool
    reason: str

    @property
    def autocast(self) -> bool:
        """True when training runs under `torch.autocast`."""
        return self.name != "fp32"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"`` -> CUDA when available, else CPU; otherwise validated as given.

    Raises:
        ValueError: CUDA was requested but is not available.
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available here")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {str(device)!r} is not supported; use cpu, cuda or auto")
    return dev


def cpu_flags() -> set[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where it does not exist)."""
    path = Path("/proc/cpuinfo")
    if not path.exists():
        return set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def resolve_precision(requested: str, device: torch.device) -> Precision:
    """Turn ``auto``/``fp32``/``bf16``/``fp16`` into a `Precision` for ``device``.

    Raises:
        ConfigError: An unknown precision name.
    """
    expect_choice(requested, "precision", PRECISIONS)
    if requested != "auto":
        scaler = requested == "fp16" and device.type == "cuda"
        return Precision(requested, _DTYPES[requested], scaler, "requested")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision("bf16", torch.bfloat16, False, "CUDA device supports bf16")
        return Precision("fp16", torch.float16, True, "CUDA device without bf16: fp16 + scaler")
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return Precision("bf16", torch.bfloat16, False, "CPU has AMX bf16 matrix units")
    if "avx512_bf16" in flags:
        reason = "avx512_bf16 gives bf16 dot products, not bf16 matrix units: fp32 is faster"
        return Precision("fp32", torch.float32, False, reason)
    return Precision("fp32", torch.float32, False, "CPU without native bf16 matrix units")
