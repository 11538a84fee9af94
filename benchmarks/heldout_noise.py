"""Held-out noise: the standard error of the held-out loss against the gaps between genomes.

For each fidelity, this trains a seeded sample of valid genomes of the ``tiny`` space
(the default genome first, then uniform draws from ``space.random_genome``) with the
result cache off and reports, per fidelity:

* the median standard error of the held-out loss (``EvalResult.val_loss_se``, from the
  spread of per-window losses over the task's fixed held-out selection);
* the spread of the held-out loss between genomes (standard deviation and the median
  gap between neighbours in loss order), so the standard error can be read against the
  differences that a search has to resolve;
* the seed-to-seed difference of the default genome (training seed 0 against 1): the
  training noise floor, which the scoring standard error does not include;
* latency reproducibility: the default genome's latency median in its two evaluations
  (seeds 0 and 1 build the same architecture), as a relative difference.

    python benchmarks/heldout_noise.py                          # tiny,bench,fast,medium
    python benchmarks/heldout_noise.py --fidelities full --genomes 1
    python benchmarks/heldout_noise.py --quick                  # CI smoke run
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_env.evaluation import EvalResult, Evaluator, TrainSettings  # noqa: E402
from nas_env.genome import Genome  # noqa: E402


def _ok(result: EvalResult) -> EvalResult:
    if result.status != "ok":
        raise SystemExit(f"{result.genome_key}: {result.status}: {result.message}")
    return result


def sample(evaluator: Evaluator, count: int, seed: int) -> list[Genome]:
    """The default genome, then ``count - 1`` distinct seeded random valid genomes."""
    space = evaluator.space
    genomes = [space.default_genome()]
    rng = np.random.default_rng(seed)
    while len(genomes) < count:
        genome = space.random_genome(rng)
        if genome not in genomes:
            genomes.append(genome)
    return genomes


def measure(fidelity: str, genomes: int, seed: int) -> dict[str, Any]:
    """Evaluate the sample at ``fidelity``; summarise standard errors and gaps."""
    settings = TrainSettings(device="cpu", precision="fp32", threads=1)
    evaluator = Evaluator("tiny", fidelity=fidelity, settings=settings, cache=False)
    reseeded = Evaluator("tiny", fidelity=fidelity, settings=replace(settings, seed=1), cache=False)
    start = time.perf_counter()
    results = [_ok(evaluator.evaluate(g)) for g in sample(evaluator, genomes, seed)]
    again = _ok(reseeded.evaluate(evaluator.space.default_genome()))
    seconds = time.perf_counter() - start
    losses = sorted(r.val_loss for r in results)  # type: ignore[type-var]
    gaps = [b - a for a, b in itertools.pairwise(losses)]
    first = results[0]
    return {
        "fidelity": fidelity,
        "genomes": len(results),
        "scored_tokens": first.scored_tokens,
        "median_se": statistics.median(r.val_loss_se for r in results),  # type: ignore[type-var]
        "max_se": max(r.val_loss_se for r in results),  # type: ignore[type-var]
        "loss_min": losses[0],
        "loss_max": losses[-1],
        "loss_sd": statistics.stdev(losses) if len(losses) > 1 else None,
        "median_gap": statistics.median(gaps) if gaps else None,
        "seed_delta": abs(float(again.val_loss) - float(first.val_loss)),  # type: ignore[arg-type]
        "default_loss": first.val_loss,
        "default_se": first.val_loss_se,
        "latency_ms": [first.latency_ms, again.latency_ms],
        "latency_spread_ms": [first.latency_spread_ms, again.latency_spread_ms],
        "latency_rel_diff": abs(first.latency_ms - again.latency_ms)  # type: ignore[operator]
        / first.latency_ms,
        "seconds": seconds,
    }


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table BENCHMARKS.md quotes."""
    lines = [
        "| fidelity | genomes | scored tokens | median SE (max) | loss range | loss SD "
        "| median neighbour gap | seed-to-seed delta (default) | latency ms, 2 runs (rel. diff) |",
        "| --- | --: | --: | --: | --: | --: | --: | --: | --: |",
    ]
    for r in rows:
        latency = f"{r['latency_ms'][0]:.3f} / {r['latency_ms'][1]:.3f}"
        lines.append(
            f"| {r['fidelity']} | {r['genomes']} | {r['scored_tokens']:,} | "
            f"{_fmt(r['median_se'])} ({_fmt(r['max_se'])}) | "
            f"{_fmt(r['loss_min'])}-{_fmt(r['loss_max'])} | {_fmt(r['loss_sd'])} | "
            f"{_fmt(r['median_gap'])} | {_fmt(r['seed_delta'])} | "
            f"{latency} ({100 * r['latency_rel_diff']:.1f} %) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the table (and write JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fidelities", default="tiny,bench,fast,medium")
    parser.add_argument("--genomes", type=int, default=6, help="genomes per fidelity (6)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny, 2 genomes")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    fidelities = ["tiny"] if args.quick else args.fidelities.split(",")
    count = 2 if args.quick else args.genomes
    rows = []
    for fidelity in fidelities:
        rows.append(measure(fidelity, count, args.seed))
        print(f"{fidelity}: {json.dumps(rows[-1])}", flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
