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
formula: the same number on every machine.

    python -m nas_env.evaluation.prior --rows benchmarks/data/long_truth.jsonl \\
        --rows benchmarks/data/mid_long.jsonl --exclude uniform,decision \\
        --space mid --out config/signals/long-gp.npz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config import CONFIG_DIR
from nas_env.errors import ConfigError, NASEnvError

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
        from nas_env.table.surrogate import encode

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


def build_prior(
    rows: Sequence[str | Path],
    exclude: Sequence[str],
    space_name: str,
    out: str | Path,
    level: str = "long",
) -> dict[str, Any]:
    """Fit a prior on the rows' runs at ``level``'s last step, leaving out the samples named
    in ``exclude`` (the ones it will be judged on), and write it to ``out``; its meta.

    Raises:
        ConfigError: A missing rows file, or fewer than 30 runs to fit.
    """
    from nas_env.evaluation.fidelity import Fidelity
    from nas_env.space import load_space
    from nas_env.table.gp_export import export_gp
    from nas_env.table.long_surrogate import read_runs
    from nas_env.table.regressors import GP, fit
    from nas_env.table.surrogate import encode

    steps = Fidelity.resolve(level).total_steps
    paths = [Path(p) for p in rows]
    runs = [r for r in read_runs(paths) if steps in r.losses and r.sample not in exclude]
    if len(runs) < 30:
        raise ConfigError(f"{len(runs)} runs reach {level}'s {steps} steps; a prior needs >= 30")
    space = load_space(space_name)
    x = encode(space, [r.genes for r in runs])
    y = np.array([r.losses[steps] for r in runs])
    model = fit(GP, x, y)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()
    meta = {
        "space": space_name,
        "level": level,
        "steps": steps,
        "runs": len(runs),
        "rows": [str(p) for p in paths],
        "rows_sha256": digest,
        "excluded_samples": sorted(exclude),
    }
    arrays = export_gp(model, PREFIX)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(target, meta=np.asarray(json.dumps(meta)), **arrays)
    return meta


def main(argv: list[str] | None = None) -> int:
    """``python -m nas_env.evaluation.prior``: fit and write a prior."""
    parser = argparse.ArgumentParser(prog="python -m nas_env.evaluation.prior")
    parser.add_argument("--rows", action="append", required=True, help="long-truth rows file")
    parser.add_argument("--exclude", default="", help="samples left out, comma-separated")
    parser.add_argument("--space", default="mid", help="the space whose genes encode genomes")
    parser.add_argument("--level", default="long")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    exclude = [s for s in args.exclude.split(",") if s]
    try:
        meta = build_prior(args.rows, exclude, args.space, args.out, args.level)
    except NASEnvError as exc:
        print(f"prior: error: {exc}", file=sys.stderr)
        return 2
    print(f"prior: {args.out}: {meta['runs']} runs at {meta['level']}, space {meta['space']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
