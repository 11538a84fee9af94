"""Configuration data shipped with nas_env: search spaces, presets, hyperparameters.

The files are plain YAML/JSON; this module only locates them, so that they are
found both in a source checkout and in an installed package.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
_SUFFIXES = (".yaml", ".yml", ".json")


def preset_names(kind: str) -> list[str]:
    """Names (file stems) of the presets in ``config/<kind>/``, sorted."""
    folder = CONFIG_DIR / kind
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in _SUFFIXES)


def preset_path(kind: str, name: str) -> Path:
    """Path of preset ``name`` in ``config/<kind>/``.

    Raises:
        FileNotFoundError: No such preset; the message lists the available ones.
    """
    for suffix in _SUFFIXES:
        path = CONFIG_DIR / kind / f"{name}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"no {kind} preset {name!r} in {CONFIG_DIR / kind}; presets: {preset_names(kind)}"
    )
