"""The error type raised by `models` for a bad config, gene value or task spec.

`ModelConfigError` is a `ValueError`, so code that catches ``ValueError`` keeps working.
`nas_env.errors.ConfigError` derives from it: every configuration error of the project,
raised by ``models`` or by ``nas_env``, is a `ModelConfigError`.
"""

from __future__ import annotations


class ModelConfigError(ValueError):
    """A model config, gene value or task spec is invalid; the message says what is allowed."""
