"""Pareto plots: quality vs parameters and quality vs latency, every evaluated genome a point."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import NullFormatter

from analyze.load import Run
from analyze.pareto import OBJECTIVES, candidates, front_of
from analyze.plotting import algo_colors, empty_note, new_figure, save
from analyze.series import task_metric

LOG_SPAN = 20.0
"""Use a log axis when the largest value is this many times the smallest."""


def _log_if_wide(ax, which: str, data: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    data = data[np.isfinite(data)]
    if len(data) and np.min(data) > 0 and np.max(data) / np.min(data) > LOG_SPAN:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        axis = ax.xaxis if which == "x" else ax.yaxis
        axis.set_minor_formatter(NullFormatter())  # minor labels overlap on short spans


def _panel(ax, entries, x_name: str, x_label: str, metric: str, colors) -> None:  # type: ignore[no-untyped-def]
    larger = metric == "accuracy"
    usable = [e for e in entries if e["quality"] is not None and e[x_name] is not None]
    if not usable:
        empty_note(ax, f"no successful evaluation with quality and {x_name}")
        ax.set_xlabel(x_label)
        return
    for algo in sorted({e["algo"] for e in usable}):
        mine = [e for e in usable if e["algo"] == algo]
        ax.scatter([e[x_name] for e in mine], [e["quality"] for e in mine], s=14, alpha=0.45,
                   color=colors[algo], label=f"{algo} ({len(mine)} genomes)")  # fmt: skip
    front = front_of(usable, ("quality", x_name), (larger, False))
    front.sort(key=lambda e: e[x_name])
    fx, fy = [e[x_name] for e in front], [e["quality"] for e in front]
    ax.step(fx, fy, where="post", color="#d62728", lw=1.5)
    ax.scatter(fx, fy, s=80, marker="*", color="#d62728", edgecolor="black", lw=0.5, zorder=3,
               label=f"front in these two objectives ({len(front)})")  # fmt: skip
    full = front_of(usable, OBJECTIVES, (larger, False, False))
    ax.scatter([e[x_name] for e in full], [e["quality"] for e in full], s=60, facecolor="none",
               edgecolor="black", lw=1, zorder=4,
               label=f"front in (quality, params, latency) ({len(full)})")  # fmt: skip
    _log_if_wide(ax, "x", np.array([e[x_name] for e in usable], dtype=float))
    _log_if_wide(ax, "y", np.array([e["quality"] for e in usable], dtype=float))
    ax.set_xlabel(f"{x_label} (lower is better)")
    ax.set_ylabel(f"{metric} ({'higher' if larger else 'lower'} is better)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3, which="both")


def plot_pareto(runs: Sequence[Run], path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Quality vs parameters and quality vs latency of every successfully evaluated genome
    of ``runs`` (one env), the non-dominated front highlighted in each panel.

    Returns the PNG path and the front in all three objectives (quality, params, latency).
    """
    entries = candidates(runs)
    metric = task_metric(runs)
    colors = algo_colors([r.algo for r in runs])
    fig = new_figure(13, 5.5)
    axes = fig.subplots(1, 2)
    env = runs[0].env_id if runs else "?"
    fig.suptitle(f"{env}: Pareto front of {len(entries)} evaluated genomes ({metric})")
    _panel(axes[0], entries, "params", "parameters", metric, colors)
    axes[0].set_title(f"{metric} vs parameters")
    _panel(axes[1], entries, "latency_ms", "latency (ms)", metric, colors)
    axes[1].set_title(f"{metric} vs latency")
    larger = metric == "accuracy"
    front = front_of(entries, OBJECTIVES, (larger, False, False))
    front.sort(key=lambda e: e["quality"] * (-1 if larger else 1))
    return save(fig, path), front
