"""Task specification shared by every model family."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from models.checks import check_choice, check_int
from models.errors import ModelConfigError

TASK_KINDS: tuple[str, ...] = ("lm", "cls", "image", "series")


@dataclass(frozen=True)
class TaskSpec:
    """What a model has to do: its task kind and the data dimensions it sees.

    Attributes:
        kind: ``"lm"`` for a causal language model (next-token prediction at every
            position), ``"cls"`` for sequence classification (one label per sequence) or
            ``"image"`` for image classification (one label per image; its pixels are
            quantised intensities, a fixed-length sequence of ids, row by row) or
            ``"series"`` for multivariate time-series classification (real-valued
            frames of ``channels`` values, not ids).
        vocab_size: Number of token ids (an image's intensity levels); inputs must lie
            in ``[0, vocab_size)``. 0 for ``"series"`` (no ids).
        seq_len: Maximum sequence length (context size) the model is built for (an
            image's pixel count).
        num_classes: Number of labels; required and > 1 for ``"cls"`` and ``"image"``,
            must be ``None`` for ``"lm"``.
        pad_id: Optional padding token id. Classifiers derive a padding mask from it when
            no explicit mask is passed.
        channels: Values per frame of a ``"series"`` task (required there, None
            elsewhere).

    Raises:
        ModelConfigError: A field is invalid; the message names it and what is allowed.
    """

    kind: str
    vocab_size: int
    seq_len: int
    num_classes: int | None = None
    pad_id: int | None = None
    channels: int | None = None

    def __post_init__(self) -> None:
        check_choice(self.kind, "TaskSpec.kind", TASK_KINDS)
        if self.kind == "series":
            if self.vocab_size != 0 or self.channels is None:
                raise ModelConfigError(
                    f"TaskSpec(kind='series', vocab_size={self.vocab_size!r}, channels="
                    f"{self.channels!r}) is invalid; allowed: vocab_size=0 (real-valued "
                    "frames, no ids) and channels >= 1"
                )
            object.__setattr__(self, "channels", check_int(self.channels, "TaskSpec.channels"))
        else:
            if self.channels is not None:
                raise ModelConfigError(
                    f"TaskSpec.channels={self.channels!r} is invalid for kind {self.kind!r}; "
                    "allowed: None (channels belong to series tasks)"
                )
            vocab = check_int(self.vocab_size, "TaskSpec.vocab_size")
            object.__setattr__(self, "vocab_size", vocab)
        object.__setattr__(self, "seq_len", check_int(self.seq_len, "TaskSpec.seq_len"))
        if self.kind != "lm":
            if self.num_classes is None:
                raise ModelConfigError(
                    f"TaskSpec.num_classes=None is invalid for kind {self.kind!r}; allowed: "
                    "an integer >= 2"
                )
            num_classes = check_int(self.num_classes, "TaskSpec.num_classes", 2)
            object.__setattr__(self, "num_classes", num_classes)
        elif self.num_classes is not None:
            raise ModelConfigError(
                f"TaskSpec.num_classes={self.num_classes!r} is invalid for kind 'lm'; "
                "allowed: None (a language model predicts vocab_size tokens)"
            )
        if self.pad_id is not None:
            pad_id = check_int(self.pad_id, "TaskSpec.pad_id", 0)
            if pad_id >= self.vocab_size:
                raise ModelConfigError(
                    f"TaskSpec.pad_id={pad_id} is invalid; allowed: None or an integer in "
                    f"[0, vocab_size={self.vocab_size})"
                )
            object.__setattr__(self, "pad_id", pad_id)

    @property
    def is_lm(self) -> bool:
        """Whether this is a causal language-modelling task."""
        return self.kind == "lm"

    @property
    def is_series(self) -> bool:
        """Whether inputs are real-valued frames ``(B, T, channels)``, not token ids."""
        return self.kind == "series"

    def to_dict(self) -> dict[str, Any]:
        """Returns the spec as a plain JSON-serialisable dict (``channels`` only when set,
        so that the dicts of the other kinds are what they always were)."""
        data = asdict(self)
        if data["channels"] is None:
            del data["channels"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSpec:
        """Builds a spec from a mapping produced by :meth:`to_dict`.

        Args:
            data: Mapping with the dataclass field names as keys.

        Returns:
            The validated spec.

        Raises:
            ModelConfigError: If ``data`` has unknown keys or invalid values.
        """
        allowed = tuple(f.name for f in fields(cls))
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ModelConfigError(
                f"TaskSpec.from_dict got unknown keys {unknown}; allowed: {allowed}"
            )
        return cls(**dict(data))
