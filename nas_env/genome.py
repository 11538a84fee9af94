"""Genome: one immutable point of a search space.

A genome maps every gene of its space to a value; a per-layer gene maps to a tuple
with one value per active layer (its length equals the ``layers`` gene). Genomes
are hashable, compare by value, round-trip through canonical JSON and have a
stable `Genome.key`, identical on every machine and Python version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from nas_env.checks import describe, expect_mapping
from nas_env.errors import ConfigError, InvalidGenomeError
from nas_env.genes import Gene

RNGLike = np.random.Generator | int | None


class GeneSpace(Protocol):
    """What genomes and edit actions need of their search space.

    `nas_env.space.SearchSpace` implements it; genomes and actions depend on this
    protocol rather than on the space module, which builds on both of them.
    """

    name: str
    genes: tuple[Gene, ...]

    @property
    def max_layers(self) -> int:
        """Largest possible layer count."""
        ...

    def gene(self, name: str) -> Gene:
        """The gene called ``name`` (KeyError when there is none)."""
        ...

    def layer_gene(self) -> Gene | None:
        """The ``layers`` gene, or None for a space without one."""
        ...

    def default_layers(self) -> int:
        """Layer count of the default genome."""
        ...

    def check(self, genome: Genome) -> list[str]:
        """Every reason why ``genome`` is invalid (empty when it is valid)."""
        ...

    def require_valid(self, genome: Genome) -> None:
        """Raise `InvalidGenomeError` unless ``genome`` is valid."""
        ...


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def _thaw(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class Genome(Mapping[str, Any]):
    """An immutable architecture description: gene name -> value.

    Build genomes through a space (`Genome.from_genes`, `Genome.default`,
    `Genome.random`, `Genome.from_json`), which checks every value against the
    gene's choices. The genome itself holds only the space id and the values.

    Args:
        space_id: Name of the search space the genome belongs to.
        genes: Gene values; lists are stored as tuples.
    """

    __slots__ = ("_genes", "_json", "_key", "_space_id")

    def __init__(self, space_id: str, genes: Mapping[str, Any]) -> None:
        self._space_id = space_id
        self._genes = {name: _freeze(value) for name, value in genes.items()}
        payload = {"genes": {k: _thaw(v) for k, v in self._genes.items()}, "space": space_id}
        self._json = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        self._key = hashlib.sha256(self._json.encode("utf-8")).hexdigest()[:16]

    # -- Mapping protocol -------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self._genes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._genes)

    def __contains__(self, name: object) -> bool:
        return name in self._genes

    def get(self, name: str, default: Any = None) -> Any:
        """The value of gene ``name``, or ``default``."""
        return self._genes.get(name, default)

    def __len__(self) -> int:
        return len(self._genes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Genome):
            return self._json == other._json
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._json)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._genes.items())
        return f"Genome({self._space_id}: {body})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Genome, (self._space_id, self._genes))

    # -- identity ---------------------------------------------------------------
    @property
    def space_id(self) -> str:
        """Name of the search space this genome belongs to."""
        return self._space_id

    def key(self) -> str:
        """Stable 16-hex-digit hash of the space id and the canonical genes."""
        return self._key

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, lists for per-layer genes."""
        return self._json

    def to_dict(self) -> dict[str, Any]:
        """Plain data ``{"space": ..., "genes": {...}}`` with lists for per-layer genes."""
        return {"space": self._space_id, "genes": {k: _thaw(v) for k, v in self._genes.items()}}

    def replace(self, **changes: Any) -> Genome:
        """Return a copy with some genes changed (not validated: use the space for that)."""
        return Genome(self._space_id, {**self._genes, **changes})

    # -- construction through a space -------------------------------------------
    @classmethod
    def from_genes(cls, space: GeneSpace, genes: Mapping[str, Any]) -> Genome:
        """Build and validate a genome of ``space``.

        Raises:
            InvalidGenomeError: A gene is missing, unknown, not among its choices, or a
                constraint of the space is broken; the message lists every reason.
        """
        genome = cls(space.name, genes)
        space.require_valid(genome)
        return genome

    @classmethod
    def from_dict(cls, space: GeneSpace, data: Mapping[str, Any]) -> Genome:
        """Inverse of `to_dict`; the stored space id must match ``space``."""
        data = expect_mapping(data, "genome")
        if "genes" not in data:
            raise ConfigError(f"genome: missing field 'genes' in {describe(data)}")
        stored = data.get("space", space.name)
        if stored != space.name:
            raise InvalidGenomeError(
                [f"it belongs to space {stored!r}, not {space.name!r}"], describe(data)
            )
        return cls.from_genes(space, expect_mapping(data["genes"], "genome.genes"))

    @classmethod
    def from_json(cls, space: GeneSpace, text: str) -> Genome:
        """Inverse of `to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"genome JSON does not parse: {exc}") from exc
        return cls.from_dict(space, data)

    @classmethod
    def default(cls, space: GeneSpace) -> Genome:
        """The genome made of every gene's default value (per-layer genes repeated)."""
        layers = space.default_layers()
        genes = {
            gene.name: (gene.default,) * layers if gene.per_layer else gene.default
            for gene in space.genes
        }
        return cls.from_genes(space, genes)

    @classmethod
    def uniform(cls, space: GeneSpace, rng: RNGLike = None, max_tries: int = 100_000) -> Genome:
        """Draw a genome uniformly over the space's valid genomes.

        Unlike `random`, which picks the layer count first with equal chances, the layer
        count ``L`` is drawn with probability proportional to the number of genomes that
        have it (``prod(per-layer choices) ** L``); every gene is then uniform and a genome
        that breaks a constraint is redrawn. Each valid genome is therefore equally likely:
        the sample a ranking or benchmark claim needs.

        Args:
            space: The search space.
            rng: A `numpy.random.Generator` or a seed.
            max_tries: Draws before giving up.

        Raises:
            InvalidGenomeError: No valid genome was found in ``max_tries`` draws.
        """
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        layer_gene = space.layer_gene()
        counts = [int(n) for n in layer_gene.choices] if layer_gene is not None else [1]
        per_layer = 1
        for gene in space.genes:
            if gene.per_layer:
                per_layer *= len(gene.choices)
        weights = np.array([float(per_layer) ** n for n in counts])
        weights /= weights.sum()
        return cls._rejection_sample(
            space, rng, lambda: int(rng.choice(len(counts), p=weights)), "uniform", max_tries
        )

    @classmethod
    def _rejection_sample(
        cls,
        space: GeneSpace,
        rng: np.random.Generator,
        layer_index: Callable[[], int],
        kind: str,
        max_tries: int,
    ) -> Genome:
        """Draw genomes until one is valid: the layer count's index from ``layer_index``
        (not called without a layer gene), then every other gene uniformly."""
        layer_gene = space.layer_gene()
        last: list[str] = []
        for _ in range(max_tries):
            genes: dict[str, Any] = {}
            layers = 1
            if layer_gene is not None:
                layers = int(layer_gene.choices[layer_index()])
            for gene in space.genes:
                if gene is layer_gene:
                    genes[gene.name] = layers
                elif gene.per_layer:
                    picks = rng.integers(len(gene.choices), size=layers)
                    genes[gene.name] = tuple(gene.choices[int(i)] for i in picks)
                else:
                    genes[gene.name] = gene.choices[int(rng.integers(len(gene.choices)))]
            genome = cls(space.name, genes)
            last = space.check(genome)
            if not last:
                return genome
        raise InvalidGenomeError(
            [f"no valid genome in {max_tries} {kind} draws; last reasons: {'; '.join(last)}"],
            f"of space {space.name!r}",
        )

    @classmethod
    def at_depth(
        cls, space: GeneSpace, layers: int, rng: RNGLike = None, max_tries: int = 10_000
    ) -> Genome:
        """Draw a valid genome of ``layers`` layers, every other gene uniform (redrawn
        while it breaks a constraint): uniform over the valid genomes of that depth.

        Raises:
            InvalidGenomeError: ``layers`` is not a choice of the layer gene, or no valid
                genome was found in ``max_tries`` draws.
        """
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        layer_gene = space.layer_gene()
        choices = [int(c) for c in layer_gene.choices] if layer_gene is not None else [1]
        if layers not in choices:
            raise InvalidGenomeError(
                [f"layers={layers!r} is not a choice; allowed: {choices}"],
                f"of space {space.name!r}",
            )
        index = choices.index(layers)
        return cls._rejection_sample(space, rng, lambda: index, f"depth-{layers}", max_tries)

    @classmethod
    def random(cls, space: GeneSpace, rng: RNGLike = None, max_tries: int = 10_000) -> Genome:
        """Draw a valid genome uniformly per gene, rejecting those that break a constraint.

        Args:
            space: The search space.
            rng: A `numpy.random.Generator` (e.g. an env's ``np_random``) or a seed.
            max_tries: Draws before giving up.

        Raises:
            InvalidGenomeError: No valid genome was found in ``max_tries`` draws.
        """
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        layer_gene = space.layer_gene()
        choices = len(layer_gene.choices) if layer_gene is not None else 1
        return cls._rejection_sample(
            space, rng, lambda: int(rng.integers(choices)), "random", max_tries
        )
