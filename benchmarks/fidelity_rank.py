"""Fidelity ranking: how well each training budget orders genomes like a costlier reference.

Draws a seeded sample of genomes uniformly over the space's valid genomes
(`Genome.uniform`: every valid genome equally likely, not every gene value), trains each
at every chosen level and at the ``reference`` level, and reports per level:

* Kendall tau-b and Spearman rho of the held-out loss against the reference (the mean
  held-out loss over the reference seeds measured);
* the overlap of the top 10 % by loss with the reference's top 10 %;
* the noise floor: the tau between training seeds 0 and 1 of the same genomes, at the
  levels named by ``--noise`` (the search level and the reference, by default);
* seconds per candidate (train + validation + latency, one thread, ``eval_seconds``) and
  the perplexity range.

Failed candidates (diverged, timeout) rank last. Every result goes into a result database
(``--cache``), so an interrupted run resumes where it stopped and later runs with more
levels reuse what is there. ``--workers`` runs candidates in parallel processes of one
thread each (seconds per candidate then include the contention of the other worker).

    python benchmarks/fidelity_rank.py --workers 2 --cache fr.sqlite    # tiny space, 30 genomes
    python benchmarks/fidelity_rank.py --extra benchmarks/fidelity_candidates.yaml --noise fast,c150
    python benchmarks/fidelity_rank.py --space cls --task cls/stdlib-modules --genomes 12
    python benchmarks/fidelity_rank.py --quick                          # CI smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_env.errors import ConfigError  # noqa: E402
from nas_env.evaluation import Evaluator, TrainSettings  # noqa: E402
from nas_env.evaluation.fidelity import Fidelity  # noqa: E402
from nas_env.evaluation.result import EvalResult  # noqa: E402
from nas_env.genome import Genome  # noqa: E402
from nas_env.ranking import kendall_tau, spearman, top_overlap  # noqa: E402
from nas_env.samples import uniform_sample  # noqa: E402
from nas_env.space import SearchSpace  # noqa: E402

_EVALUATORS: dict[tuple[str, int], Evaluator] = {}


def sample(space: SearchSpace, count: int, seed: int) -> list[Genome]:
    """``count`` distinct genomes drawn uniformly over the valid genomes of ``space``."""
    try:
        return uniform_sample(space, count, seed)
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None


def evaluate_job(job: dict[str, Any]) -> EvalResult:
    """Worker: evaluate one genome (``job``: space, task, level, fidelity fields, seed,
    genes, cache) on one thread, with one evaluator per level and seed per process."""
    import torch

    torch.set_num_threads(1)
    key = (job["level"], job["seed"])
    if key not in _EVALUATORS:
        _EVALUATORS[key] = Evaluator(
            job["space"],
            task=job["task"],
            fidelity=Fidelity.from_dict(job["fidelity"], name=job["level"]),
            settings=TrainSettings(device="cpu", precision="fp32", seed=job["seed"], threads=1),
            cache=job["cache"],
        )
    evaluator = _EVALUATORS[key]
    return evaluator.evaluate(Genome.from_genes(evaluator.space, job["genes"]))


def _evaluate(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: one genome at one level and seed, as a row of this benchmark."""
    result = evaluate_job(job)
    return {
        "level": job["level"],
        "seed": job["seed"],
        "index": job["index"],
        "status": result.status,
        "loss": result.val_loss if result.ok else None,
        "quality": result.quality if result.ok else None,
        "seconds": result.eval_seconds,
        "params": result.params,
    }


def _fidelity_fields(level: str, extra: dict[str, Any]) -> dict[str, Any]:
    if level in extra:
        return dict(extra[level])
    fidelity = Fidelity.resolve(level)
    return {k: v for k, v in fidelity.to_dict().items() if k != "name" and v is not None}


def _loss_key(row: dict[str, Any] | None) -> float:
    if row is None or row["loss"] is None or not math.isfinite(row["loss"]):
        return math.inf
    return float(row["loss"])


def summarise(
    rows: list[dict[str, Any]], levels: list[str], reference: str, count: int
) -> list[dict[str, Any]]:
    """One summary per level (the reference included) from the per-candidate rows."""
    by: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    for row in rows:
        by.setdefault((row["level"], row["seed"]), {})[row["index"]] = row
    ref_seeds = sorted(s for (lvl, s) in by if lvl == reference)
    complete = [i for i in range(count) if all(i in by.get((reference, s), {}) for s in ref_seeds)]
    ref_loss = [
        statistics.mean(_loss_key(by[(reference, s)][i]) for s in ref_seeds) for i in complete
    ]
    out = []
    for level in [*levels, reference]:
        first = by.get((level, 0), {})
        shared = [i for i in complete if i in first]
        if len(shared) < 3:
            continue
        loss = [_loss_key(first[i]) for i in shared]
        ref = [ref_loss[complete.index(i)] for i in shared]
        ok = [first[i] for i in shared if first[i]["status"] == "ok"]
        summary: dict[str, Any] = {
            "level": level,
            "genomes": len(shared),
            "failed": len(shared) - len(ok),
            "tau": kendall_tau(loss, ref),
            "spearman": spearman(loss, ref),
            "top10": top_overlap(loss, ref, 0.1),
            "s_per_candidate": statistics.mean(first[i]["seconds"] for i in shared),
            "ppl_range": (
                [math.exp(min(r["loss"] for r in ok)), math.exp(max(r["loss"] for r in ok))]
                if ok
                else None
            ),
        }
        second = by.get((level, 1), {})
        pairs = [i for i in shared if i in second]
        if len(pairs) >= 3:
            summary["noise_tau"] = kendall_tau(
                [_loss_key(first[i]) for i in pairs], [_loss_key(second[i]) for i in pairs]
            )
            summary["noise_pairs"] = len(pairs)
        out.append(summary)
    return out


