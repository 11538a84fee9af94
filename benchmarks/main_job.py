"""The main job against random search of equal training compute, judged at the final level.

For each seed, runs the README's main job (``python train_rl.py``: MaskablePPO on
``nas_env/TransformerLM-v2``, then the final training of its best genomes and the best of
each depth at the ``rerank`` fidelity) and a random search on the same env with the same
number of unique candidate trainings at the same search fidelity (every candidate trains
on the same number of tokens, so the training budgets are equal in tokens) followed by the
same final training. Both winners are judged by their final-fidelity result: the default
reward's score and the perplexity (the rerank signal's estimate after long training; the
keys still say ``reference_*``, the level before). Each run gets its own result cache, so
neither reuses the other's trainings.

    python benchmarks/main_job.py --seeds 0,1,2 --out main-job-results
    python benchmarks/main_job.py --quick          # CI smoke run (tiny fidelities)
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

QUICK_AGENT = ["-n", "8", "--hyperparams", "n_steps:4", "batch_size:4"]
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


def run_seed(seed: int, out: Path, quick: bool) -> dict[str, Any]:
    """The main job and its equal-compute random search for one seed."""
    fidelity = ["fidelity:tiny"] if quick else []
    final = QUICK_FINAL if quick else []
    folder = out / f"seed{seed}"
    agent_dir, random_dir = folder / "agent", folder / "random"
    agent_argv = ["--seed", str(seed), "--log-folder", str(agent_dir)]
    agent_argv += ["--env-kwargs", f"cache:{agent_dir / 'results.sqlite'}", *fidelity]
    agent_argv += [*(QUICK_AGENT if quick else []), *final]
    agent_dir.mkdir(parents=True, exist_ok=True)
    seconds = _run(agent_argv, folder / "agent.log")
    agent = _summary(_only_run(agent_dir), seconds)
    random_argv = ["--algo", "random", "--seed", str(seed), "--log-folder", str(random_dir)]
    random_argv += ["-n", "100000", "--max-evaluations", str(agent["unique_evaluations"])]
    random_argv += ["--env-kwargs", f"cache:{random_dir / 'results.sqlite'}", *fidelity, *final]
    random_dir.mkdir(parents=True, exist_ok=True)
    seconds = _run(random_argv, folder / "random.log")
    random = _summary(_only_run(random_dir), seconds)
    return {"seed": seed, "agent": agent, "random": random}


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table BENCHMARKS.md quotes."""
    lines = [
        "| seed | unique evaluations | main job: reference score (ppl) | random search: "
        "reference score (ppl) | main job wins | main job wall time |",
        "| --: | --: | --: | --: | :-: | --: |",
    ]
    for r in rows:
        a, b = r["agent"], r["random"]
        wins = (
            "yes"
            if (a["reference_score"] or -math.inf) > (b["reference_score"] or -math.inf)
            else "no"
        )
        lines.append(
            f"| {r['seed']} | {a['unique_evaluations']} | {a['reference_score']:.4f} "
            f"({a['reference_perplexity']:.1f}) | {b['reference_score']:.4f} "
            f"({b['reference_perplexity']:.1f}) | {wins} | {a['wall_seconds'] / 60:.1f} min |"
        )
    agent = [r["agent"]["reference_score"] for r in rows]
    rand = [r["random"]["reference_score"] for r in rows]
    lines.append(
        f"| median | | {statistics.median(agent):.4f} | {statistics.median(rand):.4f} | "
        f"{sum(a > b for a, b in zip(agent, rand, strict=True))}/{len(rows)} | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every seed, print the table and write JSON with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    parser.add_argument(
        "--out", type=Path, default=None, help="run folders (default: a temporary folder)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny fidelity, 1 seed")
    args = parser.parse_args(argv)
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="nas-main-job-"))
    rows = []
    for seed in seeds:
        rows.append(run_seed(seed, args.out, args.quick))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
