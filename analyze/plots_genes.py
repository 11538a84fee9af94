"""How gene choices move during a search: per gene, per window of global steps, the share
of each value (categorical genes) or the mean value (numeric genes; per-layer lists are
averaged over layers first)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from analyze.load import Run
from analyze.plotting import empty_note, new_figure, save
from analyze.series import number, steps, window_edges, window_index

MAX_COLUMNS = 4
MAX_CATEGORIES = 8
WINDOWS = 20
MIN_PER_WINDOW = 8


def genes_of(record: dict[str, Any]) -> dict[str, Any] | None:
    """The genes of a record's genome (``{"genes": {...}}`` wrappers unwrapped)."""
    genome = record.get("genome")
    if not isinstance(genome, dict):
        return None
    inner = genome.get("genes")
    return inner if isinstance(inner, dict) else genome


def _as_number(value: Any) -> float | None:
    """A number, or the mean of a list of numbers (per-layer genes); else None."""
    if isinstance(value, list | tuple):
        items = [number(v) for v in value]
        if not items or any(v is None for v in items):
            return None
        return float(np.mean(items))
    return number(value)


def _labels(value: Any) -> list[str]:
    """Category labels of a value (one per layer for per-layer lists)."""
    items = value if isinstance(value, list | tuple) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in items]


def gene_table(run: Run) -> tuple[np.ndarray, dict[str, list[Any]]]:
    """x (global step) of the records holding a genome, and each gene's values there."""
    xs, columns = [], {}
    all_steps = steps(run)
    for i, record in enumerate(run.records):
        genes = genes_of(record)
        if genes is None:
            continue
        xs.append(all_steps[i])
        for name in genes:
            columns.setdefault(name, [None] * (len(xs) - 1))
        for name, column in columns.items():
            column.append(genes.get(name))
    return np.array(xs, dtype=float), columns


def is_numeric(column: list[Any]) -> bool:
    """A gene with numbers (or lists of numbers) in every record that has it."""
    present = [v for v in column if v is not None]
    return bool(present) and all(_as_number(v) is not None for v in present)


def _numeric(ax, x, column, edges, index) -> None:  # type: ignore[no-untyped-def]
    y = np.array([math.nan if v is None else _as_number(v) for v in column], dtype=float)
    centers = (edges[:-1] + edges[1:]) / 2
    mean, lo, hi = (np.full(len(centers), math.nan) for _ in range(3))
    for w in range(len(centers)):
        chunk = y[(index == w) & np.isfinite(y)]
        if len(chunk):
            mean[w], lo[w], hi[w] = chunk.mean(), chunk.min(), chunk.max()
    ax.fill_between(centers, lo, hi, color="#1f77b4", alpha=0.15, lw=0, label="min-max")
    ax.plot(centers, mean, "-o", ms=3, color="#1f77b4", label="mean")
    ax.set_ylabel("mean value")


def _categorical(ax, column, edges, index) -> None:  # type: ignore[no-untyped-def]
    counts: dict[str, np.ndarray] = {}
    windows = len(edges) - 1
    for value, w in zip(column, index, strict=True):
        if value is None:
            continue
        for label in _labels(value):
            counts.setdefault(label, np.zeros(windows))[w] += 1
    if len(counts) > MAX_CATEGORIES:  # keep the most used, fold the rest into "other"
        order = sorted(counts, key=lambda k: -counts[k].sum())
        other = sum((counts.pop(k) for k in order[MAX_CATEGORIES - 1 :]), np.zeros(windows))
        counts["other"] = other
    total = sum(counts.values(), np.zeros(windows))
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = [np.where(total > 0, c / np.maximum(total, 1), math.nan) for c in counts.values()]
    centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    bottom = np.zeros(windows)
    for label, share in zip(counts, shares, strict=True):
        share = np.nan_to_num(share)
        ax.bar(centers, share, width=width, bottom=bottom, label=label, alpha=0.85, lw=0)
        bottom += share
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of records")


def plot_genes(run: Run, path: Path) -> Path:
    """One panel per gene: its value distribution over windows of global steps."""
    x, columns = gene_table(run)
    count = max(1, len(columns))
    cols = min(MAX_COLUMNS, count)
    rows = math.ceil(count / cols)
    fig = new_figure(4.3 * cols, 2.9 * rows + 0.6)
    fig.suptitle(f"{run.label}: gene choices over the search ({len(x)} records with a genome)")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    if not columns:
        empty_note(axes[0], "no genomes in these records")
    edges = window_edges(x, max_windows=WINDOWS, min_per_window=MIN_PER_WINDOW)
    index = window_index(x, edges)
    for ax, (name, column) in zip(axes, columns.items(), strict=False):
        if is_numeric(column):
            _numeric(ax, x, column, edges, index)
        else:
            _categorical(ax, column, edges, index)
        ax.set_title(name)
        ax.set_xlabel("global step")
        ax.legend(loc="upper left", fontsize=6.5, framealpha=0.6)
        ax.grid(alpha=0.3)
    for ax in axes[max(1, len(columns)) :]:
        ax.set_visible(False)
    return save(fig, path)
