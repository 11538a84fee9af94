"""Non-dominated sets of evaluated genomes (quality vs parameters vs latency)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from analyze.load import Run
from analyze.series import is_success, number

OBJECTIVES: tuple[str, ...] = ("quality", "params", "latency_ms")


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when ``a`` is no worse than ``b`` everywhere and better somewhere (minimising)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def pareto_front(points: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[int]:
    """Indices (ascending) of the non-dominated points.

    Args:
        points: One row of objective values per point.
        maximize: Per objective, whether larger is better (else smaller is better).

    Of several identical non-dominated points only the first is kept.
    """
    if len(points) == 0:
        return []
    signs = np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
    data = np.asarray(points, dtype=float) * signs  # every objective minimised now
    if data.ndim != 2 or data.shape[1] != len(signs):
        raise ValueError(f"points must be rows of {len(signs)} objective values")
    keep: list[int] = []
    for i, row in enumerate(data):
        no_worse = np.all(data <= row, axis=1)
        better = np.any(data < row, axis=1)
        if np.any(no_worse & better):
            continue
        same = np.all(data == row, axis=1)
        if np.argmax(same) < i:  # an identical point came first
            continue
        keep.append(i)
    return keep


def candidates(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """One entry per successfully evaluated genome (first evaluation of each key per run).

    Entries hold ``quality``, ``params``, ``latency_ms`` (None where not measured), ``score``,
    ``metric``, ``genome``, ``genome_key``, ``algo``, ``run`` (label) and ``global_step``.
    """
    out: list[dict[str, Any]] = []
    for run in runs:
        seen: set[Any] = set()
        for record in run.records:
            key = record.get("genome_key")
            if not is_success(record) or key in seen:
                continue
            seen.add(key)
            out.append(
                {
                    **{name: number(record.get(name)) for name in OBJECTIVES},
                    "score": number(record.get("score")),
                    "metric": record.get("metric"),
                    "genome": record.get("genome"),
                    "genome_key": key,
                    "algo": run.algo,
                    "run": run.label,
                    "global_step": record.get("global_step"),
                }
            )
    return out


def front_of(
    entries: Sequence[dict[str, Any]], objectives: Sequence[str], maximize: Sequence[bool]
) -> list[dict[str, Any]]:
    """The non-dominated entries under ``objectives`` (entries missing one are ignored)."""
    usable = [e for e in entries if all(e.get(name) is not None for name in objectives)]
    points = [[float(e[name]) for name in objectives] for e in usable]
    return [usable[i] for i in pareto_front(points, maximize)]
