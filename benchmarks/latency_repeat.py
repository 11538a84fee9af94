"""Do two latency measurements of one genome agree? Protocols side by side.

For ``--genomes`` genomes drawn uniformly from a space (seed ``--seed``), each protocol
measures every genome twice, in two passes over the genomes (so that the two measurements
of a genome are minutes apart, as two evaluations of it are in a search), on a model built
afresh each time, as the evaluator builds it (batch 1, the task's context, one pinned
thread). Protocols alternate within a pass, so that the machine's load falls on all of
them alike. For each protocol: the median and maximum relative difference
``|a - b| / mean(a, b)`` over genomes, and the wall time per measurement.

Protocols: ``median15`` (today's: 3 untimed passes, the median of 15 timed ones), and
``steady-*``: untimed passes until at least 10 passes and 0.2 s have run (the allocator,
caches and the CPU's clock settle), then 30 timed passes summarised by their minimum,
lower quartile or median.

    python benchmarks/latency_repeat.py --space mid --genomes 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from models import build_model  # noqa: E402
from nas_env.samples import uniform_sample  # noqa: E402
from nas_env.space import load_space  # noqa: E402

PROTOCOLS = ("median15", "steady-min", "steady-q25", "steady-median")


@torch.inference_mode()
def measure(model: Any, x: torch.Tensor, protocol: str) -> float:
    """One latency figure (ms) of ``model`` on ``x`` under ``protocol``."""
    model.eval()
    if protocol == "median15":
        warm_passes, warm_seconds, repeats = 3, 0.0, 15
    else:
        warm_passes, warm_seconds, repeats = 10, 0.2, 30
    start, done = time.perf_counter(), 0
    while done < warm_passes or time.perf_counter() - start < warm_seconds:
        model(x)
        done += 1
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - t) * 1000.0)
    if protocol.endswith("min"):
        return min(times)
    if protocol.endswith("q25"):
        return statistics.quantiles(times, n=4)[0]
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the agreement table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="mid")
    parser.add_argument("--genomes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    space = load_space(args.space)
    spec = space.task
    genomes = uniform_sample(space, args.genomes, args.seed)
    protocols = args.protocols.split(",")
    x = torch.randint(
        0, spec.vocab_size, (1, spec.seq_len), generator=torch.Generator().manual_seed(0)
    )
    figures: dict[str, list[list[float]]] = {p: [[], []] for p in protocols}
    seconds: dict[str, float] = dict.fromkeys(protocols, 0.0)
    for pass_ in range(2):
        for index, genome in enumerate(genomes):
            order = protocols if (index + pass_) % 2 == 0 else protocols[::-1]
            for protocol in order:
                torch.manual_seed(index)
                model = build_model(dict(genome), spec)
                t = time.perf_counter()
                figures[protocol][pass_].append(measure(model, x, protocol))
                seconds[protocol] += time.perf_counter() - t
        print(f"pass {pass_ + 1} done", flush=True)
    print(
        "\n| protocol | median rel. diff | max | first slower | ms (median) | s per measurement |"
    )
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
