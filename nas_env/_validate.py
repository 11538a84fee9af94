"""Small helpers that check plain-data configuration and raise `ConfigError`.

Each helper takes ``where``, a dotted path such as ``"tiny.yaml: genes.layers.choices"``,
so that the message points at the exact field that is wrong.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from nas_env.errors import ConfigError


def describe(value: Any) -> str:
    """Return a short, unambiguous rendering of a config value for error messages."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def suggest(name: str, allowed: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` when ``name`` is close to one of ``allowed``."""
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be >= {minimum}, got {value}")
    return value


def expect_number(
    value: Any, where: str, minimum: float | None = None, allow_none: bool = False
) -> float | None:
    """Return ``value`` as a float (ints accepted, bools rejected), optionally bounded below."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be >= {minimum}, got {value}")
    return float(value)


def expect_positive(value: Any, where: str) -> float:
    """Return ``value`` as a finite float > 0 (ints accepted, bools rejected)."""
    number = expect_number(value, where)
    if number is None or not (math.isfinite(number) and number > 0):
        raise ConfigError(f"{where}: must be a finite number > 0, got {describe(value)}")
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
