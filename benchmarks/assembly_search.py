"""The RNN-assembly workflow of the original system, measured: Bayesian optimisation (TPE)
with ASHA early stopping on Ray, against the same TPE training every candidate in full.

For each seed, runs ``python train_rl.py --algo tpe --env nas_env/AssemblyVowels-v0`` twice
with the same number of candidates: ``tpe`` (every candidate trains its whole search
fidelity) and ``tpe-asha`` (``promotion:asha`` over the fidelity's rungs, on a Ray executor
with ``--workers`` workers). Both end with the same final training of their best genomes at
``long-series`` on the official test split. A row per (seed, method): unique candidates,
optimizer steps spent on them (``cost_steps``; in full without promotion), wall seconds,
the best search score, and the winner's final accuracy. Rows are appended as they are
measured; the same command resumes.

    python benchmarks/assembly_search.py --seeds 0-2 --candidates 100 \
        --out runs/assembly-search --rows benchmarks/data/assembly_search_rows.jsonl
    python benchmarks/assembly_search.py --quick   # smoke run (tiny budgets, local executor)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.main_job import _only_run, _run  # noqa: E402
from nas_env.evaluation.fidelity import Fidelity  # noqa: E402
from runfolder import EPISODES_FILE, FINAL_FILE  # noqa: E402

ENV = "nas_env/AssemblyVowels-v0"
METHODS = ("tpe", "tpe-asha")


def _spent(run: Path, full: int) -> tuple[int, int, float]:
    """Unique candidates, the optimizer steps spent training them (``full`` for a
    candidate trained without promotion), the best search score."""
    steps: dict[str, int] = {}
    best = float("-inf")
    with (run / EPISODES_FILE).open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if not record.get("new_evaluation"):
                continue
            key = record["genome_key"]
            cost = record.get("cost_steps") or full
            steps[key] = max(steps.get(key, 0), int(cost))
            if record.get("score") is not None and record.get("status") == "ok":
                best = max(best, float(record["score"]))
    return len(steps), sum(steps.values()), best


def run_method(
    seed: int, method: str, out: Path, candidates: int, workers: int, quick: bool
) -> dict[str, Any]:
    """One search and its final training; its row."""
    folder = out / f"seed{seed}" / method
    folder.mkdir(parents=True, exist_ok=True)
    kwargs = [f"cache:{folder / 'results.sqlite'}"]
    argv = ["--algo", "tpe", "--env", ENV, "--seed", str(seed), "--log-folder", str(folder)]
    argv += ["-n", "100000", "--max-evaluations", str(candidates)]
    final = ["--final-fidelity", "tiny", "--final-top", "2"] if quick else []
    argv += final or ["--final-fidelity", "long-series", "--final-top", "3"]
    if quick:
        kwargs += ["fidelity:{steps:6,batch_size:4,lr:0.01,eval_tokens:256}"]
    if method == "tpe-asha":
        kwargs += ["promotion:asha"]
        argv += [] if quick else ["--executor", "ray", "--workers", str(workers)]
    argv += ["--env-kwargs", *kwargs]
    seconds = _run(argv, out / f"seed{seed}" / f"{method}.log")
    run = _only_run(folder)
    final = json.loads((run / FINAL_FILE).read_text(encoding="utf-8"))
    winner = next(c for c in final["candidates"] if c["genome_key"] == final["winner"])
    unique, steps, best = _spent(run, 6 if quick else Fidelity.resolve("fast-series").steps)
    return {
        "seed": seed,
        "method": method,
        "run": str(run),
        "unique_evaluations": unique,
        "training_steps": steps,
        "wall_seconds": round(seconds, 1),
        "best_search_score": best,
        "winner_genome": winner["genome"],
        "final_accuracy": winner["final"]["quality"],
        "final_score": winner["final"]["score"],
        "best_final_accuracy": max(
            c["final"]["quality"] for c in final["candidates"] if c["final"]["quality"]
        ),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The medians per method (BENCHMARKS.md quotes it)."""
    lines = [
        "| method | seeds | candidates | training steps | wall s | winner's test accuracy "
        "| best final candidate |",
        "| --- | --: | --: | --: | --: | --: | --: |",
    ]
    for method in METHODS:
        mine = [r for r in rows if r["method"] == method]
        if not mine:
            continue

        def med(key: str, rows: list[dict[str, Any]] = mine) -> float:
            return statistics.median(r[key] for r in rows)

        lines.append(
            f"| {method} | {len(mine)} | {med('unique_evaluations'):.0f} | "
            f"{med('training_steps'):,.0f} | {med('wall_seconds'):.0f} | "
            f"{100 * med('final_accuracy'):.1f} % | {100 * med('best_final_accuracy'):.1f} % |"
        )
    return "\n".join(lines)


def _seeds(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-", 1)
        return list(range(int(low), int(high) + 1))
    return [int(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rows", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny budgets")
    args = parser.parse_args(argv)
    scratch = tempfile.TemporaryDirectory() if args.out is None else None
    out = Path(scratch.name) if scratch else args.out
    rows_path = args.rows or out / "rows.jsonl"
    done: dict[tuple[int, str], dict[str, Any]] = {}
    if rows_path.is_file():
        for line in rows_path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            done[row["seed"], row["method"]] = row
    candidates = 6 if args.quick else args.candidates
    for seed in _seeds(args.seeds):
        for method in METHODS:
            if (seed, method) in done:
                continue
            row = run_method(seed, method, out, candidates, args.workers, args.quick)
            done[seed, method] = row
            with rows_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, sort_keys=True) + "\n")
            print(json.dumps(row), flush=True)
    print(table(list(done.values())))
    if scratch:
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
