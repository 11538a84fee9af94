"""The reward registry: rewards by name, and `make_reward` from names, mappings or objects."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from nas_env.checks import describe, expect_mapping, suggest
from nas_env.errors import ConfigError
from nas_env.rewards.base import Reward
from nas_env.rewards.builtin import BUILTIN_REWARDS
from nas_env.rewards.target import TargetReward

R = TypeVar("R", bound=type[Reward])

REWARDS: dict[str, type[Reward]] = {cls.name: cls for cls in (TargetReward, *BUILTIN_REWARDS)}
"""Registered reward classes by name (``target``, ``quality``, ``weighted``, ``mnasnet``,
``budget`` and whatever `register_reward` added)."""


@overload
def register_reward(
    name: str, cls: None = None, *, overwrite: bool = False
) -> Callable[[R], R]: ...


@overload
def register_reward(name: str, cls: R, *, overwrite: bool = False) -> R: ...


def register_reward(name: str, cls: R | None = None, *, overwrite: bool = False) -> Any:
    """Register the `Reward` subclass ``cls`` under ``name`` and return it.

    Without ``cls`` it returns a class decorator: ``@register_reward("mine")``. A class
    without its own ``name`` gets ``name``; a class whose ``name`` differs is refused (so
    that ``make_reward(reward.to_dict())`` finds it again).

    Raises:
        ConfigError: ``name`` is already registered (and ``overwrite`` is False), is not a
            non-empty string, or ``cls`` is not a concrete `Reward` subclass.
    """
    if cls is None:
        return lambda c: register_reward(name, c, overwrite=overwrite)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"reward name must be a non-empty string, got {describe(name)}")
    if not (isinstance(cls, type) and issubclass(cls, Reward)) or inspect.isabstract(cls):
        raise ConfigError(
            f"reward {name!r}: expected a concrete subclass of Reward, got {describe(cls)}"
        )
    if name in REWARDS and not overwrite:
        raise ConfigError(
            f"reward {name!r} is already registered ({REWARDS[name].__qualname__}); "
            "pass overwrite=True to replace it"
        )
    own = cls.__dict__.get("name")
    if own is None:
        cls.name = name
    elif own != name:
        raise ConfigError(
            f"reward {name!r}: class {cls.__qualname__} is named {own!r}; "
            f"allowed: register it as {own!r} or set its name to {name!r}"
        )
    REWARDS[name] = cls
    return cls


def reward_class(name: Any) -> type[Reward]:
    """Return the registered class named ``name``.

    Raises:
        ConfigError: Unknown name, with a close match and the registered names.
    """
    if isinstance(name, str) and name in REWARDS:
        return REWARDS[name]
    hint = suggest(name, REWARDS) if isinstance(name, str) else ""
    raise ConfigError(
        f"unknown reward {describe(name)}{hint}; registered rewards: {', '.join(REWARDS)}"
    )


def make_reward(spec: str | Mapping[str, Any] | Reward, **overrides: Any) -> Reward:
    """Build a reward from a name, a mapping or an existing reward, with parameter overrides.

    Args:
        spec: A registered name (``"weighted"``), a mapping with a ``name`` and parameters
            (``{"name": "weighted", "w_size": 0.5}``, as written by `Reward.to_dict`), or a
            `Reward` (returned as is without overrides, else rebuilt from its `to_dict`).
        **overrides: Parameters that replace those of ``spec`` (e.g. the task's
            ``vocab_size``).

    Raises:
        ConfigError: Unknown reward name (with a did-you-mean and the registered names),
            unknown or missing parameter (with the allowed parameters) or a bad value
            (naming the field, the value and what is allowed).
    """
    if isinstance(spec, Reward):
        if not overrides:
            return spec
        spec = spec.to_dict()
    if isinstance(spec, str):
        name, params = spec, dict(overrides)
    elif isinstance(spec, Mapping):
        data = dict(expect_mapping(spec, "reward"))
        if "name" not in data:
            raise ConfigError(
                f"reward: missing required field 'name' in {describe(data)}; "
                f"registered rewards: {', '.join(REWARDS)}"
            )
        name = data.pop("name")
        params = {**data, **overrides}
    else:
        raise ConfigError(
            f"reward: expected a name, a mapping or a Reward, got {describe(spec)}; "
            f"registered rewards: {', '.join(REWARDS)}"
        )
    cls = reward_class(name)
    signature = inspect.signature(cls).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in signature):
        allowed = cls.parameter_names()
        for key in params:
            if key not in allowed:
                raise ConfigError(
                    f"reward {name}: unknown parameter {key!r}{suggest(key, allowed)}; "
                    f"allowed parameters: {', '.join(allowed) or '(none)'}"
                )
    for p in signature:
        required = p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty
        if required and p.name not in params:
            raise ConfigError(f"reward {name}: missing required parameter {p.name!r}")
    return cls(**params)
