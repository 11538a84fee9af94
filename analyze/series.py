"""Numbers out of records: numeric fields, metric directions, best-so-far curves, windows."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from analyze.load import AnalyzeError, Run

LOWER_IS_BETTER = frozenset(
    {
        "perplexity",
        "val_loss",
        "params",
        "size_mb",
        "latency_ms",
        "flops_per_token",
        "step_seconds",
        "wall_time",
    }
)
"""Fields where a smaller value is better (anything else numeric: larger is better)."""


def number(value: Any) -> float | None:
    """A finite float, or None (bools, strings, null, NaN and inf are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def numeric_fields(runs: Iterable[Run]) -> list[str]:
    """Record fields holding a number in at least one record, sorted."""
    names: set[str] = set()
    for run in runs:
        for record in run.records:
            names.update(k for k, v in record.items() if k not in names and number(v) is not None)
    return sorted(names)


def check_metric(runs: Sequence[Run], name: str | None) -> None:
    """Raise `AnalyzeError` listing the numeric fields when ``name`` is not one of them."""
    if name is None:
        return
    fields = numeric_fields(runs)
    if name not in fields:
        raise AnalyzeError(
            f"unknown metric {name!r}: not a numeric field of these records; "
            f"numeric fields present: {', '.join(fields) or '(none)'}"
        )


def task_metric(runs: Iterable[Run]) -> str:
    """The task metric named by the records (``perplexity`` or ``accuracy``), most common."""
    counts: dict[str, int] = {}
    for run in runs:
        for record in run.records:
            metric = record.get("metric")
            if isinstance(metric, str) and metric:
                counts[metric] = counts.get(metric, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else "quality"


def maximize(name: str, runs: Iterable[Run] = ()) -> bool:
    """Whether larger values of field ``name`` are better."""
    if name == "quality":
        return task_metric(runs) != "perplexity"
    return name not in LOWER_IS_BETTER


def steps(run: Run) -> np.ndarray:
    """The x of each record: ``global_step`` (the record's index where it is missing)."""
    out = np.empty(len(run.records))
    last = 0.0
    for i, record in enumerate(run.records):
        value = number(record.get("global_step"))
        last = value if value is not None else last + 1
        out[i] = last
    return out


def values(run: Run, name: str) -> np.ndarray:
    """Field ``name`` of every record as floats (NaN where missing or not a number)."""
    return np.array([_nan(number(r.get(name))) for r in run.records], dtype=float)


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def eval_key(record: dict[str, Any]) -> str | None:
    """What identifies the evaluated genome: ``genome_key``, else the canonical genome JSON."""
    key = record.get("genome_key")
    if key:
        return str(key)
    genome = record.get("genome")
    return json.dumps(genome, sort_keys=True, default=str) if genome is not None else None


def is_success(record: dict[str, Any]) -> bool:
    """A record that evaluated a genome successfully (what best.json and pareto.json count)."""
    return bool(record.get("evaluated")) and record.get("status") == "ok"


def best_curve(run: Run, name: str = "score", larger: bool = True) -> dict[str, np.ndarray]:
    """Best ``name`` so far after each evaluation of the run.

    Returns arrays ``unique`` (unique evaluations so far), ``wall`` (seconds) and ``best``
    (NaN until the first successful evaluation with a finite value).
    """
    keys: set[str] = set()
    unique, wall, best = [], [], []
    current = math.nan
    for record in run.records:
        if not record.get("evaluated"):
            continue
        key = eval_key(record)
        if key:
            keys.add(key)
        count = number(record.get("unique_evaluations"))
        unique.append(count if count is not None else float(len(keys)))
        seconds = number(record.get("wall_time"))
        wall.append(seconds if seconds is not None else (wall[-1] if wall else 0.0))
        value = number(record.get(name)) if is_success(record) else None
        if value is not None and (
            math.isnan(current) or (value > current if larger else value < current)
        ):
            current = value
        best.append(current)
    return {"unique": np.array(unique), "wall": np.array(wall), "best": np.array(best)}


def step_at(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Right-continuous step function (x sorted ascending) sampled on ``grid``; NaN before x[0]."""
    if len(x) == 0:
        return np.full(len(grid), math.nan)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    index = np.searchsorted(x, grid, side="right") - 1
    out = np.where(index >= 0, y[np.clip(index, 0, None)], math.nan)
    return out.astype(float)


def window_edges(x: np.ndarray, max_windows: int = 30, min_per_window: int = 3) -> np.ndarray:
    """Edges of equal-width windows covering ``x`` (at least one window)."""
    if len(x) == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(np.min(x)), float(np.max(x))
    count = int(max(1, min(max_windows, len(x) // max(1, min_per_window))))
    if hi <= lo:
        return np.array([lo - 0.5, lo + 0.5])
    return np.linspace(lo, hi + 1e-9 * max(1.0, abs(hi)), count + 1)


def window_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Window of each x (0 .. len(edges) - 2)."""
    return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)


def rolling_mean(y: np.ndarray, width: int) -> np.ndarray:
    """Trailing mean over ``width`` finite values (NaNs ignored)."""
    if len(y) == 0:
        return y
    width = max(1, int(width))
    finite = np.isfinite(y)
    sums = np.cumsum(np.where(finite, y, 0.0))
    counts = np.cumsum(finite.astype(float))
    sums = np.concatenate([[0.0], sums])
    counts = np.concatenate([[0.0], counts])
    idx = np.arange(1, len(y) + 1)
    start = np.clip(idx - width, 0, None)
    n = counts[idx] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[idx] - sums[start]) / np.maximum(n, 1), math.nan)
