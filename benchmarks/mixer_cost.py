"""Cost per candidate of each token mixer against softmax attention, at about equal size.

For each width of the ``modern`` space (its architecture genes: the candidates train and
run in PyTorch, not deployed), the space's default genome is built with every
layer one mixer (softmax attention with multi-head and with multi-query key/values,
linear attention, retention, the selective SSM) and evaluated for real (result cache
off): training at the fidelity on one thread, held-out loss, latency. Since the mixers differ in
parameters at one width (attention and linear attention ``4 d^2``, retention ``5 d^2``,
the SSM about ``6.5 d^2`` per layer), the FFN ratio of each is chosen so that its total
parameter count is closest to attention's: "equal size". The rounds are interleaved
(every mixer once, then again), so a machine's drift falls on all of them alike; the
table gives medians and the ratio to multi-head attention.

    python benchmarks/mixer_cost.py                    # fast fidelity, widths 64 and 128
    python benchmarks/mixer_cost.py --quick            # CI smoke run: tiny fidelity
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import count_params  # noqa: E402
from nas_env.evaluation import Evaluator, TrainSettings  # noqa: E402
from nas_env.genome import Genome  # noqa: E402
from nas_env.space import SearchSpace  # noqa: E402

VARIANTS: dict[str, dict[str, Any]] = {
    "attention (MHA)": {"mixer": "attention", "heads": 2, "kv_heads": 2},
    "attention (MQA)": {"mixer": "attention", "heads": 2, "kv_heads": 1},
    "linear": {"mixer": "linear"},
    "retention": {"mixer": "retention"},
    "mamba": {"mixer": "mamba"},
}
"""Label -> the genes each variant sets on every layer."""


def genome_at(space: SearchSpace, d_model: int, genes: dict[str, Any], target: int) -> Genome:
    """The default genome at ``d_model`` with ``genes``, its FFN ratio the one whose size
    is closest to ``target`` parameters."""
    default = dict(space.default_genome())
    layers = default["layers"]
    candidates = []
    for ratio in space.gene("ffn_ratio").choices:
        over = {k: (v,) * layers if space.gene(k).per_layer else v for k, v in genes.items()}
        g = Genome(space.name, {**default, "d_model": d_model, "ffn_ratio": ratio, **over})
        if space.is_valid(g):
            candidates.append((abs(count_params(dict(g), space.task) - target), ratio, g))
    return min(candidates, key=lambda c: (c[0], c[1]))[2]


def architecture_space() -> SearchSpace:
    """`modern` without its deployment genes: the mixers are compared as they train and
    run in PyTorch (a deployment to ONNX Runtime would add the same export to each)."""
    data = SearchSpace.load("modern").to_dict()
    data["genes"] = {k: v for k, v in data["genes"].items() if k not in ("precision", "prune")}
    return SearchSpace.from_dict(data, source="modern (architecture genes)")


def measure(fidelity: str, widths: list[int], repeats: int) -> list[dict[str, Any]]:
    """Interleaved uncached evaluations of every variant at every width."""
    settings = TrainSettings(threads=1, latency_threads=1)  # one core: stable beside others
    evaluator = Evaluator(architecture_space(), fidelity=fidelity, settings=settings, cache=False)
    space = evaluator.space
    evaluator.evaluate(space.default_genome().replace(d_model=32))  # tokenizer, tokens
    plan = []
    for d_model in widths:
        base = genome_at(space, d_model, VARIANTS["attention (MHA)"], 0)
        target = count_params(dict(base.replace(ffn_ratio=2)), space.task)
        for label, genes in VARIANTS.items():
            plan.append((d_model, label, genome_at(space, d_model, genes, target)))
    walls: dict[tuple[int, str], list[float]] = {(d, lab): [] for d, lab, _ in plan}
    results: dict[tuple[int, str], list[Any]] = {(d, lab): [] for d, lab, _ in plan}
    for _ in range(repeats):
        for d_model, label, genome in plan:
            start = time.perf_counter()
            result = evaluator.evaluate_uncached(genome)  # every repeat trains
            walls[d_model, label].append(time.perf_counter() - start)
            if result.status != "ok":
                raise SystemExit(f"{label} at d_model={d_model}: {result.message}")
            results[d_model, label].append(result)
    rows = []
    for d_model, label, genome in plan:
        rs = results[d_model, label]
        rows.append(
            {
                "d_model": d_model,
                "mixer": label,
                "ffn_ratio": dict(genome)["ffn_ratio"],
                "params": rs[0].params,
                "flops_per_token": rs[0].flops_per_token,
                "seconds": statistics.median(walls[d_model, label]),
                "train_seconds": statistics.median(r.train_seconds for r in rs),
                "latency_ms": statistics.median(r.latency_ms for r in rs),
                "val_loss": statistics.median(r.val_loss for r in rs),
            }
        )
    for row in rows:
        ref = next(r for r in rows if r["d_model"] == row["d_model"] and "MHA" in r["mixer"])
        row["seconds_ratio"] = row["seconds"] / ref["seconds"]
        row["latency_ratio"] = row["latency_ms"] / ref["latency_ms"]
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table BENCHMARKS.md quotes."""
    lines = [
        "| d_model | mixer | FFN ratio | params | MFLOP/token | s per candidate | x MHA "
        "| latency ms | x MHA | val loss |",
        "| --: | --- | --: | --: | --: | --: | --: | --: | --: | --: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['d_model']} | {r['mixer']} | {r['ffn_ratio']} | {r['params']:,} | "
            f"{r['flops_per_token'] / 1e6:.2f} | {r['seconds']:.1f} | {r['seconds_ratio']:.2f} | "
            f"{r['latency_ms']:.3f} | {r['latency_ratio']:.2f} | {r['val_loss']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fidelity", default="fast")
    parser.add_argument("--widths", default="64,128", help="comma-separated d_model values")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="CI smoke run: tiny fidelity")
    args = parser.parse_args(argv)
    if args.quick:
        args.fidelity, args.widths, args.repeats = "tiny", "64", 1
    rows = measure(args.fidelity, [int(w) for w in args.widths.split(",")], args.repeats)
    print(f"fidelity {args.fidelity}, space modern (2 layers), medians of {args.repeats}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
