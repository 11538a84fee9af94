"""Cheap signals against long training: which short run (and which scoring rule) ranks the
genomes of `benchmarks/data/long_truth.jsonl` like the `long` level does.

For every genome of the truth samples (``fit``, ``uniform``, ``decision``; see
`benchmarks/long_truth.py`) this trains each candidate level (seed 0, and seed 1 for the
``--noise`` levels) and records what the run measured (held-out loss, the training curve's
mean and late mean, counts, seconds) in ``--rows`` (committed; a run resumes where it
stops). Then, per reported sample (``uniform``, ``decision``) and per level, it reports
Kendall tau and Spearman of

* the level's held-out loss (the raw signal) and its mean training loss,
* a ridge predictor of the long loss over the level's features, fitted on the ``fit``
  sample only (`nas_env.evaluation.signals`),

against the long loss, the seed-to-seed noise floor, seconds per candidate, and on the
decision sample the top pick's regret: how much worse (in perplexity at `long`) the genome
the signal ranks first is than the best genome of the sample.

    python benchmarks/signal_rank.py --levels fast,f100lr2,f100w,f100w4,reference,r1600 \
        --extra benchmarks/signal_candidates.yaml --noise fast       # BENCHMARKS.md's table
    python benchmarks/long_truth.py --workers 2    # first: the truth it is judged against
    python benchmarks/signal_rank.py --report-only --write-signal long-ridge --level fast
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.fidelity_rank import evaluate_job  # noqa: E402
from benchmarks.long_truth import load_plan  # noqa: E402
from benchmarks.signal_stats import (  # noqa: E402
    ranking_entry,
    report,
    truth_genomes,
    write_signal,
)
from nas_env.evaluation.fidelity import Fidelity  # noqa: E402

DATA = ROOT / "benchmarks" / "data"


def _evaluate(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: one genome at one level and seed, one thread."""
    result = evaluate_job(job)
    return {
        "level": job["level"],
        "seed": job["seed"],
        "sample": job["sample"],
        "index": job["index"],
        "status": result.status,
        "val_loss": result.val_loss if result.ok else None,
        "mean_train_loss": result.mean_train_loss if result.ok else None,
        "late_train_loss": result.late_train_loss if result.ok else None,
        "params": result.params,
        "flops_per_token": result.flops_per_token,
        "eval_seconds": result.eval_seconds,
        "train_seconds": result.train_seconds,
    }


def _fields(level: str, extra: dict[str, Any]) -> dict[str, Any]:
    if level in extra:
        return dict(extra[level])
    fidelity = Fidelity.resolve(level)
    return {k: v for k, v in fidelity.to_dict().items() if k != "name" and v is not None}


def _have(path: Path) -> set[tuple[str, int, str, int]]:
    if not path.is_file():
        return set()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {(r["level"], r["seed"], r["sample"], r["index"]) for r in rows}


def run(args: argparse.Namespace, levels: list[str], extra: dict[str, Any]) -> None:
    """Train what ``args.rows`` lacks, appending one row per evaluation."""
    genomes = truth_genomes(args.truth)
    noise = set(args.noise.split(",")) if args.noise else set()
    have = _have(args.rows)
    jobs = [
        {
            "space": args.space,
            "task": args.task,
            "level": level,
            "fidelity": _fields(level, extra),
            "seed": seed,
            "sample": sample,
            "index": index,
            "genes": genes,
            "cache": str(args.cache),
        }
        for level in levels
        for seed in ((0, 1) if level in noise else (0,))
        for (sample, index), genes in sorted(genomes.items())
        if (level, seed, sample, index) not in have
    ]
    print(f"{len(jobs)} evaluations to run", flush=True)
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        pending = {pool.submit(_evaluate, job) for job in jobs}
        count = 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            with args.rows.open("a", encoding="utf-8") as fh:
                for future in done:
                    row = future.result()
                    fh.write(json.dumps(row, sort_keys=True) + "\n")
                    count += 1
            if count % 10 == 0 or not pending:
                print(f"[{count}/{len(jobs)}] {time.perf_counter() - start:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Evaluate the levels (unless ``--report-only``), then print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--levels", default="fast", help="candidate levels, comma-separated (fast)")
    add("--extra", type=Path, default=None, help="YAML of extra levels: name -> fields")
    add("--noise", default="", help="levels also trained with seed 1")
    add("--workers", type=int, default=1)
    add("--plan", default="truth", help="the long_truth.py plan whose genomes to rank (truth)")
    add("--truth", type=Path, default=None, help="its rows (the plan's)")
    add("--rows", type=Path, default=None, help="cheap rows (signal_rows.jsonl for truth)")
    add("--cache", type=Path, default=ROOT / ".long-cache" / "signals.sqlite")
    add("--report-only", action="store_true", help="no training; report what is there")
    add("--quick", action="store_true", help="smoke run: the report of the committed data")
    add("--features", default=None, help="predictor features, comma-separated (a default set)")
    add("--json", type=Path, default=None, help="write the report's numbers here")
    add("--write-signal", default=None, help="save the predictor fitted on `fit` as this name")
    add("--level", default="fast", help="the level whose predictor --write-signal saves")
    add("--signal-level", default=None, help="the named level the saved signal is for")
    add(
        "--ranking-yaml",
        type=Path,
        default=None,
        help="write the shipped levels' figures into this fidelity_ranking.yaml (tiny entry)",
    )
    args = parser.parse_args(argv)
    plan = load_plan(args.plan)
    args.space, args.task = plan["space"], plan.get("task", "lm/stdlib")
    args.truth = args.truth or ROOT / plan["out"]
    name = "signal_rows.jsonl" if args.plan == "truth" else f"{args.plan}_signal_rows.jsonl"
    args.rows = args.rows or DATA / name
    extra = yaml.safe_load(args.extra.read_text(encoding="utf-8")) if args.extra else {}
    levels = [lvl for lvl in args.levels.split(",") if lvl]
    if not (args.report_only or args.quick):
        run(args, levels, extra)
    features = args.features.split(",") if args.features else None
    from nas_env.space import SearchSpace

    level = Fidelity.resolve(plan.get("level", "long"))
    per_step = level.batch_size * SearchSpace.load(args.space).task.seq_len
    text, numbers = report(args.truth, args.rows, features, per_step)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1) + "\n", encoding="utf-8")
    if args.ranking_yaml:
        data = yaml.safe_load(args.ranking_yaml.read_text(encoding="utf-8")) or {}
        data["tiny"] = ranking_entry(numbers)
        header = "".join(
            line + "\n"
            for line in args.ranking_yaml.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")
        )
        body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
        args.ranking_yaml.write_text(header + body, encoding="utf-8")
    if args.write_signal:
        path = write_signal(
            args.truth, args.rows, args.level, args.write_signal, features, args.signal_level
        )
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
