"""Environment overhead: steps per second on the benchmark table and the surrogate, and the
cost of a cache hit on the training evaluator.

The table evaluator answers from memory, so these numbers are the environment's own
cost per step (action application, masks, observation, reward, info) plus what an
agent pays for masks. Run on one thread:

    python benchmarks/env_overhead.py            # full
    python benchmarks/env_overhead.py --quick    # smoke run for CI
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import nas_env  # noqa: F401  (registers the ids)
from nas_env.evaluation import Evaluator, Fidelity, TrainSettings

SURROGATE_ID = "nas_env/SurrogateLM-v0"
SURROGATE_DESIGN_ID = "nas_env/SurrogateLMDesign-v0"


def table_steps_per_second(
    steps: int, masked: bool, seed: int = 0, env_id: str = "nas_env/BenchLM-v2"
) -> float:
    """Steps/s of ``env_id`` (a table or surrogate id) through `gymnasium.make` (all
    wrappers on)."""
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    n_actions = int(env.action_space.n)
    start = time.perf_counter()
    for _ in range(steps):
        if masked:
            mask = env.unwrapped.action_masks()
            action = int(rng.choice(np.flatnonzero(mask)))
        else:
            action = int(rng.integers(n_actions))
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def cache_hit_ms(hits: int) -> dict[str, float]:
    """Milliseconds per `Evaluator.evaluate` call served from the SQLite cache."""
    with tempfile.TemporaryDirectory() as root:
        evaluator = Evaluator(
            "tiny",
            fidelity=Fidelity.resolve("tiny", steps=5),
            settings=TrainSettings(device="cpu", latency_repeats=1),
            cache=Path(root) / "results.sqlite",
            cache_root=root,
            vocab_size=256,
        )
        genome = evaluator.space.default_genome()
        evaluator.evaluate(genome)  # train once
        times = []
        for _ in range(hits):
            start = time.perf_counter()
            result = evaluator.evaluate(genome)
            times.append((time.perf_counter() - start) * 1000)
        assert result.cache_hit
    return {"median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95))}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the measurements and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny run for CI smoke tests")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 500, 1
    torch.set_num_threads(1)
    out: dict[str, Any] = {"steps": args.steps}
    for masked in (False, True):
        runs = [table_steps_per_second(args.steps, masked, seed) for seed in range(args.repeats)]
        out["masked" if masked else "unmasked"] = statistics.median(runs)
        runs = [
            table_steps_per_second(args.steps, masked, seed, SURROGATE_ID)
            for seed in range(args.repeats)
        ]
        out["surrogate_masked" if masked else "surrogate_unmasked"] = statistics.median(runs)
        runs = [
            table_steps_per_second(args.steps, masked, seed, SURROGATE_DESIGN_ID)
            for seed in range(args.repeats)
        ]
        out["design_masked" if masked else "design_unmasked"] = statistics.median(runs)
    out["cache_hit"] = cache_hit_ms(200 if args.quick else 2000)
    print(f"table env, random actions:         {out['unmasked']:>10,.0f} steps/s")
    print(f"table env, action_masks() + valid: {out['masked']:>10,.0f} steps/s")
    print(f"surrogate env, random actions:     {out['surrogate_unmasked']:>10,.0f} steps/s")
    print(f"surrogate env, masks + valid:      {out['surrogate_masked']:>10,.0f} steps/s")
    print(f"surrogate design, random actions:  {out['design_unmasked']:>10,.0f} steps/s")
    print(f"surrogate design, masks + valid:   {out['design_masked']:>10,.0f} steps/s")
    hit = out["cache_hit"]
    print(
        f"training evaluator cache hit:      {hit['median_ms']:.3f} ms median, "
        f"{hit['p95_ms']:.3f} ms p95"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
