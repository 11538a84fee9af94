"""Reproduce every figure of BENCHMARKS.md with one command.

Runs each benchmark script in its own process, one after the other (they time things, so
they must not share the machine), with the settings BENCHMARKS.md quotes, and collects
what they print and their JSON into ``--out``: ``<name>.txt`` and ``<name>.json`` per
benchmark and ``summary.json`` (exit code and wall time of each). ``--quick`` runs every
script in its CI smoke mode (a few minutes in all); the numbers are then meaningless,
only that each script still works is checked.

    python benchmarks/run_all.py --out bench-results            # the full set (~1 h on 2 cores)
    python benchmarks/run_all.py --quick --out /tmp/bench-smoke
    python benchmarks/run_all.py --only eval_cost,search_efficiency --out results
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS: dict[str, list[str]] = {
    "train_throughput": ["--threads", "1", "--repeats", "9"],
    "eval_cost": ["--fidelities", "fast,medium"],
    "env_overhead": ["--steps", "30000"],
    "parallel_speedup": ["--fidelity", "fast", "--seconds", "120", "--repeats", "2"],
    "deepspeed_memory": ["--candidates", "20"],
    "heldout_noise": ["--fidelities", "tiny,bench,fast,medium", "--genomes", "6"],
    "search_efficiency": ["--seeds", "10", "--budget", "100", "--jobs", "2"],
    "fidelity_rank": [
        "--extra",
        str(HERE / "fidelity_candidates.yaml"),
        "--noise",
        "fast,fast300lr3,c150,c100lr07,reference",
        "--workers",
        "2",
    ],
    "signal_rank": [
        "--levels",
        "fast,f100lr2,f100w,f100w4,reference,r1600",
        "--extra",
        str(HERE / "signal_candidates.yaml"),
        "--noise",
        "fast",
    ],
    "reward_ordering": [],
    "mixer_cost": ["--fidelity", "fast", "--widths", "64,128", "--repeats", "3"],
    "compression_runtimes": ["--fidelity", "reference", "--repeats", "50"],
    "digits": ["--genomes", "24", "--rows", "benchmarks/data/digits_rows.jsonl"],
    "level_rank": ["--space", "vowels", "--rows", "benchmarks/data/vowels_rank_rows.jsonl"],
    "deployed_measures": ["--genomes", "300", "--rows", "benchmarks/data/modern_deployed.jsonl"],
    "latency_column": ["--space", "mid"]
    + [f"--table=config/tables/{name}.npz" for name in ("mid", "mid-long", "mid-long-v2")],
    "main_job": ["--seeds", "0-9", "--rows", "benchmarks/data/main_job_rows.jsonl"],
    "prior_rank": [],
    "prior_mid_rank": [],
}
"""Script name -> the arguments of the full run (the ones BENCHMARKS.md quotes)."""

NEEDS: dict[str, str] = {
    "deepspeed_memory": "deepspeed",
    "parallel_speedup": "ray",
    "compression_runtimes": "onnxruntime",
}
"""Benchmarks that need an optional package; skipped (and said so) without it."""


QUICK_TIMEOUT_S = 1200
"""A smoke run still going after this long is stuck (each takes seconds to minutes)."""


def run_one(name: str, args: list[str], out: Path, quick: bool) -> dict[str, object]:
    """Run one benchmark script; its output goes to ``out/<name>.txt``."""
    missing = NEEDS.get(name)
    if missing and importlib.util.find_spec(missing) is None:
        print(f"== {name}: skipped ({missing} is not installed)", flush=True)
        return {"skipped": f"{missing} is not installed"}
    command = [sys.executable, str(HERE / f"{name}.py")]
    command += ["--quick"] if quick else args
    command += ["--json", str(out / f"{name}.json")]
    print(f"== {name}: {' '.join(command[1:])}", flush=True)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    )
    start = time.perf_counter()
    with (out / f"{name}.txt").open("w", encoding="utf-8") as log:
        try:
            proc = subprocess.run(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
                timeout=QUICK_TIMEOUT_S if quick else None,
            )
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            log.write(f"\nkilled: still running after {QUICK_TIMEOUT_S} s (--quick)\n")
            returncode = 124
    seconds = time.perf_counter() - start
    text = (out / f"{name}.txt").read_text(encoding="utf-8")
    tail = [line for line in text.splitlines() if line.strip()][-12:]
    print("\n".join(f"   {line}" for line in tail), flush=True)
    print(f"   -> exit code {returncode} in {seconds:.0f} s", flush=True)
    return {"returncode": returncode, "seconds": round(seconds, 1), "command": command}


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; returns 0 only if every one succeeded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="output folder")
    parser.add_argument("--quick", action="store_true", help="every script's CI smoke mode")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of {', '.join(BENCHMARKS)}"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)}; allowed: {', '.join(BENCHMARKS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {name: run_one(name, BENCHMARKS[name], args.out, args.quick) for name in names}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failed = [n for n, s in summary.items() if s.get("returncode", 0) != 0]
    print(f"\n{len(names) - len(failed)}/{len(names)} benchmarks ok; results in {args.out}")
    if failed:
        print(f"failed: {', '.join(failed)} (see their .txt files)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
