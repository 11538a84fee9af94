"""Why PPO collapses in design mode: entropy, revisits and advantage scale per rollout.

Runs PPO (or MaskablePPO) on a surrogate id with the shipped defaults (or ``--hyperparams``
overrides) and, after every rollout, records: the policy's mean entropy over the
rollout's observations (nats; ``log(n_choices)`` is uniform), the share of the rollout's
episodes whose genome was already evaluated (a revisit, free but uninformative), the
unique genomes found so far, the best score so far, and the spread of returns and of the
advantages PPO trains on (before its per-batch normalisation). One JSON line per rollout
goes to ``--out``; a summary is printed.

    python benchmarks/ppo_diagnosis.py --seed 100
    python benchmarks/ppo_diagnosis.py --seed 100 --hyperparams ent_coef:0.05 --out /tmp/d.jsonl
    python benchmarks/ppo_diagnosis.py --seed 100 --hyperparams entropy_floor:0.5
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

import nas_env  # noqa: E402, F401  (registers the ids)
from agents.algos import ALGOS  # noqa: E402
from agents.entropy import EntropyFloor  # noqa: E402
from agents.hyperparams import load_hyperparams, model_kwargs, parse_overrides  # noqa: E402


class Diagnosis(BaseCallback):
    """Collects the per-rollout figures (see the module docstring)."""

    def __init__(self, out: Path | None) -> None:
        super().__init__()
        self.out = out
        self.rows: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.best = -np.inf
        self._episodes = 0
        self._revisits = 0
        self._returns: list[float] = []
        self._ret = 0.0

    def _on_step(self) -> bool:
        info = self.locals["infos"][0]
        self._ret += float(self.locals["rewards"][0])
        if self.locals["dones"][0]:
            key = info.get("genome_key")
            self._episodes += 1
            if key in self.seen:
                self._revisits += 1
            elif key is not None:
                self.seen.add(key)
            self.best = max(self.best, float(info.get("score", -np.inf)))
            self._returns.append(self._ret)
            self._ret = 0.0
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer
        obs = torch.as_tensor(buffer.observations.reshape(-1, *buffer.obs_shape))
        with torch.no_grad():
            dist = self.model.policy.get_distribution(obs.to(self.model.device))
            entropy = float(dist.entropy().mean())
        row = {
            "timesteps": int(self.num_timesteps),
            "entropy": entropy,
            "episodes": self._episodes,
            "revisit_share": self._revisits / max(1, self._episodes),
            "unique": len(self.seen),
            "best_score": float(self.best),
            "return_std": float(np.std(self._returns)) if self._returns else 0.0,
            "advantage_std": float(buffer.advantages.std()),
            "advantage_abs_mean": float(np.abs(buffer.advantages).mean()),
        }
        self.rows.append(row)
        if self.out is not None:
            with self.out.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        self._episodes = self._revisits = 0
        self._returns = []


def main(argv: list[str] | None = None) -> int:
    """Run one diagnosed training and print the per-rollout table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", default="ppo", choices=("ppo", "maskable_ppo"))
    parser.add_argument("--env", default="nas_env/SurrogateLMDesign-v0")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("-n", type=int, default=6000, help="env steps (6000)")
    parser.add_argument("--hyperparams", nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    params = load_hyperparams(args.algo, args.env, parse_overrides(args.hyperparams))
    env = gym.make(args.env)
    cls = ALGOS[args.algo]
    model = cls(params.get("policy", "MlpPolicy"), env, seed=args.seed, **model_kwargs(params))
    diagnosis = Diagnosis(args.out)
    callbacks: list[Any] = [diagnosis]
    if params.get("entropy_floor"):
        callbacks.insert(0, EntropyFloor(float(params["entropy_floor"])))
    model.learn(args.n, callback=callbacks)
    print("timesteps entropy revisits unique best  ret_std adv_std")
    for row in diagnosis.rows:
        print(
            f"{row['timesteps']:>9} {row['entropy']:.3f} {row['revisit_share']:>8.2f} "
            f"{row['unique']:>6} {row['best_score']:.4f} {row['return_std']:.4f} "
            f"{row['advantage_std']:.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
