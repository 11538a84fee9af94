"""Build a benchmark table: evaluate every genome of a space (or a sample) once, resumably."""

from __future__ import annotations

import math
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from nas_env.errors import ConfigError
from nas_env.evaluation.evaluator import EVALUATOR_VERSION, TrainSettings
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.interface import GenomeEvaluator
from nas_env.evaluation.result import EvalResult, lower_is_better
from nas_env.genome import Genome
from nas_env.space import SearchSpace
from nas_env.table import store
from nas_env.table.evaluator import TableEvaluator

# Spaces with at most this many genomes (ignoring constraints) are sampled from their full
# enumeration; bigger ones by drawing random genomes and dropping duplicates.
ENUMERATE_LIMIT = 50_000


class TableSource(GenomeEvaluator, Protocol):
    """What `build_table` needs from an evaluator: a `GenomeEvaluator` that also says
    what it trains (the training `nas_env.evaluation.Evaluator` is one)."""

    fidelity: Fidelity
    task_id: str
    settings: TrainSettings


@dataclass(frozen=True)
class TableSummary:
    """What a `build_table` call did and what the table holds afterwards.

    Attributes:
        path: The table file.
        selected: Genomes selected for this build (whole space or sample).
        evaluated: Genomes evaluated by this call.
        skipped: Selected genomes already in the table (resumed build).
        rows: Rows in the table at the end.
        statuses: Row count per status, over the whole table.
        seconds: Wall-clock time of this call.
        build_seconds: Total build time over every call that wrote to the table.
        metric: ``perplexity`` (lower is better) or ``accuracy`` (higher is better).
        best_key: Genome key of the best ``ok`` row; ``best_quality`` its metric value.
        size_bytes: File size at the end.
    """

    path: Path
    selected: int
    evaluated: int
    skipped: int
    rows: int
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    build_seconds: float = 0.0
    metric: str | None = None
    best_key: str | None = None
    best_quality: float | None = None
    size_bytes: int = 0

    def __str__(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        best = (
            f"; best {self.metric} {self.best_quality:.4g} ({self.best_key})"
            if self.best_quality is not None
            else ""
        )
        return (
            f"{self.path}: {self.rows} rows ({statuses}){best}; this run evaluated "
            f"{self.evaluated}, skipped {self.skipped} already stored, {self.seconds:.1f} s; "
            f"{self.size_bytes / 1024:.0f} KiB"
        )


def is_better(quality: float | None, best: float | None, metric: str | None) -> bool:
    """True when ``quality`` is a finite value that beats ``best`` (None: nothing yet)."""
    if quality is None or not math.isfinite(quality):
        return False
    if best is None:
        return True
    return quality < best if lower_is_better(metric) else quality > best


def evaluator_meta(evaluator: TableSource) -> dict[str, Any]:
    """The meta fields that describe what ``evaluator`` measures (identity + context)."""
    import torch

    import nas_env

    space = evaluator.space
    settings = evaluator.settings
    device = str(getattr(evaluator, "device", settings.device))
    precision = getattr(evaluator, "precision", None)
    task = getattr(evaluator, "task", None)
    return {
        "format": store.TABLE_FORMAT,
        "space": space.to_dict(),
        "task": evaluator.task_id,
        "task_fingerprint": getattr(task, "fingerprint", None),
        "metric": getattr(task, "metric", None),
        "vocab_size": space.task.vocab_size,
        "seq_len": space.task.seq_len,
        "fidelity": {"name": evaluator.fidelity.name, "config": evaluator.fidelity.to_dict()},
        "seed": settings.seed,
        "residual_init": settings.residual_init,
        "backend": settings.backend,
        "device": device,
        "device_type": device.split(":")[0],
        "precision": getattr(precision, "name", None) or settings.precision,
        "evaluator_version": EVALUATOR_VERSION,
        "package_version": nas_env.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "machine": store.machine_name(),
    }


def select_genomes(
    space: SearchSpace,
    genomes: Iterable[Genome] | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> list[Genome]:
    """The genomes a build covers, deduplicated by key, in evaluation order.

    Without ``genomes``: every valid genome of ``space`` (`SearchSpace.enumerate`), or with
    ``sample``, that many drawn without replacement using ``seed`` (uniformly over the
    valid genomes, `SearchSpace.uniform_genome`, when the space is too big to enumerate).
    A sample of size n is a prefix of the sample of size n + k under the same seed, so a
    table can be extended.
    With ``genomes``: those (and a ``sample`` of them when given).

    Raises:
        ConfigError: ``sample`` < 1.
    """
    if sample is not None and (isinstance(sample, bool) or int(sample) < 1):
        raise ConfigError(f"sample: expected a positive number of genomes, got {sample!r}")
    rng = np.random.default_rng(seed)
    if genomes is None and sample is not None and space.cardinality() > ENUMERATE_LIMIT:
        return _draw_unique(space, int(sample), rng)
    pool = list(space.enumerate()) if genomes is None else _unique(genomes)
    if sample is None or sample >= len(pool):
        return pool
    order = rng.permutation(len(pool))[: int(sample)]
    return [pool[int(i)] for i in order]


def _unique(genomes: Iterable[Genome]) -> list[Genome]:
    seen: dict[str, Genome] = {}
    for genome in genomes:
        if not isinstance(genome, Genome):
            raise ConfigError(f"genomes: expected Genome objects, got {type(genome).__name__}")
        seen.setdefault(genome.key(), genome)
    return list(seen.values())


def _draw_unique(space: SearchSpace, sample: int, rng: np.random.Generator) -> list[Genome]:
    seen: dict[str, Genome] = {}
    misses = 0
    limit = 1000 + 50 * sample  # consecutive duplicates before the space counts as exhausted
    while len(seen) < sample and misses < limit:
        genome = space.uniform_genome(rng)
        if genome.key() in seen:
            misses += 1
            continue
        misses = 0
        seen[genome.key()] = genome
    return list(seen.values())


def _stored_statuses(conn: Any, path: Path) -> dict[str, tuple[str, float | None, str]]:
    """genome key -> (status, quality, metric) of every stored row."""
    out = {}
    for key, text in conn.execute("SELECT genome_key, result FROM rows"):
        try:
            result = EvalResult.from_json(text)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: row {key} holds an unreadable result ({exc})") from exc
        out[key] = (result.status, result.quality, result.metric)
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_table(
    evaluator: TableSource,
    out_path: str | Path,
    genomes: Iterable[Genome] | None = None,
    sample: int | None = None,
    seed: int = 0,
    progress: bool = True,
    retry_errors: bool = True,
) -> TableSummary:
    """Evaluate genomes of ``evaluator.space`` and store each result in a table file.

    Every row is committed as soon as its genome is evaluated, so an interrupted build
    (Ctrl-C, crash, reboot) loses at most the genome in flight: running the same call
    again skips the genomes already stored. Failed candidates (``diverged``, ``oom``,
    ``timeout``, ``invalid``) are stored like any other result; rows with status ``error``
    (possibly transient) are evaluated again on a re-run unless ``retry_errors`` is False.

    Args:
        evaluator: A `nas_env.evaluation.Evaluator` (or an object with ``space``,
            ``fidelity``, ``task_id``, ``settings`` and ``evaluate``).
        out_path: The table file (created with its folder).
        genomes: Genomes to evaluate (default: every valid genome of the space).
        sample: Evaluate only this many, drawn without replacement with ``seed``.
        seed: Seed of the sample (training is seeded by ``evaluator.settings.seed``).
        progress: Show a tqdm progress bar on stderr.
        retry_errors: Re-evaluate stored rows whose status is ``error``.

    Returns:
        A `TableSummary`.

    Raises:
        ConfigError: The file exists and was built with another space, task, fidelity,
            seed, backend, device type, precision or evaluator version (the message lists
            the differences), or it is not a benchmark table.
        KeyboardInterrupt: Propagated after the rows evaluated so far are saved.
    """
    path = Path(out_path)
    started = time.perf_counter()
    wanted = evaluator_meta(evaluator)
    selection = select_genomes(evaluator.space, genomes, sample, seed)
    selection_meta = {
        "genomes": "given" if genomes is not None else "all" if sample is None else "sample",
        "sample": sample,
        "sample_seed": seed if sample is not None else None,
        "selected": len(selection),
    }
    conn = store.connect_writer(path)
    completed = False
    accepted = False  # the file's meta matches this build: it may be written
    prior_seconds = 0.0
    evaluated = 0
    try:
        stored_meta = store.read_meta(conn, path)
        stored = _stored_statuses(conn, path)
        if stored_meta:
            problems = store.identity_mismatches(stored_meta, wanted)
            if problems:
                raise ConfigError(
                    f"{path} was built with another configuration, so this build cannot "
                    "resume or extend it:\n  - " + "\n  - ".join(problems) + "\nUse another "
                    f"output path, or delete {path} to rebuild it from scratch."
                )
            prior_seconds = float(stored_meta.get("build_seconds") or 0.0)
            store.write_meta(conn, {"selection": selection_meta, "updated": _now()})
        elif stored:
            raise ConfigError(f"{path}: has {len(stored)} rows but no meta; not a usable table")
        else:
            store.write_meta(
                conn,
                {**wanted, "created": _now(), "selection": selection_meta, "build_seconds": 0.0},
            )
        accepted = True
        metric = wanted["metric"]
        best: float | None = None
        for status, quality, row_metric in stored.values():
            metric = metric or row_metric or None
            if status == "ok" and is_better(quality, best, metric):
                best = quality
        todo = [
            g
            for g in selection
            if g.key() not in stored or (retry_errors and stored[g.key()][0] == "error")
        ]
        bar = tqdm(
            total=len(selection),
            initial=len(selection) - len(todo),
            desc=f"table {evaluator.space.name}",
            unit="genome",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        with bar:
            for genome in todo:
                result = evaluator.evaluate(genome)
                if result.genome_key != genome.key():
                    result = replace(result, genome_key=genome.key())
                store.write_row(conn, genome.key(), genome.to_json(), result.to_json())
                evaluated += 1
                metric = metric or result.metric or None
                if result.ok and is_better(result.quality, best, metric):
                    best = result.quality
                bar.set_postfix(
                    last=result.status,
                    best=f"{best:.4g}" if best is not None else "-",
                    refresh=False,
                )
                bar.update(1)
        completed = True
    finally:
        seconds = time.perf_counter() - started
        try:
            if accepted:
                rows = conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
                store.write_meta(
                    conn,
                    {
                        "build_seconds": prior_seconds + seconds,
                        "rows": rows,
                        "updated": _now(),
                        "complete": completed,
                    },
                )
        finally:
            store.finish_file(conn, vacuum=completed)
            conn.close()
    return summarize(path, selected=len(selection), evaluated=evaluated, seconds=seconds)


def summarize(
    path: str | Path, selected: int = 0, evaluated: int = 0, seconds: float = 0.0
) -> TableSummary:
    """Read a finished table back into a `TableSummary`."""
    table = TableEvaluator(path)
    best = table.best()
    return TableSummary(
        path=Path(path),
        selected=selected,
        evaluated=evaluated,
        skipped=max(0, selected - evaluated),
        rows=len(table),
        statuses=table.status_counts(),
        seconds=seconds,
        build_seconds=float(table.meta.get("build_seconds") or 0.0),
        metric=table.metric,
        best_key=best.genome_key if best else None,
        best_quality=best.quality if best else None,
        size_bytes=Path(path).stat().st_size,
    )


def status_counts(results: Sequence[EvalResult]) -> dict[str, int]:
    """Rows per status, most common first."""
    return dict(Counter(r.status for r in results).most_common())
