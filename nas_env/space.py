"""SearchSpace: a named, declarative set of genes, a reference task and budgets.

Spaces are data: presets live in ``config/spaces/<name>.yaml`` and users may write
their own file with the same fields::

    name: tiny                  # the space id, part of every genome key
    family: transformer         # transformer | rnn (which model builder)
    description: free text
    task: {kind: lm, vocab_size: 512, seq_len: 64}   # what budgets are measured for
    genes:
      layers: {kind: ordinal, choices: [1, 2, 3, 4], default: 2}
      heads: {choices: [1, 2, 4], default: 2, per_layer: true}
      norm: [layernorm, rmsnorm]                      # short form: default = first
    constraints: {max_params: 600000, max_size_mb: 4, size_dtype: float32}
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from config import preset_names, preset_path
from models import GENE_NAMES, TaskSpec
from nas_env.actions import Action, EditActions
from nas_env.checks import (
    check_keys,
    describe,
    expect_choice,
    expect_mapping,
    load_data_file,
    suggest,
)
from nas_env.constraints import Budget, Targets, constraint_reasons
from nas_env.errors import ConfigError, InvalidGenomeError
from nas_env.genes import Gene, parse_genes
from nas_env.genome import Genome, RNGLike
from nas_env.training_genes import TRAINING_GENES

LAYERS = "layers"
_CHECK_CACHE_LIMIT = 200_000


def _parse_task(raw: Any, where: str) -> TaskSpec:
    data = expect_mapping(raw, where)
    check_keys(
        data, where, ["kind", "vocab_size", "seq_len"], ["num_classes", "pad_id", "channels"]
    )
    try:
        return TaskSpec.from_dict(dict(data))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


class SearchSpace:
    """A search space: ordered genes, a reference task and resource budgets.

    Args:
        name: Space id (part of every genome key).
        family: Model family, ``"transformer"`` or ``"rnn"``.
        genes: The genes, in the order used by actions and observations.
        task: Task the budgets are measured for (vocabulary size, classes, sequence length).
        budget: Resource limits.
        description: Free text.
        targets: Size and latency targets of the default reward (none by default).
        source: Where the space came from (a file path or ``preset:NAME``).
    """

    def __init__(
        self,
        name: str,
        family: str,
        genes: tuple[Gene, ...],
        task: TaskSpec,
        budget: Budget | None = None,
        description: str = "",
        source: str = "",
        check_default: bool = True,
        targets: Targets | None = None,
    ) -> None:
        self.name = name
        self.family = family
        self.genes = tuple(genes)
        self.task = task
        self.budget = budget or Budget()
        self.targets = targets or Targets()
        self.description = description
        self.source = source
        self._by_name = {gene.name: gene for gene in self.genes}
        self._check_cache: dict[Genome, tuple[str, ...]] = {}
        self._actions: EditActions | None = None
        self._check_static(check_default)

    # -- loading ----------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str | Path) -> SearchSpace:
        """Load a preset by name (``tiny``, ``small``...) or a YAML/JSON file by path.

        Raises:
            ConfigError: Unknown preset (lists the presets) or a malformed file (names the
                field, the bad value and what is allowed).
        """
        text = str(name_or_path)
        path = Path(text)
        if path.suffix in (".yaml", ".yml", ".json") or path.is_file():
            return cls.from_dict(load_data_file(path), source=str(path))
        if text not in preset_names("spaces"):
            raise ConfigError(
                f"unknown search space {text!r}{suggest(text, preset_names('spaces'))}; "
                f"presets: {', '.join(preset_names('spaces'))}, or a path to a .yaml file"
            )
        return cls.from_dict(load_data_file(preset_path("spaces", text)), source=f"preset:{text}")

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>") -> SearchSpace:
        """Build a space from plain data (a parsed space file)."""
        data = expect_mapping(raw, source)
        check_keys(
            data,
            source,
            ["name", "family", "task", "genes"],
            ["description", "constraints", "targets"],
        )
        name = data["name"]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{source}: name: expected a non-empty string, got {describe(name)}")
        family = expect_choice(data["family"], f"{source}: family", GENE_NAMES)
        description = data.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{source}: description: expected text, got {describe(description)}")
        return cls(
            name=name,
            family=family,
            genes=parse_genes(data["genes"], f"{source}: genes"),
            task=_parse_task(data["task"], f"{source}: task"),
            budget=Budget.from_dict(data.get("constraints"), f"{source}: constraints"),
            description=description.strip(),
            source=source,
            targets=Targets.from_dict(data.get("targets"), f"{source}: targets"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form that `from_dict` reads back."""
        return {
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "task": self.task.to_dict(),
            "genes": {gene.name: gene.to_dict() for gene in self.genes},
            "constraints": self.budget.to_dict(),
            "targets": self.targets.to_dict(),
        }

    def with_task(self, task: TaskSpec) -> SearchSpace:
        """The same space with budgets and rules measured for another task.

        The default genome is not re-checked: under a larger vocabulary it may exceed the
        budget, which `check` reports when the genome is used.
        """
        if task == self.task:
            return self
        return SearchSpace(
            self.name,
            self.family,
            self.genes,
            task,
            self.budget,
            self.description,
            self.source,
            check_default=False,
            targets=self.targets,
        )

    def with_budget(self, **limits: Any) -> SearchSpace:
        """The same space with some budget fields replaced (``max_params=...``)."""
        budget = Budget.from_dict({**self.budget.to_dict(), **limits}, f"space {self.name} budget")
        return SearchSpace(
            self.name,
            self.family,
            self.genes,
            self.task,
            budget,
            self.description,
            self.source,
            targets=self.targets,
        )

    def _check_static(self, check_default: bool) -> None:
        where = f"{self.source or self.name}: genes"
        allowed = (*GENE_NAMES[self.family], *TRAINING_GENES)  # training genes: any family
        for gene in self.genes:
            if gene.name not in allowed:
                raise ConfigError(
                    f"{where}.{gene.name}: unknown gene for family {self.family!r}"
                    f"{suggest(gene.name, allowed)}; allowed genes: {', '.join(allowed)}"
                )
        per_layer = [g.name for g in self.genes if g.per_layer]
        layer_gene = self._by_name.get(LAYERS)
        if per_layer and layer_gene is None:
            raise ConfigError(
                f"{where}: per-layer genes {per_layer} need a 'layers' gene to say how many "
                "layers are active"
            )
        if layer_gene is not None:
            if layer_gene.per_layer or layer_gene.kind != "ordinal":
                raise ConfigError(f"{where}.layers: must be an ordinal, non-per-layer gene")
            if any(not isinstance(c, int) or c < 1 for c in layer_gene.choices):
                raise ConfigError(
                    f"{where}.layers.choices: expected positive integers, got "
                    f"{describe(list(layer_gene.choices))}"
                )
        if not check_default:
            return
        try:
            Genome.default(self)
        except InvalidGenomeError as exc:
            raise ConfigError(
                f"{where}: the default genome is invalid: {'; '.join(exc.reasons)}"
            ) from exc

    # -- genes ------------------------------------------------------------------
    def gene(self, name: str) -> Gene:
        """The gene called ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(
                f"space {self.name!r} has no gene {name!r}{suggest(name, self._by_name)}; "
                f"genes: {', '.join(self._by_name)}"
            ) from None

    @property
    def gene_names(self) -> tuple[str, ...]:
        """Gene names in space order."""
        return tuple(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def layer_gene(self) -> Gene | None:
        """The ``layers`` gene, or None for a space without one."""
        return self._by_name.get(LAYERS)

    def default_layers(self) -> int:
        """Layer count of the default genome (1 without a ``layers`` gene)."""
        gene = self.layer_gene()
        return int(gene.default) if gene is not None else 1

    @property
    def max_layers(self) -> int:
        """Largest possible layer count (length of the longest per-layer value)."""
        gene = self.layer_gene()
        return int(max(gene.choices)) if gene is not None else 1

    # -- validity ---------------------------------------------------------------
    def domain_reasons(self, genome: Mapping[str, Any]) -> list[str]:
        """Reasons why ``genome`` does not fit the genes' choices (empty when it does)."""
        reasons = [f"missing gene {name!r}" for name in self._by_name if name not in genome]
        reasons += [
            f"unknown gene {name!r}{suggest(name, self._by_name)}"
            for name in genome
            if name not in self._by_name
        ]
        layers = genome.get(LAYERS, 1)
        for gene in self.genes:
            if gene.name not in genome:
                continue
            value = genome[gene.name]
            if gene.per_layer:
                if not isinstance(value, tuple | list) or len(value) != layers:
                    reasons.append(
                        f"{gene.name}={describe(value)}: a per-layer gene needs a list of "
                        f"{describe(layers)} values (one per layer)"
                    )
                    continue
                bad = [v for v in value if not gene.contains(v)]
            else:
                bad = [] if gene.contains(value) else [value]
            reasons += [
                f"{gene.name}={describe(v)} is not allowed; choices: {describe(list(gene.choices))}"
                for v in bad
            ]
        return reasons

    def check(self, genome: Genome) -> list[str]:
        """All reasons why ``genome`` is invalid in this space (empty list when valid).

        Results are memoised per genome, so repeated checks (masks) are cheap.
        """
        cached = self._check_cache.get(genome)
        if cached is not None:
            return list(cached)
        reasons = []
        if genome.space_id != self.name:
            reasons.append(f"it belongs to space {genome.space_id!r}, not {self.name!r}")
        reasons += self.domain_reasons(genome)
        if not reasons:
            reasons = constraint_reasons(genome, self.family, self.task, self.budget)
        if len(self._check_cache) >= _CHECK_CACHE_LIMIT:
            self._check_cache.clear()
        self._check_cache[genome] = tuple(reasons)
        return reasons

    def is_valid(self, genome: Genome) -> bool:
        """True when `check` finds nothing wrong."""
        return not self.check(genome)

    def require_valid(self, genome: Genome) -> None:
        """Raise `InvalidGenomeError` listing every reason ``genome`` is invalid."""
        reasons = self.check(genome)
        if reasons:
            raise InvalidGenomeError(reasons, genome.to_json())

    # -- genomes ----------------------------------------------------------------
    def default_genome(self) -> Genome:
        """See `Genome.default`."""
        return Genome.default(self)

    def random_genome(self, rng: RNGLike = None) -> Genome:
        """See `Genome.random`."""
        return Genome.random(self, rng)

    def uniform_genome(self, rng: RNGLike = None) -> Genome:
        """See `Genome.uniform` (uniform over the valid genomes, not per gene)."""
        return Genome.uniform(self, rng)

    def genome(self, genes: Mapping[str, Any]) -> Genome:
        """See `Genome.from_genes`."""
        return Genome.from_genes(self, genes)

    def cardinality(self) -> int:
        """Number of genomes ignoring constraints (per-layer genes counted per layer count)."""
        fixed = math.prod(
            len(g.choices) for g in self.genes if not g.per_layer and g.name != LAYERS
        )
        per_layer = math.prod(len(g.choices) for g in self.genes if g.per_layer)
        gene = self.layer_gene()
        layer_counts = gene.choices if gene is not None else (1,)
        return fixed * sum(per_layer ** int(n) for n in layer_counts)

    def enumerate(self) -> Iterator[Genome]:
        """Yield every valid genome in a deterministic order (use on small spaces only)."""
        layer_counts = self.layer_gene().choices if self.layer_gene() else (1,)
        for layers in layer_counts:
            options = []
            for gene in self.genes:
                if gene.name == LAYERS:
                    options.append((layers,))
                elif gene.per_layer:
                    options.append(tuple(itertools.product(gene.choices, repeat=int(layers))))
                else:
                    options.append(gene.choices)
            for values in itertools.product(*options):
                genome = Genome(self.name, dict(zip(self.gene_names, values, strict=True)))
                if self.is_valid(genome):
                    yield genome

    # -- actions ----------------------------------------------------------------
    @property
    def actions(self) -> EditActions:
        """The named edit actions of this space (built once)."""
        if self._actions is None:
            self._actions = EditActions(self)
        return self._actions

    @property
    def action_names(self) -> tuple[str, ...]:
        """Names of the edit actions, in action-index order."""
        return self.actions.names

    def apply(self, genome: Genome, action: int | str | Action) -> Genome:
        """See `EditActions.apply`."""
        return self.actions.apply(genome, action)

    def action_mask(self, genome: Genome) -> np.ndarray:
        """See `EditActions.mask`."""
        return self.actions.mask(genome)

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, family={self.family!r}, genes={list(self._by_name)})"


def load_space(name_or_path: str | Path | SearchSpace) -> SearchSpace:
    """Return ``name_or_path`` if it is already a space, else `SearchSpace.load` it."""
    if isinstance(name_or_path, SearchSpace):
        return name_or_path
    return SearchSpace.load(name_or_path)
