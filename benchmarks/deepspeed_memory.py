"""Resident memory over many DeepSpeed candidates in one process, per ZeRO stage.

Each stage runs in its own subprocess (a fresh process group), evaluates N
consecutive candidates through the `deepspeed` backend, and prints the RSS after
each one. Stages 0-2 are what the evaluator allows in-process; stage 3 is measured
by calling DeepSpeed directly (the evaluator refuses it) to show why.

    python benchmarks/deepspeed_memory.py --candidates 20
    python benchmarks/deepspeed_memory.py --quick            # CI smoke run: 6 candidates
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

WORKER = r"""
import json, os, sys, tempfile
import psutil, torch
stage, n, cache = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] or None
from nas_env import SearchSpace
from nas_env.evaluation import Evaluator, Fidelity, TrainSettings
cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
json.dump({"zero_optimization": {"stage": stage}, "steps_per_print": 10**9}, cfg); cfg.close()
proc = psutil.Process()
space = SearchSpace.load("tiny")
fidelity = Fidelity.resolve("tiny", steps=10)
rss = []
if stage < 3:
    ev = Evaluator(space, fidelity=fidelity, cache=False, cache_root=cache, vocab_size=256,
                   settings=TrainSettings(backend="deepspeed", device="cpu",
                                          deepspeed_config=cfg.name, latency_repeats=1))
    genome = ev.space.default_genome()
    for i in range(n):
        r = ev.evaluate(genome.replace(norm="rmsnorm" if i % 2 else "layernorm"))
        assert r.status == "ok", r.message
        rss.append(proc.memory_info().rss / 2**20)
else:
    import deepspeed
    from models import build_model, TaskSpec
    from nas_env.evaluation.deepspeed_backend import ensure_distributed
    ensure_distributed(torch.device("cpu"))
    spec = TaskSpec(kind="lm", vocab_size=256, seq_len=32)
    config = {"train_micro_batch_size_per_gpu": 8, "zero_optimization": {"stage": 3},
              "optimizer": {"type": "AdamW", "params": {"lr": 1e-3, "torch_adam": True}},
              "steps_per_print": 10**9}
    for i in range(n):
        model = build_model(dict(space.default_genome()), spec)
        engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(),
                                          config=config)
        x = torch.randint(0, 256, (8, 32))
        for _ in range(10):
            loss = engine(x, x)[1]; engine.backward(loss); engine.step()
        engine.destroy(); del engine, model
        rss.append(proc.memory_info().rss / 2**20)
print("RSS " + json.dumps(rss))
"""


def main(argv: list[str] | None = None) -> int:
    """Run every stage and print a table of RSS growth; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--stages", default="0,1,2,3")
    parser.add_argument("--cache", default="", help="token cache (default: $NAS_ENV_CACHE)")
    parser.add_argument("--quick", action="store_true", help="CI smoke run: 6 candidates")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    if args.quick:
        args.candidates = 6
    print(f"{'stage':>5} {'first MiB':>10} {'last MiB':>10} {'growth MiB':>11} {'per cand.':>10}")
    rows, failed = [], False
    for stage in (int(s) for s in args.stages.split(",")):
        out = subprocess.run(
            [sys.executable, "-c", WORKER, str(stage), str(args.candidates), args.cache],
            capture_output=True,
            text=True,
            check=False,
        )
        line = next((x for x in out.stdout.splitlines() if x.startswith("RSS ")), None)
        if line is None:
            print(f"{stage:>5} failed: {out.stderr.strip().splitlines()[-1:]}")
            failed = True
            continue
        rss = json.loads(line[4:])
        # growth after the first few candidates (allocator warm-up excluded)
        base = rss[min(4, len(rss) - 1)]
        growth = rss[-1] - base
        per = growth / max(1, len(rss) - 1 - min(4, len(rss) - 1))
        rows.append({"stage": stage, "rss_mib": rss, "growth_mib": growth, "per_candidate": per})
        print(f"{stage:>5} {rss[0]:>10.1f} {rss[-1]:>10.1f} {growth:>11.1f} {per:>10.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"stages": rows}, indent=2) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
