"""Long-training truth: held-out loss of seeded genome samples at the `long` level.

Every cheaper signal (the search level, a re-ranking level, a predictor, the surrogate
benchmark) is judged by how it orders genomes against this. Three samples of the `tiny`
space, each with its own sampling seed (`nas_env.samples`):

* ``fit`` and ``fit_uniform``: a decision sample (genomes of 0.6-1.0 x the size target,
  stratified by depth) and a uniform one, that predictors may be fitted and signals tuned
  on (both: a predictor fitted near the target alone cannot weigh size);
* ``uniform``: genomes drawn uniformly over the valid genomes (reported, never tuned on);
* ``decision``: a second decision sample with another seed (reported, never tuned on).

Each genome trains at `long` (8,000 steps) in four segments of 2,000 steps, continuing
from the previous segment's checkpoint (the same training as one run, bit for bit on the
CPU), with the held-out loss measured after each: the curve shows whether ~1.75 passes
over the corpus overfit. Genomes are taken round-robin over the samples so that every
sample grows evenly; one JSON line per segment goes to ``--out`` (committed as it grows),
and a run resumes where the file stops (a genome cut off mid-way resumes from the result
database, ``--cache``, and its checkpoints).

    python benchmarks/long_truth.py --workers 2                # the committed data
    python benchmarks/long_truth.py --level tiny --segments 2 --out /tmp/t.jsonl --per 1
    python benchmarks/long_truth.py --name main_job --genome '{"layers": 1, ...}'   # any genome
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_env.evaluation import Evaluator, TrainSettings  # noqa: E402
from nas_env.evaluation.checkpoints import CheckpointStore  # noqa: E402
from nas_env.evaluation.fidelity import Fidelity  # noqa: E402
from nas_env.genome import Genome  # noqa: E402
from nas_env.samples import decision_sample, genome_size_mb, uniform_sample  # noqa: E402
from nas_env.space import SearchSpace  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "data" / "long_truth.jsonl"
# Sampling seeds: `fit` may be tuned on; `uniform` and `decision` are reported only.
SAMPLE_SEEDS = {"fit": 31, "uniform": 32, "decision": 33, "fit_uniform": 34}

_EVALUATORS: dict[tuple[str, int], Evaluator] = {}


def samples(space: SearchSpace, per: int) -> dict[str, list[Genome]]:
    """The four samples: ``per`` genomes per depth for the decision-style samples (4
    depths in `tiny`) and as many uniform genomes."""
    layer_gene = space.layer_gene()
    depths = len(layer_gene.choices) if layer_gene is not None else 1
    return {
        "fit": decision_sample(space, per, SAMPLE_SEEDS["fit"]),
        "uniform": uniform_sample(space, depths * per, SAMPLE_SEEDS["uniform"]),
        "decision": decision_sample(space, per, SAMPLE_SEEDS["decision"]),
        "fit_uniform": uniform_sample(space, depths * per, SAMPLE_SEEDS["fit_uniform"]),
    }


def round_robin(groups: dict[str, list[Genome]]) -> list[tuple[str, int, Genome]]:
    """``(sample, index, genome)`` taking one genome of each sample in turn."""
    longest = max(len(g) for g in groups.values())
    return [
        (name, i, genomes[i])
        for i in range(longest)
        for name, genomes in groups.items()
        if i < len(genomes)
    ]


def _evaluator(job: dict[str, Any]) -> Evaluator:
    key = (job["level"], job["seed"])
    if key not in _EVALUATORS:
        _EVALUATORS[key] = Evaluator(
            job["space"],
            task=job["task"],
            fidelity=Fidelity.resolve(job["level"]),
            settings=TrainSettings(device="cpu", precision="fp32", seed=job["seed"], threads=1),
            cache=job["cache"],
        )
    return _EVALUATORS[key]


def train_segments(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Worker: train one genome through the level's segments; one row per segment."""
    import torch

    torch.set_num_threads(1)
    evaluator = _evaluator(job)
    genome = Genome.from_genes(evaluator.space, job["genes"])
    store = CheckpointStore(Path(job["checkpoints"]), cap_mb=4096)
    total = evaluator.fidelity.total_steps
    marks = [total * (i + 1) // job["segments"] for i in range(job["segments"])]
    rows, lower = [], None
    for steps in marks:
        rung = evaluator.at_rung(steps, store, lower)
        result = rung.evaluate(genome)
        rows.append(
            {
                "sample": job["sample"],
                "index": job["index"],
                "level": job["level"],
                "seed": job["seed"],
                "steps": steps,
                "status": result.status,
                "val_loss": result.val_loss,
                "val_loss_se": result.val_loss_se,
                "final_train_loss": result.final_train_loss,
                "params": result.params,
                "size_mb": result.size_mb,
                "train_seconds": result.train_seconds,
                "genes": job["genes"],
                "evaluator_version": result.evaluator_version,
            }
        )
        if not result.ok:
            break
        lower = rung
    return rows


def done_keys(path: Path) -> set[tuple[str, int, str, int]]:
    """``(sample, index, level, seed)`` of the genomes whose last segment is in ``path``."""
    keys = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("last"):
                keys.add((row["sample"], row["index"], row["level"], row["seed"]))
    return keys


def main(argv: list[str] | None = None) -> int:
    """Train what ``--out`` lacks, appending rows as genomes finish."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--space", default="tiny")
    add("--task", default="lm/stdlib")
    add("--level", default="long", help="fidelity level (long)")
    add("--seed", type=int, default=0, help="training seed (0)")
    add("--per", type=int, default=8, help="genomes per depth in the decision samples (8)")
    add(
        "--only",
        default="fit,uniform,decision,fit_uniform",
        help="samples to train, comma-separated",
    )
    add("--segments", type=int, default=4, help="held-out checks along the run (4)")
    add("--workers", type=int, default=2, help="processes of one thread (2)")
    add("--limit", type=int, default=None, help="stop after this many genomes")
    add("--out", type=Path, default=DEFAULT_OUT)
    add("--cache", type=Path, default=ROOT / ".long-cache" / "results.sqlite")
    add(
        "--genome",
        action="append",
        default=[],
        help="train these genomes (JSON genes, repeatable) as the sample --name instead",
    )
    add("--name", default="extra", help="sample name of the --genome genomes (extra)")
    args = parser.parse_args(argv)
    space = SearchSpace.load(args.space)
    if args.genome:
        given = [Genome.from_genes(space, json.loads(text)) for text in args.genome]
        order = [(args.name, i, g) for i, g in enumerate(given)]
    else:
        wanted = set(args.only.split(","))
        order = [t for t in round_robin(samples(space, args.per)) if t[0] in wanted]
    have = done_keys(args.out)
    todo = [t for t in order if (t[0], t[1], args.level, args.seed) not in have]
    if args.limit is not None:
        todo = todo[: args.limit]
    print(f"{len(order) - len(todo)} of {len(order)} genomes done; training {len(todo)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    jobs = [
        {
            "space": args.space,
            "task": args.task,
            "level": args.level,
            "seed": args.seed,
            "segments": args.segments,
            "sample": name,
            "index": index,
            "genes": dict(genome),
            "size_mb": genome_size_mb(space, genome),
            "cache": str(args.cache),
            "checkpoints": str(args.cache.parent / "checkpoints"),
        }
        for name, index, genome in todo
    ]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        pending = {pool.submit(train_segments, job) for job in jobs}
        finished = 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                rows = future.result()
                rows[-1]["last"] = True
                with args.out.open("a", encoding="utf-8") as fh:
                    for row in rows:
                        fh.write(json.dumps(row, sort_keys=True) + "\n")
                finished += 1
                curve = ", ".join(
                    f"{r['steps']}: {r['val_loss']:.3f}" for r in rows if r["val_loss"] is not None
                )
                print(
                    f"[{finished}/{len(jobs)}] {rows[0]['sample']} #{rows[0]['index']} "
                    f"{rows[-1]['status']} ({curve}) {time.perf_counter() - start:.0f} s",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
