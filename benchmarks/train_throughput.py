"""Training throughput of `train_torch` against a plain hand-written PyTorch loop.

For a few genomes of increasing size from the ``tiny`` space, trained on ``lm/stdlib``
with the same batch size, sequence length, step count, initial weights and token
tensor, this measures tokens per second of

* **ours**: `nas_env.evaluation.loop.train_torch` (the evaluator's hot path), with the
  precision ``resolve_precision("auto", device)`` picks;
* **plain**: the loop a typical user would write (nanoGPT-style ``get_batch`` with
  per-step ``torch.randint`` and ``torch.stack``, default ``torch.optim.AdamW``,
  ``LambdaLR`` warm-up + cosine, ``clip_grad_norm_``, ``loss.item()`` every step),
  under the same autocast precision.

Runs are interleaved (ours, plain, plain, ours, ...) in one process, so machine noise
hits both alike; the table gives the median tokens/s of each side, the ratio of the
medians and the median of the paired ratios (each run of ours over the plain run next
to it, which saw the same machine load). It also gives the
achieved training FLOP/s of ours (3 x forward FLOPs per token x median tokens/s) and
its fraction of this machine's matmul peak, measured in the same run (best of several
n x n matmuls at torch's current thread count, in the training dtype).

    NAS_ENV_CACHE=/tmp/coldcache python benchmarks/train_throughput.py
    python benchmarks/train_throughput.py --quick            # CI smoke run, < 30 s
    python benchmarks/train_throughput.py --steps 100 --repeats 5 --json out.json
    python benchmarks/train_throughput.py --threads 1        # CPU: effect of set_num_threads
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import build_model, count_params, flops_per_token, model_config  # noqa: E402
from nas_env import SearchSpace  # noqa: E402
from nas_env.evaluation.fidelity import Fidelity  # noqa: E402
from nas_env.evaluation.loop import train_torch  # noqa: E402
from nas_env.evaluation.precision import Precision, resolve_device, resolve_precision  # noqa: E402
from nas_env.tasks import make_task  # noqa: E402

# (layers, d_model, heads per layer, ffn ratio per layer): all valid members of `tiny`
# under the lm/stdlib vocabulary (4 x 128 with ratio 2 everywhere exceeds max_params).
SIZES: tuple[tuple[int, int, tuple[int, ...], tuple[int, ...]], ...] = (
    (1, 32, (1,), (2,)),
    (2, 64, (2, 2), (2, 2)),
    (3, 96, (2, 2, 2), (2, 2, 2)),
    (4, 128, (4, 4, 4, 4), (2, 1, 1, 1)),
)


@dataclass
class Row:
    """Measured numbers for one genome."""

    genome: str
    params: int
    flops_per_token: int
    ours_tokens_per_s: float
    plain_tokens_per_s: float
    ratio: float
    paired_ratio: float
    ours_flops_per_s: float
    peak_fraction: float
    ours_runs: list[float]
    plain_runs: list[float]


def sync(device: torch.device) -> None:
    """Wait for queued device work (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 10) -> float:
    """Best FLOP/s of ``repeats`` timed ``n x n`` matmuls (2 n^3 FLOPs each)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    inner = 1 if device.type == "cpu" else 20
    for _ in range(3):
        torch.mm(a, b)
    sync(device)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b)
        sync(device)
        best = min(best, (time.perf_counter() - start) / inner)
    return 2 * n**3 / best


def plain_train(
    model: nn.Module,
    data: torch.Tensor,
    fidelity: Fidelity,
    seq_len: int,
    device: torch.device,
    precision: Precision,
    seed: int,
) -> list[float]:
    """The training loop a typical PyTorch user writes (nanoGPT-style), for comparison.

    Args:
        model: The model, already on ``device``.
        data: 1-D token tensor of the training split (on the CPU).
        fidelity: Steps, batch size, learning-rate schedule and clipping.
        seq_len: Sequence length.
        device: Training device.
        precision: Autocast dtype (the same as ours, so that only the loop differs).
        seed: Seeds the batch offsets.

    Returns:
        The loss of every step.
    """
    torch.manual_seed(seed)
    batch_size = fidelity.batch_size

    def get_batch() -> tuple[torch.Tensor, torch.Tensor]:
        ix = torch.randint(len(data) - seq_len, (batch_size,))
        x = torch.stack([data[i : i + seq_len] for i in ix])
        y = torch.stack([data[i + 1 : i + 1 + seq_len] for i in ix])
        return x.to(device), y.to(device)

    def lr_lambda(step: int) -> float:
        if step < fidelity.warmup_steps:
            return (step + 1) / fidelity.warmup_steps
        progress = (step - fidelity.warmup_steps) / max(1, fidelity.steps - fidelity.warmup_steps)
        ratio = fidelity.min_lr_ratio
        return ratio + 0.5 * (1 - ratio) * (1 + math.cos(math.pi * min(1.0, progress)))

    optimizer = torch.optim.AdamW(model.parameters(), lr=fidelity.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    model.train()
    losses = []
    for _ in range(fidelity.steps):
        x, y = get_batch()
        with torch.autocast(device.type, dtype=precision.dtype, enabled=precision.autocast):
            _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), fidelity.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def time_run(
    which: str,
    config: Any,
    state: dict[str, torch.Tensor],
    task: Any,
    fidelity: Fidelity,
    seq_len: int,
    device: torch.device,
    precision: Precision,
    seed: int,
) -> float:
    """Tokens/s of one training run of ``which`` (``ours`` or ``plain``) from ``state``.

    The clock covers optimizer construction and every step, for both loops alike.
    """
    model = build_model(config).to(device)
    model.load_state_dict(state)
    sync(device)
    start = time.perf_counter()
    if which == "ours":
        train_torch(model, task, fidelity, seq_len, device, precision, seed, math.inf)
    else:
        plain_train(model, task.tokens("train"), fidelity, seq_len, device, precision, seed)
    sync(device)
    seconds = time.perf_counter() - start
    return fidelity.steps * fidelity.batch_size * seq_len / seconds


def describe(layers: int, d_model: int, heads: tuple[int, ...], ffn: tuple[int, ...]) -> str:
    """Short genome label, e.g. ``3x96 h2,2,2 f2,2,2``."""
    return f"{layers}x{d_model} h{','.join(map(str, heads))} f{','.join(map(str, ffn))}"


def run(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    """Measure every size; return the rows and the machine description."""
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    task = make_task("lm/stdlib")
    fidelity = Fidelity.resolve("fast", steps=args.steps)
    seq_len = fidelity.seq_len or 64
    space = SearchSpace.load("tiny").with_task(task.spec(seq_len))
    peak_n = 512 if args.quick else args.peak_n
    peak = matmul_peak(device, precision.dtype, peak_n)
    machine = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": _cores(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "precision": precision.name,
        "precision_reason": precision.reason,
        "peak_flops": peak,
        "peak_matmul": f"{peak_n}x{peak_n} {str(precision.dtype).removeprefix('torch.')}",
        "steps": fidelity.steps,
        "batch_size": fidelity.batch_size,
        "seq_len": seq_len,
        "repeats": args.repeats,
        "load_average_1min_start": _load(),  # other processes skew CPU timings
    }
    sizes = SIZES[:2] if args.quick else SIZES
    rows = []
    for layers, d_model, heads, ffn in sizes:
        genome = space.default_genome().replace(
            layers=layers, d_model=d_model, heads=heads, ffn_ratio=ffn
        )
        reasons = space.check(genome)
        if reasons:
            raise SystemExit(f"invalid benchmark genome {genome}: {'; '.join(reasons)}")
        config = model_config({**genome, "family": space.family}, space.task)
        torch.manual_seed(args.seed)
        state = copy.deepcopy(build_model(config).state_dict())
        common = (config, state, task, fidelity, seq_len, device, precision, args.seed)
        warm = Fidelity.resolve(fidelity, steps=2 if args.quick else 5)
        for which in ("ours", "plain"):  # warm-up: lazy kernels, allocator, caches
            time_run(which, config, state, task, warm, seq_len, device, precision, args.seed)
        runs: dict[str, list[float]] = {"ours": [], "plain": []}
        for repeat in range(args.repeats):  # A B B A ...: drift hits both sides alike
            for which in ("ours", "plain") if repeat % 2 == 0 else ("plain", "ours"):
                runs[which].append(time_run(which, *common))
        ours, plain = runs["ours"], runs["plain"]
        fpt = flops_per_token(config)
        ours_med, plain_med = statistics.median(ours), statistics.median(plain)
        achieved = 3 * fpt * ours_med
        row = Row(
            genome=describe(layers, d_model, heads, ffn),
            params=count_params(config),
            flops_per_token=fpt,
            ours_tokens_per_s=ours_med,
            plain_tokens_per_s=plain_med,
            ratio=ours_med / plain_med,
            paired_ratio=statistics.median(o / p for o, p in zip(ours, plain, strict=True)),
            ours_flops_per_s=achieved,
            peak_fraction=achieved / peak,
            ours_runs=ours,
            plain_runs=plain,
        )
        rows.append(row)
        print_row(row)
    machine["load_average_1min_end"] = _load()
    return rows, machine


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (or `platform.processor`)."""
    path = Path("/proc/cpuinfo")
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _load() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


