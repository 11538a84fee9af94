"""Reward views of one run: all steps with episode boundaries, episodes overlaid, first/last."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from analyze.load import Run
from analyze.plotting import empty_note, new_figure, save
from analyze.series import number, rolling_mean, steps, values

MAX_BOUNDARY_LINES = 80
MAX_OVERLAID = 200
MAX_ACTION_LABELS = 25


def episodes_of(run: Run) -> dict[Any, list[dict[str, Any]]]:
    """Records grouped by episode, in file order (records without an episode are left out)."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for record in run.records:
        if record.get("episode") is not None:
            groups.setdefault(record["episode"], []).append(record)
    return groups


def _returns(records: list[dict[str, Any]]) -> np.ndarray:
    """Return so far at each record (``episode_return``, else the running sum of rewards)."""
    out, total = [], 0.0
    for record in records:
        total += number(record.get("reward")) or 0.0
        given = number(record.get("episode_return"))
        out.append(given if given is not None else total)
    return np.array(out, dtype=float)


def _aggregate(ax, run: Run) -> None:  # type: ignore[no-untyped-def]
    x, y = steps(run), values(run, "reward")
    if not np.isfinite(y).any():
        empty_note(ax, "no reward values in these records")
        return
    ax.plot(x, y, lw=0.7, alpha=0.45, color="#1f77b4", label="reward of the step")
    width = max(1, len(y) // 30)
    ax.plot(x, rolling_mean(y, width), lw=2, color="#d62728", label=f"mean of last {width}")
    ends = [number(r.get("global_step")) for r in run.records if r.get("done")]
    ends = [e for e in ends if e is not None]
    single = len(ends) >= len(run.records)  # baselines: every record is its own episode
    if single:
        pass  # a boundary after every record tells nothing
    elif 0 < len(ends) <= MAX_BOUNDARY_LINES:
        for i, end in enumerate(ends):
            ax.axvline(end, color="0.45", ls=":", lw=0.8, label="episode end" if i == 0 else None)
    elif ends:
        ax.plot(ends, np.full(len(ends), np.nanmin(y)), "|", color="0.3", ms=8,
                label=f"episode end ({len(ends)})")  # fmt: skip
    ax.set_xlabel("global step")
    ax.set_ylabel("reward")
    what = "one-record episodes (samples)" if single else "episodes ended"
    ax.set_title(f"reward per step, {len(ends)} {what}")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)


def _per_episode(ax, groups: dict[Any, list[dict[str, Any]]]) -> None:  # type: ignore[no-untyped-def]
    """Final return of each episode in order (for runs whose episodes are single records)."""
    returns = np.array([_returns(records)[-1] for records in groups.values()])
    x = np.arange(len(returns))
    ax.plot(x, returns, ".", ms=4, alpha=0.5, color="#1f77b4", label="episode return")
    width = max(1, len(returns) // 30)
    ax.plot(x, rolling_mean(returns, width), lw=2, color="#d62728",
            label=f"mean of last {width}")  # fmt: skip
    ax.set_title("return of each episode (every episode is a single record)")
    ax.set_xlabel("episode (order in the run)")
    ax.set_ylabel("return")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)


def _overlay(fig, ax, groups: dict[Any, list[dict[str, Any]]]) -> None:  # type: ignore[no-untyped-def]
    keys = list(groups)
    if not keys:
        empty_note(ax, "no episode numbers in these records")
        return
    if all(len(records) == 1 for records in groups.values()):
        _per_episode(ax, groups)
        return
    shown = keys
    if len(keys) > MAX_OVERLAID:
        picks = np.linspace(0, len(keys) - 1, MAX_OVERLAID).round().astype(int)
        shown = [keys[i] for i in sorted(set(picks))]
    norm = Normalize(0, max(1, len(keys) - 1))
    cmap = colormaps["viridis"]
    position = {key: i for i, key in enumerate(keys)}
    for key in shown:
        records = groups[key]
        x = [number(r.get("step")) for r in records]
        x = [i if v is None else v for i, v in enumerate(x)]
        ax.plot(x, _returns(records), "-o", ms=2.5, lw=1, alpha=0.6,
                color=cmap(norm(position[key])))  # fmt: skip
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label="episode (order in the run)")
    note = f" ({len(shown)} of {len(keys)} shown)" if len(shown) < len(keys) else ""
    ax.set_title(f"return within each episode{note}")
    ax.set_xlabel("step within the episode")
    ax.set_ylabel("return so far")
    ax.grid(alpha=0.3)


def _episode(ax, key: Any, records: list[dict[str, Any]], what: str) -> None:  # type: ignore[no-untyped-def]
    x = np.arange(len(records))
    rewards = np.array([number(r.get("reward")) or 0.0 for r in records])
    colors = ["#2ca02c" if v >= 0 else "#d62728" for v in rewards]
    ax.bar(x, rewards, color=colors, alpha=0.7, label="reward of the step")
    ax.plot(x, _returns(records), "-o", color="#1f77b4", ms=3, label="return so far")
    ax.axhline(0, color="0.5", lw=0.6)
    if len(records) <= MAX_ACTION_LABELS:
        ax.set_xticks(x, [str(r.get("action") or "") for r in records], rotation=60,
                      ha="right", fontsize=7)  # fmt: skip
        ax.set_xlabel("action")
    else:
        ax.set_xlabel("step within the episode")
    ax.set_ylabel("reward")
    total = _returns(records)[-1] if records else math.nan
    ax.set_title(f"{what} (#{key}): {len(records)} records, return {total:.4g}")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3, axis="y")


def plot_reward(run: Run, path: Path) -> Path:
    """Three views of the reward of ``run`` in one PNG: every step with episode boundaries,
    each episode's return curve overlaid (colour = episode order), first vs last episode."""
    fig = new_figure(12, 11.5)
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 1.1])
    fig.suptitle(f"{run.label}: reward ({run.env_id})", fontsize=12)
    _aggregate(fig.add_subplot(grid[0, :]), run)
    groups = episodes_of(run)
    _overlay(fig, fig.add_subplot(grid[1, :]), groups)
    first_ax, last_ax = fig.add_subplot(grid[2, 0]), fig.add_subplot(grid[2, 1])
    if groups:
        keys = list(groups)
        complete = [k for k in keys if any(r.get("done") for r in groups[k])]
        last = complete[-1] if complete else keys[-1]
        _episode(first_ax, keys[0], groups[keys[0]], "first episode")
        label = "last complete episode" if complete else "last episode (in progress)"
        _episode(last_ax, last, groups[last], label)
    else:
        empty_note(first_ax, "no episodes")
        empty_note(last_ax, "no episodes")
    return save(fig, path)
