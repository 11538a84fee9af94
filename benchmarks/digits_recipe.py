"""The best dendritic network of a search, re-measured where its selection cannot reach.

A search of `dendritic-hp` (the `dendritic` space with the learning rate, weight decay and
label smoothing as genes) picks its candidates by one training seed on the pinned split's
held-out images; the maximum over a hundred candidates is lifted by the noise it was
chosen on. This benchmark separates choosing from measuring:

1. **Candidates:** the ``--top`` genomes of the search runs (``--runs``, run folders) by
   held-out accuracy (then loss).
2. **Choice:** each candidate trained again at ``long-img`` with seeds 1-3 on the pinned
   split; the winner has the best mean over seeds 0-3.
3. **Measurement, out of the choice's reach:** the winner, the best network of the
   `dendritic` space at `long-img`'s own recipe (``--reference``; by default the best of
   the exhaustive run in BENCHMARKS.md) and scikit-learn's 64-100-10 MLP (the issue's
   yardstick) on the pinned split with fresh seeds (4-8 for the networks, 0-4 for the
   MLP) and on two splits no choice saw (``image/digits:1``, ``image/digits:2``; seeds
   0-2 each).

Rows go to ``--rows`` (one file per split: ``NAME.split0.jsonl``...; resumable).

    python train_rl.py --algo tpe --env nas_env/DendriticDigits-v0 \\
        --env-kwargs space:dendritic-hp fidelity:long-img -n 200 --final-top 0 \\
        --log-folder runs/digits-recipe --seed 0
    python benchmarks/digits_recipe.py --runs runs/digits-recipe/tpe/* \\
        --rows benchmarks/data/digits_recipe_rows.jsonl \\
        --out benchmarks/data/digits_recipe_summary.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.digits import mlp_yardstick  # noqa: E402
from benchmarks.level_rank import measure  # noqa: E402
from nas_env.space import load_space  # noqa: E402
from runfolder import EPISODES_FILE  # noqa: E402
from runfolder.records import read_records  # noqa: E402

SPACE, LEVEL = "dendritic-hp", "long-img"
REFERENCE = {  # the best of all 846 `dendritic` genomes at long-img (BENCHMARKS.md)
    "architecture": "dendritic_with_hidden", "n_neurons": 32, "n_dendrites": 2,
    "n_dendrite_inputs": 64, "hidden": 16, "synaptic_resampling": False,
}  # fmt: skip
CHOICE_SEEDS = (0, 1, 2, 3)
FRESH = {0: (4, 5, 6, 7, 8), 1: (0, 1, 2), 2: (0, 1, 2)}  # split seed -> training seeds
MLP_SEEDS = {0: (0, 1, 2, 3, 4), 1: (0, 1, 2), 2: (0, 1, 2)}


def candidates(run_dirs: list[Path], top: int) -> list[dict[str, Any]]:
    """The ``top`` distinct genomes of the runs' records by accuracy, then held-out loss."""
    best: dict[str, dict[str, Any]] = {}
    for run in run_dirs:
        for record in read_records(run / EPISODES_FILE):
            if record.get("status") != "ok" or record.get("accuracy") is None:
                continue
            key = record["genome_key"]
            if key not in best:
                best[key] = record
    ranked = sorted(best.values(), key=lambda r: (-r["accuracy"], r["val_loss"], r["genome_key"]))
    return [dict(r["genome"]) for r in ranked[:top]]


def _task(split: int) -> str:
    return "image/digits" if split == 0 else f"image/digits:{split}"


def _rows_file(rows: Path, split: int) -> Path:
    return rows.with_name(f"{rows.stem}.split{split}{rows.suffix}")


def _accuracies(rows: dict, genome: Any, level: str, seeds: tuple[int, ...]) -> list[float]:
    found = [rows[genome.key(), level, seed] for seed in seeds]
    return [r["accuracy"] for r in found if r["status"] == "ok"]


def _params(rows: dict, genome: Any, level: str) -> int:
    return rows[genome.key(), level, CHOICE_SEEDS[0]]["params"]


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "accuracy": [round(v, 4) for v in values],
        "median": round(statistics.median(values), 4) if values else None,
        "mean": round(statistics.fmean(values), 4) if values else None,
    }


def run(
    run_dirs: list[Path],
    rows: Path,
    top: int,
    level: str,
    reference: dict[str, Any],
    mlp_iter: int = 2000,
) -> dict[str, Any]:
    """Choose the winner among the runs' candidates, then measure it out of reach."""
    space = load_space(SPACE)
    genomes = [space.genome(genes) for genes in candidates(run_dirs, top)]
    if not genomes:
        raise SystemExit(f"no trained genome in the runs {[str(r) for r in run_dirs]}")
    choice_rows = measure(SPACE, _task(0), genomes, _rows_file(rows, 0),
                          tuple((level, s) for s in CHOICE_SEEDS))  # fmt: skip
    scored = [(statistics.fmean(_accuracies(choice_rows, g, level, CHOICE_SEEDS) or [0.0]), g)
              for g in genomes]  # fmt: skip
    winner = max(scored, key=lambda pair: pair[0])[1]
    recipe = {name: space.gene(name).default for name in ("lr", "weight_decay", "label_smoothing")}
    baseline = space.genome({**reference, **recipe})
    splits: dict[str, Any] = {}
    for split, seeds in FRESH.items():
        levels = tuple((level, s) for s in seeds)
        found = measure(SPACE, _task(split), [winner, baseline], _rows_file(rows, split), levels)
        mlp = mlp_yardstick(MLP_SEEDS[split], max_iter=mlp_iter, task_id=_task(split))
        splits[_task(split)] = {
            "training_seeds": list(seeds),
            "winner": _stats(_accuracies(found, winner, level, seeds)),
            "reference": _stats(_accuracies(found, baseline, level, seeds)),
            "mlp_64_100_10": {"seeds": list(MLP_SEEDS[split]), **_stats(mlp.get("accuracy", []))},
        }
    return {
        "level": level,
        "candidates": [
            {"genes": dict(g), "choice_mean": round(m, 4), "params": _params(choice_rows, g, level)}
            for m, g in scored
        ],
        "winner": dict(winner),
        "winner_params": _params(choice_rows, winner, level),
        "reference": dict(baseline),
        "splits": splits,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure (resumable) and print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="run folders")
    parser.add_argument("--top", type=int, default=5, help="candidates to choose among (5)")
    parser.add_argument("--rows", type=Path, required=True, help="rows file stem (resumable)")
    parser.add_argument("--level", default=LEVEL, help="training level (long-img)")
    parser.add_argument("--reference", type=json.loads, default=REFERENCE,
                        help="the architecture-only reference's genes (JSON)")  # fmt: skip
    parser.add_argument("--mlp-iter", type=int, default=2000, help="the MLP's epochs (2000)")
    parser.add_argument("--out", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args(argv)
    summary = run(args.runs, args.rows, args.top, args.level, args.reference, args.mlp_iter)
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
