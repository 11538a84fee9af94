"""Value checks that name the bad value and what is allowed.

This is the one home of the checks shared by ``models`` and ``nas_env`` (``nas_env.checks``
builds on it). Every check takes ``where``, the name of the value (``"TaskSpec.seq_len"``,
``"transformer gene 'heads'[1]"``, ``"batch_size"``), returns the value normalised to a
plain Python type and otherwise raises ``error`` (default `ModelConfigError`) with a message
of the form ``{where}={value!r} is invalid; allowed: ...``.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable
from typing import Any, Literal, overload

from models.errors import ModelConfigError

ErrorType = type[ValueError]


def suggest(name: str, allowed: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` when ``name`` is close to one of ``allowed``."""
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer of any integral type, booleans excluded."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (ints included), booleans excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from the integers 0 and 1."""
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


@overload
def check_int(
    value: Any,
    where: str,
    minimum: int = ...,
    *,
    allow_none: Literal[False] = ...,
    error: ErrorType = ...,
) -> int: ...


@overload
def check_int(
    value: Any, where: str, minimum: int = ..., *, allow_none: bool, error: ErrorType = ...
) -> int | None: ...


def check_int(
    value: Any,
    where: str,
    minimum: int = 1,
    *,
    allow_none: bool = False,
    error: ErrorType = ModelConfigError,
) -> int | None:
    """Check an integer ``>= minimum`` (any integral type except ``bool``).

    Args:
        value: The value to check.
        where: Name of the value, for the message.
        minimum: Smallest allowed value.
        allow_none: Whether None passes through (it is then returned as is).
        error: Exception type to raise.

    Returns:
        The value as ``int`` (or None when allowed and given).

    Raises:
        ValueError: ``error``, when the value is not an integer >= ``minimum``.
    """
    if value is None and allow_none:
        return None
    allowed = f"an integer >= {minimum}" + (" or None" if allow_none else "")
    if not is_integer(value):
        raise error(f"{where}={value!r} ({type(value).__name__}) is invalid; allowed: {allowed}")
    if value < minimum:
        raise error(f"{where}={value!r} is invalid; allowed: {allowed}")
    return int(value)


def check_real(
    value: Any,
    where: str,
    low: float,
    high: float = math.inf,
    *,
    low_inclusive: bool = True,
    error: ErrorType = ModelConfigError,
) -> float:
    """Check a finite real number in ``[low, high)`` (or ``(low, high)``).

    Args:
        value: The value to check; any real number except ``bool``.
        where: Name of the value, for the message.
        low: Lower bound.
        high: Exclusive upper bound.
        low_inclusive: Whether ``low`` itself is allowed.
        error: Exception type to raise.

    Returns:
        The value as ``float``.

    Raises:
        ValueError: ``error``, when the value is not a finite number in the range.
    """
    ok = is_real(value)
    if ok:
        above = value >= low if low_inclusive else value > low
        ok = above and value < high and math.isfinite(value)
    if not ok:
        bracket = "[" if low_inclusive else "("
        raise error(f"{where}={value!r} is invalid; allowed: a number in {bracket}{low}, {high})")
    return float(value)


def check_bool(value: Any, where: str, *, error: ErrorType = ModelConfigError) -> bool:
    """Check a boolean (``bool`` or a numpy/torch boolean scalar).

    Raises:
        ValueError: ``error``, when the value is not a boolean.
    """
    if isinstance(value, bool):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0 and isinstance(item(), bool):
        return bool(item())
    raise error(f"{where}={value!r} is invalid; allowed: True or False")


def check_choice(
    value: Any, where: str, allowed: Iterable[Any], *, error: ErrorType = ModelConfigError
) -> Any:
    """Check that ``value`` is one of ``allowed``; a close string match is suggested.

    Raises:
        ValueError: ``error``, listing the allowed values.
    """
    allowed = tuple(allowed)
    if not any(_same(value, a) for a in allowed):
        hint = suggest(value, [str(a) for a in allowed]) if isinstance(value, str) else ""
        raise error(
            f"{where}={value!r} is invalid{hint}; allowed: {', '.join(str(a) for a in allowed)}"
        )
    return value
