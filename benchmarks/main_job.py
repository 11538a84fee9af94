"""The main job against the search baselines at equal training compute, judged at the final
level.

For each seed, runs the README's main job (``python train_rl.py``: MaskablePPO on
``train_rl.DEFAULT_ENV`` from the shipped policy ``mid-design-v1``, then the final
training of its best genomes and the best of each depth at the final fidelity), then
the same command at learning rate 0 (the control: the shipped policy's designs without
fine-tuning), random search, local search and regularized evolution on the same space and
training (``train_rl.DEFAULT_EDIT_ENV``, their default) with the same number of unique
candidate trainings. The shipped rows files were measured with the v0 main job
(``MidLMDesign-v0`` at ``search``, final training at ``rerank``)
at the same search fidelity (every candidate trains on the same number of tokens, so the
budgets are equal in tokens) and the same final training. Every winner is judged by its
final-fidelity result: the default reward's score and the perplexity (the rerank signal's
estimate after long training; the keys say ``reference_*``, the level's earlier name).
Each run gets its own result cache, so none reuses another's trainings. A row per (seed,
method) is appended to ``--rows`` as soon as it is measured; the same command resumes.

    python benchmarks/main_job.py --seeds 0-9 --out runs-main-job \
        --rows benchmarks/data/main_job_rows.jsonl        # ~40 min per seed on 2 cores
    python benchmarks/main_job.py --seeds 0-9 --out runs/main-job-prose --task lm/stdlib-prose \
        --rows benchmarks/data/main_job_prose_rows.jsonl  # transfer: a corpus never rewarded
    python benchmarks/main_job.py --quick          # smoke run (tiny fidelities)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runfolder import EPISODES_FILE, FINAL_FILE  # noqa: E402

QUICK_AGENT = ["-n", "30"]
QUICK_HYPERPARAMS = ["n_steps:10", "batch_size:10"]
QUICK_FINAL = ["--final-fidelity", "tiny", "--final-top", "2"]
"""The smoke run: a few steps at the ``tiny`` fidelity, and a ``tiny`` final training."""


def _run(argv: list[str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "train_rl.py"), *argv, "--no-progress"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            check=False,
        )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}); see {log}")
    return time.perf_counter() - start


def _only_run(folder: Path) -> Path:
    runs = [p.parent for p in folder.rglob(FINAL_FILE)]
    if len(runs) != 1:
        raise SystemExit(f"expected one finished run below {folder}, found {len(runs)}")
    return runs[0]


def _summary(run: Path, seconds: float) -> dict[str, Any]:
    final = json.loads((run / FINAL_FILE).read_text(encoding="utf-8"))
    keys = set()
    with (run / EPISODES_FILE).open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("new_evaluation") and record["genome_key"] not in keys:
                keys.add(record["genome_key"])
    if final["winner"] is None:
        raise SystemExit(f"{run}: no candidate trained successfully at the final fidelity")
    winner = next(c for c in final["candidates"] if c["genome_key"] == final["winner"])
    final_seconds = sum(c["final"]["train_seconds"] or 0.0 for c in final["candidates"])
    return {
        "run": str(run),
        "unique_evaluations": len(keys),
        "wall_seconds": round(seconds, 1),
        "final_train_seconds": round(final_seconds, 1),
        "winner": winner["genome_key"],
        "winner_genome": winner["genome"],
        "reference_score": winner["final"]["score"],
        "reference_perplexity": winner["final"]["quality"],
        "within_targets": winner["final"]["within_targets"],
        "search_score": winner["search"]["score"],
    }


METHODS = ("agent", "agent_lr0", "random", "local", "evolution")
"""The main job, its control (the same command at learning rate 0: the shipped policy's
designs, never fine-tuned), then the search baselines at the main job's number of unique
candidate trainings."""
LR0 = ["learning_rate:0"]


def run_method(
    seed: int,
    method: str,
    out: Path,
    quick: bool,
    evaluations: int | None,
    env: tuple[str, ...] = (),
) -> dict:
    """One method's run for one seed (the agent's sets ``evaluations`` for the others);
    ``env``: more ``--env-kwargs`` for every method (``task:lm/stdlib-prose``)."""
    fidelity = ["fidelity:tiny"] if quick else []
    final = QUICK_FINAL if quick else []
    folder = out / f"seed{seed}" / method
    folder.mkdir(parents=True, exist_ok=True)
    argv = ["--seed", str(seed), "--log-folder", str(folder)]
    argv += ["--env-kwargs", f"cache:{folder / 'results.sqlite'}", *fidelity, *env]
    if method in ("agent", "agent_lr0"):
        hyperparams = [*(QUICK_HYPERPARAMS if quick else []), *(LR0 if method != "agent" else [])]
        argv += [*(QUICK_AGENT if quick else []), *final]
        argv += ["--hyperparams", *hyperparams] if hyperparams else []
    else:
        argv = ["--algo", method, "-n", "100000", "--max-evaluations", str(evaluations), *argv]
        argv += final
    seconds = _run(argv, out / f"seed{seed}" / f"{method}.log")
    return {"seed": seed, "method": method, **_summary(_only_run(folder), seconds)}


def _done(rows_path: Path) -> dict[tuple[int, str], dict[str, Any]]:
    if not rows_path.is_file():
        return {}
    rows = [json.loads(line) for line in rows_path.read_text(encoding="utf-8").splitlines()]
    return {(r["seed"], r["method"]): r for r in rows}


def run_all(
    seeds: list[int],
    out: Path,
    rows_path: Path,
    quick: bool,
    env: tuple[str, ...] = (),
    methods: tuple[str, ...] = METHODS,
) -> list[dict[str, Any]]:
    """Every method for every seed, skipping the (seed, method) pairs already in
    ``rows_path`` and appending each new row as soon as it is measured. ``methods`` picks a
    subset (the agent's row is needed, and run first, for the others' budget)."""
    done = _done(rows_path)
    for seed in seeds:
        for method in METHODS:
            if method != "agent" and method not in methods:
                continue
            if (seed, method) in done:
                continue
            agent = method in ("agent", "agent_lr0")
            evaluations = None if agent else done[seed, "agent"]["unique_evaluations"]
            row = run_method(seed, method, out, quick, evaluations, env)
            done[seed, method] = row
            with rows_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, sort_keys=True) + "\n")
            print(json.dumps(row), flush=True)
    return [done[s, m] for s in seeds for m in METHODS if (s, m) in done]


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown tables BENCHMARKS.md quotes: per seed, then per method."""
    seeds = sorted({r["seed"] for r in rows})
    by = {(r["seed"], r["method"]): r for r in rows}
    lines = [
        "| seed | unique evaluations | "
        + " | ".join(f"{m}: final score (ppl)" for m in METHODS)
        + " |",
        "| --: | --: |" + " --: |" * len(METHODS),
    ]
    for seed in seeds:
        cells = []
        for method in METHODS:
            r = by.get((seed, method))
            cells.append(
                f"{r['reference_score']:.4f} ({r['reference_perplexity']:.2f})" if r else "-"
            )
        evals = by[seed, "agent"]["unique_evaluations"] if (seed, "agent") in by else "-"
        lines.append(f"| {seed} | {evals} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| method | seeds | median score | mean +- SE | agent wins |",
        "| --- | --: | --: | --: | --: |",
    ]
    for method in METHODS:
        scores = [by[s, method]["reference_score"] for s in seeds if (s, method) in by]
        if not scores:
            continue
        se = statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else math.nan
        paired = [s for s in seeds if (s, method) in by and (s, "agent") in by]
        wins = sum(
            by[s, "agent"]["reference_score"] > by[s, method]["reference_score"] for s in paired
        )
        won = "" if method == "agent" else f"{wins}/{len(paired)}"
        lines.append(
            f"| {method} | {len(scores)} | {statistics.median(scores):.4f} | "
            f"{statistics.mean(scores):.4f} +- {se:.4f} | {won} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every seed and method (resumable), print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-9", help="seeds, e.g. 0-9 or 0,1,2 (0-9)")
    parser.add_argument(
        "--out", type=Path, default=None, help="run folders (default: a temporary folder)"
    )
    parser.add_argument(
        "--rows",
        type=Path,
        default=None,
        help="rows file; a run resumes from it (default: in --out)",
    )
    parser.add_argument("--report-only", action="store_true", help="print the tables of --rows")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument(
        "--task", default=None, help="another task for every method (e.g. lm/stdlib-prose)"
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {', '.join(METHODS)} (the agent always runs first)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny fidelity, 1 seed")
    args = parser.parse_args(argv)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; allowed: {', '.join(METHODS)}")
    if "-" in args.seeds:
        low, high = (int(x) for x in args.seeds.split("-"))
        seeds = list(range(low, high + 1))
    else:
        seeds = [int(s) for s in args.seeds.split(",")]
    seeds = [0] if args.quick else seeds
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="nas-main-job-"))
    rows_path = args.rows or args.out / "rows.jsonl"
    if args.report_only:
        rows = list(_done(rows_path).values())
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        env = (f"task:{args.task}",) if args.task else ()
        rows = run_all(seeds, args.out, rows_path, args.quick, env, methods)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
