"""Task specification shared by every model family."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

TASK_KINDS: tuple[str, ...] = ("lm", "cls")


def _as_int(value: Any, name: str, minimum: int) -> int:
    """Validates that ``value`` is an integer >= ``minimum`` and returns it as ``int``.

    Args:
        value: The value to check.
        name: Field name used in the error message.
        minimum: Smallest allowed value.

    Returns:
        The value converted to a plain ``int``.

    Raises:
        ValueError: If the value is not an integer or is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"TaskSpec.{name}={value!r} ({type(value).__name__}) is invalid; "
            f"allowed: an integer >= {minimum}"
        )
    if value < minimum:
        raise ValueError(f"TaskSpec.{name}={value!r} is invalid; allowed: an integer >= {minimum}")
    return int(value)


@dataclass(frozen=True)
class TaskSpec:
    """What a model has to do: its task kind and the data dimensions it sees.

    Attributes:
        kind: ``"lm"`` for a causal language model (next-token prediction at every
            position) or ``"cls"`` for sequence classification (one label per sequence).
        vocab_size: Number of token ids; inputs must lie in ``[0, vocab_size)``.
        seq_len: Maximum sequence length (context size) the model is built for.
        num_classes: Number of labels; required and > 1 for ``"cls"``, must be ``None``
            for ``"lm"``.
        pad_id: Optional padding token id. Classifiers derive a padding mask from it when
            no explicit mask is passed.
    """

    kind: str
    vocab_size: int
    seq_len: int
    num_classes: int | None = None
    pad_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"TaskSpec.kind={self.kind!r} is invalid; allowed: {TASK_KINDS}")
        object.__setattr__(self, "vocab_size", _as_int(self.vocab_size, "vocab_size", 1))
        object.__setattr__(self, "seq_len", _as_int(self.seq_len, "seq_len", 1))
        if self.kind == "cls":
            if self.num_classes is None:
                raise ValueError(
                    "TaskSpec.num_classes=None is invalid for kind 'cls'; allowed: an integer >= 2"
                )
            object.__setattr__(self, "num_classes", _as_int(self.num_classes, "num_classes", 2))
        elif self.num_classes is not None:
            raise ValueError(
                f"TaskSpec.num_classes={self.num_classes!r} is invalid for kind 'lm'; "
                "allowed: None (a language model predicts vocab_size tokens)"
            )
        if self.pad_id is not None:
            pad_id = _as_int(self.pad_id, "pad_id", 0)
            if pad_id >= self.vocab_size:
                raise ValueError(
                    f"TaskSpec.pad_id={pad_id} is invalid; allowed: None or an integer in "
                    f"[0, vocab_size={self.vocab_size})"
                )
            object.__setattr__(self, "pad_id", pad_id)

    @property
    def is_lm(self) -> bool:
        """Whether this is a causal language-modelling task."""
        return self.kind == "lm"

    def to_dict(self) -> dict[str, Any]:
        """Returns the spec as a plain JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSpec:
        """Builds a spec from a mapping produced by :meth:`to_dict`.

        Args:
            data: Mapping with the dataclass field names as keys.

        Returns:
            The validated spec.

        Raises:
            ValueError: If ``data`` has unknown keys or invalid values.
        """
        allowed = tuple(f.name for f in fields(cls))
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ValueError(f"TaskSpec.from_dict got unknown keys {unknown}; allowed: {allowed}")
        return cls(**dict(data))
