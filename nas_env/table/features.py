"""The features a genome is described by before any training: its genes and analytic counts.

Shared by the surrogate benchmarks (`nas_env.table.surrogate`, `long_surrogate`,
`model_surrogate`) and the prior of the signals (`nas_env.evaluation.prior`); it imports
nothing that evaluates, so that both can use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models import count_params, flops_per_token, model_config, size_mb
from nas_env.genome import Genome
from nas_env.space import SearchSpace
from nas_env.training_genes import model_genes


def analytic(space: SearchSpace, genome: Genome | Mapping[str, Any]) -> tuple[int, float, int]:
    """Parameters, float32 size in MiB and forward FLOPs per token of ``genome``."""
    config = model_config(model_genes(genome, space.family), space.task)
    return count_params(config), size_mb(config, dtype="float32"), flops_per_token(config)


def encode(
    space: SearchSpace,
    genomes: Sequence[Genome] | Sequence[Mapping[str, Any]],
    sizes: Sequence[tuple[int, float, int]] | None = None,
) -> np.ndarray:
    """Feature rows: genes, then log parameters and log FLOPs per token (from ``sizes``,
    the genomes' `analytic` figures, when given).

    ``genomes`` may be genes mappings of another space with the same genes: a per-layer
    gene's list is encoded by its mean (ordinal) or its fractions (categorical) either way.
    """
    rows = []
    for index, genome in enumerate(genomes):
        row: list[float] = []
        for gene in space.genes:
            if not gene.searchable:
                continue
            value = genome[gene.name]
            values = list(value) if isinstance(value, list | tuple) else [value]
            if gene.kind == "ordinal":
                row.append(float(np.mean([float(v) for v in values])))
            else:
                row.extend(sum(v == c for v in values) / len(values) for c in gene.choices)
        params, _size, flops = sizes[index] if sizes is not None else analytic(space, genome)
        row.extend([math.log(params), math.log(max(flops, 1))])
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)
