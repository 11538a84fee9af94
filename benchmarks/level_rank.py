"""Does a space's search level rank genomes like its truth level?

``--genomes`` genomes drawn uniformly from the valid genomes of ``--space`` (seed
``--sample-seed``) train at the search level (seeds 0 and 1: the noise floor) and at the
truth level (seed 0); the summary gives Kendall tau and Spearman of held-out accuracy
(classification) and loss between the levels, and the best genome of the sample at the
truth level. Rows go to ``--rows`` as they come (one per genome, level and seed; a run
resumes). Where the truth costs hours (language models at ``long``), ``--truth-rows``
reads it from `benchmarks/long_truth.py`'s rows of the same sample (its plan's sample
seed and size) instead of training it here.

    python benchmarks/level_rank.py --space vowels --task series/japanese-vowels \\
        --search fast-series --truth long-series --rows benchmarks/data/vowels_rank_rows.jsonl
    python benchmarks/level_rank.py --space rnn-lm --task lm/stdlib --search reference \\
        --truth long --genomes 20 --sample-seed 91 \\
        --truth-rows benchmarks/data/rnn_lm_long.jsonl --rows benchmarks/data/rnn_lm_rank_rows.jsonl
    python benchmarks/level_rank.py --quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_env.evaluation import Evaluator, TrainSettings  # noqa: E402
from nas_env.ranking import kendall_tau, spearman  # noqa: E402
from nas_env.samples import uniform_sample  # noqa: E402
from nas_env.space import load_space  # noqa: E402

Rows = dict[tuple[str, str, int], dict[str, Any]]


def _done(path: Path) -> Rows:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {(r["key"], r["level"], r["seed"]): r for r in rows}


def measure(
    space: str, task: str, genomes: list[Any], rows_path: Path, levels: tuple[tuple[str, int], ...]
) -> Rows:
    """Train every genome at every (level, seed) not in ``rows_path`` yet; all rows."""
    done = _done(rows_path)
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    evaluators: dict[tuple[str, int], Evaluator] = {}
    for level, seed in levels:
        settings = TrainSettings(device="cpu", threads=1, seed=seed)
        evaluators[level, seed] = Evaluator(
            space, task=task, fidelity=level, settings=settings, cache=False
        )
    for genome in genomes:
        for level, seed in levels:
            if (genome.key(), level, seed) in done:
                continue
            start = time.perf_counter()
            result = evaluators[level, seed].evaluate(genome)
            row = {"key": genome.key(), "genes": dict(genome), "level": level, "seed": seed,
                   "status": result.status, "accuracy": result.accuracy,
                   "val_loss": result.val_loss, "params": result.params,
                   "seconds": round(time.perf_counter() - start, 2)}  # fmt: skip
            done[genome.key(), level, seed] = row
            with rows_path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row, sort_keys=True) + "\n")
    return done


def truth_rows(path: Path, space: str, level: str) -> Rows:
    """`benchmarks/long_truth.py`'s rows (seed 0, the last segment: the level's full
    training) as this benchmark's rows of ``level``."""
    from nas_env.evaluation.fidelity import Fidelity
    from nas_env.genome import Genome

    steps = Fidelity.resolve(level).total_steps
    loaded = load_space(space)
    out: Rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("seed", 0) != 0 or int(row["steps"]) != steps:
            continue
        key = Genome.from_genes(loaded, row["genes"]).key()
        out[key, level, 0] = {
            "key": key, "genes": row["genes"], "level": level, "seed": 0,
            "status": row["status"], "accuracy": row.get("accuracy"),
            "val_loss": row.get("val_loss"), "params": row.get("params"),
            "seconds": row.get("train_seconds", 0.0),
        }  # fmt: skip
    return out


def ranking(genomes: list[Any], rows: Rows, metric: str, search: str, truth: str) -> dict[str, Any]:
    """Kendall tau and Spearman of ``metric`` between the search level (seeds 0 and 1) and
    the truth level (seed 0), on the genomes ``ok`` at every one of them."""
    keys = [
        g.key()
        for g in genomes
        if all(
            (g.key(), lv, s) in rows and rows[g.key(), lv, s]["status"] == "ok"
            for lv, s in ((search, 0), (search, 1), (truth, 0))
        )
    ]

    def values(level: str, seed: int) -> list[float]:
        return [float(rows[k, level, seed][metric]) for k in keys]

    found, other, real = values(search, 0), values(search, 1), values(truth, 0)
    return {
        "genomes": len(keys),
        "search_vs_truth": {
            "kendall_tau": kendall_tau(found, real),
            "spearman": spearman(found, real),
        },
        "noise_floor_search": kendall_tau(found, other),
    }


def summary(genomes: list[Any], rows: Rows, search: str, truth: str) -> dict[str, Any]:
    """Both rankings (the loss's only for a language model), the best genome at the truth
    level (by accuracy, else by loss) and the seconds per genome."""
    ok = [rows[g.key(), truth, 0] for g in genomes if (g.key(), truth, 0) in rows]
    ok = [r for r in ok if r["status"] == "ok"]
    classes = bool(ok) and all(r.get("accuracy") is not None for r in ok)
    best = (
        max(ok, key=lambda r: r["accuracy"]) if classes else min(ok, key=lambda r: r["val_loss"])
    ) if ok else None  # fmt: skip
    keep = ("accuracy", "val_loss", "params", "genes")
    return {
        **({"accuracy": ranking(genomes, rows, "accuracy", search, truth)} if classes else {}),
        "val_loss": ranking(genomes, rows, "val_loss", search, truth),
        "best_at_truth": best and {k: best[k] for k in keep},
        "seconds_per_genome": {
            level: statistics.median(r["seconds"] for r in rows.values() if r["level"] == level)
            for level in (search, truth)
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Measure (resumable) and print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="vowels", help="a small classification space")
    parser.add_argument("--task", default="series/japanese-vowels", help="its task id")
    parser.add_argument("--search", default="fast-series", help="the search level")
    parser.add_argument("--truth", default="long-series", help="the truth level")
    parser.add_argument("--genomes", type=int, default=24, help="uniform sample size (24)")
    parser.add_argument("--sample-seed", type=int, default=0, help="the sample's seed (0)")
    parser.add_argument("--rows", type=Path, default=None, help="rows file (resumable)")
    parser.add_argument(
        "--truth-rows",
        type=Path,
        default=None,
        help="read the truth from these benchmarks/long_truth.py rows instead of training it",
    )
    parser.add_argument(
        "--out", "--json", type=Path, default=None, help="also write the summary here"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 genomes at tiny")
    args = parser.parse_args(argv)
    if args.quick:
        args.search = args.truth = "tiny"
        args.genomes = 3
    genomes = uniform_sample(load_space(args.space), args.genomes, args.sample_seed)
    rows_path = args.rows or Path("/tmp") / f"nas-level-rank-{args.space}.jsonl"
    if args.quick:
        rows_path.unlink(missing_ok=True)
    levels = ((args.search, 0), (args.search, 1), (args.truth, 0))
    if args.truth_rows:
        levels = levels[:2]
    rows = measure(args.space, args.task, genomes, rows_path, levels)
    if args.truth_rows:
        rows.update(truth_rows(args.truth_rows, args.space, args.truth))
    result = {
        "space": args.space,
        "task": args.task,
        **summary(genomes, rows, args.search, args.truth),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
