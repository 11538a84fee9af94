"""Argument checks shared by the task classes."""

from __future__ import annotations

from nas_env._validate import suggest
from nas_env.errors import ConfigError

SPLITS: tuple[str, ...] = ("train", "val")


def positive_int(value: object, name: str) -> int:
    """Return ``value`` if it is an integer >= 1 (bools rejected).

    Raises:
        ConfigError: Naming ``name`` and the bad value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r} is invalid; allowed: an integer >= 1")
    return value


def optional_positive_int(value: object, name: str) -> int | None:
    """Like `positive_int`, but None passes through."""
    return None if value is None else positive_int(value, name)


def split_name(split: object) -> str:
    """Return ``split`` if it is ``"train"`` or ``"val"``.

    Raises:
        ConfigError: Listing the allowed names, with a close match when there is one.
    """
    if split not in SPLITS:
        hint = suggest(split, SPLITS) if isinstance(split, str) else ""
        raise ConfigError(f"split={split!r} is invalid{hint}; allowed: {', '.join(SPLITS)}")
    return str(split)
