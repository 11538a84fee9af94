"""Comparison plots of the runs of one env: best so far (per algorithm, across seeds) and a
chosen metric over steps."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from analyze.load import Run
from analyze.plotting import algo_colors, empty_note, new_figure, save
from analyze.series import best_curve, maximize, rolling_mean, step_at, steps, values

MAX_GRID = 400
QUARTILE_BAND_FROM = 4
"""With at least this many seeds the band is the 25-75% range, else min-max."""


def by_algo(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped by algorithm (sorted by name)."""
    groups: dict[str, list[Run]] = {}
    for run in sorted(runs, key=lambda r: r.algo):
        groups.setdefault(run.algo, []).append(run)
    return groups


def _grid(ends: list[float], integer: bool) -> np.ndarray:
    top = min(ends)
    if integer:
        grid = np.arange(1, int(top) + 1, dtype=float)
        if len(grid) > MAX_GRID:
            grid = np.unique(np.linspace(1, top, MAX_GRID).round())
        return grid
    return np.linspace(0.0, top, MAX_GRID)


def _panel(ax, groups, curves, axis: str, colors) -> bool:  # type: ignore[no-untyped-def]
    """Draw one panel (x = ``unique`` or ``wall``); False when nothing could be drawn."""
    drawn = False
    for algo, runs in groups.items():
        color = colors[algo]
        lines = [curves[id(run)] for run in runs]
        lines = [c for c in lines if len(c["best"]) and np.isfinite(c["best"]).any()]
        if not lines:
            ax.plot([], [], color=color, ls="--", label=f"{algo}: no successful evaluation")
            continue
        drawn = True
        if len(lines) == 1:
            c = lines[0]
            seed = runs[0].seed
            ax.step(c[axis], c["best"], where="post", color=color, lw=2,
                    label=f"{algo} (seed {seed})")  # fmt: skip
            ax.plot(c[axis][-1:], c["best"][-1:], "o", color=color, ms=5)  # where it stopped
            continue
        for c in lines:
            ax.step(c[axis], c["best"], where="post", color=color, lw=0.7, alpha=0.3)
        ends = [float(np.max(c[axis])) for c in lines]
        if min(ends) <= 0:
            ax.plot([], [], color=color, label=f"{algo} ({len(lines)} seeds, no elapsed time)")
            continue
        grid = _grid(ends, integer=axis == "unique")
        stack = np.vstack([step_at(c[axis], c["best"], grid) for c in lines])
        with warnings.catch_warnings():  # all-NaN columns before a run's first success
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(stack, axis=0)
            if len(lines) >= QUARTILE_BAND_FROM:
                lo, hi, band = *np.nanpercentile(stack, [25, 75], axis=0), "25-75%"
            else:
                lo, hi, band = np.nanmin(stack, axis=0), np.nanmax(stack, axis=0), "min-max"
        ax.plot(grid, median, color=color, lw=2.2,
                label=f"{algo}: median of {len(lines)} seeds ({band} band)")  # fmt: skip
        ax.fill_between(grid, lo, hi, color=color, alpha=0.2, lw=0)
    return drawn


def plot_best_so_far(runs: Sequence[Run], path: Path, metric: str | None = None) -> Path:
    """Best score (or ``metric``) so far vs unique evaluations and vs wall-clock seconds,
    one line per run, or median and band per algorithm over several seeds."""
    name = metric or "score"
    larger = maximize(name, runs)
    curves = {id(run): best_curve(run, name, larger) for run in runs}
    groups = by_algo(runs)
    colors = algo_colors(list(groups))
    fig = new_figure(13, 5.2)
    axes = fig.subplots(1, 2)
    env = runs[0].env_id if runs else "?"
    fig.suptitle(f"{env}: best {name} so far ({'higher' if larger else 'lower'} is better)")
    for ax, axis, label in zip(
        axes, ("unique", "wall"), ("unique evaluations", "wall-clock seconds"), strict=True
    ):
        if _panel(ax, groups, curves, axis, colors):
            ax.legend(loc="lower right" if larger else "upper right", fontsize=8)
        else:
            empty_note(ax, f"no successful evaluation with a {name} value")
        ax.set_xlabel(label)
        ax.set_ylabel(f"best {name} so far")
        ax.set_title(f"vs {label}")
        ax.grid(alpha=0.3)
    return save(fig, path)


def plot_metric(runs: Sequence[Run], metric: str, path: Path) -> Path:
    """``metric`` of every record over global steps, one colour per algorithm, with a
    trailing mean per run."""
    colors = algo_colors([r.algo for r in runs])
    fig = new_figure(12, 5)
    ax = fig.subplots()
    env = runs[0].env_id if runs else "?"
    drawn = False
    for run in runs:
        x, y = steps(run), values(run, metric)
        keep = np.isfinite(y)
        if not keep.any():
            continue
        drawn = True
        x, y = x[keep], y[keep]
        color = colors[run.algo]
        ax.plot(x, y, ".", ms=2.5, alpha=0.3, color=color)
        width = max(1, len(y) // 25)
        ax.plot(x, rolling_mean(y, width), lw=1.8, color=color,
                label=f"{run.algo} seed {run.seed} (mean of last {width})")  # fmt: skip
    if drawn:
        ax.legend(loc="best", fontsize=8)
    else:
        empty_note(ax, f"no finite {metric} values")
    better = "higher" if maximize(metric, runs) else "lower"
    ax.set_title(f"{env}: {metric} per record ({better} is better)")
    ax.set_xlabel("global step")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if math.isfinite(_span(runs, metric)) and _span(runs, metric) > 1e3:
        ax.set_yscale("log")
    return save(fig, path)


def _span(runs: Sequence[Run], metric: str) -> float:
    """max/min ratio of positive values (decides a log axis); NaN when not applicable."""
    y = np.concatenate([values(run, metric) for run in runs]) if runs else np.array([])
    y = y[np.isfinite(y)]
    if len(y) == 0 or np.min(y) <= 0:
        return math.nan
    return float(np.max(y) / np.min(y))
