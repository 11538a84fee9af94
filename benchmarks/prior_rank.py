"""A prior fitted on long training, alone and with a short run, against long training.

The prior (`nas_env.evaluation.prior`, ``config/signals/long-gp.npz``) is a Gaussian
process over genes and analytic counts, fitted on every genome trained at `long` except the
reported samples (``uniform`` and ``decision`` of `benchmarks/long_truth.py`) and the main
job's answer. Two signals are fitted on the `fit` and `fit_uniform` samples only (37
`tiny` genomes; their ``prior`` feature out of fold, from processes refitted without them):

* ``search-gp`` (level `fast`: 100 steps): the prior and the run's held-out loss, a
  measured loss kept only at a weight >= 0;
* ``rerank-gp`` (level `rerank`: 1,600 steps): the same over the `r1600` runs.

Judged on the reported samples with the rows `benchmarks/signal_rank.py` measured
(``benchmarks/data/signal_rows.jsonl``: no new training), beside the prior alone, with
Kendall tau, Spearman rho, the top pick's regret and the seed noise floor (`fast` seed 1).

    python benchmarks/prior_rank.py --write      # fit, write the prior and both signals
    python benchmarks/prior_rank.py              # judge the shipped ones
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.signal_stats import regret  # noqa: E402
from nas_env.evaluation.prior import load_prior  # noqa: E402
from nas_env.evaluation.signals import SIGNALS_DIR, fit_ridge, load_signal  # noqa: E402
from nas_env.ranking import kendall_tau, spearman  # noqa: E402
from nas_env.table.prior_fit import build_prior  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
TRUTH = DATA / "long_truth.jsonl"
ROWS = (TRUTH, DATA / "mid_long.jsonl")
SIGNAL_ROWS = DATA / "signal_rows.jsonl"
REPORTED = ("uniform", "decision")
FITTING = ("fit", "fit_uniform")
EXCLUDED = (*REPORTED, "main_job")
SIGNALS = {"search-gp": ("fast", "fast"), "rerank-gp": ("rerank", "r1600")}
"""Signal -> (its level, the rows' level name of the same training)."""
STEPS = 8000
ALPHA = 1.0


def _truth() -> tuple[dict[tuple[str, int], dict], dict[tuple[str, int], float]]:
    genes, loss = {}, {}
    for line in TRUTH.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("seed", 0) == 0 and row.get("status") == "ok" and row["steps"] == STEPS:
            genes[row["sample"], row["index"]] = row["genes"]
            loss[row["sample"], row["index"]] = float(row["val_loss"])
    return genes, loss


def _level_rows() -> dict[tuple[str, int, str, int], dict[str, Any]]:
    out = {}
    for line in SIGNAL_ROWS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("status") == "ok":
            out[row["sample"], row["index"], row["level"], row.get("seed", 0)] = row
    return out


def out_of_fold_priors(keys: list[tuple[str, int]], folds: int = 5) -> dict:
    """The prior's prediction for each fitting genome by a process fitted without it."""
    import tempfile

    order = np.random.default_rng(0).permutation(len(keys)) % folds
    out = {}
    with tempfile.TemporaryDirectory() as scratch:
        for fold in range(folds):
            held = [k for k, f in zip(keys, order, strict=True) if f == fold]
            path = Path(scratch) / f"fold{fold}.npz"
            rows = Path(scratch) / f"rows{fold}.jsonl"
            kept = []
            for source in ROWS:
                for line in source.read_text(encoding="utf-8").splitlines():
                    row = json.loads(line)
                    if source == TRUTH and (row["sample"], row["index"]) in held:
                        continue
                    kept.append(line)
            rows.write_text("\n".join(kept) + "\n", encoding="utf-8")
            build_prior([rows], EXCLUDED, "mid", path)
            prior = load_prior(path)
            genes, _ = _truth()
            out.update({k: prior.predict(genes[k]) for k in held})
    return out


def write_signals() -> None:
    """Fit and write the prior and both signals (see the module docstring)."""
    build_prior(ROWS, EXCLUDED, "mid", SIGNALS_DIR / "long-gp.npz")
    genes, loss = _truth()
    rows = _level_rows()
    keys = sorted(k for k in genes if k[0] in FITTING)
    priors = out_of_fold_priors(keys)
    for name, (level, rows_level) in SIGNALS.items():
        keys_here = [k for k in keys if (*k, rows_level, 0) in rows]
        table = [
            {"prior": priors[k], "val_loss": rows[(*k, rows_level, 0)]["val_loss"]}
            for k in keys_here
        ]
        targets = [loss[k] for k in keys_here]
        names = ["prior", "val_loss"]
        intercept, weights, center = fit_ridge(table, targets, names, ALPHA)
        if weights["val_loss"] < 0:  # a genome that learned worse must never score better
            names = ["prior"]
            intercept, weights, center = fit_ridge(table, targets, names, ALPHA)
        data = {
            "version": 1,
            "level": level,
            "target": "long",
            "prior": "long-gp",
            "fitted_on": f"{len(keys_here)} genomes of the fit and fit_uniform samples of "
            f"benchmarks/long_truth.py (seed 0 at `{rows_level}` and `long`), their prior "
            "out of fold; benchmarks/prior_rank.py",
            "intercept": intercept,
            "features": {
                n: {"weight": weights[n], "mean": center[n][0], "std": center[n][1]} for n in names
            },
        }
        text = yaml.safe_dump(data, sort_keys=False)
        (SIGNALS_DIR / f"{name}.yaml").write_text(text, encoding="utf-8")


def _stats(scores: dict, truth: dict) -> dict[str, Any]:
    keys = sorted(scores)
    a, b = [scores[k] for k in keys], [truth[k] for k in keys]
    return {
        "genomes": len(keys),
        "kendall_tau": round(kendall_tau(a, b), 3),
        "spearman": round(spearman(a, b), 3),
        "regret": round(regret(scores, truth), 4),
    }


def judge() -> dict[str, Any]:
    """The prior and both signals on the reported samples; the report."""
    genes, loss = _truth()
    rows = _level_rows()
    prior = load_prior("long-gp")
    report: dict[str, Any] = {"prior": prior.meta}
    for sample in REPORTED:
        keys = [k for k in genes if k[0] == sample]
        truth = {k: loss[k] for k in keys}
        entry = {"prior": _stats({k: prior.predict(genes[k]) for k in keys}, truth)}
        for name, (_, rows_level) in SIGNALS.items():
            signal = load_signal(name)
            here = [k for k in keys if (*k, rows_level, 0) in rows]
            scores = {k: signal.estimate(genes[k], rows[(*k, rows_level, 0)]) for k in here}
            entry[name] = _stats(scores, {k: truth[k] for k in here})
            seconds = [
                rows[(*k, rows_level, 0)]["train_seconds"]
                + rows[(*k, rows_level, 0)]["eval_seconds"]
                for k in here
            ]
            entry[name]["seconds"] = round(float(np.median(seconds)), 1)
            twins = [k for k in here if (*k, rows_level, 1) in rows]
            if len(twins) >= 3:
                other = {k: signal.estimate(genes[k], rows[(*k, rows_level, 1)]) for k in twins}
                first = {k: scores[k] for k in twins}
                entry[name]["noise_tau"] = _stats(first, other)["kendall_tau"]
        report[sample] = entry
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="fit and write the files")
    parser.add_argument(
        "--out", "--json", type=Path, default=None, help="report (prior_report.json)"
    )
    parser.add_argument("--quick", action="store_true", help="judge only, write nothing")
    args = parser.parse_args(argv)
    if args.write and not args.quick:
        write_signals()
    report = judge()
    out = args.out or (None if args.quick else DATA / "prior_report.json")
    if out is not None:
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for sample in REPORTED:
        for name, stats in report[sample].items():
            print(sample, name, stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
