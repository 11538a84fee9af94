"""The checks nas_env (and the packages above it) use on configuration, raising `ConfigError`.

Two message shapes, one for each kind of input:

- ``expect_*`` and `check_keys` check a field of configuration data (a YAML or JSON file,
  a mapping, a command line). ``where`` is a dotted path such as
  ``"tiny.yaml: genes.layers.choices"`` and messages read
  ``tiny.yaml: constraints.max_params: must be >= 1, got 0``.
- ``check_*`` check an argument or attribute of a Python call. They are the checks of
  `models.checks` raising `ConfigError`, and messages read
  ``batch_size=0 is invalid; allowed: an integer >= 1``.

Both shapes share one definition of what an integer or a real number is
(`models.checks.is_integer`, `models.checks.is_real`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from models import checks as _checks
from models.checks import is_integer, is_real, suggest
from nas_env.errors import ConfigError

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_keys",
    "check_real",
    "describe",
    "expect_choice",
    "expect_int",
    "expect_mapping",
    "expect_number",
    "expect_positive",
    "is_integer",
    "is_real",
    "load_data_file",
    "suggest",
]

check_int = partial(_checks.check_int, error=ConfigError)
"""`models.checks.check_int` raising `ConfigError`."""
check_real = partial(_checks.check_real, error=ConfigError)
"""`models.checks.check_real` raising `ConfigError`."""
check_bool = partial(_checks.check_bool, error=ConfigError)
"""`models.checks.check_bool` raising `ConfigError`."""
check_choice = partial(_checks.check_choice, error=ConfigError)
"""`models.checks.check_choice` raising `ConfigError`."""


def describe(value: Any) -> str:
    """Return a short, unambiguous rendering of a config value for error messages."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def expect_mapping(value: Any, where: str) -> Mapping[str, Any]:
    """Return ``value`` if it is a mapping with string keys, else raise `ConfigError`."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {describe(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{where}: keys must be strings, got {describe(key)}")
    return value


def check_keys(
    value: Mapping[str, Any], where: str, required: Iterable[str], optional: Iterable[str] = ()
) -> None:
    """Raise `ConfigError` for a missing required key or an unknown key."""
    required = list(required)
    allowed = required + list(optional)
    for key in required:
        if key not in value:
            raise ConfigError(f"{where}: missing required field {key!r}")
    for key in value:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown field {key!r}{suggest(key, allowed)}; "
                f"allowed fields: {', '.join(allowed)}"
            )


def expect_int(
    value: Any, where: str, minimum: int | None = None, allow_none: bool = False
) -> int | None:
    """Return ``value`` as an int (bools rejected), optionally bounded below."""
    if value is None and allow_none:
        return None
    if not is_integer(value):
        raise ConfigError(f"{where}: expected an integer, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be >= {minimum}, got {value}")
    return int(value)


def expect_number(
    value: Any,
    where: str,
    minimum: float | None = None,
    allow_none: bool = False,
    *,
    strict: bool = False,
    finite: bool = False,
) -> float | None:
    """Return ``value`` as a float (ints accepted, bools rejected), optionally bounded below.

    Args:
        value: The value to check.
        where: Dotted path of the field, for the message.
        minimum: Smallest allowed value (None: no bound).
        allow_none: Whether None passes through.
        strict: Whether ``minimum`` itself is excluded (``> minimum``).
        finite: Whether infinities and NaN are rejected.
    """
    if value is None and allow_none:
        return None
    if not is_real(value):
        raise ConfigError(f"{where}: expected a number, got {describe(value)}")
    bound = "" if minimum is None else f"{'>' if strict else '>='} {minimum:g}"
    below = minimum is not None and (value < minimum or (strict and value == minimum))
    if (finite and not math.isfinite(value)) or below:
        wanted = " ".join(part for part in ("a finite number" if finite else "", bound) if part)
        raise ConfigError(f"{where}: must be {wanted}, got {describe(value)}")
    return float(value)


def expect_positive(value: Any, where: str) -> float:
    """Return ``value`` as a finite float > 0 (ints accepted, bools rejected)."""
    number = expect_number(value, where, minimum=0, strict=True, finite=True)
    assert number is not None
    return number


def expect_choice(value: Any, where: str, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise `ConfigError`."""
    allowed = list(allowed)
    if value not in allowed:
        hint = suggest(value, [str(a) for a in allowed]) if isinstance(value, str) else ""
        raise ConfigError(
            f"{where}: {describe(value)} is not allowed{hint}; "
            f"allowed: {', '.join(str(a) for a in allowed)}"
        )
    return value


def load_data_file(path: str | Path) -> Any:
    """Read a YAML (``.yaml``/``.yml``) or JSON file with safe loaders.

    Raises:
        ConfigError: The file is missing or does not parse; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot parse: {exc}") from exc
