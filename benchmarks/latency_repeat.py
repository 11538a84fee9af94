"""Do two latency measurements of one genome agree? Protocols side by side.

For ``--genomes`` genomes drawn uniformly from a space (seed ``--seed``), each protocol
evaluates every genome twice through the evaluator (``cache=False``: each evaluation
builds the model, trains it at ``--fidelity`` and then times it, as in a search), in two
passes over the genomes, so that the two measurements of a genome are minutes apart.
Protocols alternate within a pass, so that the machine's load falls on all of them
alike. For each protocol: the median and maximum relative difference ``|a - b| / mean(a,
b)`` over genomes, how often the first was the slower, and the seconds per measurement
(timing only, from the protocol's passes).

Protocols (`PROTOCOLS`): ``median15`` (today's default: 3 untimed passes, the median of 15
timed ones), and ``steady-*``: untimed passes until at least 10 have run and 0.2 s have
passed (the allocator, caches and the CPU's clock settle after training), then 30 timed
passes summarised by their minimum, lower quartile or median.

    python benchmarks/latency_repeat.py --space mid --genomes 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from nas_env.evaluation import Evaluator, TrainSettings  # noqa: E402
from nas_env.samples import uniform_sample  # noqa: E402
from nas_env.space import load_space  # noqa: E402

PROTOCOLS: dict[str, dict[str, Any]] = {
    "median15": {},
    "steady-min": {"latency_warmup": 10, "latency_warmup_seconds": 0.2, "latency_repeats": 30,
                   "latency_statistic": "min"},
    "steady-q25": {"latency_warmup": 10, "latency_warmup_seconds": 0.2, "latency_repeats": 30,
                   "latency_statistic": "q25"},
    "steady-median": {"latency_warmup": 10, "latency_warmup_seconds": 0.2,
                      "latency_repeats": 30},
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Measure and print the agreement table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="mid")
    parser.add_argument("--task", default="lm/stdlib")
    parser.add_argument("--fidelity", default="tiny", help="training before each timing")
    parser.add_argument("--genomes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    genomes = uniform_sample(load_space(args.space), args.genomes, args.seed)
    protocols = args.protocols.split(",")
    evaluators = {
        p: Evaluator(
            args.space, args.task, args.fidelity,
            TrainSettings(device="cpu", **PROTOCOLS[p]), cache=False,
        )
        for p in protocols
    }  # fmt: skip
    figures: dict[str, list[list[float]]] = {p: [[], []] for p in protocols}
    seconds: dict[str, float] = dict.fromkeys(protocols, 0.0)
    for pass_ in range(2):
        for index, genome in enumerate(genomes):
            order = protocols if (index + pass_) % 2 == 0 else protocols[::-1]
            for protocol in order:
                result = evaluators[protocol].evaluate_uncached(genome)
                if result.status != "ok":
                    raise RuntimeError(f"genome {index}: {result.status} {result.message}")
                figures[protocol][pass_].append(float(result.latency_ms))
                settings = evaluators[protocol].settings
                seconds[protocol] += (
                    max(
                        settings.latency_warmup_seconds,
                        result.latency_ms * settings.latency_warmup / 1000,
                    )
                    + result.latency_ms * settings.latency_repeats / 1000
                )
        print(f"pass {pass_ + 1} done", flush=True)
    print("\n| protocol | median rel. diff | max | first slower | ms (median) | s each |")
    print("| --- | --: | --: | --: | --: | --: |")
    for protocol in protocols:
        a, b = figures[protocol]
        diffs = [abs(p - q) / ((p + q) / 2) for p, q in zip(a, b, strict=True)]
        slower = sum(p > q for p, q in zip(a, b, strict=True))
        per = seconds[protocol] / (2 * len(genomes))
        print(
            f"| {protocol} | {100 * statistics.median(diffs):.1f} % | {100 * max(diffs):.1f} % | "
            f"{slower}/{len(a)} | {statistics.median(a + b):.3f} | {per:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