def table(summaries: list[dict[str, Any]], reference: str) -> str:
    """The markdown table BENCHMARKS.md quotes."""
    lines = [
        f"| level | genomes (failed) | Kendall tau vs `{reference}` | Spearman | top-10 % overlap "
        "| seed-to-seed tau | s / candidate | perplexity range |",
        "| --- | --: | --: | --: | --: | --: | --: | --: |",
    ]
    for s in summaries:
        noise = f"{s['noise_tau']:.2f} ({s['noise_pairs']})" if "noise_tau" in s else "-"
        ppl = f"{s['ppl_range'][0]:.1f}-{s['ppl_range'][1]:.1f}" if s["ppl_range"] else "-"
        shared, k = s["top10"]
        lines.append(
            f"| `{s['level']}` | {s['genomes']} ({s['failed']}) | {s['tau']:.2f} | "
            f"{s['spearman']:.2f} | {shared} / {k} | {noise} | {s['s_per_candidate']:.1f} | {ppl} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the measurement, print the table and write JSON with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--space", default="tiny", help="search space (tiny)")
    add("--task", default="lm/stdlib", help="task id (lm/stdlib)")
    add("--genomes", type=int, default=30, help="uniform sample size (30)")
    add("--seed", type=int, default=0, help="sampling seed (0)")
    add("--levels", default="tiny,bench,fast", help="levels ranked against the reference")
    add("--reference", default="reference", help="the reference level (reference)")
    add("--noise", default="fast,reference", help="levels also trained with seed 1")
    add("--extra", type=Path, default=None, help="YAML of extra levels: name -> fields")
    add("--workers", type=int, default=1, help="parallel processes of one thread (1)")
    add(
        "--cache",
        type=Path,
        default=None,
        help="result database, to resume and to reuse results (default: none, in memory)",
    )
    add("--json", type=Path, default=None, help="write rows and summaries here")
    add("--quick", action="store_true", help="smoke run: 4 genomes, tiny against bench")
    args = parser.parse_args(argv)
    if args.quick:
        args.genomes, args.levels, args.reference, args.noise = 4, "tiny", "bench", "tiny"
    extra = yaml.safe_load(args.extra.read_text(encoding="utf-8")) if args.extra else {}
    levels = [lvl for lvl in args.levels.split(",") if lvl] + [
        name for name in extra if name not in args.levels.split(",")
    ]
    noise = {lvl for lvl in args.noise.split(",") if lvl}
    space = SearchSpace.load(args.space)
    genomes = sample(space, args.genomes, args.seed)
    jobs = []
    for level in [*levels, args.reference]:
        fields = _fidelity_fields(level, extra)
        for seed in (0, 1) if level in noise else (0,):
            for index, genome in enumerate(genomes):
                jobs.append(
                    {
                        "space": args.space,
                        "task": args.task,
                        "level": level,
                        "fidelity": fields,
                        "seed": seed,
                        "index": index,
                        "genes": dict(genome),
                        "cache": str(args.cache) if args.cache else False,
                    }
                )
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(_evaluate, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            rows.append(future.result())
            row = rows[-1]
            print(
                f"[{done}/{len(jobs)}] {row['level']} seed {row['seed']} #{row['index']}: "
                f"{row['status']} loss {row['loss']} ({row['seconds']:.1f} s)",
                flush=True,
            )
            if args.json and done % 10 == 0:
                _write(args, rows, [], genomes)
    summaries = summarise(rows, levels, args.reference, len(genomes))
    print(table(summaries, args.reference))
    print(f"wall time {time.perf_counter() - start:.0f} s with {args.workers} worker(s)")
    if args.json:
        _write(args, rows, summaries, genomes)
    return 0


def _write(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    summaries: list[dict[str, Any]],
    genomes: list[Genome],
) -> None:
    data = {
        "space": args.space,
        "task": args.task,
        "reference": args.reference,
        "genomes": [g.to_json() for g in genomes],
        "rows": rows,
        "summaries": summaries,
    }
    args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
