"""Gene value checks shared by the model configs.

Every check raises ``ValueError`` naming the gene, the bad value, the family it was given
for and the allowed values, and returns the value normalised to a plain Python type.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "transformer": {
        "norm": ("layernorm", "rmsnorm"),
        "norm_position": ("pre", "post"),
        "activation": ("relu", "gelu", "silu", "swiglu", "geglu"),
        "position": ("learned", "sinusoidal", "rope", "alibi"),
        "pooling": ("mean", "first", "attention"),
    },
    "rnn": {
        "cell": ("lstm", "gru", "vanilla"),
        "pooling": ("last", "mean", "attention"),
    },
}


def _where(gene: str, family: str, index: int | None) -> str:
    """Formats the location of a gene value for error messages."""
    suffix = "" if index is None else f"[{index}]"
    return f"{family} gene {gene!r}{suffix}"


def check_int(
    gene: str, value: Any, family: str, minimum: int = 1, index: int | None = None
) -> int:
    """Checks an integer gene.

    Args:
        gene: Gene name, for the error message.
        value: Given value; any integral type except ``bool``.
        family: Architecture family, for the error message.
        minimum: Smallest allowed value.
        index: Layer index when checking one element of a per-layer list.

    Returns:
        The value as ``int``.

    Raises:
        ValueError: If the value is not an integer >= ``minimum``.
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum
    if not ok:
        raise ValueError(
            f"{_where(gene, family, index)}={value!r} is invalid; allowed: an integer >= {minimum}"
        )
    return int(value)


def check_float(
    gene: str,
    value: Any,
    family: str,
    low: float,
    high: float = math.inf,
    low_inclusive: bool = True,
    index: int | None = None,
) -> float:
    """Checks a real-valued gene lying in ``[low, high)`` (or ``(low, high)``).

    Args:
        gene: Gene name, for the error message.
        value: Given value; any real number except ``bool``.
        family: Architecture family, for the error message.
        low: Lower bound.
        high: Exclusive upper bound.
        low_inclusive: Whether ``low`` itself is allowed.
        index: Layer index when checking one element of a per-layer list.

    Returns:
        The value as ``float``.

    Raises:
        ValueError: If the value is not a finite number in the allowed range.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        above = value >= low if low_inclusive else value > low
        ok = above and value < high and math.isfinite(value)
    if not ok:
        bracket = "[" if low_inclusive else "("
        raise ValueError(
            f"{_where(gene, family, index)}={value!r} is invalid; "
            f"allowed: a number in {bracket}{low}, {high})"
        )
    return float(value)


def check_bool(gene: str, value: Any, family: str) -> bool:
    """Checks a boolean gene (``bool`` or a numpy/torch boolean scalar).

    Raises:
        ValueError: If the value is not a boolean.
    """
    if isinstance(value, bool):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0 and isinstance(item(), bool):
        return bool(item())
    raise ValueError(f"{_where(gene, family, None)}={value!r} is invalid; allowed: True or False")


def check_choice(gene: str, value: Any, family: str) -> str:
    """Checks a categorical gene against :data:`CHOICES`.

    Raises:
        ValueError: If the value is not one of the allowed strings.
    """
    allowed = CHOICES[family][gene]
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{_where(gene, family, None)}={value!r} is invalid; allowed: {allowed}")
    return value


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
        ValueError: If a list has the wrong length or an element is invalid.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != layers:
            raise ValueError(
                f"{_where(gene, family, None)}={list(value)!r} has {len(value)} values but "
                f"layers={layers}; allowed: a scalar or a list of length {layers}"
            )
        return tuple(check(v, i) for i, v in enumerate(value))
    return (check(value, None),) * layers
