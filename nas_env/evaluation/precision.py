"""Device and mixed-precision choice: use what the hardware actually accelerates.

``auto`` picks, per device:

- CUDA with bf16 support (Ampere and newer): bf16 autocast, no loss scaling;
- older CUDA: fp16 autocast with a `torch.amp.GradScaler`;
- CPU: bf16 autocast only when the processor has native bf16 matrix units. AMX
  (``amx_bf16``) qualifies outright; ``avx512_bf16`` alone is confirmed by a short
  timing probe, because on some processors that advertise it (and where
  ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` says True) bf16 matmuls are
  slower than fp32. Everything else trains in fp32.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nas_env._validate import expect_choice

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


def _cpu_model() -> str:
    path = Path("/proc/cpuinfo")
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def measure_cpu_bf16_speedup(repeats: int = 9) -> float:
    """Measured fp32-time / bf16-time of a small Transformer training step on the CPU.

    The probe is the real workload (embedding, attention, FFN, cross-entropy, backward)
    rather than a bare matmul: bf16 matmul kernels can win while autocast's casts and
    the non-matmul ops make a whole step slower. fp32 and bf16 steps alternate and the
    best of each is kept, so that load from other processes hits both alike.
    """
    from models import TaskSpec, build_model

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        spec = TaskSpec(kind="lm", vocab_size=512, seq_len=64)
        model = build_model({"layers": 2, "d_model": 128, "heads": 2, "ffn_ratio": 2}, spec)
        x = torch.randint(0, spec.vocab_size, (16, spec.seq_len))
    finally:
        torch.random.set_rng_state(state)

    def step(enabled: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            _, loss = model(x, x)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    step(False), step(True)  # warm-up
    fp32, bf16 = [], []
    for _ in range(repeats):
        fp32.append(step(False))
        bf16.append(step(True))
    return min(fp32) / min(bf16)


@functools.cache
def cpu_bf16_speedup() -> float:
    """`measure_cpu_bf16_speedup`, measured once per machine and torch version.

    The answer is stored in the cache folder (``probes/``), so that the precision
    chosen by ``auto`` (which is part of every result's cache key) does not flip between
    runs with the load on the machine.
    """
    from nas_env.tasks.cache import atomic_write_bytes, cache_dir

    ident = f"{_cpu_model()}|{torch.__version__}|{torch.get_num_threads()}"
    digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:16]
    path = cache_dir() / "probes" / f"cpu-bf16-{digest}.json"
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["speedup"])
    except (OSError, ValueError, KeyError):
        pass
    speedup = measure_cpu_bf16_speedup()
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"speedup": speedup, "cpu": ident}
    atomic_write_bytes(path, json.dumps(record).encode("utf-8"))
    return speedup


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
        speedup = cpu_bf16_speedup()
        if speedup >= 1.2:
            return Precision("bf16", torch.bfloat16, False, f"avx512_bf16, {speedup:.1f}x probe")
        reason = f"avx512_bf16, but a bf16 training step runs at {speedup:.2f}x fp32 speed"
        return Precision("fp32", torch.float32, False, reason)
    return Precision("fp32", torch.float32, False, "CPU without native bf16 matrix units")
