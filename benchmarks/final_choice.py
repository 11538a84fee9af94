"""Which signal picks the final winner better: the final training's candidates of finished
runs re-scored with another signal of the same training, judged after long training.

A run's final training (``final.json``) trains each candidate once at its final level and
keeps the measured held-out loss (``measured_val_loss``). Any signal of that level's
training can re-score them without training again, so two signals can be compared on the
decision they exist for: the winner among the same finalists. Where the two pick different
genomes, both picks are trained at `long` (``benchmarks/long_truth.py --name
final_choice``) and the pick with the lower long perplexity wins the run.

    python benchmarks/final_choice.py --runs runs/main-job-d runs/main-job-lr0 \
        --plan                           # the genomes to train at long, as --genome flags
    python benchmarks/final_choice.py --runs runs/main-job-d runs/main-job-lr0 \
        --long benchmarks/data/final_choice_long.jsonl   # the judgement
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_env.evaluation.result import EvalResult  # noqa: E402
from nas_env.evaluation.signals import load_signal  # noqa: E402
from nas_env.rewards.registry import make_reward  # noqa: E402
from nas_env.tasks.registry import make_task  # noqa: E402
from runfolder import FINAL_FILE  # noqa: E402

STEPS = 8000
FIELDS = {f.name for f in dataclasses.fields(EvalResult)}


@functools.cache
def _baseline(task_id: str, vocab_size: int) -> float:
    """The task's context-free loss, which every result of the run was scored against
    (``final.json`` does not repeat it)."""
    return float(make_task(task_id, vocab_size=vocab_size).baseline_loss())


def picks(final: dict[str, Any], signals: list[str]) -> dict[str, dict]:
    """Each signal's winner among a final training's candidates (the best score by the
    run's own reward, as ``final.json`` records it)."""
    reward = make_reward(final["reward"])
    baseline = _baseline(final["task"], int(final["reward"]["vocab_size"]))
    out: dict[str, dict] = {}
    for name in signals:
        signal = load_signal(name)
        best = None
        for cand in final["candidates"]:
            f = cand["final"]
            if f.get("status") != "ok" or f.get("measured_val_loss") is None:
                continue
            measured = {
                "val_loss": f["measured_val_loss"],
                "params": f["params"],
                "flops_per_token": f["flops_per_token"],
            }
            loss = signal.estimate(cand["genome"], measured)
            result = EvalResult(**{k: v for k, v in f.items() if k in FIELDS})
            result = dataclasses.replace(
                result, val_loss=loss, perplexity=math.exp(loss), baseline_loss=baseline
            )
            score = float(reward.score(result))
            if best is None or score > best["score"]:
                best = {"score": score, "key": cand["genome_key"], "genome": cand["genome"]}
        if best is not None:
            out[name] = best
    return out


def _long(path: Path | None) -> dict[str, float]:
    if path is None or not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("status") == "ok" and row.get("steps") == STEPS:
            out[json.dumps(row["genes"], sort_keys=True)] = math.exp(float(row["val_loss"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True, help="run folders")
    parser.add_argument("--signals", default="rerank-ridge,rerank-gp", help="two signals")
    parser.add_argument("--long", type=Path, default=None, help="long-truth rows of the picks")
    parser.add_argument("--plan", action="store_true", help="print the picks to train")
    parser.add_argument("--out", "--json", type=Path, default=None, help="the rows as JSON")
    args = parser.parse_args(argv)
    signals = args.signals.split(",")
    truth = _long(args.long)
    rows, wins = [], {name: 0 for name in signals}
    for path in sorted(p for root in args.runs for p in root.rglob(FINAL_FILE)):
        final = json.loads(path.read_text(encoding="utf-8"))
        chosen = picks(final, signals)
        if len(chosen) < 2 or len({c["key"] for c in chosen.values()}) == 1:
            rows.append({"run": str(path.parent), "same": True})
            continue
        ppl = {n: truth.get(json.dumps(c["genome"], sort_keys=True)) for n, c in chosen.items()}
        row = {"run": str(path.parent), "same": False, "picks": chosen, "long_ppl": ppl}
        if all(v is not None for v in ppl.values()):
            winner = min(signals, key=lambda n: ppl[n])
            wins[winner] += 1
            row["better"] = winner
        rows.append(row)
        if args.plan:
            for c in chosen.values():
                print(f"--genome '{json.dumps(c['genome'])}'")
    differ = [r for r in rows if not r["same"]]
    judged = [r for r in differ if "better" in r]
    print(f"{len(rows)} runs; the signals pick different winners in {len(differ)}; "
          f"judged at long: {len(judged)}; better pick: {wins}")  # fmt: skip
    for r in judged:
        names = " / ".join(f"{n} {r['long_ppl'][n]:.2f}" for n in signals)
        print(f"  {r['run']}: {names}")
    if args.out is not None:
        args.out.write_text(json.dumps({"wins": wins, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
