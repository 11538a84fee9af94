"""Task specification shared by every model family."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from models.checks import check_int
from models.errors import ModelConfigError


@dataclass(frozen=True)
class TaskSpec:
    """What a model has to do: the data it reads and the outputs it gives.

    The model side never asks which task kind it serves, only for the shape of its inputs
    and outputs, so that a new task kind of an existing shape needs nothing here:

    * outputs: one next-token distribution per position (a causal language model) when
      ``num_classes`` is None, else one label per sequence;
    * inputs: token ids in ``[0, vocab_size)`` (an image's quantised intensities, row by
      row, are ids too), or, when ``channels`` is set, real-valued frames of ``channels``
      values (``vocab_size`` 0).

    Attributes:
        kind: The task kind's name (``"lm"``, ``"cls"``, ``"image"``, ``"series"``: the
            kinds of `nas_env.tasks.kinds`), recorded and quoted in messages. ``"lm"``
            promises per-position outputs (``num_classes`` None).
        vocab_size: Number of token ids; 0 when the inputs are frames.
        seq_len: Maximum sequence length (context size) the model is built for (an
            image's pixel count).
        num_classes: Number of labels (>= 2), or None for a causal language model.
        pad_id: Optional padding token id. Classifiers derive a padding mask from it when
            no explicit mask is passed.
        channels: Values per frame when the inputs are real-valued frames (None for ids).

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
        if not isinstance(self.kind, str) or not self.kind.isidentifier():
            raise ModelConfigError(
                f"TaskSpec.kind={self.kind!r} is invalid; allowed: a task kind's name "
                "(lm, cls, image, series, ...)"
            )
        if self.channels is not None:
            if self.vocab_size != 0:
                raise ModelConfigError(
                    f"TaskSpec(kind={self.kind!r}, vocab_size={self.vocab_size!r}, channels="
                    f"{self.channels!r}) is invalid; allowed: vocab_size=0 with channels "
                    "(real-valued frames, no ids), or channels=None with token ids"
                )
            object.__setattr__(self, "channels", check_int(self.channels, "TaskSpec.channels"))
        else:
            vocab = check_int(self.vocab_size, "TaskSpec.vocab_size")
            object.__setattr__(self, "vocab_size", vocab)
        object.__setattr__(self, "seq_len", check_int(self.seq_len, "TaskSpec.seq_len"))
        if self.num_classes is not None:
            if self.kind == "lm":
                raise ModelConfigError(
                    f"TaskSpec.num_classes={self.num_classes!r} is invalid for kind 'lm'; "
                    "allowed: None (a language model predicts vocab_size tokens)"
                )
            num_classes = check_int(self.num_classes, "TaskSpec.num_classes", 2)
            object.__setattr__(self, "num_classes", num_classes)
        elif self.kind != "lm" or self.channels is not None:
            raise ModelConfigError(
                f"TaskSpec.num_classes=None is invalid for kind {self.kind!r}"
                f"{' with channels' if self.channels is not None else ''}; allowed: an "
                "integer >= 2 (only kind 'lm' over token ids predicts tokens)"
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
        """Whether the model predicts the next token at every position (a causal LM)."""
        return self.num_classes is None

    @property
    def reads_frames(self) -> bool:
        """Whether inputs are real-valued frames ``(B, T, channels)``, not token ids."""
        return self.channels is not None

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
