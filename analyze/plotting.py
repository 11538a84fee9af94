"""Matplotlib set-up shared by the plot modules: Agg backend, figures, colours, saving.

Figures are made with `matplotlib.figure.Figure` (no pyplot state, nothing left open).
The Agg backend is selected before pyplot is ever imported, unless the caller has already
imported pyplot with a backend of its own (a notebook keeps its backend).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")

from matplotlib.figure import Figure

DPI = 110
KNOWN_COLORS = {
    "random": "#7f7f7f",
    "evolution": "#2ca02c",
    "ppo": "#1f77b4",
    "maskable_ppo": "#9467bd",
    "dqn": "#d62728",
    "a2c": "#ff7f0e",
}
_CYCLE = ("#17becf", "#bcbd22", "#e377c2", "#8c564b", "#393b79", "#637939", "#843c39")
STATUS_COLORS = {
    "diverged": "#d62728",
    "oom": "#9467bd",
    "timeout": "#ff7f0e",
    "invalid": "#8c564b",
    "error": "#000000",
}


def algo_colors(algos: list[str]) -> dict[str, str]:
    """A stable colour per algorithm (known names keep theirs across reports)."""
    colors: dict[str, str] = {}
    spare = iter(_CYCLE * (1 + len(algos) // len(_CYCLE)))
    for algo in sorted(set(algos)):
        colors[algo] = KNOWN_COLORS.get(algo) or next(spare)
    return colors


def status_color(status: str, index: int) -> str:
    """Colour of a failure status (unknown statuses take spare colours)."""
    return STATUS_COLORS.get(status, _CYCLE[index % len(_CYCLE)])


def new_figure(width: float, height: float) -> Figure:
    """A figure with constrained layout."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG at `DPI` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def slug(text: str) -> str:
    """A file-name-safe version of ``text`` (``nas_env/BenchLM-v2`` -> ``BenchLM-v2``)."""
    text = text.split("/", 1)[-1] if text.startswith("nas_env/") else text
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


def empty_note(ax, text: str) -> None:  # type: ignore[no-untyped-def]
    """Write ``text`` in the middle of an axes that has nothing to show."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
