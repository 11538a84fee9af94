"""Search efficiency on the surrogate benchmark (``nas_env/SurrogateLM-v1``; ``--benchmark
v0`` for the one whose truth is ``fast``, ``--benchmark modern`` for the `modern` space's).

Every one of the 56,364 valid genomes of the ``mid`` space is scored with the env's own
quality-first reward from the surrogate's top rung, which gives the best score and the
top-1% and top-0.1% thresholds. A space too large to list (`modern`: 282 million) is
scored on a seeded uniform sample (``--sample``), whose quantiles are the thresholds; its
best score is the best of the sample and of every genome the runs of the invocation found,
so its regrets compare only methods run in one invocation. Each method then runs through
the project's CLI in-process (``train_rl.main``) for several seeds at an equal budget of unique
evaluations (``--max-evaluations``), with its shipped defaults (``config/agents/*.yaml``),
and its ``episodes.jsonl`` says after how many unique evaluations the run first reached
the top 1% and the top 0.1%, and its regret (best score minus the true score of the
genome it rates best) after 100 and 300 unique evaluations. Random search, regularized
evolution, local search (first and best improvement) and TPE edit genomes on
``nas_env/SurrogateLM-v1``; DQN, PPO, A2C and MaskablePPO run
on it too (edit episodes from a random genome) and on ``nas_env/SurrogateLMDesign-v1`` (one
decision per gene; methods ``*-design``); the ``*-incumbent`` methods start every edit
episode at the best genome found so far (``start="incumbent"``); the ``*-floor`` methods
keep the policy's entropy above half the uniform policy's (``entropy_floor: 0.5``,
`agents.entropy`). The ``-lr0`` methods are controls.

The ``-asha`` methods run with promotion on (``promotion:asha``, eta 3: a candidate pays
the 33-step rung and only the top third continue to 100 steps). They are compared with
the plain methods at equal training compute: their regret is read where their summed
``cost_steps`` reaches what the plain method spent on its budget (budget x 100 steps), and
the genome a run rates best is judged by its true top-rung score. Runs go to a temporary
folder, one worker process each (``spawn`` context, one torch thread).

Usage::

    python benchmarks/search_efficiency.py                      # 10 seeds, budget 300
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

from benchmarks.search_stats import (  # noqa: E402
    CHECKPOINTS,
    _finite,
    first_reaching,
    hit_probability,
    markdown,
    quantile,
    summarize,
)
from runfolder import EPISODES_FILE  # noqa: E402

__all__ = ["CHECKPOINTS", "METHODS", "first_reaching", "hit_probability", "quantile", "summarize"]

BENCHMARKS: dict[str, tuple[str, str]] = {
    "v1": ("nas_env/SurrogateLM-v1", "nas_env/SurrogateLMDesign-v1"),
    "v0": ("nas_env/SurrogateLM-v0", "nas_env/SurrogateLMDesign-v0"),
    "modern": ("nas_env/SurrogateModern-v0", "nas_env/SurrogateModernDesign-v0"),
}
"""Benchmark -> (edit id, design id); ``--benchmark`` picks one (v1: `mid`, truth `long`;
v0: `mid`, truth `fast`; modern: the `modern` space, truth `long`, too large to list)."""
LISTABLE = 1_000_000
"""Spaces with more genomes than this are scored on a uniform sample (`surrogate_scores`)."""
SAMPLE_SEED = 2024
ENV_ID, DESIGN_ENV_ID = BENCHMARKS["v1"]
FROZEN = ("--hyperparams", "learning_rate:0")
ASHA = ("--env-kwargs", "promotion:asha")
INCUMBENT = ("--env-kwargs", "start:incumbent")  # edit episodes start at the best so far
FLOOR = ("--hyperparams", "entropy_floor:0.5")  # agents.entropy: no collapse onto revisits
METHODS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "random": ("random", "edit", ()),
    "evolution": ("evolution", "edit", ()),
    "local": ("local", "edit", ()),
    "local-best": ("local", "edit", ("--hyperparams", "improvement:best")),
    "tpe": ("tpe", "edit", ()),
    "dqn": ("dqn", "edit", ()),
    "ppo": ("ppo", "edit", ()),
    "maskable_ppo": ("maskable_ppo", "edit", ()),
    "a2c": ("a2c", "edit", ()),
    "dqn-design": ("dqn", "design", ()),
    "ppo-design": ("ppo", "design", ()),
    "maskable_ppo-design": ("maskable_ppo", "design", ()),
    "a2c-design": ("a2c", "design", ()),
    "ppo-design-floor": ("ppo", "design", FLOOR),
    "maskable_ppo-design-floor": ("maskable_ppo", "design", FLOOR),
    "dqn-lr0": ("dqn", "edit", FROZEN),
    "ppo-lr0": ("ppo", "edit", FROZEN),
    "maskable_ppo-lr0": ("maskable_ppo", "edit", FROZEN),
    "a2c-lr0": ("a2c", "edit", FROZEN),
    "dqn-design-lr0": ("dqn", "design", FROZEN),
    "ppo-design-lr0": ("ppo", "design", FROZEN),
    "maskable_ppo-design-lr0": ("maskable_ppo", "design", FROZEN),
    "a2c-design-lr0": ("a2c", "design", FROZEN),
    "dqn-incumbent": ("dqn", "edit", INCUMBENT),
    "ppo-incumbent": ("ppo", "edit", INCUMBENT),
    "maskable_ppo-incumbent": ("maskable_ppo", "edit", INCUMBENT),
    "dqn-incumbent-lr0": ("dqn", "edit", (*INCUMBENT, *FROZEN)),
    "ppo-incumbent-lr0": ("ppo", "edit", (*INCUMBENT, *FROZEN)),
    "maskable_ppo-incumbent-lr0": ("maskable_ppo", "edit", (*INCUMBENT, *FROZEN)),
    "random-asha": ("random", "edit", ASHA),
    "evolution-asha": ("evolution", "edit", ASHA),
}
"""Method label -> (``--algo``, ``edit`` or ``design`` id, extra CLI arguments). The
``-lr0`` controls are the same agents with learning rate 0: same exploration, same network
at initialisation, no learning. What an agent gains over its control is what it learned."""
TOP_FRACTIONS = {"top1": 0.01, "top01": 0.001}
STEPS_PER_EVALUATION = 30  # the env-step cap (-n): generous, the evaluation budget binds


def asha_factor(env_id: str = ENV_ID) -> int:
    """How many times the budget's unique evaluations a promoted run may spend: its top
    rung's steps over its lowest rung's (what it could afford if every candidate stopped at
    the lowest rung), so that the run is cut at equal training compute, never by the cap
    (4 on `-v0`'s rungs of 33 and 100 steps; 16 on `-v1`'s 500 to 8,000)."""
    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids)

    env = gym.make(env_id)
    try:
        steps = env.unwrapped.evaluator.steps
    finally:
        env.close()
    return max(1, math.ceil(int(steps[-1]) / int(steps[0])))


def surrogate_scores(
    env_id: str = ENV_ID, sample: int = 50_000
) -> tuple[dict[str, float], int, bool]:
    """Score the surrogate's genomes with the env's reward (top rung, no promotion).

    Every valid genome when the space has at most `LISTABLE`; else ``sample`` genomes
    drawn uniformly over the valid ones (seed `SAMPLE_SEED`), whose quantiles then stand
    for the space's top-fraction thresholds, and `score_missing` adds what the runs found.

    Args:
        env_id: The benchmark's edit id.
        sample: Genomes scored when the space is too large to list.

    Returns:
        ``{genome_key: score}``, the top rung's training steps, and whether it is a sample.
    """
    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids)
    from nas_env.samples import uniform_sample

    env = gym.make(env_id)
    try:
        base = env.unwrapped
        reward_fn, evaluator, space = base.reward_fn, base.evaluator, base.space
        sampled = space.cardinality() > LISTABLE
        genomes = uniform_sample(space, sample, SAMPLE_SEED) if sampled else space.enumerate()
        scores = {
            g.key(): float(reward_fn.score(r))
            for g in genomes
            if (r := evaluator.evaluate(g)).status == "ok"
        }
        steps = int(evaluator.steps[-1])
    finally:
        env.close()
    return scores, steps, sampled


def score_missing(env_id: str, runs: list[dict[str, Any]], scores: dict[str, float]) -> int:
    """Add the true score of every genome the runs evaluated that ``scores`` lacks (a
    sampled space's); returns how many were added."""
    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids)
    from nas_env.genome import Genome

    env = gym.make(env_id)
    added = 0
    try:
        base = env.unwrapped
        for run in runs:
            for key, genes in zip(run["keys"], run["genes"], strict=True):
                if key in scores or genes is None:
                    continue
                result = base.evaluator.evaluate(Genome.from_genes(base.space, genes))
                if result.status == "ok":
                    scores[key] = float(base.reward_fn.score(result))
                    added += 1
    finally:
        env.close()
    return added


