"""Where tokenizers and token arrays are cached, and how files get there safely.

Every write into the cache goes through `nas_env.atomic`: several processes may build
the same entry at the same time, and each reader sees either no file or a complete one,
never a half-written file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nas_env.atomic import atomic_writer
from nas_env.errors import ConfigError

CACHE_ENV_VAR = "NAS_ENV_CACHE"


def cache_dir(override: str | Path | None = None) -> Path:
    """Return the cache folder, creating it when needed.

    Precedence: ``override`` when given, else the ``NAS_ENV_CACHE`` environment
    variable, else ``$XDG_CACHE_HOME/nas_env``, else ``~/.cache/nas_env``.

    Args:
        override: Explicit cache folder (wins over everything else).

    Returns:
        The absolute path of the existing cache folder.

    Raises:
        ConfigError: The folder cannot be created (for example a file has that name).
    """
    if override is not None and str(override) != "":
        path, source = Path(override), "cache argument"
    elif os.environ.get(CACHE_ENV_VAR):
        path, source = Path(os.environ[CACHE_ENV_VAR]), f"${CACHE_ENV_VAR}"
    elif os.environ.get("XDG_CACHE_HOME"):
        path, source = Path(os.environ["XDG_CACHE_HOME"]) / "nas_env", "$XDG_CACHE_HOME"
    else:
        path, source = Path.home() / ".cache" / "nas_env", "default ~/.cache/nas_env"
    path = path.expanduser().absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cache folder {str(path)!r} (from {source}) cannot be created: {exc.strerror}; "
            "allowed: a writable folder"
        ) from exc
    return path


def save_array(path: str | Path, array: np.ndarray) -> None:
    """Save ``array`` as an ``.npy`` file atomically (see `atomic_writer`)."""
    with atomic_writer(path) as handle:
        np.save(handle, array, allow_pickle=False)


def load_array(path: str | Path) -> np.ndarray | None:
    """Memory-map an ``.npy`` file written by `save_array`.

    Returns:
        The read-only array, or None when the file is missing or unreadable (the caller
        then rebuilds it).
    """
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
