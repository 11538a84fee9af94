"""Constraints of a search space: structural rules and resource budgets.

Structural rules (``d_model % heads == 0``, an even head dimension for rope, no
bidirectional RNN in a causal language model...) are the model builders' own
validation, so that the rules the space enforces are exactly the ones that would
make a build fail. Budgets cap the analytic parameter count and the model size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models import TaskSpec, count_params, model_config, size_mb
from nas_env.checks import check_keys, expect_choice, expect_int, expect_mapping, expect_number
from nas_env.training_genes import model_genes

SIZE_DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16", "int8")


@dataclass(frozen=True)
class Budget:
    """Resource limits a valid genome must respect.

    Attributes:
        max_params: Largest allowed parameter count, or None for no limit.
        max_size_mb: Largest allowed model size in MiB at ``size_dtype``, or None.
        size_dtype: Element type the size budget is measured in.
    """

    max_params: int | None = None
    max_size_mb: float | None = None
    size_dtype: str = "float32"

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> Budget:
        """Parse the ``constraints:`` mapping of a space file."""
        if raw is None:
            return cls()
        data = expect_mapping(raw, where)
        check_keys(data, where, [], ["max_params", "max_size_mb", "size_dtype"])
        return cls(
            max_params=expect_int(
                data.get("max_params"), f"{where}.max_params", minimum=1, allow_none=True
            ),
            max_size_mb=expect_number(
                data.get("max_size_mb"), f"{where}.max_size_mb", minimum=0, allow_none=True
            ),
            size_dtype=expect_choice(
                data.get("size_dtype", "float32"), f"{where}.size_dtype", SIZE_DTYPES
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as written in a space file."""
        return {
            "max_params": self.max_params,
            "max_size_mb": self.max_size_mb,
            "size_dtype": self.size_dtype,
        }


@dataclass(frozen=True)
class Targets:
    """Size and latency targets of a space: what the default reward aims under.

    Unlike a `Budget`, a target does not make a genome invalid: the ``target`` reward
    orders genomes within the targets by quality and charges a smooth penalty beyond them
    (see `nas_env.rewards.TargetReward`).

    Attributes:
        size_mb: Model size target in MiB at float32, or None.
        latency_ms: Latency target in ms (batch 1, the task's context, pinned threads), or
            None.
    """

    size_mb: float | None = None
    latency_ms: float | None = None

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> Targets:
        """Parse the ``targets:`` mapping of a space file."""
        if raw is None:
            return cls()
        data = expect_mapping(raw, where)
        check_keys(data, where, [], ["size_mb", "latency_ms"])
        return cls(
            size_mb=expect_number(
                data.get("size_mb"), f"{where}.size_mb", minimum=0, strict=True, allow_none=True
            ),
            latency_ms=expect_number(
                data.get("latency_ms"),
                f"{where}.latency_ms",
                minimum=0,
                strict=True,
                allow_none=True,
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as written in a space file."""
        return {"size_mb": self.size_mb, "latency_ms": self.latency_ms}


def constraint_reasons(
    genes: Mapping[str, Any], family: str, task: TaskSpec, budget: Budget
) -> list[str]:
    """Return one readable sentence per broken structural rule or budget (empty when valid).

    Args:
        genes: A complete gene mapping (already checked against the space's choices).
        family: ``"transformer"`` or ``"rnn"``.
        task: The task the parameter count is measured for (vocabulary, classes).
        budget: The space's resource limits.
    """
    try:
        config = model_config(model_genes(genes, family), task)
    except ValueError as exc:
        return [str(exc)]
    reasons = []
    params = count_params(config)
    if budget.max_params is not None and params > budget.max_params:
        reasons.append(f"{params:,} parameters exceed the budget max_params={budget.max_params:,}")
    if budget.max_size_mb is not None:
        size = size_mb(config, dtype=budget.size_dtype)
        if size > budget.max_size_mb:
            reasons.append(
                f"model size {size:.2f} MiB ({budget.size_dtype}) exceeds the budget "
                f"max_size_mb={budget.max_size_mb:g}"
            )
    return reasons
