"""Long-training truth: held-out loss of seeded genome samples at the `long` level.

What is trained is a plan of `benchmarks/long_plans.yaml`:

* ``truth`` (default), the yardstick every cheaper signal (the search level, a re-ranking
  level, a predictor) is judged by: four samples of the `tiny` space, each with its own
  sampling seed (`nas_env.samples`). ``fit`` and ``fit_uniform`` (a decision sample of
  genomes of 0.6-1.0 x the size target, stratified by depth, and a uniform one) may be
  fitted and tuned on; ``uniform`` and ``decision`` are reported only.
* ``surrogate``, the real training under the surrogate benchmark whose truth is `long`
  (``nas_env/SurrogateLM-v1``, `nas_env.table.long_surrogate`): samples of the `mid`
  space, ``train*`` to fit it and ``valid*`` held out to measure it.

Each genome trains at `long` (8,000 steps) through the plan's marks (2,000, 4,000...),
each segment continuing from the previous one's checkpoint (the same training as one
run, bit for bit on the CPU), with the held-out loss measured at every mark: the curve
shows whether ~1.75 passes over the corpus overfit, and the marks are the rungs of a
multi-fidelity benchmark. Genomes are taken from the samples in proportion to their
sizes so that every sample grows evenly; one JSON line per mark goes to the plan's rows
file (committed as it grows), and a run resumes where the file stops (a genome cut off
mid-way resumes from the result database, ``--cache``, and its checkpoints).

    python benchmarks/long_truth.py --workers 2                  # the committed truth
    python benchmarks/long_truth.py --plan surrogate --workers 2  # the surrogate's data
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_env.errors import ConfigError  # noqa: E402
from nas_env.evaluation import Evaluator, TrainSettings  # noqa: E402
from nas_env.evaluation.checkpoints import CheckpointStore  # noqa: E402
from nas_env.evaluation.fidelity import Fidelity  # noqa: E402
from nas_env.genome import Genome  # noqa: E402
from nas_env.samples import decision_sample, genome_size_mb, uniform_sample  # noqa: E402
from nas_env.space import SearchSpace  # noqa: E402

PLANS = ROOT / "benchmarks" / "long_plans.yaml"
SAMPLE_KINDS = ("uniform", "decision")

_EVALUATORS: dict[tuple[str, str, int], Evaluator] = {}


def load_plan(name: str, path: Path = PLANS) -> dict[str, Any]:
    """The plan ``name`` of ``path`` (space, out, marks, samples), checked.

    Raises:
        ConfigError: No such plan, or a sample without a known kind, a seed and a size.
    """
    plans = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if name not in plans:
        raise ConfigError(f"{path}: no plan {name!r}; plans: {', '.join(sorted(plans))}")
    plan = plans[name]
    for sample, spec in plan["samples"].items():
        if spec.get("kind") not in SAMPLE_KINDS or not {"seed", "size"} <= set(spec):
            raise ConfigError(
                f"{path}: plan {name!r}, sample {sample!r}: {spec!r}; needs kind "
                f"({' or '.join(SAMPLE_KINDS)}), seed and size"
            )
    return plan


def samples(
    space: SearchSpace, specs: dict[str, dict[str, Any]], per: int | None = None
) -> dict[str, list[Genome]]:
    """Each sample of a plan: ``size`` uniform genomes, or ``size`` per depth near the size
    target; ``per`` (when given) replaces every size, uniform samples drawing as many
    genomes as the decision samples (``per`` per depth)."""
    layer_gene = space.layer_gene()
    depths = len(layer_gene.choices) if layer_gene is not None else 1
    out = {}
    for name, spec in specs.items():
        if spec["kind"] == "decision":
            out[name] = decision_sample(space, per or spec["size"], spec["seed"])
        else:
            out[name] = uniform_sample(space, depths * per if per else spec["size"], spec["seed"])
    return out


def interleave(groups: dict[str, list[Genome]]) -> list[tuple[str, int, Genome]]:
    """``(sample, index, genome)`` taking genomes from every sample in proportion to its
    size (the first of each, in the plan's order, then onwards): any prefix of the order
    holds about the same fraction of every sample."""
    names = list(groups)
    tagged = [
        (i / len(genomes), names.index(name), name, i, genome)
        for name, genomes in groups.items()
        for i, genome in enumerate(genomes)
    ]
    return [(name, i, genome) for _, _, name, i, genome in sorted(tagged, key=lambda t: t[:2])]


def _evaluator(job: dict[str, Any]) -> Evaluator:
    key = (job["space"], job["level"], job["seed"])
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
    rows, lower = [], None
    for steps in job["marks"]:
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
                "latency_ms": result.latency_ms,
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
    add("--plan", default="truth", help=f"what to train: a plan of {PLANS.name} (truth)")
    add("--space", default=None, help="search space (default: the plan's)")
    add("--task", default=None, help="task id (the plan's, else lm/stdlib)")
    add("--level", default=None, help="fidelity level (the plan's, else long)")
    add("--seed", type=int, default=0, help="training seed (0)")
    add("--per", type=int, default=None, help="genomes per depth in every sample (the plan's)")
    add("--only", default=None, help="samples to train, comma-separated (all of the plan's)")
    add("--segments", type=int, default=None, help="even held-out checks (the plan's marks)")
    add("--workers", type=int, default=2, help="processes of one thread (2)")
    add("--limit", type=int, default=None, help="stop after this many genomes")
    add("--out", type=Path, default=None, help="rows file (the plan's)")
    add("--cache", type=Path, default=ROOT / ".long-cache" / "results.sqlite")
    add(
        "--genome",
        action="append",
        default=[],
        help="train these genomes (JSON genes, repeatable) as the sample --name instead",
    )
    add("--name", default="extra", help="sample name of the --genome genomes (extra)")
    args = parser.parse_args(argv)
    plan = load_plan(args.plan)
    args.level = args.level or plan.get("level", "long")
    args.task = args.task or plan.get("task", "lm/stdlib")
    space = SearchSpace.load(args.space or plan["space"])
    out: Path = args.out or ROOT / plan["out"]
    marks = [int(m) for m in plan["marks"]]
    if args.segments:
        total = Fidelity.resolve(args.level).total_steps
        marks = [total * (i + 1) // args.segments for i in range(args.segments)]
    if args.genome:
        given = [Genome.from_genes(space, json.loads(text)) for text in args.genome]
        order = [(args.name, i, g) for i, g in enumerate(given)]
    else:
        wanted = set(args.only.split(",")) if args.only else set(plan["samples"])
        order = [t for t in interleave(samples(space, plan["samples"], args.per)) if t[0] in wanted]
    have = done_keys(out)
    todo = [t for t in order if (t[0], t[1], args.level, args.seed) not in have]
    done = len(order) - len(todo)
    if args.limit is not None:
        todo = todo[: args.limit]
    print(f"{done} of {len(order)} genomes done; training {len(todo)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    jobs = [
        {
            "space": space.name,
            "task": args.task,
            "level": args.level,
            "seed": args.seed,
            "marks": marks,
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
                with out.open("a", encoding="utf-8") as fh:
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
