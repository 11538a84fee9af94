"""Reward ordering on the shipped table: does the score order genomes by quality?

Scores all genomes of the ``bench`` table (``nas_env/BenchLM-v2``) with the default
``target`` reward and with ``weighted``, and prints Spearman(score, quality) over all
genomes and among those within the space's targets, Spearman(score, smallness), where the
best-quality genome ranks by score, and the best genome of each reward.

    python benchmarks/reward_ordering.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gymnasium as gym  # noqa: E402

import nas_env  # noqa: E402, F401
from nas_env.ranking import spearman  # noqa: E402
from nas_env.rewards import make_reward  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Print the figures BENCHMARKS.md quotes (and write them with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="the same (it takes a second)")
    args = parser.parse_args(argv)
    out: dict[str, dict[str, float | int]] = {}
    env = gym.make("nas_env/BenchLM-v2")
    base = env.unwrapped
    rows = [base.evaluator.evaluate(g) for g in base.space.enumerate()]
    by_quality = sorted(rows, key=lambda x: x.val_loss)
    quality = [-x.val_loss for x in rows]
    small = [-x.size_mb for x in rows]
    rewards = {
        "target": base.reward_fn,
        "weighted": make_reward({"name": "weighted", "vocab_size": 512}),
    }
    for name, reward in rewards.items():
        scores = [reward.score(x) for x in rows]
        order = sorted(range(len(rows)), key=lambda i: -scores[i])
        rank = order.index(rows.index(by_quality[0])) + 1
        best = rows[order[0]]
        print(f"{name}: {reward.to_dict()}")
        print(
            f"  Spearman(score, quality) {spearman(scores, quality):.3f}, "
            f"Spearman(score, smallness) {spearman(scores, small):.3f}; the best-quality "
            f"genome ranks {rank} of {len(rows)}"
        )
        best_rank = by_quality.index(best) + 1
        print(
            f"  best: {best.genome_key} perplexity {best.perplexity:.1f} ({best_rank} by "
            f"quality), {best.size_mb:.3f} MiB, {best.latency_ms:.3f} ms"
        )
        out[name] = {
            "spearman_quality": spearman(scores, quality),
            "spearman_smallness": spearman(scores, small),
            "best_quality_rank": rank,
            "best_perplexity": float(best.perplexity or 0.0),
        }
        within = getattr(reward, "within", None)
        if within is not None:
            inside = [i for i, x in enumerate(rows) if within(x)]
            rho = spearman([scores[i] for i in inside], [quality[i] for i in inside])
            best_inside = min(rows[i].perplexity for i in inside)
            print(
                f"  within the targets: {len(inside)} genomes, Spearman(score, quality) "
                f"{rho:.3f}, best perplexity {best_inside:.1f}"
            )
            out[name].update(within=len(inside), spearman_within=rho)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
