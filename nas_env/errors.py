"""Exception types raised by nas_env.

Every error names the bad value, where it came from and what is allowed, so that
a user can fix a YAML file or a command line without reading the source.

The hierarchy::

    ValueError
      models.errors.ModelConfigError     a bad model config, gene value or task spec
        ConfigError (also a NASEnvError)  a bad configuration given to nas_env
    NASEnvError
      ConfigError
      InvalidGenomeError (also a ValueError)
      InvalidActionError (also a ValueError)
"""

from __future__ import annotations

from collections.abc import Sequence

from models.errors import ModelConfigError

__all__ = [
    "ConfigError",
    "InvalidActionError",
    "InvalidGenomeError",
    "ModelConfigError",
    "NASEnvError",
]


class NASEnvError(Exception):
    """Base class of all nas_env errors."""


class ConfigError(NASEnvError, ModelConfigError):
    """A configuration file, mapping or argument is malformed (wrong field, type or value)."""


class InvalidGenomeError(NASEnvError, ValueError):
    """A genome is outside its search space or breaks one of its constraints.

    Attributes:
        reasons: One human-readable sentence per violated rule.
    """

    def __init__(self, reasons: Sequence[str], genome_repr: str = "") -> None:
        self.reasons = tuple(reasons)
        head = f"invalid genome {genome_repr}: " if genome_repr else "invalid genome: "
        super().__init__(head + "; ".join(self.reasons))


class InvalidActionError(NASEnvError, ValueError):
    """An edit action cannot be applied to a genome (no-op, out of range or invalid result)."""
