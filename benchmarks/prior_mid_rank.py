"""The prior on the main job's space: out-of-fold Kendall tau against `mid`'s long runs.

The shipped prior (``config/signals/long-gp.npz``) was fitted on the 153 `mid` genomes the
surrogate benchmark trained at `long`, so its ranking of them is in-sample. Here each of
five folds of those genomes is predicted by a prior refitted without that fold (the same
rows, the same exclusions as the shipped one otherwise), and the predictions are judged
like `benchmarks/shape_signal_rank.py` judges `search` on `mid`: uniform = the ``train``
and ``valid`` samples, decision = ``train_decision`` and ``valid_decision`` (genomes of
0.6-1.0x the size target). `search-gp` scores by the prior alone (its 100-step loss
would weigh negatively and is dropped), so its order is the prior's.

    python benchmarks/prior_mid_rank.py     # ~1 minute; benchmarks/data/prior_mid_report.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.prior_rank import EXCLUDED, ROWS, STEPS, _stats  # noqa: E402
from nas_env.evaluation.prior import load_prior  # noqa: E402
from nas_env.table.long_surrogate import read_runs  # noqa: E402
from nas_env.table.prior_fit import build_prior  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
MID = DATA / "mid_long.jsonl"
SAMPLES = {"uniform": ("train", "valid"), "decision": ("train_decision", "valid_decision")}


def out_of_fold(folds: int = 5, seed: int = 0) -> dict[tuple[str, int], float]:
    """Each `mid` genome's prior prediction from a prior fitted without its fold."""
    runs = [r for r in read_runs([MID]) if STEPS in r.losses]
    keys = sorted((r.sample, r.index) for r in runs)
    order = np.random.default_rng(seed).permutation(len(keys)) % folds
    genes = {(r.sample, r.index): r.genes for r in runs}
    out: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for fold in range(folds):
            held = {k for k, f in zip(keys, order, strict=True) if f == fold}
            kept = [
                line
                for source in ROWS
                for line in source.read_text(encoding="utf-8").splitlines()
                if source != MID or _key(line) not in held
            ]
            rows = Path(scratch) / f"rows{fold}.jsonl"
            rows.write_text("\n".join(kept) + "\n", encoding="utf-8")
            path = Path(scratch) / f"fold{fold}.npz"
            build_prior([rows], EXCLUDED, "mid", path)
            prior = load_prior(path)
            out.update({k: prior.predict(genes[k]) for k in held})
    return out


def _key(line: str) -> tuple[str, int]:
    row = json.loads(line)
    return row["sample"], int(row["index"])


def judge(predicted: dict[tuple[str, int], float], folds: int) -> dict[str, Any]:
    """Kendall tau, Spearman and top-pick regret per reported sample of `mid`."""
    truth = {(r.sample, r.index): r.losses[STEPS] for r in read_runs([MID]) if STEPS in r.losses}
    report: dict[str, Any] = {"folds": folds, "reference": "long", "space": "mid"}
    for name, samples in SAMPLES.items():
        keys = [k for k in predicted if k[0] in samples]
        report[name] = _stats({k: predicted[k] for k in keys}, {k: truth[k] for k in keys})
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", "--json", type=Path, default=DATA / "prior_mid_report.json")
    parser.add_argument("--quick", action="store_true", help="two folds")
    args = parser.parse_args(argv)
    folds = 2 if args.quick else 5
    report = judge(out_of_fold(folds), folds)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for name in SAMPLES:
        print(name, report[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
