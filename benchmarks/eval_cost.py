"""Evaluation cost against model size: seconds per candidate at each fidelity.

For genomes of the ``tiny`` space from the smallest to about the largest (the sizes of
``train_throughput.py``), this times `Evaluator.evaluate` with the result cache off, so
every call is a real candidate evaluation: model build, training for the fidelity's
budget, held-out evaluation and the latency measurement. The tokenizer and the token
cache are prepared once before the first timed call (they are shared by every candidate
of a run), so the numbers are what each further candidate costs and what a search
budget should be planned with.

    python benchmarks/eval_cost.py                         # fast + medium, 1 thread
    python benchmarks/eval_cost.py --fidelities fast,medium,full --repeats 2
    python benchmarks/eval_cost.py --quick                 # CI smoke run: tiny fidelity
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.train_throughput import SIZES, _load, cpu_model, describe  # noqa: E402
from nas_env.evaluation import Evaluator  # noqa: E402


def measure(fidelity: str, repeats: int, sizes: Any, task: str) -> list[dict[str, Any]]:
    """Time ``repeats`` uncached evaluations of each size at ``fidelity``."""
    evaluator = Evaluator("tiny", task=task, fidelity=fidelity, cache=False)
    space = evaluator.space
    evaluator.evaluate(space.default_genome().replace(d_model=32))  # tokenizer, tokens, kernels
    rows = []
    for layers, d_model, heads, ffn in sizes:
        genome = space.default_genome().replace(
            layers=layers, d_model=d_model, heads=heads, ffn_ratio=ffn
        )
        walls, results = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            result = evaluator.evaluate_uncached(genome)  # every repeat trains
            walls.append(time.perf_counter() - start)
            if result.status != "ok":
                raise SystemExit(f"{describe(layers, d_model, heads, ffn)}: {result.message}")
            results.append(result)
        last = results[-1]
        rows.append(
            {
                "fidelity": fidelity,
                "genome": describe(layers, d_model, heads, ffn),
                "params": last.params,
                "train_tokens": last.train_tokens,
                "seconds": statistics.median(walls),
                "train_seconds": statistics.median(r.train_seconds or 0.0 for r in results),
                "perplexity": last.perplexity,
                "runs": walls,
            }
        )
        print(
            f"| {fidelity:<8} | {rows[-1]['genome']:<23} | {last.params:>8,} "
            f"| {last.train_tokens:>9,} | {rows[-1]['seconds']:>8.1f} "
            f"| {rows[-1]['train_seconds']:>8.1f} | {last.perplexity:>8.1f} |",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the measurements, print a Markdown table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fidelities", default="fast,medium", help="comma-separated levels")
    parser.add_argument("--repeats", type=int, default=1, help="timed evaluations per size")
    parser.add_argument("--task", default="lm/stdlib")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: unchanged)")
    parser.add_argument("--quick", action="store_true", help="tiny fidelity, 2 sizes (CI)")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    fidelities = ["tiny"] if args.quick else [f.strip() for f in args.fidelities.split(",")]
    sizes = SIZES[:2] if args.quick else SIZES
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu_model()}")
    print(
        "| fidelity | genome                  |   params | tokens    | s/cand.  | train s  "
        "| ppl      |"
    )
    print("|---|---|--:|--:|--:|--:|--:|")
    load_start = _load()
    rows = [row for f in fidelities for row in measure(f, args.repeats, sizes, args.task)]
    machine = {
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_average_1min": [load_start, _load()],
    }
    print(f"1-min load average {load_start:.2f} -> {_load():.2f}")
    if args.json is not None:
        payload = {"machine": machine, "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
