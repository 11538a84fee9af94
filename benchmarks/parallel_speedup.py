"""Parallel speed-up: fresh candidates per minute with 1 and 2 Ray workers and with 1 and
2 SubprocVecEnv envs, in one run.

Every configuration steps ``nas_env/TransformerLM-v2`` with random allowed edits (no
``stop``) for a fixed wall time and counts the steps that trained a new candidate (not a
cache hit); each configuration has an empty result cache of its own (the tokenizer and
token caches are shared and warm), so every counted candidate is a real training run.

* ``ray N``: the `InFlightVecEnv` the CLI builds for ``--n-envs N --executor ray
  --workers N`` (N envs in this process sharing one `ParallelEvaluator`; a private local
  Ray instance with N CPUs, one torch thread per evaluation).
* ``subproc N``: SB3's `SubprocVecEnv` with N envs, as ``--n-envs N --vec-env subproc``
  (one torch thread per process); each process trains its own candidates.
* ``ray-async N``: no lockstep: random valid genomes kept ``2 N`` in flight on N Ray
  workers (`ParallelEvaluator.submit`, as the baselines' ``in_flight`` does), counted as
  they finish. A vector env's step waits for its slowest candidate; this does not.

Before the runs, the machine's own ceiling: one fixed candidate evaluated alone, then two
copies at once in two processes (`LocalPool`, no env, no Ray); ``2 * alone / together``
is the most two workers can give on this machine.

Runs alternate their order between repeats so machine drift hits every configuration
alike; each first steps for ``--warmup`` seconds uncounted (worker start-up, first
imports).

    python benchmarks/parallel_speedup.py                       # fast fidelity, 120 s runs
    python benchmarks/parallel_speedup.py --fidelity tiny --seconds 60
    python benchmarks/parallel_speedup.py --quick                # CI smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ENV_ID = "nas_env/TransformerLM-v2"
CONFIGS: tuple[tuple[str, int], ...] = (
    ("ray", 1),
    ("ray", 2),
    ("subproc", 1),
    ("subproc", 2),
    ("ray-async", 1),
    ("ray-async", 2),
)


def make_venv(kind: str, n: int, fidelity: str, seed: int, cache: Path) -> Any:
    """The vector env of one configuration."""
    kwargs: dict[str, Any] = {"fidelity": fidelity, "cache": str(cache)}
    if kind == "ray":
        from agents.vec_env import make_in_flight_vec_env

        kwargs.update(executor="ray", workers=n, cpus_per_eval=1)
        return make_in_flight_vec_env(ENV_ID, n, seed, kwargs)
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    return make_vec_env(
        f"nas_env:{ENV_ID}",
        n_envs=n,
        seed=seed,
        env_kwargs=kwargs,
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "spawn"},
    )


def step_for(venv: Any, seconds: float, rng: np.random.Generator) -> tuple[int, int, float]:
    """Step with random allowed edits for ``seconds``: (steps, fresh candidates, time)."""
    n = venv.num_envs
    fresh = steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        masks = venv.env_method("action_masks")
        actions = np.array([rng.choice(np.flatnonzero(m[:-1])) for m in masks])  # no stop
        _, _, _, infos = venv.step(actions)
        steps += n
        fresh += sum(1 for i in infos if i.get("status") and not i.get("cache_hit", True))
    return steps, fresh, time.perf_counter() - start


def step_async(evaluator: Any, seconds: float, rng: np.random.Generator) -> tuple[int, float]:
    """Keep ``2 * capacity`` random genomes in flight for ``seconds``: (fresh, time)."""
    space, flight = evaluator.space, []
    fresh = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        while len(flight) < 2 * evaluator.capacity:
            genome = space.random_genome(rng)
            flight.append((genome, evaluator.submit(genome)))
        genome, future = flight.pop(0)
        future.result()
        fresh += not evaluator.evaluate(genome).cache_hit
    elapsed = time.perf_counter() - start
    for _genome, future in flight:  # finish what is running, uncounted
        future.result()
    return fresh, elapsed


def ceiling(fidelity: str, repeats: int = 3) -> dict[str, Any]:
    """Seconds of one fixed evaluation alone and of two copies at once (two processes)."""
    from nas_env.evaluation import TrainSettings
    from nas_env.evaluation.executors import LocalPool
    from nas_env.evaluation.jobs import EvaluatorRecipe

    recipe = EvaluatorRecipe.of("tiny", "lm/stdlib", fidelity, TrainSettings(threads=1))
    genome = recipe.build(cache=False).space.default_genome()
    pool = LocalPool(2, max_retries=0)
    alone, together = [], []

    def two_at_once() -> None:
        with ThreadPoolExecutor(2) as threads:
            list(threads.map(lambda _: pool.run(recipe, genome), range(2)))

    try:
        two_at_once()  # warm both processes (imports, task data)
        for _ in range(repeats):
            start = time.perf_counter()
            pool.run(recipe, genome)
            alone.append(time.perf_counter() - start)
            start = time.perf_counter()
            two_at_once()
            together.append(time.perf_counter() - start)
    finally:
        pool.shutdown()
    a, t = statistics.median(alone), statistics.median(together)
    return {"alone_s": a, "together_s": t, "ceiling": 2 * a / t}


def measure(
    kind: str, n: int, seconds: float, warmup: float, fidelity: str, seed: int, cache: Path
) -> dict[str, Any]:
    """Fresh candidates per minute of one configuration."""
    os.environ["OMP_NUM_THREADS"] = "1"  # what train_rl.py --threads 1 gives its children
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    if kind == "ray-async":
        from nas_env.env.factory import make_evaluator
        from nas_env.env.settings import EvaluatorSettings

        settings = EvaluatorSettings.from_kwargs(
            {"executor": "ray", "workers": n, "cache": str(cache)}
        )
        evaluator: Any = make_evaluator("tiny", "lm/stdlib", fidelity, settings)
        try:
            if warmup > 0:
                step_async(evaluator, warmup, rng)
            fresh, elapsed = step_async(evaluator, seconds, rng)
        finally:
            evaluator.close()
        return {
            "kind": kind,
            "workers": n,
            "seconds": elapsed,
            "candidates": fresh,
            "per_minute": 60.0 * fresh / elapsed,
        }
    venv = make_venv(kind, n, fidelity, seed, cache)
    try:
        venv.reset()  # each env evaluates its start genome: outside the clock
        if warmup > 0:
            step_for(venv, warmup, rng)
        steps, fresh, elapsed = step_for(venv, seconds, rng)
    finally:
        venv.close()
    return {
        "kind": kind,
        "workers": n,
        "seconds": elapsed,
        "steps": steps,
        "candidates": fresh,
        "per_minute": 60.0 * fresh / elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a Markdown table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fidelity", default="fast", help="fidelity level (default fast)")
    parser.add_argument("--seconds", type=float, default=120.0, help="counted wall time per run")
    parser.add_argument("--warmup", type=float, default=15.0, help="uncounted stepping first")
    parser.add_argument("--repeats", type=int, default=2, help="runs per configuration")
    parser.add_argument("--quick", action="store_true", help="CI smoke run: tiny, 1 x 8 s each")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    if args.quick:
        args.fidelity, args.seconds, args.warmup, args.repeats = "tiny", 8.0, 2.0, 1
    limit = ceiling(args.fidelity, 1 if args.quick else 3)
    print(
        f"ceiling: one evaluation alone {limit['alone_s']:.2f} s, two at once "
        f"{limit['together_s']:.2f} s: at most {limit['ceiling']:.2f}x with 2 workers",
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {f"{k} {n}": [] for k, n in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="parallel_") as folder:
        for repeat in range(args.repeats):
            order = CONFIGS if repeat % 2 == 0 else tuple(reversed(CONFIGS))
            for kind, n in order:
                cache = Path(folder) / f"results_{kind}{n}_{repeat}.sqlite"
                run = measure(kind, n, args.seconds, args.warmup, args.fidelity, repeat, cache)
                runs[f"{kind} {n}"].append(run)
                print(
                    f"  {kind} x{n}, run {repeat}: {run['candidates']} fresh candidates in "
                    f"{run['seconds']:.0f} s ({run['per_minute']:.1f}/min)",
                    flush=True,
                )
    rate = {name: statistics.median(r["per_minute"] for r in rs) for name, rs in runs.items()}
    print(
        f"\nfidelity {args.fidelity}, {args.seconds:.0f} s counted per run after "
        f"{args.warmup:.0f} s of warm-up, {args.repeats} run(s) per configuration\n"
    )
    print("| configuration | workers / envs | fresh candidates / min (median) | speed-up vs 1 |")
    print("| --- | --: | --: | --: |")
    for kind, n in CONFIGS:
        one = rate[f"{kind} 1"]
        speedup = rate[f"{kind} {n}"] / one if one else float("nan")
        print(f"| {kind} | {n} | {rate[f'{kind} {n}']:.1f} | {speedup:.2f}x |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"machine ceiling for 2 workers (two evaluations at once): {limit['ceiling']:.2f}x")
    print(f"cores usable: {len(os.sched_getaffinity(0))}, 1-min load average now: {load}")
    if args.json is not None:
        payload = {"fidelity": args.fidelity, "seconds": args.seconds, "runs": runs}
        payload["ceiling"] = limit
        payload["per_minute"] = rate
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
