"""Helpers to check gene values.

Values are checked with `models.checks` under the name `gene_where` gives them, so that
every message names the gene, the bad value, the family it was given for and the allowed
values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from models.checks import check_choice
from models.errors import ModelConfigError

T = TypeVar("T")


def gene_where(family: str, gene: str, index: int | None = None) -> str:
    """Name of a gene value for error messages: ``transformer gene 'heads'[1]``."""
    suffix = "" if index is None else f"[{index}]"
    return f"{family} gene {gene!r}{suffix}"


def check_gene_choice(family: str, gene: str, value: Any, allowed: tuple[str, ...]) -> str:
    """Check a categorical gene against its ``allowed`` values.

    Raises:
        ModelConfigError: If the value is not one of the allowed strings.
    """
    return check_choice(value, gene_where(family, gene), allowed)


def per_layer(
    gene: str,
    value: Any,
    family: str,
    layers: int,
    check: Callable[[Any, int | None], T],
) -> tuple[T, ...]:
    """Expands a scalar or per-layer list gene to one checked value per layer.

    Args:
        gene: Gene name, for the error message.
        value: A scalar (used for every layer) or a list/tuple with one entry per layer.
        family: Architecture family, for the error message.
        layers: Number of layers.
        check: Called as ``check(element, layer_index)`` (``layer_index`` is ``None`` for a
            scalar); validates and normalises one element.

    Returns:
        A tuple of length ``layers``.

    Raises:
        ModelConfigError: If a list has the wrong length or an element is invalid.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != layers:
            raise ModelConfigError(
                f"{gene_where(family, gene)}={list(value)!r} has {len(value)} values but "
                f"layers={layers}; allowed: a scalar or a list of length {layers}"
            )
        return tuple(check(v, i) for i, v in enumerate(value))
    return (check(value, None),) * layers
