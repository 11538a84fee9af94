"""Parallel speed-up: candidates evaluated per minute with 1 vs 2 subprocess envs.

Builds the vector env the way ``train_rl.py --n-envs N --vec-env subproc`` does (SB3
`SubprocVecEnv` through `make_vec_env`, one torch thread per process) on
``nas_env/TransformerLM-v0`` and steps it with random allowed actions for a fixed wall
time. Every configuration gets an empty result cache of its own (the tokenizer and
token caches are shared and warm), so counted candidates are real training runs; a
step that lands on a genome evaluated before is a cache hit and not counted. Runs
alternate (1, 2, 1, 2, ...) so machine drift hits both alike.

    python benchmarks/parallel_speedup.py                  # tiny fidelity, 60 s per run
    python benchmarks/parallel_speedup.py --fidelity fast --seconds 180
    python benchmarks/parallel_speedup.py --quick          # CI smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ENV_ID = "nas_env/TransformerLM-v0"


def candidates_per_minute(
    n_envs: int, seconds: float, fidelity: str, seed: int, cache: Path
) -> dict[str, Any]:
    """Step ``n_envs`` subprocess envs for ``seconds``; count fresh evaluations."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    os.environ["OMP_NUM_THREADS"] = "1"  # what train_rl.py --threads 1 gives its children
    venv = make_vec_env(
        f"nas_env:{ENV_ID}",
        n_envs=n_envs,
        seed=seed,
        env_kwargs={"fidelity": fidelity, "cache": str(cache)},
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "spawn"},
    )
    rng = np.random.default_rng(seed)
    try:
        venv.reset()  # each env evaluates its start genome: outside the clock
        fresh = steps = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            masks = venv.env_method("action_masks")
            actions = np.array([rng.choice(np.flatnonzero(m[:-1])) for m in masks])  # no stop
            _, _, _, infos = venv.step(actions)
            steps += n_envs
            fresh += sum(1 for i in infos if i.get("status") and not i.get("cache_hit", True))
        elapsed = time.perf_counter() - start
    finally:
        venv.close()
    return {
        "n_envs": n_envs,
        "seconds": elapsed,
        "steps": steps,
        "candidates": fresh,
        "per_minute": 60.0 * fresh / elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a Markdown table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fidelity", default="tiny", help="fidelity level (default tiny)")
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per configuration")
    parser.add_argument("--quick", action="store_true", help="CI smoke run: 1 x 10 s each")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 10.0, 1
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="parallel_") as folder:
        for repeat in range(args.repeats):
            for n_envs in (1, 2) if repeat % 2 == 0 else (2, 1):
                cache = Path(folder) / f"results_{n_envs}_{repeat}.sqlite"
                run = candidates_per_minute(n_envs, args.seconds, args.fidelity, repeat, cache)
                runs[n_envs].append(run)
                print(
                    f"  {n_envs} env(s), run {repeat}: {run['candidates']} candidates in "
                    f"{run['seconds']:.0f} s ({run['per_minute']:.1f}/min)",
                    flush=True,
                )
    rate = {n: statistics.median(r["per_minute"] for r in runs[n]) for n in runs}
    print(f"\nfidelity {args.fidelity}, {args.seconds:.0f} s per run, {args.repeats} run(s)\n")
    print("| subprocess envs | candidates / min (median) | speed-up |")
    print("| --: | --: | --: |")
    for n in (1, 2):
        print(f"| {n} | {rate[n]:.1f} | {rate[n] / rate[1]:.2f}x |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"cores usable: {len(os.sched_getaffinity(0))}, 1-min load average now: {load}")
    if args.json is not None:
        payload = {"fidelity": args.fidelity, "runs": runs, "per_minute": rate}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
