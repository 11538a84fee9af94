"""A signal that needs no training run, against long training on another space's genomes.

`long-ridge` (the `search` level's signal) rests on the genome's shape alone: its
estimate of the held-out loss after `long` training is a fixed function of the genes and
the analytic counts, so it can be judged on any genomes trained at `long` without
training them again. This ranks it against the rows of a `benchmarks/long_truth.py` build
(by default the `mid` genomes under the surrogate benchmark, which the signal, fitted on
`tiny`, never saw): Kendall tau and Spearman on the uniform samples and tau on the
decision samples (genomes of 0.6-1.0 x the size target), and the decision samples' top-pick
regret (the perplexity at `long` of the signal's favourite over the best, minus 1).

    python benchmarks/shape_signal_rank.py            # mid_long.jsonl, long-ridge
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from scipy.stats import kendalltau, spearmanr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import count_params, flops_per_token, model_config  # noqa: E402
from nas_env import SearchSpace  # noqa: E402
from nas_env.errors import ConfigError  # noqa: E402
from nas_env.evaluation.signals import MEASURED, features, load_signal  # noqa: E402

DATA = ROOT / "benchmarks" / "data"


def estimates(rows_path: Path, space_name: str, signal_name: str, steps: int) -> list[dict]:
    """Per genome trained to ``steps`` (seed 0): its sample, long loss and the estimate."""
    space = SearchSpace.load(space_name)
    signal = load_signal(signal_name)
    measured = [f for f in signal.weights if f in MEASURED]
    if measured:
        raise ConfigError(
            f"signal {signal.tag}: uses {', '.join(measured)}, which a run measures; allowed "
            "here: a signal over the genome's shape only"
        )
    out = []
    for line in rows_path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r.get("seed", 0) != 0 or r["steps"] != steps or r["status"] != "ok":
            continue
        genome = space.genome(r["genes"])
        config = model_config({**genome, "family": space.family}, space.task)
        counts = {"params": count_params(config), "flops_per_token": flops_per_token(config)}
        estimate = signal.predict(features(dict(genome), counts))
        out.append({"sample": r["sample"], "long": float(r["val_loss"]), "estimate": estimate})
    return out


def report(rows: list[dict], uniform: set[str], decision: set[str]) -> dict[str, float]:
    """Tau and Spearman (uniform), tau and top-pick regret (decision)."""
    u = [r for r in rows if r["sample"] in uniform]
    d = [r for r in rows if r["sample"] in decision]
    best = min(r["long"] for r in d)
    pick = min(d, key=lambda r: r["estimate"])["long"]
    return {
        "genomes": len(u),
        "tau": kendalltau([r["estimate"] for r in u], [r["long"] for r in u])[0],
        "spearman": spearmanr([r["estimate"] for r in u], [r["long"] for r in u])[0],
        "decision_genomes": len(d),
        "tau_decision": kendalltau([r["estimate"] for r in d], [r["long"] for r in d])[0],
        "regret_decision": math.exp(pick) / math.exp(best) - 1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=DATA / "mid_long.jsonl")
    parser.add_argument("--space", default="mid")
    parser.add_argument("--signal", default="long-ridge")
    parser.add_argument("--steps", type=int, default=8000, help="the long run's step (8000)")
    parser.add_argument("--uniform", default="train,valid", help="uniform samples (train,valid)")
    parser.add_argument(
        "--decision", default="train_decision,valid_decision", help="decision samples"
    )
    args = parser.parse_args(argv)
    rows = estimates(args.rows, args.space, args.signal, args.steps)
    stats = report(rows, set(args.uniform.split(",")), set(args.decision.split(",")))
    print(json.dumps({k: round(v, 3) for k, v in stats.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
