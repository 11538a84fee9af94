"""The interface every task implements (`Task`), whatever its kind.

The evaluators, training loops and rewards use a task only through these members; a
new task of an existing kind is one class that has them (and its id in
`nas_env.tasks.registry`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch

from models import TaskSpec
from nas_env.tasks.batch import Batch


@runtime_checkable
class Task(Protocol):
    """A task candidates are trained and scored on.

    Attributes:
        kind: The task kind's name (`nas_env.tasks.kinds.TASK_KINDS`: ``lm``, ``cls``);
            its rules (how a batch enters the model, the held-out loss) live there.
        metric: The quality metric its results report (the kind's ``metric``).
        fingerprint: Identifies data, split and tokenizer; part of every cache key.
        tokenizer: The tokenizer of a text task (`nas_env.tasks.tokenizer.Tokenizer`,
            shipped beside a trained model); None for a task whose inputs are already ids
            or numbers (images, series).
    """

    kind: str
    metric: str
    fingerprint: str
    tokenizer: Any

    def spec(self, seq_len: int) -> TaskSpec:
        """What a model for this task must accept and produce at ``seq_len``.

        Raises:
            ConfigError: A split is too short for ``seq_len``.
        """
        ...

    def sample_batch(
        self, batch_size: int, seq_len: int, generator: torch.Generator, split: str = "train"
    ) -> Batch:
        """A random training batch drawn with ``generator`` (same seed, same batches)."""
        ...

    def eval_batches(
        self, batch_size: int, seq_len: int, max_tokens: int | None = None, split: str = "val"
    ) -> Iterator[Batch]:
        """The fixed held-out selection (the same for every genome and fidelity), in
        batches; at most about ``max_tokens`` tokens."""
        ...

    def baseline_loss(self) -> float:
        """The held-out cross-entropy of a context-free predictor fitted on the training
        split (unigram tokens, class priors): the zero of `normalized_quality` scores."""
        ...

    def stats(self) -> dict[str, Any]:
        """Sizes of the task (``kind`` first), for run banners and records."""
        ...