def run_one(method: str, seed: int, budget: int, benchmark: str = "v1") -> dict[str, Any]:
    """Run one search through ``train_rl.main`` and read its new evaluations back.

    Args:
        method: A label of `METHODS`.
        seed: ``--seed``.
        budget: ``--max-evaluations`` (unique genomes).
        benchmark: A key of `BENCHMARKS`.

    Returns:
        ``method``, ``seed``, ``rc`` (the CLI's exit code), ``seconds`` (wall time),
        ``env_steps`` and, per new evaluation in order, ``keys``, ``genes``, ``scores`` (as
        recorded: calibrated from a lower rung when promotion stopped early) and
        ``costs`` (training steps spent).
    """
    import torch

    torch.set_num_threads(1)
    from train_rl import main

    algo, mode, extra = METHODS[method]
    env_id = BENCHMARKS[benchmark][mode == "design"]
    with tempfile.TemporaryDirectory(prefix=f"se_{method}_{seed}_") as folder:
        argv = ["--algo", algo, "--env", env_id, "--seed", str(seed)]
        argv += ["--max-evaluations", str(budget), "-n", str(budget * STEPS_PER_EVALUATION)]
        argv += ["--log-folder", folder, "--threads", "1"]
        argv += ["--no-progress", "--no-tensorboard", *extra]
        out = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = main(argv)
        seconds = time.perf_counter() - start
        files = sorted(Path(folder).glob(f"*/*/{EPISODES_FILE}"))
        if rc != 0 or len(files) != 1:
            raise RuntimeError(
                f"{method} seed {seed}: exit code {rc}, {len(files)} episodes.jsonl; "
                f"output tail:\n{out.getvalue()[-2000:]}"
            )
        keys: list[str] = []
        genes: list[dict[str, Any] | None] = []
        scores: list[float] = []
        costs: list[float] = []
        steps = 0
        with files[0].open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                steps += 1
                if record.get("evaluated") and record.get("new_evaluation"):
                    keys.append(str(record["genome_key"]))
                    genes.append(record.get("genome"))
                    ok = record.get("status") == "ok" and record.get("score") is not None
                    scores.append(float(record["score"]) if ok else -math.inf)
                    costs.append(float(record.get("cost_steps") or 0.0))
    return {
        "method": method,
        "seed": seed,
        "rc": rc,
        "seconds": seconds,
        "env_steps": steps,
        "keys": keys,
        "genes": genes,
        "scores": scores,
        "costs": costs,
    }


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per method (default 10)")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds are first..first+seeds-1 (default 0; tune on seeds >= 100)",
    )
    parser.add_argument("--budget", type=int, default=300, help="unique evaluations per run")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated: {','.join(METHODS)}"
    )
    parser.add_argument(
        "--benchmark", default="v1", choices=sorted(BENCHMARKS), help="surrogate version (v1)"
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=50_000,
        help=f"genomes scored on a space of more than {LISTABLE:,} (default 50,000)",
    )
    parser.add_argument("--quick", action="store_true", help="2 seeds, budget 25 (CI smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the Markdown tables; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.quick:
        args.seeds, args.budget = 2, 25
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"--methods: unknown {', '.join(unknown)}; allowed: {', '.join(METHODS)}")
    env_id = BENCHMARKS[args.benchmark][0]
    scores, top_steps, sampled = surrogate_scores(env_id, args.sample)
    ranked = sorted(scores.values(), reverse=True)
    best = ranked[0]
    marks = {name: ranked[math.ceil(f * len(ranked)) - 1] for name, f in TOP_FRACTIONS.items()}
    counts = {name: sum(1 for s in ranked if s >= m) for name, m in marks.items()}
    # First hit of m marked items among N drawn uniformly without replacement: (N+1)/(m+1).
    reference = {}
    for name in marks:
        reference[f"to_{name}"] = (len(ranked) + 1) / (counts[name] + 1)
        reference[f"p_{name}"] = hit_probability(len(ranked), counts[name], args.budget)
    where = " (a uniform sample)" if sampled else ""
    print(
        f"surrogate: {len(scores)} genomes ok{where}; best score {best:.4f}; top-1% threshold "
        f"{marks['top1']:.4f} ({counts['top1']} genomes), top-0.1% {marks['top01']:.4f} "
        f"({counts['top01']} genomes)",
        flush=True,
    )
    seeds = range(args.first_seed, args.first_seed + args.seeds)

    factor = asha_factor(env_id) if any(METHODS[m][2] == ASHA for m in methods) else 1

    def budget_of(method: str) -> int:
        return args.budget * (factor if METHODS[method][2] == ASHA else 1)

    jobs = [(m, s, budget_of(m), args.benchmark) for m in methods for s in seeds]
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
        futures = {pool.submit(run_one, *job): job for job in jobs}
        for future, (method, seed, _, _) in futures.items():
            run = future.result()
            results[(method, seed)] = run
            print(
                f"  {method:<24} seed {seed}: {len(run['keys'])} unique evaluations, "
                f"{run['env_steps']} env steps, {sum(run['costs']):.0f} training steps, "
                f"{run['seconds']:.1f}s",
                flush=True,
            )
    wall = time.perf_counter() - start
    if sampled:  # the best is the sample's or a run's: regrets compare within one invocation
        added = score_missing(env_id, list(results.values()), scores)
        best = max(scores.values())
        print(f"scored {added} genomes the runs found outside the sample; best score {best:.4f}")
    summary = {}
    for m in methods:
        compute = float(args.budget * top_steps) if METHODS[m][2] == ASHA else None
        runs = [results[(m, s)] for s in seeds]
        others = {k: v for k, v in marks.items() if k != "top1"}
        summary[m] = summarize(runs, scores, budget_of(m), best, marks["top1"], others, compute)
    print(f"\n{len(jobs)} runs in {wall:.0f}s wall ({args.jobs} worker processes)\n")
    print(markdown(summary, args.budget, args.seeds, reference))
    if args.json is not None:
        payload = {
            "env_id": env_id,
            "sampled": sampled,
            "design_env_id": BENCHMARKS[args.benchmark][1],
            "seeds": list(seeds),
            "budget": args.budget,
            "genomes": len(scores),
            "best_score": best,
            "thresholds": marks,
            "top1_threshold": marks["top1"],
            "top_steps": top_steps,
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