HEADER = (
    f"| {'genome':<23} | {'params':>8} | {'ours tok/s':>10} | {'plain tok/s':>11} "
    f"| {'ours/plain':>10} | {'paired':>6} | {'GFLOP/s':>8} | {'% peak':>6} |"
)


def print_row(row: Row) -> None:
    """One Markdown table row."""
    print(
        f"| {row.genome:<23} | {row.params:>8,} | {row.ours_tokens_per_s:>10,.0f} "
        f"| {row.plain_tokens_per_s:>11,.0f} | {row.ratio:>10.2f} | {row.paired_ratio:>6.2f} "
        f"| {row.ours_flops_per_s / 1e9:>8.2f} | {100 * row.peak_fraction:>5.1f}% |",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run the benchmark, print the table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per loop and size")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: unchanged)")
    parser.add_argument("--peak-n", type=int, default=1024, help="matmul size for the peak")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 sizes, few steps")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = min(args.steps, 5), min(args.repeats, 1)
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, {args.steps} steps x {args.repeats}")
    print(HEADER)
    print("|" + "|".join("-" * len(cell) for cell in HEADER.split("|")[1:-1]) + "|")
    rows, machine = run(args)
    print(
        f"device {machine['device']} ({machine['cpu']}, {machine['cores']} cores), "
        f"precision {machine['precision']} ({machine['precision_reason']}); "
        f"peak {machine['peak_flops'] / 1e9:.1f} GFLOP/s ({machine['peak_matmul']} matmul); "
        f"1-min load average {machine['load_average_1min_start']:.2f} -> "
        f"{machine['load_average_1min_end']:.2f}"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps({"machine": machine, "rows": [asdict(r) for r in rows]}, indent=2) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
