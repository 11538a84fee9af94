"""Search efficiency on the shipped benchmark table (``nas_env/BenchLM-v0``).

Every genome of the 384-genome ``bench`` space is scored with the env's own reward, which
gives the table's best score and the top-1% threshold (the score of the 4th best genome).
Each method then runs through the project's CLI in-process (``train_rl.main``) for
several seeds at an equal budget of unique evaluations (``--max-evaluations``), with its
shipped defaults (``config/agents/*.yaml``, steps included), and its ``episodes.jsonl``
says after how many unique evaluations the run first reached the best genome and the top
1%, and the best score it had at 25, 50 and 100 unique evaluations. Random search and
regularized evolution edit genomes on ``nas_env/BenchLM-v0``; DQN, PPO and MaskablePPO run
on it too (edit episodes from a random genome) and on ``nas_env/BenchLMDesign-v0`` (one
decision per gene; methods ``*-design``). Both ids serve the same table with the same
reward. Runs go to a temporary folder, one worker process each (``spawn`` context, one
torch thread).

Usage::

    python benchmarks/search_efficiency.py                      # 10 seeds, budget 100
    python benchmarks/search_efficiency.py --quick              # CI smoke run: 2 seeds, 25
    python benchmarks/search_efficiency.py --seeds 5 --methods random,ppo --jobs 2 \\
        --json search_efficiency.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # train_rl.py lives at the repository root
    sys.path.insert(0, str(ROOT))

ENV_ID = "nas_env/BenchLM-v0"
DESIGN_ENV_ID = "nas_env/BenchLMDesign-v0"
FROZEN = ("--hyperparams", "learning_rate:0")
METHODS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "random": ("random", ENV_ID, ()),
    "evolution": ("evolution", ENV_ID, ()),
    "dqn": ("dqn", ENV_ID, ()),
    "ppo": ("ppo", ENV_ID, ()),
    "maskable_ppo": ("maskable_ppo", ENV_ID, ()),
    "dqn-design": ("dqn", DESIGN_ENV_ID, ()),
    "ppo-design": ("ppo", DESIGN_ENV_ID, ()),
    "maskable_ppo-design": ("maskable_ppo", DESIGN_ENV_ID, ()),
    "dqn-design-lr0": ("dqn", DESIGN_ENV_ID, FROZEN),
    "ppo-design-lr0": ("ppo", DESIGN_ENV_ID, FROZEN),
}
"""Method label -> (``--algo``, ``--env``, extra CLI arguments). The ``-lr0`` controls are
the same agents with learning rate 0: same exploration, same network at initialisation,
no learning. What an agent gains over its control is what it learned."""
CHECKPOINTS: tuple[int, ...] = (25, 50, 100)
TOP_RANK = 4  # top 1% of 384 genomes: the 4th best score is the threshold


def table_scores() -> tuple[dict[str, float], int]:
    """Score every genome of the env's benchmark table with the env's reward.

    Returns:
        ``{genome_key: score}`` for the genomes whose stored result is ``ok``, and the
        number of rows in the table (failed rows included).
    """
    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids)
    from nas_env.table import TableEvaluator

    env = gym.make(ENV_ID)
    try:
        reward_fn = env.unwrapped.reward_fn
        table = TableEvaluator(env.unwrapped.evaluator.path)
    finally:
        env.close()
    scores: dict[str, float] = {}
    keys: list[str] = table.keys()  # TableEvaluator is not a mapping
    for key in keys:
        result = table.get(key)
        if result is not None and result.status == "ok":
            scores[key] = float(reward_fn.score(result))
    return scores, len(table)


def run_one(method: str, seed: int, budget: int) -> dict[str, Any]:
    """Run one search through ``train_rl.main`` and read its new evaluations back.

    Args:
        method: A label of `METHODS`.
        seed: ``--seed``.
        budget: ``--max-evaluations`` (unique genomes).

    Returns:
        ``method``, ``seed``, ``rc`` (the CLI's exit code), ``seconds`` (wall time),
        ``env_steps`` and ``keys``: the genome keys of the run's new evaluations in order
        (the i-th key is unique evaluation i + 1).
    """
    import torch

    torch.set_num_threads(1)
    from train_rl import main

    algo, env_id, extra = METHODS[method]
    with tempfile.TemporaryDirectory(prefix=f"se_{method}_{seed}_") as folder:
        argv = [
            "--algo",
            algo,
            "--env",
            env_id,
            "--seed",
            str(seed),
            "--max-evaluations",
            str(budget),
            "--log-folder",
            folder,
            "--threads",
            "1",
            "--no-progress",
            "--no-tensorboard",
            *extra,
        ]
        out = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = main(argv)
        seconds = time.perf_counter() - start
        files = sorted(Path(folder).glob("*/*/episodes.jsonl"))
        if rc != 0 or len(files) != 1:
            raise RuntimeError(
                f"{method} seed {seed}: exit code {rc}, {len(files)} episodes.jsonl; "
                f"output tail:\n{out.getvalue()[-2000:]}"
            )
        keys: list[str] = []
        steps = 0
        with files[0].open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                steps += 1
                if record.get("evaluated") and record.get("new_evaluation"):
                    keys.append(str(record["genome_key"]))
    return {
        "method": method,
        "seed": seed,
        "rc": rc,
        "seconds": seconds,
        "env_steps": steps,
        "keys": keys,
    }


def first_reaching(values: list[float], threshold: float) -> int | None:
    """1-based index of the first value >= ``threshold`` (None when none reaches it)."""
    for index, value in enumerate(values, start=1):
        if value >= threshold:
            return index
    return None


def hit_probability(population: int, marked: int, draws: int) -> float:
    """Chance that ``draws`` uniform draws without replacement hit one of ``marked``."""
    miss = 1.0
    for i in range(min(draws, population)):
        miss *= max(0, population - marked - i) / (population - i)
    return 1.0 - miss


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile that stays ``inf`` when a neighbour is ``inf``."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    a, b = ordered[low], ordered[high]
    if math.isinf(a) or math.isinf(b):
        return math.inf
    return a + (b - a) * (position - low)


def summarize(
    runs: list[dict[str, Any]],
    scores: dict[str, float],
    budget: int,
    best: float,
    threshold: float,
) -> dict[str, Any]:
    """Per-run and per-method statistics of one method's runs.

    Returns:
        ``runs`` (per seed: evaluations to the best and to the top 1%, None when not
        reached; best score at each checkpoint) and the medians, quartiles and ranges.
    """
    checkpoints = [c for c in CHECKPOINTS if c <= budget] or [budget]
    per_run = []
    for run in runs:
        values = [scores.get(key, -math.inf) for key in run["keys"]]
        running: list[float] = []
        for value in values:
            running.append(max(value, running[-1]) if running else value)
        per_run.append(
            {
                "seed": run["seed"],
                "unique_evaluations": len(values),
                "env_steps": run["env_steps"],
                "seconds": round(run["seconds"], 2),
                "to_best": first_reaching(values, best),
                "to_top1": first_reaching(values, threshold),
                "best_at": {
                    str(c): (running[min(c, len(running)) - 1] if running else None)
                    for c in checkpoints
                },
            }
        )
    out: dict[str, Any] = {"runs": per_run}
    for name in ("to_best", "to_top1"):
        hits = [r[name] if r[name] is not None else math.inf for r in per_run]
        out[name] = {
            "reached": sum(1 for h in hits if math.isfinite(h)),
            "median": quantile(hits, 0.5),
            "q25": quantile(hits, 0.25),
            "q75": quantile(hits, 0.75),
            "min": min(hits),
            "max": max(hits),
        }
    out["best_at"] = {}
    for c in checkpoints:
        got = [r["best_at"][str(c)] for r in per_run if r["best_at"][str(c)] is not None]
        out["best_at"][str(c)] = {
            "median": quantile(got, 0.5) if got else None,
            "min": min(got) if got else None,
            "max": max(got) if got else None,
        }
    return out


def _evals(value: float, budget: int) -> str:
    return f">{budget}" if math.isinf(value) else f"{value:g}"


def markdown(
    summary: dict[str, dict[str, Any]], budget: int, seeds: int, reference: dict[str, float]
) -> str:
    """The results as a Markdown table (one row per method, plus random sampling's
    expected values computed from the table)."""
    checkpoints = [c for c in CHECKPOINTS if c <= budget] or [budget]
    head = (
        "| method | evals to best: median (IQR) | reached | evals to top 1%: median (IQR) "
        "| reached | " + " | ".join(f"best score @{c}: median (min-max)" for c in checkpoints)
    )
    lines = [head + " |", "| --- " + "| --: " * (4 + len(checkpoints)) + "|"]
    for method, stats in summary.items():
        cells = [method]
        for name in ("to_best", "to_top1"):
            s = stats[name]
            cells.append(
                f"{_evals(s['median'], budget)} "
                f"({_evals(s['q25'], budget)}, {_evals(s['q75'], budget)})"
            )
            cells.append(f"{s['reached']}/{seeds}")
        for c in checkpoints:
            s = stats["best_at"][str(c)]
            cells.append(
                "-" if s["median"] is None else f"{s['median']:.4f} ({s['min']:.4f}-{s['max']:.4f})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        f"| uniform sampling without replacement (expected) | {reference['to_best']:.1f} "
        f"| {reference['p_best']:.0%} | {reference['to_top1']:.1f} | {reference['p_top1']:.0%} "
        + "| " * len(checkpoints)
        + "|"
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per method (default 10)")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds are first..first+seeds-1 (default 0; the shipped defaults were tuned on "
        "seeds 100-119)",
    )
    parser.add_argument("--budget", type=int, default=100, help="unique evaluations per run")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated: {','.join(METHODS)}"
    )
    parser.add_argument("--quick", action="store_true", help="2 seeds, budget 25 (CI smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the Markdown table; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.quick:
        args.seeds, args.budget = 2, 25
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"--methods: unknown {', '.join(unknown)}; allowed: {', '.join(METHODS)}")
    scores, rows = table_scores()
    ranked = sorted(scores.values(), reverse=True)
    best, threshold = ranked[0], ranked[TOP_RANK - 1]
    n_best = sum(1 for s in ranked if s >= best)
    n_top = sum(1 for s in ranked if s >= threshold)
    # First hit of m marked items among N drawn uniformly without replacement: (N+1)/(m+1).
    reference = {
        "to_best": (len(ranked) + 1) / (n_best + 1),
        "to_top1": (len(ranked) + 1) / (n_top + 1),
        "p_best": hit_probability(len(ranked), n_best, args.budget),
        "p_top1": hit_probability(len(ranked), n_top, args.budget),
    }
    print(
        f"table: {rows} rows, {len(scores)} ok; best score {best:.4f} ({n_best} genome(s)), "
        f"top-1% threshold {threshold:.4f} ({n_top} genomes)"
    )
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(m, s, args.budget) for m in methods for s in seeds]
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
        futures = {pool.submit(run_one, *job): job for job in jobs}
        for future, (method, seed, _) in futures.items():
            run = future.result()
            results[(method, seed)] = run
            print(
                f"  {method:<13} seed {seed}: {len(run['keys'])} unique evaluations, "
                f"{run['env_steps']} env steps, {run['seconds']:.1f}s",
                flush=True,
            )
    wall = time.perf_counter() - start
    summary = {
        m: summarize([results[(m, s)] for s in seeds], scores, args.budget, best, threshold)
        for m in methods
    }
    print(f"\n{len(jobs)} runs in {wall:.0f}s wall ({args.jobs} worker processes)\n")
    print(markdown(summary, args.budget, args.seeds, reference))
    if args.json is not None:
        payload = {
            "env_id": ENV_ID,
            "seeds": list(seeds),
            "budget": args.budget,
            "table_rows": rows,
            "table_ok": len(scores),
            "best_score": best,
            "top1_threshold": threshold,
            "reference_uniform": reference,
            "wall_seconds": wall,
            "methods": summary,
        }
        text = json.dumps(_finite(payload), indent=2, allow_nan=False)
        args.json.write_text(text + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
