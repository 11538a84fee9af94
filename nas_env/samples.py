"""Seeded genome samples for ranking claims: uniform, and the decision sample near a target.

A ranking claim is only as good as the genomes it is measured on. Two samples matter:

* **uniform** (`uniform_sample`): every valid genome equally likely (`Genome.uniform`). In
  a space whose per-layer genes multiply, most of it is the deepest genomes, and width
  decides their order, so almost any training budget ranks it well.
* **decision** (`decision_sample`): the genomes a search actually chooses between, those
  within a band of the space's size target, stratified by depth (the same number per
  layer count, each drawn uniformly among the valid genomes of that depth in the band), so
  that depth, width, norm position and position encoding trade off against each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models import model_config, size_mb
from nas_env.errors import ConfigError
from nas_env.genome import Genome
from nas_env.space import SearchSpace
from nas_env.training_genes import model_genes

DECISION_BAND: tuple[float, float] = (0.6, 1.0)


def uniform_sample(space: SearchSpace, count: int, seed: int) -> list[Genome]:
    """``count`` distinct genomes drawn uniformly over the valid genomes of ``space``.

    Raises:
        ConfigError: The space has fewer than ``count`` valid genomes to draw.
    """
    rng = np.random.default_rng(seed)
    genomes: list[Genome] = []
    seen: set[Genome] = set()
    for _ in range(100 * count):
        genome = space.uniform_genome(rng)
        if genome not in seen:
            seen.add(genome)
            genomes.append(genome)
        if len(genomes) == count:
            return genomes
    raise ConfigError(f"space {space.name!r}: fewer than {count} distinct genomes were drawn")


def genome_size_mb(space: SearchSpace, genome: Genome) -> float:
    """The float32 size of ``genome``'s model in MiB (analytic)."""
    config = model_config(model_genes(genome, space.family), space.task)
    return float(size_mb(config, dtype="float32"))


def decision_sample(
    space: SearchSpace,
    per_depth: int,
    seed: int,
    band: Sequence[float] = DECISION_BAND,
    depths: Sequence[int] | None = None,
    max_tries: int = 200_000,
) -> list[Genome]:
    """``per_depth`` distinct genomes per layer count whose size lies in ``band`` x the
    space's size target, each uniform among the valid genomes of its depth in the band.

    Genomes come interleaved by depth (the first of every depth, then the second...), so
    that every prefix of the sample is stratified too (``depths``: every layer count of
    the space by default).

    Raises:
        ConfigError: The space has no size target or layer gene, the band is not
            ``0 < low < high``, or a depth has too few genomes in the band.
    """
    target = space.targets.size_mb
    if not target:
        raise ConfigError(f"space {space.name!r} has no size target (targets.size_mb)")
    layer_gene = space.layer_gene()
    if layer_gene is None:
        raise ConfigError(f"space {space.name!r} has no layer gene to stratify by")
    low, high = (float(b) for b in band)
    if not 0 < low < high:
        raise ConfigError(f"decision band {tuple(band)!r}: allowed 0 < low < high")
    rng = np.random.default_rng(seed)
    chosen = list(depths) if depths is not None else [int(c) for c in layer_gene.choices]
    strata: list[list[Genome]] = []
    for depth in chosen:
        found: list[Genome] = []
        for _ in range(max_tries):
            genome = Genome.at_depth(space, depth, rng)
            if genome in found:
                continue
            if low * target <= genome_size_mb(space, genome) <= high * target:
                found.append(genome)
            if len(found) == per_depth:
                break
        else:
            raise ConfigError(
                f"space {space.name!r}: fewer than {per_depth} genomes of depth {depth} in "
                f"{low:g}-{high:g} x {target:g} MiB after {max_tries} draws"
            )
        strata.append(found)
    return [stratum[i] for i in range(per_depth) for stratum in strata]
