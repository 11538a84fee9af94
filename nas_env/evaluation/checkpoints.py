"""Training checkpoints of promotion rungs, kept in the cache folder under a size cap.

A candidate trained to a lower rung of a promotion ladder leaves its training state here
(`nas_env.evaluation.loop.capture_state`), named by the cache key of that rung's
evaluation; when it is promoted, the next rung continues from it instead of restarting.
A checkpoint is only a shortcut: a missing one (pruned, or written on another machine)
means the next rung trains from scratch, to the same result.

Files are written atomically (a temporary file renamed into place), read with
``torch.load(weights_only=True)``, and the oldest are deleted whenever the folder grows
beyond ``cap_mb``. A checkpoint is deleted once the next rung has used it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from nas_env.checks import expect_positive

log = logging.getLogger(__name__)

DEFAULT_CAP_MB = 512.0
SUFFIX = ".ckpt"


class CheckpointStore:
    """A folder of training states keyed by evaluation cache keys.

    Args:
        folder: Where the files live (created on first save).
        cap_mb: Largest total size in MiB; the oldest files go first beyond it.

    Raises:
        ConfigError: ``cap_mb`` is not positive.
    """

    def __init__(self, folder: str | Path, cap_mb: float = DEFAULT_CAP_MB) -> None:
        self.folder = Path(folder)
        self.cap_mb = float(expect_positive(cap_mb, "checkpoint cap_mb"))

    def path(self, key: str) -> Path:
        """The file of ``key``'s checkpoint."""
        return self.folder / f"{key}{SUFFIX}"

    def save(self, key: str, state: dict[str, Any]) -> None:
        """Store ``state`` under ``key``, then prune the folder to its cap."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        os.close(handle)
        try:
            torch.save(state, tmp)
            os.replace(tmp, self.path(key))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.prune()

    def load(self, key: str) -> dict[str, Any] | None:
        """The state stored under ``key``, or None when there is none (or it is unreadable)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file: train from scratch
            log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
            return None
        return state if isinstance(state, dict) else None

    def discard(self, key: str) -> None:
        """Delete ``key``'s checkpoint if it exists."""
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def files(self) -> list[Path]:
        """The checkpoint files, oldest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                found.append((path.stat().st_mtime, path))
            except FileNotFoundError:  # deleted by another process meanwhile
                continue
        return [path for _, path in sorted(found)]

    def size_mb(self) -> float:
        """Total size of the stored checkpoints in MiB."""
        total = 0
        for path in self.files():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total / 2**20

    def prune(self) -> int:
        """Delete the oldest checkpoints until the folder is within its cap; how many went."""
        files = self.files()
        sizes = {}
        for path in files:
            try:
                sizes[path] = path.stat().st_size
            except FileNotFoundError:
                continue
        total = sum(sizes.values())
        removed = 0
        for path in files:
            if total <= self.cap_mb * 2**20:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= sizes.get(path, 0)
            removed += 1
        return removed


def train_from_lower_rung(
    train: Any, job: Any, store: CheckpointStore, key: str, lower_key: str | None
) -> Any:
    """``train(job)`` continuing from the lower rung's checkpoint (``lower_key``) when
    there is one, keeping this rung's state under ``key`` when the job's schedule goes on
    beyond its steps, and deleting the lower rung's checkpoint once used."""
    fidelity = job.fidelity
    job.resume = store.load(lower_key) if lower_key else None
    job.keep_state = fidelity.steps < fidelity.total_steps
    outcome, model = train(job)
    if outcome.state is not None:
        store.save(key, outcome.state)
        outcome.state = None
    if lower_key:
        store.discard(lower_key)
    return outcome, model
