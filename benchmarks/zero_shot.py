"""Zero-shot answers of a target-conditioned policy on the surrogate benchmark.

For ``--pairs`` size and latency target pairs drawn with ``--pair-seed`` (log-uniform in
the space's ranges, ``config/target_ranges.yaml``, as the env draws them; the policy was
trained on the env's own draws, not on these), every genome of the benchmark is scored
under the pair's targets (the ``target`` reward), which gives the best score within those
targets. The policy (a file of `agents.pretrained`, run on the design id with
``targets="random"`` and the pair set through ``reset`` options, sampling its actions)
designs genomes until it has ``k`` unique ones; its regret at ``k`` is the best score
minus the best of those ``k``. TPE, local search and random search run through the CLI on
the edit id with the reward fixed at the pair's targets, for ``3 k_max`` unique
evaluations; their regret is read at ``k`` and ``3 k``. Medians and quartiles are over
pairs x seeds.

Usage::

    python benchmarks/zero_shot.py --policy config/policies/NAME.safetensors
    python benchmarks/zero_shot.py --policy P --pairs 3 --k 1,2 --seeds 1 --quick
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # train_rl.py lives at the repository root
    sys.path.insert(0, str(ROOT))

from benchmarks.search_efficiency import BENCHMARKS  # noqa: E402
from benchmarks.search_stats import quantile  # noqa: E402
from runfolder import EPISODES_FILE  # noqa: E402

BASELINES = ("tpe", "local", "random")
STEPS_PER_DESIGN = 40  # env-step cap per unique design (repeats and refusals included)


def draw_pairs(space: str, count: int, seed: int) -> list[dict[str, float]]:
    """``count`` target pairs, log-uniform in ``space``'s ranges."""
    from nas_env.env.targets import declared_ranges

    rng = np.random.default_rng(seed)
    ranges = declared_ranges()[space]
    return [
        {
            n: float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            for n, (lo, hi) in ranges.items()
        }
        for _ in range(count)
    ]


class Oracle:
    """Every genome of the benchmark, evaluated once, scored under any targets."""

    def __init__(self, env_id: str) -> None:
        import gymnasium as gym

        import nas_env  # noqa: F401  (registers the ids)

        env = gym.make(env_id)
        base = env.unwrapped
        self.reward = base.reward_fn
        self.results = [r for g in base.space.enumerate() if (r := base.evaluator.evaluate(g)).ok]
        env.close()

    def best(self, targets: dict[str, float]) -> float:
        """The best score within ``targets``."""
        import dataclasses

        reward = dataclasses.replace(
            self.reward,
            target_size_mb=targets.get("size_mb", self.reward.target_size_mb),
            target_latency_ms=targets.get("latency_ms", self.reward.target_latency_ms),
        )
        return max(float(reward.score(r)) for r in self.results)


def policy_scores(path: str, env_id: str, targets: dict[str, float], k: int, seed: int) -> list:
    """Scores of the policy's first ``k`` unique designs under ``targets``, in order."""
    import gymnasium as gym
    import torch

    import nas_env  # noqa: F401
    from agents.algos import ALGOS
    from agents.hyperparams import model_kwargs
    from agents.pretrained import check_fits, load_policy, start_from

    torch.manual_seed(seed)
    policy = load_policy(path)
    env = gym.make(env_id, targets="random", observation=policy.meta["observation"])
    hp = policy.hyperparams()
    kwargs = model_kwargs({k: v for k, v in hp.items() if k != "policy"})
    model = ALGOS[policy.algo](hp["policy"], env, seed=seed, device="cpu", **kwargs)
    check_fits(policy, env, policy.algo)
    start_from(policy, model)
    masked = policy.algo == "maskable_ppo"
    seen: dict[str, float] = {}
    obs, _ = env.reset(seed=seed, options={"targets": targets})
    for _ in range(k * STEPS_PER_DESIGN):
        extra = {"action_masks": env.unwrapped.action_masks()} if masked else {}
        action, _ = model.predict(obs, deterministic=False, **extra)
        obs, _, done, truncated, info = env.step(int(action))
        if done or truncated:
            key = info.get("genome_key")
            if key is not None and key not in seen and info.get("status") == "ok":
                seen[key] = float(info["score"])
            if len(seen) >= k:
                break
            obs, _ = env.reset(options={"targets": targets})
    env.close()
    return list(seen.values())


