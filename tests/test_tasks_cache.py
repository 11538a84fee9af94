"""Cache folder resolution and the token-array files of the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas_env.errors import ConfigError
from nas_env.tasks import cache_dir
from nas_env.tasks.cache import load_array, save_array


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No cache variables set and a fake home folder."""
    monkeypatch.delenv("NAS_ENV_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_argument_wins_over_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_ENV_CACHE", str(clean_env / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    assert cache_dir(clean_env / "arg") == clean_env / "arg"
    assert (clean_env / "arg").is_dir()


def test_env_var_wins_over_xdg(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_ENV_CACHE", str(clean_env / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    assert cache_dir() == clean_env / "env"
    assert cache_dir(None) == clean_env / "env"


def test_xdg_then_home_default(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    assert cache_dir() == clean_env / "xdg" / "nas_env"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == clean_env / "home" / ".cache" / "nas_env"
    assert (clean_env / "home" / ".cache" / "nas_env").is_dir()


def test_string_argument_and_nested_creation(clean_env: Path) -> None:
    target = clean_env / "a" / "b" / "c"
    assert cache_dir(str(target)) == target
    assert target.is_dir()


def test_uncreatable_cache_names_the_path(clean_env: Path) -> None:
    blocker = clean_env / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot be created") as info:
        cache_dir(blocker / "sub")
    assert str(blocker / "sub") in str(info.value)


def test_array_round_trip_and_bad_file(tmp_path: Path) -> None:
    array = np.arange(1000, dtype=np.uint16)
    save_array(tmp_path / "a.npy", array)
    loaded = load_array(tmp_path / "a.npy")
    assert loaded is not None
    np.testing.assert_array_equal(loaded, array)
    assert loaded.dtype == np.uint16
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    assert load_array(tmp_path / "bad.npy") is None
    assert load_array(tmp_path / "missing.npy") is None
