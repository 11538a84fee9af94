"""Targets that change per episode: the env's ``targets`` argument.

With ``targets="fixed"`` (the default) every episode aims at the reward's targets (the
space's, `nas_env.constraints.Targets`, unless the reward mapping sets its own), as
always. With ``targets="random"`` each `reset` draws the episode's size and latency
targets, log-uniformly and independently, from the space's ranges in
``config/target_ranges.yaml`` (a target the space has no range for keeps its fixed
value), or takes them from ``reset(options={"targets": {"size_mb": 0.5, ...}})``. With
``targets="observed"`` the observation and reset options are those of ``random``, but an
episode without given targets aims at the fixed ones: a policy trained over random targets
can then run, or be fine-tuned, on the space's own question. The
reward of that episode aims at them, the observation carries them (slots
``target.size_mb`` and ``target.latency_ms``, the log position of each in its range, after
``episode.progress``), and ``info["targets"]`` says them, so that a policy can learn to
answer any budget and a run's records can be replayed.

Only rewards that take the space's targets (``space_targets``, the default ``target``
reward) can be conditioned; another reward is refused with ``targets="random"``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from config import CONFIG_DIR
from nas_env.checks import check_keys, expect_mapping, expect_number, load_data_file
from nas_env.errors import ConfigError
from nas_env.rewards import Reward

TARGET_NAMES: tuple[str, ...] = ("size_mb", "latency_ms")
RANGES_FILE = CONFIG_DIR / "target_ranges.yaml"
_FIELDS = {"size_mb": "target_size_mb", "latency_ms": "target_latency_ms"}


@cache
def declared_ranges() -> dict[str, dict[str, tuple[float, float]]]:
    """``config/target_ranges.yaml``, checked: space name -> target -> (low, high).

    Raises:
        ConfigError: A malformed entry, named by its place in the file.
    """
    raw = expect_mapping(load_data_file(RANGES_FILE) or {}, str(RANGES_FILE))
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for space, entry in raw.items():
        where = f"{RANGES_FILE}: {space}"
        entry = expect_mapping(entry, where)
        check_keys(entry, where, [], TARGET_NAMES)
        out[space] = {name: check_range(value, f"{where}.{name}") for name, value in entry.items()}
    return out


def check_range(value: Any, where: str) -> tuple[float, float]:
    """A ``[low, high]`` pair with ``0 < low < high``.

    Raises:
        ConfigError: Naming ``where``, the value and what is allowed.
    """
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError(f"{where}: {value!r} is not allowed; allowed: [low, high]")
    low = expect_number(value[0], f"{where}[0]", minimum=0, strict=True, finite=True)
    high = expect_number(value[1], f"{where}[1]", minimum=0, strict=True, finite=True)
    assert low is not None and high is not None
    if not low < high:
        raise ConfigError(f"{where}: [{low:g}, {high:g}] needs low < high")
    return low, high


@dataclass(frozen=True)
class EpisodeTargets:
    """How an env sets each episode's targets (see the module docstring).

    Attributes:
        mode: ``fixed``, ``random`` or ``observed``.
        base: The reward built with the space's targets (what ``fixed`` episodes use).
        ranges: Each drawn target's ``(low, high)``; empty with ``fixed``.
    """

    mode: str
    base: Reward
    ranges: dict[str, tuple[float, float]]

    @classmethod
    def of(cls, mode: str, base: Reward, space_name: str) -> EpisodeTargets:
        """The targets of an env on space ``space_name`` scoring with ``base``.

        Raises:
            ConfigError: ``random`` or ``observed`` with a reward that takes no targets,
                or on a space with no declared ranges.
        """
        if mode == "fixed":
            return cls(mode, base, {})
        if not getattr(base, "space_targets", False):
            raise ConfigError(
                f"targets={mode!r}: reward {base.name!r} takes no size or latency targets; "
                "allowed: a reward with targets (the default 'target'), or targets='fixed'"
            )
        ranges = declared_ranges().get(space_name)
        if not ranges:
            raise ConfigError(
                f"targets={mode!r}: space {space_name!r} has no target ranges in "
                f"{RANGES_FILE}; allowed spaces: {', '.join(declared_ranges())} (or add one)"
            )
        return cls(mode, base, dict(ranges))

    @property
    def conditioned(self) -> bool:
        """The observation carries the episode's targets (``random``, ``observed``)."""
        return self.mode != "fixed"

    @property
    def slot_names(self) -> tuple[str, ...]:
        """Observation slots of the targets (none with ``fixed``)."""
        return tuple(f"target.{name}" for name in self.ranges)

    def fixed(self) -> dict[str, float | None]:
        """The base reward's targets."""
        return {name: getattr(self.base, _FIELDS[name], None) for name in TARGET_NAMES}

    def choose(self, rng: np.random.Generator, given: Any = None) -> dict[str, float | None]:
        """The next episode's targets: ``given`` (reset options, checked), else drawn
        (``random``) or the fixed ones (``observed``).

        Raises:
            ConfigError: ``given`` with ``fixed``, or a bad name or value in it.
        """
        targets = self.fixed()
        if given is not None:
            if not self.conditioned:
                raise ConfigError(
                    "reset options 'targets': this env has targets='fixed'; make it with "
                    "targets='random' or 'observed' to set them per episode"
                )
            where = "reset options 'targets'"
            given = expect_mapping(given, where)
            check_keys(given, where, [], TARGET_NAMES)
            for name, value in given.items():
                targets[name] = expect_number(
                    value, f"{where}.{name}", minimum=0, strict=True, finite=True
                )
            return targets
        if self.mode == "observed":
            return targets
        for name, (low, high) in self.ranges.items():
            targets[name] = math.exp(rng.uniform(math.log(low), math.log(high)))
        return targets

    def reward(self, targets: Mapping[str, float | None]) -> Reward:
        """The base reward aiming at ``targets``."""
        if not self.conditioned:
            return self.base
        changes = {_FIELDS[name]: targets.get(name) for name in TARGET_NAMES}
        return dataclasses.replace(self.base, **changes)  # type: ignore[type-var]

    def encode(self, targets: Mapping[str, float | None]) -> np.ndarray:
        """The target slots: each target's log position in its range, clipped to [0, 1]."""
        out = []
        for name, (low, high) in self.ranges.items():
            value = targets.get(name)
            span = math.log(high) - math.log(low)
            position = (math.log(value) - math.log(low)) / span if value else 0.0
            out.append(min(max(position, 0.0), 1.0))
        return np.asarray(out, dtype=np.float32)
