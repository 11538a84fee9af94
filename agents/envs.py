"""Env ids and env keyword arguments for the CLI.

* `resolve_env_id`: ``nas_env/TransformerLM-v2``, ``TransformerLM-v2`` or
  ``nas_env:nas_env/TransformerLM-v2`` -> the registered id; a wrong id suggests close
  matches among the ``nas_env/`` ids of ``gymnasium.registry``.
* Env keyword arguments are checked by the env's own declaration
  (`NASEnv.check_arguments`, see `nas_env.env.settings`), from `agents.config`.
* `describe_fidelity`: the training budget in force, printed when a run starts;
  `describe_executor`: where candidates train (`env_settings`: an id's settings).
* `resolve_cache`: the result database a run uses, as an explicit path stored in the
  run's config, so that a resumed run reuses every evaluation already made.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

import nas_env
from nas_env.env.settings import DEFAULT_FIDELITY, DEFAULT_SPACE, EvaluatorSettings
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


def registered_kwargs(env_id: str) -> dict[str, Any]:
    """The kwargs an id is registered with."""
    return dict(gym.spec(env_id).kwargs)


def max_episode_steps(env_id: str, default: int = 20) -> int:
    """The id's TimeLimit (design ids have none: ``default``)."""
    return int(gym.spec(env_id).max_episode_steps or default)


def env_settings(env_id: str, kwargs: Mapping[str, Any]) -> EvaluatorSettings:
    """The evaluator settings of ``env_id`` made with ``kwargs`` (registered ones first)."""
    merged = {**registered_kwargs(env_id), **kwargs}
    names = EvaluatorSettings.names()
    return EvaluatorSettings.from_kwargs({k: v for k, v in merged.items() if k in names})


def describe_executor(settings: EvaluatorSettings) -> str | None:
    """One line on where candidates train, for the start of a run (None: in process)."""
    executor = settings.executor
    if not executor.parallel:
        return None
    where = executor.describe()
    gpus = f", {executor.gpus_per_eval:g} GPU" if executor.gpus_per_eval else ""
    return (
        f"executor: {where}; {executor.cpus_per_eval} CPU thread(s){gpus} per evaluation, "
        f"a lost worker retried {executor.max_retries} time(s)"
    )


def describe_fidelity(env_id: str, kwargs: Mapping[str, Any]) -> str:
    """One line naming the training budget of each new candidate, for the start of a run:
    ``fidelity: tiny (40 steps x 4 x 64)`` (steps x batch size x sequence length)."""
    from nas_env.evaluation.fidelity import Fidelity, measured_ranking
    from nas_env.space import load_space

    merged = {**registered_kwargs(env_id), **kwargs}
    settings = env_settings(env_id, kwargs)
    if settings.evaluator == "surrogate":
        return "fidelity: the surrogate benchmark's (predicted results served, nothing trained)"
    served = settings.evaluator == "table"
    if served and settings.table.missing != "train":
        return "fidelity: the benchmark table's (results served, nothing trained)"
    fidelity = Fidelity.resolve(merged.get("fidelity", DEFAULT_FIDELITY))
    seq_len = fidelity.seq_len or load_space(merged.get("space", DEFAULT_SPACE)).task.seq_len
    line = f"{fidelity.name} ({fidelity.steps} steps x {fidelity.batch_size} x {seq_len})"
    if settings.promotion.on:
        from nas_env.evaluation.promotion import rung_steps

        promotion = settings.promotion
        steps = rung_steps(fidelity.steps, promotion.rungs, promotion.eta)
        line += f", promoted over rungs of {list(steps)} steps (eta {promotion.eta})"
    if served:
        return f"fidelity: the benchmark table's; genomes missing from it train at {line}"
    space = merged.get("space", DEFAULT_SPACE)
    ranking = measured_ranking(str(space), fidelity.name) if isinstance(space, str) else None
    if ranking is None:
        return f"fidelity: {line}"
    signal = f", scored by the signal {fidelity.signal}" if fidelity.signal else ""
    decision = (
        f", {ranking['tau_decision']:.2f} on {ranking['decision_genomes']} genomes near the "
        "size target"
        if ranking.get("tau_decision") is not None
        else ""
    )
    return (
        f"fidelity: {line}{signal}; ranks genomes like `{ranking['reference']}` with Kendall "
        f"tau {ranking['tau']:.2f} ({ranking['genomes']} uniform genomes of the {space} "
        f"space{decision}; {ranking.get('source', 'benchmarks/fidelity_rank.py')})"
    )


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


def final_level(env_id: str, kwargs: Mapping[str, Any]) -> str:
    """The final training's level by default: the env's task kind's `final_level`
    (``rerank`` for language models, ``long-cls``, ``long-img``, ``long-series``), or the
    kind's `truth_level` (``long``) where that level's signal refuses the space (a
    signal fitted on Transformers scoring a recurrent language model)."""
    from nas_env.errors import ConfigError
    from nas_env.evaluation.fidelity import Fidelity
    from nas_env.evaluation.signals import checked_signal
    from nas_env.space import load_space
    from nas_env.tasks.kinds import task_kind

    merged = {**registered_kwargs(env_id), **kwargs}
    space = merged.get("space", DEFAULT_SPACE)
    space = space if hasattr(space, "task") else load_space(space)
    kind = task_kind(space.task.kind)
    try:
        checked_signal(Fidelity.resolve(kind.final_level), space)
    except ConfigError:
        return kind.truth_level
    return kind.final_level
