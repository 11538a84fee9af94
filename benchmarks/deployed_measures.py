"""Deployed size and latency of uniform genomes of a space with deployment genes, untrained.

A `modern` candidate is scored on what it deploys: its pruned model exported to ONNX
Runtime at its precision (`nas_env.evaluation.deployment`). The file's bytes and the
session's latency do not depend on what the weights learned: pruning keeps a fixed share
of each layer's channels and heads whatever their magnitudes, quantization stores a fixed
number of bits per weight, and a forward pass does the same arithmetic. So both can be
measured on untrained models, a second or two per genome instead of the minutes of a
long training, for hundreds of genomes: the rows the `modern` surrogate's size and latency
models are fitted on (``python -m nas_env.table model-surrogate --measures ROWS``), while
its losses are fitted on long training. Each genome is drawn uniformly (seed
``--sample-seed``), initialised from seed 0, pruned (no recovery fine-tune: it changes no
shape), deployed, and timed by the evaluator's protocol (batch 1 at the task's context,
one thread, median of 15 after 3 untimed passes). The initial weights are perturbed by
a little noise first: an untrained model's norm weights (ones) and biases (zeros) are
equal across layers, and the exporter stores equal tensors once, which a trained model's
file does not. Rows are appended as they come (a run resumes).

    python benchmarks/deployed_measures.py --space modern --genomes 300 \\
        --rows benchmarks/data/modern_deployed.jsonl
    python benchmarks/deployed_measures.py --quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def measure(genes: dict[str, Any], space: Any, threads: int = 1) -> dict[str, float]:
    """``size_mb`` (the deployed file's MiB) and ``latency_ms`` of one untrained genome."""
    import torch

    from models import build_model, model_config
    from models.pruning import prune_model
    from nas_env.compression import OrtModel, compress_to_onnx
    from nas_env.evaluation.measure import measure_latency
    from nas_env.training_genes import model_genes

    config = model_config(model_genes(genes, space.family), space.task)
    torch.manual_seed(0)
    model = build_model(config)
    with torch.no_grad():  # as after training: no two tensors equal (the exporter would
        for param in model.parameters():  # store a norm's ones or a bias's zeros once)
            param.add_(torch.randn_like(param) * 0.01)
    if getattr(config, "prune", 0.0) > 0:
        model = prune_model(model, config.prune)
    folder = tempfile.mkdtemp(prefix="nas-deployed-")
    try:
        runner = OrtModel(compress_to_onnx(model.eval(), config.task, config.precision, folder))
        latency = measure_latency(runner, space.task, torch.device("cpu"), threads=threads)
        return {"size_mb": runner.size_bytes / 2**20, "latency_ms": latency.median_ms}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Measure the genomes ``--rows`` lacks; print a one-line summary."""
    from nas_env.samples import uniform_sample
    from nas_env.space import load_space

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="modern", help="a space with deployment genes")
    parser.add_argument("--genomes", type=int, default=300, help="uniform sample size (300)")
    parser.add_argument("--sample-seed", type=int, default=0, help="the sample's seed (0)")
    parser.add_argument("--rows", type=Path, default=None, help="rows file (resumable)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 genomes")
    args = parser.parse_args(argv)
    if args.quick:
        args.genomes = 3
    space = load_space(args.space)
    if "precision" not in space.gene_names:
        raise SystemExit(f"--space {args.space}: no precision gene; nothing is deployed")
    rows_path = args.rows or Path(tempfile.gettempdir()) / f"nas-deployed-{args.space}.jsonl"
    if args.quick:
        rows_path.unlink(missing_ok=True)
    done = set()
    if rows_path.is_file():
        for line in rows_path.read_text(encoding="utf-8").splitlines():
            done.add(json.loads(line)["key"])
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    genomes = uniform_sample(space, args.genomes, args.sample_seed)
    start = time.perf_counter()
    measured = 0
    for i, genome in enumerate(genomes):
        if genome.key() in done:
            continue
        genes = genome.to_dict()["genes"]
        row = {"key": genome.key(), "index": i, "space": space.name,
               "sample_seed": args.sample_seed, "genes": genes,
               **measure(genes, space, args.threads)}  # fmt: skip
        with rows_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row, sort_keys=True) + "\n")
        measured += 1
        print(f"[{i + 1}/{len(genomes)}] {genome.key()} {row['size_mb']:.3f} MiB "
              f"{row['latency_ms']:.3f} ms", flush=True)  # fmt: skip
    seconds = time.perf_counter() - start
    summary = {"space": space.name, "genomes": len(genomes), "measured_now": measured,
               "seconds": round(seconds, 1), "rows": str(rows_path)}  # fmt: skip
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
