"""Fit a prior (`nas_env.evaluation.prior`) on rows of long training and write its file.

    python -m nas_env.table.prior_fit --rows benchmarks/data/long_truth.jsonl \\
        --rows benchmarks/data/mid_long.jsonl --exclude uniform,decision,main_job \\
        --space mid --out config/signals/long-gp.npz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nas_env.errors import ConfigError, NASEnvError
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.prior import PREFIX
from nas_env.space import load_space
from nas_env.table.features import encode
from nas_env.table.gp_export import export_gp
from nas_env.table.long_surrogate import read_runs
from nas_env.table.regressors import GP, fit


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
    """``python -m nas_env.table.prior_fit``: fit and write a prior."""
    parser = argparse.ArgumentParser(prog="python -m nas_env.table.prior_fit")
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
