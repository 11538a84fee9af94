"""Env ids and env keyword arguments for the CLI: checked before anything runs.

* `resolve_env_id`: ``nas_env/TransformerLM-v0``, ``TransformerLM-v0`` or
  ``nas_env:nas_env/TransformerLM-v0`` -> the registered id; a wrong id suggests close
  matches among the ``nas_env/`` ids of ``gymnasium.registry``.
* `check_env_kwargs`: names must be `NASEnv` / evaluator arguments.
* `resolve_cache`: the result database a run uses, as an explicit path stored in the
  run's config, so that a resumed run reuses every evaluation already made.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

import nas_env
from nas_env.env import NASEnv
from nas_env.env.factory import make_evaluator
from nas_env.errors import ConfigError

NAMESPACE = "nas_env"


class EnvIdError(ConfigError):
    """An env id that is not registered (the message suggests close ids)."""


def nas_env_ids() -> list[str]:
    """Registered ids in the ``nas_env`` namespace (sorted)."""
    nas_env.register_envs()
    return sorted(i for i in gym.registry if i.startswith(f"{NAMESPACE}/"))


def resolve_env_id(name: str) -> str:
    """The registered id for ``name`` (namespace and ``module:`` prefix optional).

    Raises:
        EnvIdError: No such id; lists close matches, else every nas_env id.
    """
    ids = nas_env_ids()
    bare = name.split(":", 1)[1] if ":" in name else name
    if bare in ids:
        return bare
    if f"{NAMESPACE}/{bare}" in ids:
        return f"{NAMESPACE}/{bare}"
    close = difflib.get_close_matches(bare, ids, n=3, cutoff=0.5)
    if not close:
        short = {i.split("/", 1)[1]: i for i in ids}
        close = [short[c] for c in difflib.get_close_matches(bare, list(short), n=3, cutoff=0.5)]
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise EnvIdError(f"unknown env id {name!r}; {hint}registered nas_env ids: {', '.join(ids)}")


def env_kwarg_names() -> list[str]:
    """Keyword arguments `gymnasium.make` accepts for a nas_env id."""
    names: set[str] = set()
    for func in (NASEnv.__init__, make_evaluator):
        params = inspect.signature(func).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return sorted(names - {"self", "evaluator_kwargs", "space_or_path"} | {"evaluator"})


def check_env_kwargs(kwargs: Mapping[str, Any]) -> None:
    """Reject names the env does not take (with the allowed list)."""
    allowed = env_kwarg_names()
    for key in kwargs:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"--env-kwargs: unknown env argument {key!r}{hint}; allowed: {', '.join(allowed)}"
            )


def registered_kwargs(env_id: str) -> dict[str, Any]:
    """The kwargs an id is registered with."""
    return dict(gym.spec(env_id).kwargs)


def max_episode_steps(env_id: str, default: int = 20) -> int:
    """The id's TimeLimit (design ids have none: ``default``)."""
    return int(gym.spec(env_id).max_episode_steps or default)


def _env_default(name: str) -> Any:
    """`NASEnv`'s own default for the argument ``name``."""
    return inspect.signature(NASEnv).parameters[name].default


def describe_fidelity(env_id: str, kwargs: Mapping[str, Any]) -> str:
    """One line naming the training budget of each new candidate, for the start of a run:
    ``fidelity: tiny (40 steps x 4 x 64)`` (steps x batch size x sequence length)."""
    from nas_env.evaluation.fidelity import Fidelity
    from nas_env.space import load_space

    merged = {**registered_kwargs(env_id), **kwargs}
    served = merged.get("evaluator", _env_default("evaluator")) == "table"
    if served and merged.get("missing", "error") != "train":
        return "fidelity: the benchmark table's (results served, nothing trained)"
    fidelity = Fidelity.resolve(merged.get("fidelity", _env_default("fidelity")))
    seq_len = (
        fidelity.seq_len or load_space(merged.get("space", _env_default("space"))).task.seq_len
    )
    line = f"{fidelity.name} ({fidelity.steps} steps x {fidelity.batch_size} x {seq_len})"
    if served:
        return f"fidelity: the benchmark table's; genomes missing from it train at {line}"
    return f"fidelity: {line}"


def resolve_cache(kwargs: Mapping[str, Any]) -> str | bool:
    """The result database path of a run (``cache`` wins, then ``cache_root``, then the
    user's cache folder), or False when the user disabled the persistent cache."""
    from nas_env.tasks import cache_dir

    cache = kwargs.get("cache")
    if cache is False:
        return False
    if cache not in (None, True, ""):
        path = Path(str(cache)).expanduser().absolute()
        return str(path / "results.sqlite" if path.is_dir() else path)
    return str(cache_dir(kwargs.get("cache_root")) / "results.sqlite")


def check_device(value: Any, where: str) -> None:
    """Reject a training device this machine cannot use (``cuda`` without CUDA...).

    Args:
        value: The requested device (``auto``, ``cpu``, ``cuda``, ``cuda:N``).
        where: Where the value came from, for the message (``--env-kwargs device``).

    Raises:
        ConfigError: Naming the value, where it came from and what is allowed here.
    """
    import torch

    text = str(value)
    if text == "auto":
        return
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ConfigError(f"{where}: {text!r} is not a device; allowed: auto, cpu, cuda, cuda:N")
    if device.type == "cpu":
        return
    if not torch.cuda.is_available():
        raise ConfigError(
            f"{where}: {text!r} needs CUDA, but torch {torch.__version__} sees no CUDA device "
            "on this machine; allowed here: auto, cpu"
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ConfigError(
            f"{where}: {text!r}, but this machine has {count} CUDA device(s); allowed here: "
            f"auto, cpu, cuda, cuda:0 to cuda:{count - 1}"
        )


def precheck_env_kwargs(
    env_id: str, kwargs: Mapping[str, Any], source: str = "--env-kwargs"
) -> None:
    """Check the cheap-to-check env arguments (names, space, task, fidelity, reward, modes,
    evaluator kind, backend, device) before the env trains a tokenizer or loads a table.

    Args:
        env_id: The registered id (its registered kwargs are checked too).
        kwargs: The user's env arguments.
        source: Where ``kwargs`` came from, for messages (a flag or a config file).

    Raises:
        ConfigError: The first bad value, with what is allowed.
    """
    from nas_env._validate import expect_choice
    from nas_env.env.core import MODES, OBSERVATIONS, STARTS
    from nas_env.env.factory import EVALUATOR_KINDS
    from nas_env.evaluation.evaluator import BACKENDS
    from nas_env.evaluation.fidelity import Fidelity
    from nas_env.rewards import make_reward
    from nas_env.space import load_space
    from nas_env.tasks import parse_task_id

    check_env_kwargs(kwargs)
    merged = {**registered_kwargs(env_id), **kwargs}
    if "space" in merged:
        load_space(merged["space"])
    if "task" in merged:
        parse_task_id(merged["task"])
    if "fidelity" in merged:
        Fidelity.resolve(merged["fidelity"])
    if "reward" in merged:
        make_reward(merged["reward"])
    if "device" in merged:
        where = f"{source} device" if "device" in kwargs else f"{env_id}'s registered device"
        check_device(merged["device"], where)
    for key, allowed in (
        ("mode", MODES),
        ("start", STARTS),
        ("observation", OBSERVATIONS),
        ("evaluator", EVALUATOR_KINDS),
        ("backend", BACKENDS),
    ):
        if key in merged:
            expect_choice(merged[key], key, allowed)
