"""Train a selection of genomes at every rung of a promotion ladder, in parallel.

Used to build multi-rung benchmark tables (``python -m nas_env.table build --rungs 2
--workers 2``): each worker process trains its genomes rung by rung (every genome climbs
the whole ladder, each rung continuing from the checkpoint of the one below) into the
shared result cache, and the tables are then written from cache hits. An interrupted run
resumes from the cache: finished rungs are not trained again.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from nas_env.evaluation.checkpoints import CheckpointStore
from nas_env.evaluation.evaluator import Evaluator, TrainSettings
from nas_env.evaluation.promotion import rung_steps
from nas_env.genome import Genome
from nas_env.tasks import cache_dir


@dataclass(frozen=True)
class LadderJob:
    """What every worker needs to build its evaluators (plain data, picklable)."""

    space: str
    task: str
    fidelity: str
    settings: TrainSettings
    rungs: int
    eta: int
    cache_root: str | None
    vocab_size: int | None = None
    checkpoint_mb: float = 2048.0


def ladder_evaluators(job: LadderJob) -> list[Evaluator]:
    """One evaluator per rung of ``job``'s ladder, lowest first, sharing checkpoints."""
    top = Evaluator(
        job.space,
        task=job.task,
        fidelity=job.fidelity,
        settings=job.settings,
        cache_root=job.cache_root,
        vocab_size=job.vocab_size,
    )
    store = CheckpointStore(cache_dir(job.cache_root) / "checkpoints", job.checkpoint_mb)
    rungs: list[Evaluator] = []
    for steps in rung_steps(top.fidelity.steps, job.rungs, job.eta):
        rungs.append(top.at_rung(steps, store, rungs[-1] if rungs else None))
    return rungs


_WORKER: dict[str, Any] = {}


def _init_worker(job: LadderJob) -> None:
    import torch

    if job.settings.threads:
        torch.set_num_threads(job.settings.threads)
    _WORKER["rungs"] = ladder_evaluators(job)


def _climb(genes: dict[str, Any]) -> list[str]:
    rungs: list[Evaluator] = _WORKER["rungs"]
    genome = rungs[0].space.genome(genes)
    statuses = []
    for evaluator in rungs:
        result = evaluator.evaluate(genome)
        statuses.append(result.status)
        if not result.ok:
            break
    return statuses


def train_ladder(
    job: LadderJob, genomes: Sequence[Genome], workers: int = 1, progress: bool = True
) -> Counter[str]:
    """Train every genome at every rung into the result cache; the status counts of the
    top rung reached (a genome that fails a rung is not trained further).

    Raises:
        KeyboardInterrupt: Propagated; what finished is in the cache.
    """
    bar = tqdm(
        total=len(genomes),
        desc=f"ladder {job.space} {job.fidelity} x{job.rungs}",
        unit="genome",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    counts: Counter[str] = Counter()
    payload = [g.to_dict()["genes"] for g in genomes]
    with bar:
        if workers <= 1:
            _init_worker(job)
            for genes in payload:
                counts[_climb(genes)[-1]] += 1
                bar.update(1)
            return counts
        context = mp.get_context("spawn")
        with context.Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
            for statuses in pool.imap_unordered(_climb, payload):
                counts[statuses[-1]] += 1
                bar.set_postfix(last=statuses[-1], refresh=False)
                bar.update(1)
    return counts


def rung_table_path(out: str | Path, steps: int, top: int) -> Path:
    """The table file of one rung: ``out`` for the top rung, ``<stem>@<steps><suffix>``
    beside it for the others."""
    out = Path(out)
    return out if steps == top else out.with_name(f"{out.stem}@{steps}{out.suffix}")
