"""Statistics and tables of `search_efficiency`: when a run first reached a threshold, its
regret at a budget of evaluations or of training steps, medians with spread, Markdown."""

from __future__ import annotations

import math
from typing import Any

CHECKPOINTS: tuple[int, ...] = (100, 300)
"""Budgets (unique evaluations) at which regret is read."""


def first_reaching(values: list[float], threshold: float) -> int | None:
    """1-based index of the first value >= ``threshold`` (None when none reaches it)."""
    for index, value in enumerate(values, start=1):
        if value >= threshold:
            return index
    return None


def hit_probability(population: int, marked: int, draws: int) -> float:
    """Chance that ``draws`` uniform draws without replacement hit one of ``marked``."""
    miss = 1.0
    for i in range(min(draws, population)):
        miss *= max(0, population - marked - i) / (population - i)
    return 1.0 - miss


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile that stays ``inf`` when a neighbour is ``inf``."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    a, b = ordered[low], ordered[high]
    if math.isinf(a) or math.isinf(b):
        return math.inf
    return a + (b - a) * (position - low)


def regret_at(run: dict[str, Any], scores: dict[str, float], best: float, count: int) -> float:
    """Best score minus the true score of the genome the run rates best among its first
    ``count`` new evaluations (its recorded scores; the truth for plain runs)."""
    recorded = run.get("scores") or [scores.get(k, -math.inf) for k in run["keys"]]
    pairs = list(zip(run["keys"][:count], recorded[:count], strict=False))
    if not pairs:
        return math.inf
    key = max(pairs, key=lambda p: p[1])[0]
    return best - scores.get(key, -math.inf)


def evaluations_within(run: dict[str, Any], compute: float) -> int:
    """How many of the run's new evaluations fit in ``compute`` training steps."""
    spent, count = 0.0, 0
    for cost in run.get("costs") or []:
        if spent + cost > compute:
            break
        spent, count = spent + cost, count + 1
    return count


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": quantile(values, 0.5),
        "q25": quantile(values, 0.25),
        "q75": quantile(values, 0.75),
        "min": min(values),
        "max": max(values),
    }


def summarize(
    runs: list[dict[str, Any]],
    scores: dict[str, float],
    budget: int,
    best: float,
    threshold: float,
    thresholds: dict[str, float] | None = None,
    compute: float | None = None,
) -> dict[str, Any]:
    """Per-run and per-method statistics of one method's runs.

    Args:
        runs: `run_one` outputs.
        scores: True score of every genome.
        budget: Unique evaluations per run.
        best: The best score.
        threshold: The top-1% threshold (``to_top1``).
        thresholds: More named thresholds (``to_<name>``).
        compute: Training steps of the equal-compute comparison; the runs' regret is
            also read where their summed cost reaches it (``regret_at_compute``).

    Returns:
        ``runs`` (per seed: evaluations to the best and to each threshold, None when not
        reached; best true score and regret at each checkpoint) and their medians,
        quartiles and ranges.
    """
    checkpoints = [c for c in CHECKPOINTS if c <= budget] or [budget]
    marks = {"best": best, "top1": threshold, **(thresholds or {})}
    per_run = []
    for run in runs:
        values = [scores.get(key, -math.inf) for key in run["keys"]]
        running: list[float] = []
        for value in values:
            running.append(max(value, running[-1]) if running else value)
        row: dict[str, Any] = {
            "seed": run["seed"],
            "unique_evaluations": len(values),
            "env_steps": run["env_steps"],
            "seconds": round(run["seconds"], 2),
            **{f"to_{name}": first_reaching(values, mark) for name, mark in marks.items()},
            "best_at": {
                str(c): (running[min(c, len(running)) - 1] if running else None)
                for c in checkpoints
            },
            "regret_at": {str(c): regret_at(run, scores, best, c) for c in checkpoints},
        }
        if compute is not None:
            fit = evaluations_within(run, compute)
            row["evaluations_at_compute"] = fit
            row["regret_at_compute"] = regret_at(run, scores, best, fit)
        per_run.append(row)
    out: dict[str, Any] = {"runs": per_run}
    for name in marks:
        hits = [r[f"to_{name}"] if r[f"to_{name}"] is not None else math.inf for r in per_run]
        out[f"to_{name}"] = {"reached": sum(1 for h in hits if math.isfinite(h)), **_spread(hits)}
    out["best_at"] = {}
    out["regret_at"] = {}
    for c in checkpoints:
        got = [r["best_at"][str(c)] for r in per_run if r["best_at"][str(c)] is not None]
        out["best_at"][str(c)] = {
            "median": quantile(got, 0.5) if got else None,
            "min": min(got) if got else None,
            "max": max(got) if got else None,
        }
        out["regret_at"][str(c)] = _spread([r["regret_at"][str(c)] for r in per_run])
    if compute is not None:
        out["compute_steps"] = compute
        out["regret_at_compute"] = _spread([r["regret_at_compute"] for r in per_run])
        out["evaluations_at_compute"] = _spread([r["evaluations_at_compute"] for r in per_run])
    return out


def _evals(value: float, budget: int) -> str:
    return f">{budget}" if math.isinf(value) else f"{value:g}"


def _iqr(s: dict[str, float], budget: int) -> str:
    return f"{_evals(s['median'], budget)} ({_evals(s['q25'], budget)}, {_evals(s['q75'], budget)})"


def markdown(
    summary: dict[str, dict[str, Any]], budget: int, seeds: int, reference: dict[str, float]
) -> str:
    """The results as Markdown tables: evaluations to the top 1% / 0.1% and regret at the
    checkpoints (plain methods), then the equal-compute promotion comparison."""
    checkpoints = [c for c in CHECKPOINTS if c <= budget] or [budget]
    head = "| method | evals to top 1%: median (IQR) | reached | evals to top 0.1%: median (IQR) "
    head += "| reached | " + " | ".join(f"regret @{c}: median (IQR)" for c in checkpoints)
    lines = [head + " |", "| --- " + "| --: " * (4 + len(checkpoints)) + "|"]
    for method, stats in summary.items():
        if "compute_steps" in stats:
            continue
        cells = [method]
        for name in ("to_top1", "to_top01"):
            cells += [_iqr(stats[name], budget), f"{stats[name]['reached']}/{seeds}"]
        for c in checkpoints:
            s = stats["regret_at"][str(c)]
            cells.append(f"{s['median']:.4f} ({s['q25']:.4f}, {s['q75']:.4f})")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        f"| uniform sampling (expected) | {reference['to_top1']:.1f} | {reference['p_top1']:.0%} "
        f"| {reference['to_top01']:.1f} | {reference['p_top01']:.0%} "
        + "| " * len(checkpoints)
        + "|"
    )
    promoted = {m: s for m, s in summary.items() if "compute_steps" in s}
    if promoted:
        lines += [
            "",
            "| method (promotion on) | training steps | evaluations in them: median (IQR) "
            "| regret: median (IQR) | same method, promotion off: regret |",
            "| --- | --: | --: | --: | --: |",
        ]
        for method, stats in promoted.items():
            plain = summary.get(method.removesuffix("-asha"), {}).get("regret_at", {})
            off = plain.get(str(budget))
            s, n = stats["regret_at_compute"], stats["evaluations_at_compute"]
            lines.append(
                f"| {method} | {stats['compute_steps']:g} | {_iqr(n, 10**9)} "
                f"| {s['median']:.4f} ({s['q25']:.4f}, {s['q75']:.4f}) | "
                + (f"{off['median']:.4f} ({off['q25']:.4f}, {off['q75']:.4f})" if off else "-")
                + " |"
            )
    return "\n".join(lines)
