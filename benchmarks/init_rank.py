"""The residual init against long training: does GPT-2's scaled init (evaluator version 5)
change how `fast` ranks the genomes of the truth samples?

Trains every genome of the reported truth samples (``uniform``, ``decision`` of
`benchmarks/data/long_truth.jsonl`) at `fast` with ``residual_init="scaled"`` (seeds 0 and
1: the noise floor) and takes the ``flat`` runs of the same genomes from the signal rows
(`benchmarks/data/signal_rows.jsonl`, level ``fast``, written by evaluator version 4,
whose flat init version 5 reproduces bit for bit). Reports, per sample and init, Kendall
tau against the held-out loss after `long` (8,000 steps, trained flat), the seed-to-seed
tau, and over the pairs of one pre- and one post-norm genome of equal depth and width:
how often each ranks them as `long` does, and how often pre-norm wins. Rows go to
``--rows`` (resumable).

    python benchmarks/init_rank.py --workers 1
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from scipy.stats import kendalltau

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.signal_stats import truth_genomes, truth_losses  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
SAMPLES = ("uniform", "decision")


def _evaluate(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: one genome at `fast` with the scaled init, one thread, no cache."""
    import torch

    from nas_env.evaluation import Evaluator, Fidelity, TrainSettings
    from nas_env.genome import Genome

    torch.set_num_threads(1)
    settings = TrainSettings(
        device="cpu", precision="fp32", seed=job["seed"], threads=1, residual_init="scaled"
    )
    evaluator = Evaluator("tiny", fidelity=Fidelity.resolve("fast"), settings=settings, cache=False)
    result = evaluator.evaluate(Genome.from_genes(evaluator.space, job["genes"]))
    return {
        "sample": job["sample"],
        "index": job["index"],
        "seed": job["seed"],
        "init": "scaled",
        "evaluator_version": result.evaluator_version,
        "status": result.status,
        "val_loss": result.val_loss if result.ok else None,
    }


def _flat_rows() -> dict[tuple[str, int, int], float]:
    out = {}
    for line in (DATA / "signal_rows.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["level"] == "fast" and r["status"] == "ok":
            out[(r["sample"], r["index"], r["seed"])] = float(r["val_loss"])
    return out


def report(rows_path: Path) -> None:
    """Print the table of the module docstring."""
    genomes = truth_genomes(DATA / "long_truth.jsonl")
    long = truth_losses(DATA / "long_truth.jsonl")
    scaled = {}
    for line in rows_path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["status"] == "ok":
            scaled[(r["sample"], r["index"], r["seed"])] = float(r["val_loss"])
    runs = {"flat": _flat_rows(), "scaled": scaled}
    print(
        "| sample | init | n | tau vs long | seed 0 vs 1 | pre/post pairs ranked as `long` does "
        "| pre-norm wins: `fast`, `long` |"
    )
    print("| --- | --- | --: | --: | --: | --: | --: |")
    for sample in SAMPLES:
        keys = sorted(k for k in genomes if k[0] == sample)
        for init, got in runs.items():
            both = [k for k in keys if (*k, 0) in got and (*k, 1) in got]
            tau = kendalltau([got[(*k, 0)] for k in both], [long[k] for k in both])[0]
            noise = kendalltau([got[(*k, 0)] for k in both], [got[(*k, 1)] for k in both])[0]
            agree, wins = _norm_pairs(both, genomes, got, long)
            print(
                f"| {sample} | {init} | {len(both)} | {tau:.3f} | {noise:.3f} | {agree} | {wins} |"
            )


def _norm_pairs(
    keys: list[tuple[str, int]],
    genomes: dict[tuple[str, int], dict[str, Any]],
    got: dict[tuple[str, int, int], float],
    long: dict[tuple[str, int], float],
) -> tuple[str, str]:
    """Over pairs of genomes of equal depth and width, one pre- and one post-norm: how
    often the short run ranks the pair as long training does, and how often pre-norm wins
    at each."""
    agree = pairs = short_wins = long_wins = 0
    for a in keys:
        for b in keys:
            ga, gb = genomes[a], genomes[b]
            if ga["norm_position"] != "pre" or gb["norm_position"] != "post":
                continue
            if (ga["layers"], ga["d_model"]) != (gb["layers"], gb["d_model"]):
                continue
            pairs += 1
            short_wins += got[(*a, 0)] < got[(*b, 0)]
            long_wins += long[a] < long[b]
            agree += (got[(*a, 0)] < got[(*b, 0)]) == (long[a] < long[b])
    if not pairs:
        return "-", "-"
    return f"{agree}/{pairs}", f"{short_wins}/{pairs}, {long_wins}/{pairs}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=DATA / "init_rank_rows.jsonl")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.report_only:
        done = set()
        if args.rows.exists():
            for line in args.rows.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                done.add((r["sample"], r["index"], r["seed"]))
        genomes = truth_genomes(DATA / "long_truth.jsonl")
        jobs = [
            {"sample": s, "index": i, "seed": seed, "genes": genes}
            for (s, i), genes in sorted(genomes.items())
            for seed in (0, 1)
            if s in SAMPLES and (s, i, seed) not in done
        ]
        print(f"{len(jobs)} runs to go", flush=True)
        with ProcessPoolExecutor(args.workers) as pool:
            for n, row in enumerate(pool.map(_evaluate, jobs), 1):
                with args.rows.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row, sort_keys=True) + "\n")
                print(f"{n}/{len(jobs)} {row['sample']} #{row['index']}", flush=True)
    report(args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
