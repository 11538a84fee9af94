"""Failure statuses over a run: evaluations per window of steps, stacked by status."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analyze.load import Run
from analyze.plotting import empty_note, new_figure, save, status_color
from analyze.series import steps, window_edges, window_index


def plot_failures(run: Run, path: Path) -> Path:
    """Evaluations per window of global steps stacked by status (failures at the bottom,
    ``ok`` in light grey on top) and the failure rate per window on a second axis."""
    evaluated = [i for i, r in enumerate(run.records) if r.get("evaluated")]
    statuses = [str(run.records[i].get("status") or "unknown") for i in evaluated]
    x = steps(run)[evaluated] if evaluated else np.array([])
    fig = new_figure(11, 4.6)
    ax = fig.subplots()
    failures = sorted({s for s in statuses if s != "ok"})
    total = len(statuses)
    fig.suptitle(
        f"{run.label}: {total - statuses.count('ok')} failed of {total} evaluations"
        + (f" ({', '.join(f'{s} {statuses.count(s)}' for s in failures)})" if failures else "")
    )
    if not evaluated:
        empty_note(ax, "no evaluations in these records")
        return save(fig, path)
    edges = window_edges(x)
    index = window_index(x, edges)
    centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges) * 0.9
    bottom = np.zeros(len(centers))
    for k, status in enumerate([*failures, "ok"]):
        counts = np.bincount(index[[s == status for s in statuses]], minlength=len(centers)).astype(
            float
        )
        color = "#d9d9d9" if status == "ok" else status_color(status, k)
        ax.bar(centers, counts, width=width, bottom=bottom, color=color, label=status)
        bottom += counts
    rate_ax = ax.twinx()
    fails = np.bincount(index[[s != "ok" for s in statuses]], minlength=len(centers))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(bottom > 0, fails / np.maximum(bottom, 1), np.nan)
    rate_ax.plot(centers, rate, "-o", color="black", ms=3, lw=1.2, label="failure rate")
    rate_ax.set_ylim(0, 1.05)
    rate_ax.set_ylabel("failure rate")
    if not failures:
        empty_note(ax, "no failures")
    ax.set_xlabel("global step")
    ax.set_ylabel("evaluations per window")
    handles, labels = ax.get_legend_handles_labels()
    extra_h, extra_l = rate_ax.get_legend_handles_labels()
    ax.legend(handles + extra_h, labels + extra_l, loc="upper left", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return save(fig, path)
