"""Run folders: layout, self-description (config, command, versions) and the final summary.

``<log-folder>/<algo>/<env-name>__<seed>__<YYYYmmdd-HHMMSS>/`` holds:

* ``config.yaml``: resolved hyperparameters, env kwargs (with the result cache path),
  budgets, flags and the changes made to fit the budget;
* ``command.txt``: every command line that ran in this folder (first run, resumes);
* ``versions.json``: python, torch, gymnasium, stable-baselines3, sb3-contrib, numpy,
  nas_env (and deepspeed when installed);
* ``episodes.jsonl`` (`agents.records`), ``best.json`` and ``pareto.json``
  (`agents.tracking`), ``tb/`` (TensorBoard events), ``checkpoints/``.
"""

from __future__ import annotations

import contextlib
import json
import platform
import shlex
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from nas_env.atomic import atomic_write_json, atomic_write_text
from nas_env.errors import ConfigError
from runfolder import (
    BEST_FILE,
    COMMAND_FILE,
    CONFIG_FILE,
    EPISODES_FILE,
    PARETO_FILE,
    RECORD_VERSION,
    TB_FOLDER,
    VERSIONS_FILE,
)

_PACKAGES = ("torch", "gymnasium", "stable-baselines3", "sb3-contrib", "numpy", "pyyaml")


def run_dir_for(log_folder: str | Path, algo: str, env_id: str, seed: int) -> Path:
    """A new, not yet existing folder ``<log>/<algo>/<env-name>__<seed>__<stamp>``."""
    name = env_id.split("/", 1)[-1]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(log_folder) / algo / f"{name}__{seed}__{stamp}"
    path, n = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{n}")
        n += 1
    path.mkdir(parents=True)
    return path


def versions() -> dict[str, str | None]:
    """Versions of the interpreter and the packages a run depends on."""
    import nas_env

    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["nas_env"] = nas_env.__version__
    with contextlib.suppress(metadata.PackageNotFoundError):
        found["deepspeed"] = metadata.version("deepspeed")
    found["platform"] = platform.platform()
    found["record_version"] = str(RECORD_VERSION)
    return found


def plain(value: Any) -> Any:
    """YAML-safe plain data (tuples -> lists, paths -> strings)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_config(run_dir: Path, config: Mapping[str, Any]) -> None:
    """Write ``config.yaml`` (plain YAML, readable with ``yaml.safe_load``)."""
    text = yaml.safe_dump(plain(config), sort_keys=False, default_flow_style=None)
    atomic_write_text(run_dir / CONFIG_FILE, text)


def read_config(run_dir: Path) -> dict[str, Any]:
    """The ``config.yaml`` of a run folder."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: no {CONFIG_FILE}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise ConfigError(
            f"{path}: not readable YAML{at}: {getattr(exc, 'problem', None) or exc}; "
            "restore it (it is the run's resolved configuration) or start a new run"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type(data).__name__}")
    return data


def describe_run(run_dir: Path, argv: Sequence[str]) -> None:
    """Append the command line to ``command.txt`` and (re)write ``versions.json``."""
    line = shlex.join(["python", "train_rl.py", *argv])
    with (run_dir / COMMAND_FILE).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    atomic_write_json(run_dir / VERSIONS_FILE, versions())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary(
    run_dir: Path,
    best: Mapping[str, Any] | None,
    steps: int,
    unique: int,
    cache_hit_rate: float,
    seconds: float,
    stop_reason: str = "",
) -> str:
    """The text printed at the end of a run."""
    reason = f" ({stop_reason})" if stop_reason else ""
    lines = [
        "",
        f"run finished: {steps} env steps, {unique} unique evaluations, "
        f"cache hit rate {cache_hit_rate:.0%}, {seconds:.0f}s{reason}",
    ]
    if best is None:
        lines.append("no architecture was evaluated successfully")
    else:
        metrics = best.get("metrics", {})
        lines.append(
            f"best architecture (score {best['score']:.4f}, key {best['genome_key']}, "
            f"found at step {best.get('global_step')}):"
        )
        for gene, value in best["genome"].items():
            lines.append(f"  {gene:<16} {json.dumps(value)}")
        shown = ("metric", "quality", "params", "size_mb", "latency_ms", "source")
        lines.append(
            "  metrics: " + ", ".join(f"{k}={_fmt(metrics.get(k))}" for k in shown if k in metrics)
        )
    lines += [
        f"logs: {run_dir}",
        f"  episodes  {run_dir / EPISODES_FILE}",
        f"  best      {run_dir / BEST_FILE}",
        f"  pareto    {run_dir / PARETO_FILE}",
        f"  tensorboard --logdir {run_dir / TB_FOLDER}",
        f"analyze: python -m analyze {run_dir}",
        f"resume:  python train_rl.py --resume {run_dir} -n <new total steps>",
    ]
    return "\n".join(lines)
