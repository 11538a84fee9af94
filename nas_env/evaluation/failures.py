"""How a candidate can fail, and how failures become statuses instead of crashes."""

from __future__ import annotations

import gc
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


class CandidateFailure(Exception):
    """A candidate could not be scored; ``status`` names how it failed."""

    status = "error"


class Diverged(CandidateFailure):
    """The training loss became NaN or infinite."""

    status = "diverged"


class TimedOut(CandidateFailure):
    """Training plus validation exceeded the fidelity's wall-clock cap."""

    status = "timeout"


_OOM_TEXT = ("out of memory", "can't allocate memory", "cannot allocate memory")


def classify(exc: BaseException) -> tuple[str, str]:
    """Map an exception raised while evaluating a candidate to ``(status, message)``."""
    if isinstance(exc, CandidateFailure):
        return exc.status, str(exc)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return "oom", text
    if isinstance(exc, RuntimeError) and any(t in str(exc).lower() for t in _OOM_TEXT):
        return "oom", text
    return "error", text


def free_memory(device: torch.device) -> None:
    """Collect garbage and return cached device memory after a failed candidate."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _vm_data_bytes() -> int | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1]) * 1024
    return None


@contextmanager
def memory_limit(max_mb: float | None, device: torch.device) -> Iterator[None]:
    """Cap what the enclosed block may allocate, for real, so that a too-large candidate
    fails with an allocator error (reported as ``oom``) instead of exhausting the machine.

    CUDA: `torch.cuda.set_per_process_memory_fraction` to ``max_mb`` of the card. CPU
    (Linux): the soft ``RLIMIT_DATA`` is set to the current data segment plus ``max_mb``
    and restored on exit; allocations past it raise ``can't allocate memory``. The
    limit applies to the whole process while the block runs.
    """
    if max_mb is None:
        yield
        return
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        fraction = min(1.0, max_mb * 2**20 / total)
        torch.cuda.set_per_process_memory_fraction(fraction, device)
        try:
            yield
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0, device)
        return
    used = _vm_data_bytes()
    if used is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = used + int(max_mb * 2**20)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
