"""Precision after training on three runtimes, side by side: held-out loss, bytes, latency.

A few genomes of the ``modern`` space (named baselines) are trained once at a fidelity;
each trained model is then deployed at every precision of every runtime a CPU user could
pick, and measured on what is deployed:

* PyTorch eager: fp32, bf16 (weights and compute), int8 dynamic quantization of the
  linear layers (``torch.ao.quantization.quantize_dynamic``, fbgemm / oneDNN kernels);
* torchao (when installed): int8 weights with int8 dynamic activations
  (``Int8DynamicActivationInt8Weight``);
* ONNX Runtime, CPU provider: fp32, int8 (``quantize_dynamic``), int4 weight-only
  (``MatMulNBits``), as `nas_env.compression` deploys them.

Held-out loss on the task's held-out selection (the evaluator's own scoring), size as the
bytes of the serialized model (``torch.save`` of the state dict, or the ONNX file), and the
latency protocol of the evaluator (batch 1 at the task's context, 1 thread, median).

    python benchmarks/compression_runtimes.py                 # fast fidelity, 3 genomes
    python benchmarks/compression_runtimes.py --quick         # CI smoke run
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_env.baselines import baseline_genome  # noqa: E402
from nas_env.compression import OrtModel, compress_to_onnx  # noqa: E402
from nas_env.evaluation import Evaluator, Fidelity  # noqa: E402
from nas_env.evaluation.measure import measure_latency, score_heldout  # noqa: E402

GENOMES = ("llama-like", "gpt2-like", "hybrid")


def _torch_bytes(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return len(buffer.getvalue())


def _torchao_int8(model: nn.Module) -> nn.Module:
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    quantize_(model, Int8DynamicActivationInt8WeightConfig())
    return model


def variants(model: nn.Module, evaluator: Evaluator, folder: Path) -> dict[str, Callable[[], Any]]:
    """Runtime / precision -> a builder of the deployed model (and its size in bytes)."""
    spec = evaluator.spec

    def ort(precision: str) -> Callable[[], tuple[nn.Module, int]]:
        def build() -> tuple[nn.Module, int]:
            path = compress_to_onnx(model, spec, precision, folder / precision)
            deployed = OrtModel(path)
            return deployed, deployed.size_bytes

        return build

    def eager(transform: Callable[[nn.Module], nn.Module]) -> Callable[[], tuple[nn.Module, int]]:
        def build() -> tuple[nn.Module, int]:
            deployed = transform(copy.deepcopy(model)).eval()
            return deployed, _torch_bytes(deployed)

        return build

    def dynamic_int8(m: nn.Module) -> nn.Module:
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(m, {nn.Linear}, dtype=torch.qint8)

    return {
        "torch fp32": eager(lambda m: m),
        "torch bf16": eager(lambda m: m.to(torch.bfloat16)),
        "torch int8 (ao dynamic)": eager(dynamic_int8),
        "torchao int8": eager(_torchao_int8),
        "onnxruntime fp32": ort("fp32"),
        "onnxruntime int8": ort("int8"),
        "onnxruntime int4": ort("int4"),
    }


def measure(fidelity: str, genomes: tuple[str, ...], repeats: int) -> list[dict[str, Any]]:
    """Train each genome once, deploy and measure every variant."""
    # no wall-clock cap: a slow mixer must finish its training to be compared at all
    evaluator = Evaluator(
        "modern", fidelity=Fidelity.resolve(fidelity, max_seconds=1e9), cache=False
    )
    settings, rows = evaluator.settings, []
    for name in genomes:
        genome = baseline_genome(evaluator.space, name)
        result, model = evaluator.train_model(genome)
        if model is None:
            rows.append({"genome": name, "variant": "training", "error": result.message})
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for label, build in variants(model, evaluator, Path(tmp)).items():
                try:
                    deployed, size = build()
                except Exception as exc:  # a runtime that cannot run this model: say so
                    rows.append({"genome": name, "variant": label, "error": repr(exc)[:200]})
                    continue
                with torch.no_grad():
                    scores = score_heldout(
                        deployed, evaluator.task, evaluator.seq_len, 8,
                        evaluator.fidelity.eval_tokens, torch.device("cpu"), None,
                    )  # fmt: skip
                    latency = measure_latency(
                        deployed, evaluator.spec, torch.device("cpu"),
                        warmup=settings.latency_warmup, repeats=repeats, threads=1,
                        warmup_seconds=settings.latency_warmup_seconds,
                    )  # fmt: skip
                rows.append(
                    {
                        "genome": name,
                        "variant": label,
                        "val_loss": scores.loss,
                        "bytes": size,
                        "latency_ms": latency.median_ms,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table BENCHMARKS.md quotes (ratios to each genome's PyTorch fp32)."""
    lines = [
        "| genome | runtime, precision | val loss | d loss | KiB | x fp32 | latency ms | x fp32 |",
        "| --- | --- | --: | --: | --: | --: | --: | --: |",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['genome']} | {r['variant']} | failed: {r['error']} |||||")
            continue
        ref = next(x for x in rows if x["genome"] == r["genome"] and x["variant"] == "torch fp32")
        lines.append(
            f"| {r['genome']} | {r['variant']} | {r['val_loss']:.4f} | "
            f"{r['val_loss'] - ref['val_loss']:+.4f} | {r['bytes'] / 1024:.0f} | "
            f"{r['bytes'] / ref['bytes']:.2f} | {r['latency_ms']:.3f} | "
            f"{r['latency_ms'] / ref['latency_ms']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fidelity", default="fast")
    parser.add_argument("--genomes", default=",".join(GENOMES), help="baselines of `modern`")
    parser.add_argument("--repeats", type=int, default=50, help="timed latency passes")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="CI smoke run: tiny, 1 genome")
    args = parser.parse_args(argv)
    if args.quick:
        args.fidelity, args.genomes, args.repeats = "tiny", "ultra-small", 5
    warnings.filterwarnings("ignore")
    rows = measure(args.fidelity, tuple(args.genomes.split(",")), args.repeats)
    print(f"fidelity {args.fidelity}, space modern, 1 thread, batch 1 x context")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
