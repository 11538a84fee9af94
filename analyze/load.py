"""Find run folders and read their ``episodes.jsonl`` (and ``config.yaml``) robustly.

Only the log format is assumed (one JSON object per line, the fields documented in
``agents/records.py``); nothing here imports the environment or the agents. Problems that
leave a run usable (a truncated last line, a bad line, an unreadable config) are reported
as `AnalyzeWarning`s and kept on `Run.warnings`; an input with nothing usable raises
`AnalyzeError`.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runfolder import CONFIG_FILE, EPISODES_FILE


class AnalyzeError(ValueError):
    """Unusable input or options (the CLI prints it and exits with code 2)."""


class AnalyzeWarning(UserWarning):
    """A problem in the input that was worked around (the run is still analysed)."""


@dataclass
class Run:
    """One run: its folder, identity, records (file order) and resolved config."""

    path: Path
    algo: str
    env_id: str
    seed: int | None
    records: list[dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)
    episodes_file: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The run folder's name (``<env>__<seed>__<time>``)."""
        return self.path.name

    @property
    def label(self) -> str:
        """``algo/run-name``: unique enough for legends and file names."""
        return f"{self.algo}/{self.name}"


def _warn(run_warnings: list[str], message: str) -> None:
    run_warnings.append(message)
    warnings.warn(message, AnalyzeWarning, stacklevel=3)


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """The ``episodes.jsonl`` files named by ``paths`` (files, run folders, or folders of runs).

    Raises:
        AnalyzeError: A path that does not exist, or a folder without any episodes file.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise AnalyzeError(f"{path}: no such file or folder")
        if path.is_file():
            found.append(path)
        elif (path / EPISODES_FILE).is_file():
            found.append(path / EPISODES_FILE)
        else:
            inside = sorted(path.rglob(EPISODES_FILE))
            if not inside:
                raise AnalyzeError(
                    f"{path}: no {EPISODES_FILE} in this folder or below (give run folders "
                    f"written by train_rl.py, folders that contain them, or {EPISODES_FILE} files)"
                )
            found.extend(inside)
    unique: dict[Path, Path] = {}
    for file in found:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


def _clean(value: Any) -> Any:
    """Non-finite floats (NaN, inf: accepted by json.loads) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_episodes(path: Path, run_warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """The records of one file; bad lines are skipped with a warning naming file and line."""
    notes = run_warnings if run_warnings is not None else []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        _warn(notes, f"{path}: cannot be read ({exc}); run skipped")
        return []
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    records: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            what = "truncated last line" if index == last else f"invalid JSON ({exc.msg})"
            _warn(notes, f"{path}:{index + 1}: {what} skipped")
            continue
        if not isinstance(record, dict):
            _warn(notes, f"{path}:{index + 1}: not a JSON object; skipped")
            continue
        records.append({key: _clean(value) for key, value in record.items()})
    return records


def read_config(folder: Path, run_warnings: list[str]) -> dict[str, Any]:
    """The run's ``config.yaml`` (empty when absent or unreadable: records suffice)."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception as exc:  # a broken config must not hide the records
        _warn(run_warnings, f"{path}: unreadable ({type(exc).__name__}: {exc}); ignored")
        return {}
    return data if isinstance(data, dict) else {}


def _identity(records: list[dict[str, Any]], config: dict[str, Any], folder: Path) -> tuple:
    first = next((r for r in records if r.get("algo")), {})
    algo = first.get("algo") or config.get("algo") or folder.parent.name or "unknown"
    env_id = first.get("env_id") or config.get("env_id") or "unknown"
    seed = first.get("seed", config.get("seed"))
    try:
        seed = None if seed is None else int(seed)
    except (TypeError, ValueError):
        seed = None
    return str(algo), str(env_id), seed


def load_run(episodes: Path) -> Run | None:
    """One run from its ``episodes.jsonl`` (None, with a warning, when it has no records)."""
    notes: list[str] = []
    folder = episodes.parent
    records = read_episodes(episodes, notes)
    if not records:
        _warn(
            notes, f"{episodes}: no usable records (empty file, or no complete line yet); skipped"
        )
        return None
    config = read_config(folder, notes)
    algo, env_id, seed = _identity(records, config, folder)
    ids = {str(r.get("env_id")) for r in records if r.get("env_id")}
    if len(ids) > 1:
        _warn(notes, f"{episodes}: records name several env ids {sorted(ids)}; using {env_id}")
    return Run(folder, algo, env_id, seed, records, config, episodes, notes)


def load_runs(paths: Iterable[str | Path] | str | Path) -> list[Run]:
    """Every usable run under ``paths`` (see `discover`), sorted by env, algorithm, seed.

    Raises:
        AnalyzeError: Nothing found, or no run with at least one record.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files = discover(paths)
    runs = [run for run in (load_run(file) for file in files) if run is not None]
    if not runs:
        names = ", ".join(str(f) for f in files)
        raise AnalyzeError(f"no usable records in {names} (every episodes file was empty)")
    runs.sort(key=lambda r: (r.env_id, r.algo, -1 if r.seed is None else r.seed, r.name))
    return runs
