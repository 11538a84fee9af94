"""Evaluate one genome from the command line.

Example::

    python -m nas_env.evaluation --space tiny --genome default --task lm/stdlib --fidelity fast
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nas_env.errors import NASEnvError
from nas_env.evaluation.backends import BACKENDS
from nas_env.evaluation.evaluator import Evaluator, TrainSettings
from nas_env.evaluation.precision import PRECISIONS
from nas_env.evaluation.result import EvalResult
from nas_env.genome import Genome
from nas_env.space import SearchSpace


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        prog="python -m nas_env.evaluation",
        description="Train one genome for a fidelity's budget and print its measured metrics.",
    )
    parser.add_argument("--space", default="tiny", help="preset name or YAML path (default tiny)")
    parser.add_argument(
        "--genome",
        default="default",
        help="'default', 'random', a genome JSON object, or a path to a .json file",
    )
    parser.add_argument("--task", default="lm/stdlib", help="task id (default lm/stdlib)")
    parser.add_argument("--fidelity", default="fast", help="fidelity level (default fast)")
    parser.add_argument("--backend", default="torch", choices=BACKENDS)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None, help="cache folder (default $NAS_ENV_CACHE)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write results")
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    return parser.parse_args(argv)


def pick_genome(space: SearchSpace, text: str, seed: int) -> Genome:
    """Resolve the ``--genome`` flag."""
    if text == "default":
        return space.default_genome()
    if text == "random":
        return space.random_genome(seed)
    if Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    data = json.loads(text)
    return Genome.from_dict(space, data if "genes" in data else {"genes": data})


def _with_se(result: EvalResult) -> str | None:
    if result.val_loss is None:
        return None
    se = f" +- {result.val_loss_se:.4f}" if result.val_loss_se is not None else ""
    return f"{result.val_loss:.4f}{se} ({result.scored_tokens:,} scored)"


def _latency(result: EvalResult) -> str | None:
    if result.latency_ms is None:
        return None
    threads = f", {result.latency_threads} thread(s)" if result.latency_threads else ""
    return (
        f"{result.latency_ms:.4g} median (IQR {result.latency_spread_ms or 0:.3g}, "
        f"{result.latency_repeats} runs{threads})"
    )


def render(result: EvalResult, genome: Genome, seconds: float) -> str:
    """Human-readable summary of a result."""
    lines = [f"genome {genome.key()}: {json.dumps(genome.to_dict()['genes'])}"]
    lines.append(f"status        {result.status} {result.message}".rstrip())
    rows = [
        ("task", f"{result.task} (fingerprint {result.task_fingerprint})"),
        ("fidelity", f"{result.fidelity} ({result.steps} steps)"),
        ("backend", f"{result.backend} on {result.device}, {result.precision}"),
        ("val loss", _with_se(result)),
        ("perplexity", result.perplexity),
        ("accuracy", result.accuracy),
        ("macro-F1", result.macro_f1),
        ("parameters", result.params),
        ("size MiB", result.size_mb),
        ("latency ms", _latency(result)),
        ("FLOPs/token", result.flops_per_token),
        ("train s", result.train_seconds),
        ("tokens/s", result.tokens_per_second),
        ("peak MiB", result.peak_memory_mb),
        ("cache hit", result.cache_hit),
    ]
    for name, value in rows:
        if value is None:
            continue
        text = f"{value:,.4g}" if isinstance(value, float) else str(value)
        lines.append(f"{name:<14}{text}")
    lines.append(f"wall time     {seconds:.2f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(argv)
    try:
        space = SearchSpace.load(args.space)
        genome = pick_genome(space, args.genome, args.seed)
        settings = TrainSettings(
            backend=args.backend, device=args.device, precision=args.precision, seed=args.seed
        )
        start = time.perf_counter()
        evaluator = Evaluator(
            space,
            task=args.task,
            fidelity=args.fidelity,
            settings=settings,
            cache=False if args.no_cache else None,
            cache_root=args.cache_dir,
        )
        result = evaluator.evaluate(genome)
    except (NASEnvError, ValueError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render(result, genome, time.perf_counter() - start))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
