"""A prior over genomes: their held-out loss after long training, predicted from what they
are, before any training.

A Gaussian process (`nas_env.table.regressors`: standardised features, constant x ARD
Matern 5/2 + white noise) fitted on genomes trained at the `long` level, over the features
the surrogate benchmark uses (`nas_env.table.surrogate.encode`: each gene's value or
one-hot share, a per-layer gene by its mean, log parameters and log FLOPs per token, in
one space's gene order, so that genomes of another space with the same genes, such as
`tiny`'s, are encoded alike). A signal (`nas_env.evaluation.signals`) names a prior to get
the feature ``prior``: the process's posterior mean for the genome.

A prior is data: ``config/signals/<name>.npz`` holds the process's arrays
(`nas_env.table.gp_export`; no pickled object) and a JSON ``meta`` (the encoding space, the
rows it was fitted on and their SHA-256, the samples left out). Prediction is a fixed
formula: the same number on every machine. `nas_env.table.prior_fit` fits and writes one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config import CONFIG_DIR
from nas_env.errors import ConfigError

PRIORS_DIR = CONFIG_DIR / "signals"
PREFIX = "gp_"


@dataclass(frozen=True)
class Prior:
    """A fitted prior (see the module docstring).

    Attributes:
        name: The file's stem.
        space: The space whose gene order encodes a genome.
        process: The Gaussian process (`nas_env.table.gp_export.GPPredictor`).
        meta: What it was fitted on.
    """

    name: str
    space: Any
    process: Any
    meta: Mapping[str, Any]

    def mismatch(self, space: Any) -> str:
        """Why this prior cannot score the genomes of ``space`` ("" when it can): genes it
        reads that the space lacks, or searched genes it has never seen."""
        mine = {g.name for g in self.space.genes if g.searchable}
        theirs = {g.name for g in space.genes if g.searchable}
        problems = []
        if mine - set(space.gene_names):
            problems.append(f"lacks {', '.join(sorted(mine - set(space.gene_names)))}")
        if theirs - mine:
            problems.append(f"searches {', '.join(sorted(theirs - mine))}, which it never saw")
        return "; ".join(problems)

    def predict(self, genes: Mapping[str, Any]) -> float:
        """The predicted held-out loss after long training of one genome's genes."""
        from nas_env.table.features import encode

        return float(self.process.predict(encode(self.space, [dict(genes)]))[0])


def load_prior(name_or_path: str | Path) -> Prior:
    """A shipped prior by name (``config/signals/<name>.npz``), or a prior file by path.

    Raises:
        ConfigError: No such file, or not a prior file.
    """
    from nas_env.space import load_space
    from nas_env.table.gp_export import GPPredictor

    path = Path(name_or_path)
    if path.suffix != ".npz":
        path = PRIORS_DIR / f"{name_or_path}.npz"
    if not path.is_file():
        shipped = sorted(p.stem for p in PRIORS_DIR.glob("*.npz"))
        raise ConfigError(
            f"prior {str(name_or_path)!r}: no file {path}; shipped: {', '.join(shipped) or 'none'}"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(str(arrays.pop("meta")))
        process = GPPredictor.from_arrays(arrays, PREFIX)
        space = load_space(meta["space"])
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ConfigError(f"prior file {path}: not a prior ({exc})") from exc
    return Prior(path.stem, space, process, meta)
