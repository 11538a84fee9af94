"""``python -m nas_env.latency``: profile a space's latency on this device, or show a profile.

    python -m nas_env.latency profile --space mid --device cpu            # 300 genomes
    python -m nas_env.latency profile --space mid --genomes 40 --out /tmp/p.json
    python -m nas_env.latency info config/latency/mid-cpu.json

A command-line error exits 2 without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nas_env.errors import ConfigError, NASEnvError
from nas_env.training_genes import model_genes


def measure_rows(
    space_name: str,
    device: str,
    count: int,
    batch: int,
    threads: int,
    rows_path: Path,
    passes: int = 3,
) -> list[dict[str, Any]]:
    """Time ``count`` uniform genomes (seed 0) in ``passes`` passes over them, back to
    back, resuming from ``rows_path``; one row per genome with the minimum over its passes
    (``latency_ms``) and every pass's figure."""
    import torch
    from tqdm import tqdm

    from models import build_model
    from nas_env.evaluation.measure import measure_latency
    from nas_env.latency.profile import PROTOCOL
    from nas_env.samples import uniform_sample
    from nas_env.space import load_space

    space = load_space(space_name)
    genomes = uniform_sample(space, count, 0)
    timed: dict[tuple[str, int], float] = {}
    if rows_path.is_file():
        for line in rows_path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            timed[(row["key"], int(row.get("pass", 0)))] = float(row["latency_ms"])
    target = torch.device(device)
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    jobs = [(p, g) for p in range(passes) for g in genomes if (g.key(), p) not in timed]
    with rows_path.open("a", encoding="utf-8") as out:
        for pass_, genome in tqdm(jobs, desc=f"latency {space_name} on {device}", unit="timing"):
            torch.manual_seed(0)
            model = build_model(model_genes(genome, space.family), space.task).to(target)
            latency = measure_latency(
                model, space.task, target, warmup=PROTOCOL["warmup"],
                repeats=PROTOCOL["repeats"], threads=threads,
                warmup_seconds=PROTOCOL["warmup_seconds"], statistic=PROTOCOL["statistic"],
                batch=batch,
            )  # fmt: skip
            timed[(genome.key(), pass_)] = latency.median_ms
            row = {"key": genome.key(), "pass": pass_, "genes": dict(genome),
                   "latency_ms": latency.median_ms}  # fmt: skip
            out.write(json.dumps(row, default=list) + "\n")
            out.flush()
    rows = []
    for genome in genomes:
        figures = [timed[(genome.key(), p)] for p in range(passes)]
        rows.append({"key": genome.key(), "genes": dict(genome), "latency_ms": min(figures),
                     "passes": figures})  # fmt: skip
    return rows


def _timed_elsewhere(out: Path, here: dict[str, Any]) -> None:
    """Refuse to add timings to rows another device measured (a profile mixes no devices)."""
    if not out.is_file() or not out.with_suffix(".rows.jsonl").is_file():
        return
    there = json.loads(out.read_text(encoding="utf-8")).get("device", {})
    differ = [f"{k} {there.get(k)!r}" for k in ("device", "processor", "threads", "torch")
              if there.get(k) != here[k]]  # fmt: skip
    if differ:
        raise ConfigError(
            f"{out.with_suffix('.rows.jsonl')} was timed elsewhere ({'; '.join(differ)}; here "
            f"{here['processor']}, {here['threads']} thread(s), torch {here['torch']}); "
            f"profile this device with --out, or refit that profile from its rows with "
            f"python -m nas_env.latency refit {out}"
        )


def run_profile(args: argparse.Namespace) -> int:
    """The ``profile`` command."""
    from nas_env.latency.profile import PROTOCOL, default_path, device_description, fit_profile
    from nas_env.space import load_space

    space = load_space(args.space)
    out = Path(args.out) if args.out else default_path(space.name, args.device)
    _timed_elsewhere(out, device_description(args.device, args.threads))
    rows = measure_rows(
        space.name, args.device, args.genomes, args.batch, args.threads,
        out.with_suffix(".rows.jsonl"), args.passes,
    )  # fmt: skip
    meta = {
        "space": space.name,
        "family": space.family,
        "task": {"kind": space.task.kind, "vocab_size": space.task.vocab_size,
                 "seq_len": space.task.seq_len},
        "batch": args.batch,
        "device": device_description(args.device, args.threads),
        "protocol": PROTOCOL,
        "sample": f"{args.genomes} uniform genomes, seed 0, {args.passes} timing passes",
    }  # fmt: skip
    profile = fit_profile(rows, meta, space.task)
    out.write_text(json.dumps(profile, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(describe(out, profile))
    return 0


def run_refit(args: argparse.Namespace) -> int:
    """The ``refit`` command: fit a profile again from its timed rows, keeping its device,
    protocol and sample (after the model gained a feature; no timing)."""
    from nas_env.latency.profile import fastest_rows, fit_profile
    from nas_env.space import load_space

    path = Path(args.path)
    meta = json.loads(path.read_text(encoding="utf-8"))
    space = load_space(meta["space"])
    rows = fastest_rows(path)
    keep = {k: v for k, v in meta.items() if k not in ("costs", "features", "fit", "format")}
    profile = fit_profile(rows, keep, space.task)
    path.write_text(json.dumps(profile, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(describe(path, profile))
    return 0


def describe(path: Path, meta: dict[str, Any]) -> str:
    """A profile in a few lines."""
    fit = meta["fit"]
    error = (
        f"held out {fit['held_out']}: median |error| {100 * fit['median_ape']:.1f} %, "
        f"Kendall tau {fit['kendall_tau']:.3f}"
        if "median_ape" in fit
        else "too few genomes to hold any out"
    )
    if fit.get("computations", fit["held_out"]) < fit["held_out"]:
        error += (
            f"; {fit['computations']} distinct computations among them: Kendall tau "
            f"{fit['kendall_tau_computations']:.3f}"
        )
    costs = ", ".join(
        f"{n} {c:.4g}" for n, c in zip(meta["features"], meta["costs"], strict=True) if c
    )
    device = meta["device"]
    return (
        f"profile   {path}: space {meta['space']}, batch {meta['batch']}\n"
        f"device    {device['device']}: {device['processor']}, {device['threads']} thread(s), "
        f"torch {device['torch']}\n"
        f"fit       {fit['genomes']} genomes; {error}\n"
        f"costs ms  {costs}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command; 2 on a usage or configuration error."""
    parser = argparse.ArgumentParser(prog="python -m nas_env.latency", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    prof = sub.add_parser("profile", help="measure a sample of genomes and fit the model")
    prof.add_argument("--space", required=True)
    prof.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    prof.add_argument("--genomes", type=int, default=300, help="sample size (300)")
    prof.add_argument("--batch", type=int, default=1, help="sequences per forward pass (1)")
    prof.add_argument("--threads", type=int, default=1, help="CPU threads while timing (1)")
    prof.add_argument("--passes", type=int, default=3, help="timings per genome, minimum kept (3)")
    prof.add_argument("--out", default=None, help="profile file (config/latency/SPACE-DEVICE.json)")
    refit = sub.add_parser("refit", help="fit a profile again from its timed rows (no timing)")
    refit.add_argument("path")
    info = sub.add_parser("info", help="describe a profile")
    info.add_argument("path")
    args = parser.parse_args(argv)
    try:
        if args.command == "profile":
            return run_profile(args)
        if args.command == "refit":
            return run_refit(args)
        meta = json.loads(Path(args.path).read_text(encoding="utf-8"))
        print(describe(Path(args.path), meta))
        return 0
    except (NASEnvError, ConfigError, OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
