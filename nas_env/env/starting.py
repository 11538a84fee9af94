"""The first genome of an edit episode (the env's ``start`` argument)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nas_env.baselines import baseline_genome
from nas_env.genome import Genome
from nas_env.space import SearchSpace


def start_genome(
    space: SearchSpace,
    start: str,
    chosen: Any,
    incumbent: Genome | None,
    rng: np.random.Generator,
) -> Genome:
    """``chosen`` (reset options' ``genome``: a genome or its genes, checked valid, or the
    name of one of the space's baselines, `nas_env.baselines`) if given; else the space's
    default genome (``default``), a valid random one drawn from ``rng`` (``random``), or
    ``incumbent``, the best genome the env has evaluated (``incumbent``; random until
    there is one).

    Raises:
        InvalidGenomeError: ``chosen`` is not a valid genome of ``space``.
        ConfigError: ``chosen`` is a name but not one of the space's baselines.
    """
    if isinstance(chosen, str):
        return baseline_genome(space, chosen)
    if chosen is not None:
        genome = chosen if isinstance(chosen, Genome) else space.genome(chosen)
        space.require_valid(genome)
        return genome
    if start == "incumbent" and incumbent is not None:
        return incumbent
    if start in ("random", "incumbent"):
        return space.random_genome(rng)
    return space.default_genome()