def baseline_scores(method: str, env_id: str, targets: dict[str, float], budget: int, seed: int):
    """Scores of a baseline's first ``budget`` unique evaluations under ``targets``."""
    from train_rl import main

    reward = "{name: target, " + ", ".join(
        f"target_{n}: {v!r}" for n, v in targets.items()
    ) + "}"  # fmt: skip
    with tempfile.TemporaryDirectory(prefix=f"zs_{method}_") as folder:
        argv = ["--algo", method, "--env", env_id, "--seed", str(seed)]
        argv += ["--max-evaluations", str(budget), "-n", str(budget * STEPS_PER_DESIGN)]
        argv += ["--log-folder", folder, "--no-progress", "--no-tensorboard", "--threads", "1"]
        argv += ["--env-kwargs", f"reward:{reward}"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = main(argv)
        files = sorted(Path(folder).glob(f"*/*/{EPISODES_FILE}"))
        if rc != 0 or len(files) != 1:
            raise RuntimeError(f"{method}: exit code {rc}; {out.getvalue()[-1500:]}")
        scores = []
        for line in files[0].read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("evaluated") and record.get("new_evaluation"):
                ok = record.get("status") == "ok" and record.get("score") is not None
                scores.append(float(record["score"]) if ok else -math.inf)
    return scores


def regret(best: float, scores: list[float], k: int) -> float:
    """``best`` minus the best of the first ``k`` scores (``best`` itself with none)."""
    found = max(scores[:k], default=-math.inf)
    return best - found if math.isfinite(found) else best


def main(argv: list[str] | None = None) -> int:
    """Run it; print the table (and write ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", required=True, help="a pretrained policy (name or path)")
    parser.add_argument("--benchmark", default="v1", choices=sorted(BENCHMARKS))
    parser.add_argument("--pairs", type=int, default=20, help="target pairs (20)")
    parser.add_argument("--pair-seed", type=int, default=1000, help="their seed (1000)")
    parser.add_argument("--k", default="1,5,10", help="unique designs per answer (1,5,10)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per pair and method (3)")
    parser.add_argument("--methods", default=",".join(("policy", *BASELINES)))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    edit_id, design_id = BENCHMARKS[args.benchmark]
    ks = sorted(int(k) for k in args.k.split(","))
    methods = [m for m in args.methods.split(",") if m]
    oracle = Oracle(edit_id)
    pairs = draw_pairs("mid", args.pairs, args.pair_seed)
    rows: dict[str, list[float]] = {}
    for index, targets in enumerate(pairs):
        best = oracle.best(targets)
        for seed in range(args.seeds):
            for method in methods:
                if method == "policy":
                    scores = policy_scores(args.policy, design_id, targets, ks[-1], seed)
                    budgets = ks
                else:
                    scores = baseline_scores(method, edit_id, targets, 3 * ks[-1], seed)
                    budgets = sorted({*ks, *(3 * k for k in ks)})
                for k in budgets:
                    rows.setdefault(f"{method}@{k}", []).append(regret(best, scores, k))
        print(f"pair {index}: {targets} best {best:.4f}", flush=True)
    print("\n| method | k | median regret | IQR | answers |\n| --- | --: | --: | --: | --: |")
    for label, values in rows.items():
        method, k = label.split("@")
        iqr = quantile(values, 0.75) - quantile(values, 0.25)
        print(f"| {method} | {k} | {quantile(values, 0.5):.4f} | {iqr:.4f} | {len(values)} |")
    if args.json is not None:
        payload = {"policy": args.policy, "pairs": pairs, "pair_seed": args.pair_seed,
                   "seeds": args.seeds, "regrets": rows}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
