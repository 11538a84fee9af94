"""The surrogate-benchmark commands of ``python -m nas_env.table``: ``surrogate`` (from a
ladder of short-training tables), ``long-surrogate`` (from rows of long training, every
genome of a base benchmark predicted into a table) and ``model-surrogate`` (from rows of
long training, the models themselves for a space too large to list), and ``info`` of a
``.npz``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_surrogate_commands(sub: Any) -> None:
    """Add the three build commands to the ``python -m nas_env.table`` subparsers."""
    surrogate = sub.add_parser(
        "surrogate",
        help="fit a surrogate on multi-rung tables and write a benchmark of every genome",
        description="Fit one gradient-boosted model per rung (and for latency) on the "
        "tables of a ladder build, report its held-out rank correlation with the real "
        "results, and write the predictions for every valid genome of the space.",
    )
    surrogate.add_argument("--data", required=True, help="the top rung's table (build --rungs)")
    surrogate.add_argument("--out", required=True, help="the benchmark file (.npz)")
    surrogate.add_argument(
        "--noise", default=None, help="the top rung's table of the same genomes, another seed"
    )
    surrogate.add_argument("--seed", type=int, default=0, help="split and CV seed (0)")
    longs = sub.add_parser(
        "long-surrogate",
        help="fit a surrogate on rows of long training (benchmarks/long_truth.py)",
        description="Fit one model per mark of the rows' runs (gradient-boosted trees or "
        "a Gaussian process, chosen by cross-validation) on the samples not held out, "
        "measure it on the held-out ones (valid*), and write the predictions for every "
        "genome of --base (whose latency and sizes it keeps).",
    )
    longs.add_argument("--rows", action="append", required=True, help="rows file (repeatable)")
    longs.add_argument("--base", required=True, help="a surrogate benchmark of the space (.npz)")
    longs.add_argument("--out", required=True, help="the benchmark file (.npz)")
    longs.add_argument("--level", default="long", help="the rows' fidelity level (long)")
    longs.add_argument("--seed", type=int, default=0, help="CV seed (0)")
    longs.add_argument(
        "--latency-profile",
        default=None,
        help="a latency profile of the space whose predictions become the latency column",
    )
    longs.add_argument(
        "--latency-level",
        choices=("profile", "base"),
        default="profile",
        help="the profiled column as predicted (profile) or scaled by one factor to --base's "
        "median latency, the level the space's targets were set at (base)",
    )
    longs.add_argument(
        "--stack",
        action="store_true",
        help="also fit on the base benchmark's predicted losses (its short-training rungs)",
    )
    model = sub.add_parser(
        "model-surrogate",
        help="fit per-genome models on rows of long training (a space too large to list)",
        description="Fit one Gaussian process per mark of the rows' runs, and one each for "
        "the deployed model's log size and log latency, on the samples not held out; "
        "measure them on the held-out ones (valid*) and write the models themselves.",
    )
    model.add_argument("--rows", action="append", required=True, help="rows file (repeatable)")
    model.add_argument("--space", required=True, help="the rows' space")
    model.add_argument("--out", required=True, help="the benchmark file (.npz)")
    model.add_argument("--level", default="long", help="the rows' fidelity level (long)")
    model.add_argument("--task", default="lm/stdlib", help="the rows' task (lm/stdlib)")
    model.add_argument("--seed", type=int, default=0, help="CV seed (0)")
    model.add_argument(
        "--measures",
        action="append",
        default=[],
        help="rows of untrained deployments to fit size and latency on (repeatable; "
        "benchmarks/deployed_measures.py)",
    )


def run_surrogate(args: argparse.Namespace) -> int:
    """The ``surrogate`` command."""
    from nas_env.table.surrogate import build_surrogate

    meta = build_surrogate(args.data, args.out, noise=args.noise, seed=args.seed)
    print(render_surrogate(args.out, meta))
    return 0


def run_long_surrogate(args: argparse.Namespace) -> int:
    """The ``long-surrogate`` command."""
    from nas_env.table.long_surrogate import build_long_surrogate

    meta = build_long_surrogate(
        args.rows, args.base, args.out, level=args.level, seed=args.seed, stack=args.stack,
        latency_profile=args.latency_profile, latency_level=args.latency_level,
    )  # fmt: skip
    print(render_surrogate(args.out, meta))
    return 0


def run_model_surrogate(args: argparse.Namespace) -> int:
    """The ``model-surrogate`` command."""
    from nas_env.table.model_surrogate import build_model_surrogate, describe

    meta = build_model_surrogate(
        args.rows, args.space, args.out, level=args.level, task_id=args.task, seed=args.seed,
        measures=args.measures,
    )  # fmt: skip
    print(describe(args.out, meta))
    return 0


def run_surrogate_info(args: argparse.Namespace) -> int:
    """``info`` of a ``.npz`` surrogate benchmark, either kind, by its meta."""
    from nas_env.table.model_evaluator import is_model_benchmark, load_model_benchmark
    from nas_env.table.model_surrogate import describe
    from nas_env.table.surrogate_evaluator import load_benchmark

    if is_model_benchmark(args.path):
        meta = load_model_benchmark(args.path)[0]
        print(json.dumps(meta, indent=2) if args.json else describe(args.path, meta))
        return 0
    meta = load_benchmark(args.path)["meta"]
    print(json.dumps(meta, indent=2) if args.json else render_surrogate(args.path, meta))
    return 0


def render_surrogate(path: str, meta: dict[str, Any]) -> str:
    """Human-readable summary of a surrogate benchmark's meta."""
    lines = [
        f"surrogate    {path}: {meta['genomes']:,} genomes of space {meta['space']['name']}, "
        f"rungs {meta['rung_steps']} steps ({meta['fidelities'][-1]['name']})",
        f"model        {meta['model']['estimator']} ({meta['model']['library']}), fitted on "
        f"{meta['training_rows']} real evaluations "
        f"({meta['real_training_seconds'] / 60:.0f} min of training)",
    ]
    for name, row in meta["report"].items():
        held = row["held_out"]
        lines.append(
            f"held-out     {name}: Kendall tau {held['kendall_tau']:.3f}, Spearman "
            f"{held['spearman']:.3f} on {row['held_out_genomes']} genomes (CV tau "
            f"{row['cv_kendall_tau']:.3f})"
            + (f", top-pick regret {held['regret']:.1%}" if "regret" in held else "")
        )
    for row in meta.get("noise_floor", []):
        lines.append(
            f"noise floor  {row['rung_steps']} steps: seed 0 vs seed 1 Kendall tau "
            f"{row['kendall_tau']:.3f} on {row['genomes']} genomes"
        )
    return "\n".join(lines)
