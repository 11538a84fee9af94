"""Action masks of every genome of a flat space, computed once.

A space whose searchable genes are all global (no per-layer genes, e.g. ``mid`` and
``bench``) is a grid: a genome is one index per gene. `MaskTable` checks every grid point
once (the same rules as `SearchSpace.check`) and derives the mask of every genome with a
few array operations, so that `EditActions.mask` is an array lookup instead of one edit
and one constraint check per action. The validity grid is kept per process and in the
cache folder (``<cache>/masks/``), keyed by the space's definition and this module's
version and the model builders' source (their checks are the rules), so a fresh process
reads it instead of checking the grid again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nas_env.constraints import constraint_reasons
from nas_env.genes import Gene, same_value
from nas_env.genome import Genome


class GridSpace(Protocol):
    """What a table needs of a `nas_env.space.SearchSpace`."""

    name: str
    family: str
    task: Any
    budget: Any

    genes: tuple[Gene, ...]

    def to_dict(self) -> dict[str, Any]: ...

    def domain_reasons(self, genome: Any) -> list[str]: ...


TABLE_VERSION = 2
MAX_GRID = 1 << 20
"""Largest grid tabulated (the ``mid`` space has 61,440 points)."""

_GRIDS: dict[str, np.ndarray] = {}


def tabulable(space: GridSpace) -> bool:
    """Whether ``space`` is a grid small enough to tabulate (no per-layer gene)."""
    genes = [g for g in space.genes if g.searchable]
    if not genes or any(g.per_layer for g in space.genes):
        return False
    return int(np.prod([len(g.choices) for g in genes], dtype=np.int64)) <= MAX_GRID


def grid_digest(space: GridSpace) -> str:
    """A key for the space's definition, its gene order and the rules (this module's
    version)."""
    order = [g.name for g in space.genes]  # the grid's axes (a dict's keys get sorted)
    payload = json.dumps(
        {"space": space.to_dict(), "order": order, "version": TABLE_VERSION,
         "rules": rules_digest()}, sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


_RULES: list[str] = []


def rules_digest() -> str:
    """A hash of the model builders' source (`models`), whose checks decide validity: a
    grid stored under older rules is never read."""
    if not _RULES:
        import models

        digest = hashlib.sha256()
        for path in sorted(Path(models.__file__).parent.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        _RULES.append(digest.hexdigest()[:16])
    return _RULES[0]


def _grid_file(digest: str) -> Any:
    from nas_env.tasks import cache_dir

    try:
        return cache_dir() / "masks" / f"{digest}.npy"
    except OSError:
        return None


def valid_grid(space: GridSpace) -> np.ndarray:
    """Validity of every grid point, flattened in C order over the searchable genes."""
    digest = grid_digest(space)
    found = _GRIDS.get(digest)
    if found is not None:
        return found
    path = _grid_file(digest)
    if path is not None and path.is_file():
        try:
            found = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            found = None
    if found is None:
        found = _check_grid(space)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, found)
                tmp.replace(path)
            except OSError:
                pass
    _GRIDS[digest] = found
    return found


def _check_grid(space: GridSpace) -> np.ndarray:
    fixed = {g.name: g.choices[0] for g in space.genes if not g.searchable}
    genes = [g for g in space.genes if g.searchable]
    out = []
    for values in itertools.product(*(g.choices for g in genes)):
        genome = {**fixed, **{g.name: v for g, v in zip(genes, values, strict=True)}}
        ok = not space.domain_reasons(genome) and not constraint_reasons(
            genome, space.family, space.task, space.budget
        )
        out.append(ok)
    return np.asarray(out, dtype=bool)


class MaskTable:
    """The masks of every genome of a tabulable space (see the module docstring).

    Args:
        space: A space for which `tabulable` holds.
        actions: Its edit actions (`nas_env.actions.Action`), in action-index order.
    """

    def __init__(self, space: GridSpace, actions: Sequence[Any]) -> None:
        self.space_id = space.name
        self.genes: list[Gene] = [g for g in space.genes if g.searchable]
        self._fixed = [(g.name, g.choices[0]) for g in space.genes if not g.searchable]
        self._position = {g.name: i for i, g in enumerate(self.genes)}
        self._lookup = [{c: i for i, c in enumerate(g.choices)} for g in self.genes]
        sizes = [len(g.choices) for g in self.genes]
        self._strides = [int(np.prod(sizes[i + 1 :], dtype=np.int64)) for i in range(len(sizes))]
        self._points: dict[Any, int] = {}
        self.valid = valid_grid(space)
        index = np.indices(sizes).reshape(len(sizes), -1)
        flat = np.arange(self.valid.size)
        masks = np.zeros((self.valid.size, len(actions)), dtype=bool)
        targets = np.zeros((self.valid.size, len(actions)), dtype=np.int32)
        for column, action in enumerate(actions):
            if action.op == "stop":
                masks[:, column] = True
                targets[:, column] = flat
                continue
            j = self._position[action.gene or ""]
            current = index[j]
            if action.op == "set":
                target = np.full_like(current, self._choice(j, action.value))
                ok = current != target
            else:
                target = current + (1 if action.op == "inc" else -1)
                ok = (target >= 0) & (target < sizes[j])
            moved = np.where(ok, flat + (target - current) * self._strides[j], -1)
            masks[:, column] = ok & self.valid[np.maximum(moved, 0)]
            targets[:, column] = moved
        self.masks = masks
        self.targets = targets

    def _choice(self, j: int, value: Any) -> int:
        return self.genes[j].index(value)

    def flat(self, genome: Genome | dict[str, Any]) -> int | None:
        """The grid point of ``genome``, or None when it is not one (another space, a value
        outside the choices)."""
        hashable = isinstance(genome, Genome)
        memo = self._points.get(genome) if hashable else None
        if memo is not None:
            return memo
        if getattr(genome, "space_id", self.space_id) != self.space_id:
            return None
        if not all(same_value(genome.get(name), value) for name, value in self._fixed):
            return None
        point = 0
        for j, gene in enumerate(self.genes):
            value = genome.get(gene.name)
            i = self._lookup[j].get(value)
            if i is None or not same_value(gene.choices[i], value):
                return None
            point += i * self._strides[j]
        if hashable:
            if len(self._points) >= 200_000:
                self._points.clear()
            self._points[genome] = point
        return point

    def mask(self, genome: Genome) -> np.ndarray | None:
        """The mask of ``genome`` (a copy), or None when it is not a grid point."""
        point = self.flat(genome)
        return None if point is None else self.masks[point].copy()

    def moved(self, genome: Genome, action: int, new: Genome) -> bool | None:
        """Whether ``new``, the result of edit ``action`` on ``genome``, is valid (and
        remember its grid point), or None when ``genome`` is not a grid point."""
        point = self.flat(genome)
        if point is None:
            return None
        target = int(self.targets[point, action])
        if target < 0:
            return None
        if len(self._points) >= 200_000:
            self._points.clear()
        self._points[new] = target
        return bool(self.valid[target])

    def is_valid(self, genome: Genome) -> bool | None:
        """Whether ``genome`` is valid, or None when it is not a grid point."""
        point = self.flat(genome)
        return None if point is None else bool(self.valid[point])
