"""``make_report``: every plot of a set of runs, a ``report.md`` linking them (and
``report.html`` on request), and ``summary.json`` with the numbers of each run.

Layout of the output folder::

    report.md  report.html  summary.json
    <env>/best_so_far.png  <env>/pareto.png  [<env>/<metric>.png]
    <env>/<algo>__<run>/reward.png  genes.png  failures.png
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyze.load import AnalyzeError, AnalyzeWarning, Run, load_runs
from analyze.plots_compare import plot_best_so_far, plot_metric
from analyze.plots_failures import plot_failures
from analyze.plots_genes import plot_genes
from analyze.plots_pareto import plot_pareto
from analyze.plots_reward import plot_reward
from analyze.plotting import slug
from analyze.render import Doc
from analyze.series import check_metric
from analyze.summary import compact_genes, summarize

FRONT_ROWS = 10
SUMMARY_HEADERS = [
    "algorithm", "seed", "env", "steps", "unique evals", "best score", "best genome",
    "quality", "params", "latency ms", "cache hits", "failures", "wall s", "run",
]  # fmt: skip


def fmt(value: Any, digits: int = 4) -> str:
    """Compact text of a table cell (``-`` for missing values)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1e3:
            return f"{int(value):,}"
        return f"{value:.{digits}g}"
    return str(value)


def summary_row(s: dict[str, Any]) -> list[str]:
    """One table row of a `summarize` dict."""
    steps = fmt(s["steps"])
    if s["planned_steps"] and s["planned_steps"] != s["steps"]:
        steps += f" of {fmt(s['planned_steps'])}"
    failures = ", ".join(f"{k} {v}" for k, v in s["failures"].items()) or "0"
    quality = fmt(s["best_quality"]) + (f" {s['best_metric']}" if s["best_metric"] else "")
    rate = s["cache_hit_rate"]
    return [
        s["algo"], fmt(s["seed"]), s["env_id"], steps, fmt(s["unique_evaluations"]),
        fmt(s["best_score"]), f"`{compact_genes(s['best_genome'])}`", quality,
        fmt(s["best_params"]), fmt(s["best_latency_ms"], 3),
        "-" if rate is None else f"{rate:.0%}", failures, fmt(s["wall_time"], 3), s["run"],
    ]  # fmt: skip


def check_out_dir(runs: Sequence[Run], out_dir: Path, force: bool = False) -> None:
    """Refuse an output folder inside (or equal to) a run folder unless ``force``."""
    target = out_dir.resolve()
    for run in runs:
        folder = run.path.resolve()
        if (target == folder or target.is_relative_to(folder)) and not force:
            raise AnalyzeError(
                f"--out {out_dir} is inside the run folder {run.path}; analysis output is "
                "kept out of run folders (choose another --out, or pass --force)"
            )


def _unique_dirs(runs: Sequence[Run]) -> dict[int, str]:
    names: dict[int, str] = {}
    used: set[str] = set()
    for run in runs:
        base = slug(f"{run.algo}__{run.name}")
        name, n = base, 1
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        names[id(run)] = name
    return names


def by_env(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped by env id, warning when there is more than one env."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.env_id, []).append(run)
    if len(groups) > 1:
        warnings.warn(
            f"runs of {len(groups)} environments ({', '.join(groups)}): "
            "comparison and Pareto plots are made per env",
            AnalyzeWarning,
            stacklevel=3,
        )
    return groups


def _front_table(doc: Doc, front: list[dict[str, Any]]) -> None:
    if not front:
        return
    rows = [
        [fmt(e["quality"]), fmt(e["params"]), fmt(e["latency_ms"], 3), fmt(e["score"]),
         e["algo"], f"`{compact_genes(e['genome'])}`"]
        for e in front[:FRONT_ROWS]
    ]  # fmt: skip
    doc.para(
        f"Non-dominated in (quality, params, latency): {len(front)} genomes"
        + (f", best {FRONT_ROWS} by quality shown" if len(front) > FRONT_ROWS else "")
        + "."
    )
    doc.table(["quality", "params", "latency ms", "score", "algorithm", "genome"], rows)


def make_report(
    runs: Sequence[Run],
    out_dir: str | Path,
    metric: str | None = None,
    html: bool = False,
    force: bool = False,
) -> Path:
    """Write every plot of ``runs`` and ``report.md`` (plus ``report.html`` when ``html``)
    into ``out_dir``; return the path of ``report.md``.

    Raises:
        AnalyzeError: No runs, an unknown ``metric`` (the message lists the numeric fields),
            or ``out_dir`` inside a run folder without ``force``.
    """
    if not runs:
        raise AnalyzeError("no runs to report on")
    out = Path(out_dir)
    check_out_dir(runs, out, force)
    check_metric(runs, metric)
    groups = by_env(runs)
    dirs = _unique_dirs(runs)
    out.mkdir(parents=True, exist_ok=True)
    doc = Doc()
    doc.heading(1, "NAS search report")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc.para(f"{len(runs)} runs of {len(groups)} env(s), generated {stamp}.")
    doc.items([f"`{run.episodes_file or run.path}`" for run in runs])
    notes = [note for run in runs for note in run.warnings]
    if len(groups) > 1:
        notes.append(f"runs of {len(groups)} environments: comparisons are made per env")
    if notes:
        doc.heading(2, "Warnings")
        doc.items(notes)
    summaries: list[dict[str, Any]] = []
    for env_id, env_runs in groups.items():
        env_dir = slug(env_id)
        rows = [summarize(run) for run in env_runs]
        summaries += rows
        doc.heading(2, env_id)
        doc.table(SUMMARY_HEADERS, [summary_row(s) for s in rows])
        doc.para(
            "Best score: highest `score` of a successful evaluation (as in best.json). "
            "Cache hits: share of evaluations served from the result cache or a table."
        )
        doc.heading(3, "Best so far")
        plot_best_so_far(env_runs, out / env_dir / "best_so_far.png", metric)
        doc.image(f"{env_dir}/best_so_far.png", f"best {metric or 'score'} so far, {env_id}")
        if metric:
            doc.heading(3, f"{metric} over steps")
            plot_metric(env_runs, metric, out / env_dir / f"{slug(metric)}.png")
            doc.image(f"{env_dir}/{slug(metric)}.png", f"{metric} over steps, {env_id}")
        doc.heading(3, "Pareto front")
        _, front = plot_pareto(env_runs, out / env_dir / "pareto.png")
        doc.image(f"{env_dir}/pareto.png", f"Pareto front, {env_id}")
        _front_table(doc, front)
        for run in env_runs:
            folder = f"{env_dir}/{dirs[id(run)]}"
            doc.heading(3, f"{run.algo}, seed {fmt(run.seed)}: `{run.name}`")
            plot_reward(run, out / folder / "reward.png")
            plot_genes(run, out / folder / "genes.png")
            plot_failures(run, out / folder / "failures.png")
            for name, alt in (("reward", "reward"), ("genes", "gene choices"),
                              ("failures", "failure statuses")):  # fmt: skip
                doc.image(f"{folder}/{name}.png", f"{alt}, {run.label}")
    report = out / "report.md"
    report.write_text(doc.markdown(), encoding="utf-8")
    if html:
        (out / "report.html").write_text(doc.html("NAS search report"), encoding="utf-8")
    text = json.dumps(summaries, indent=2, default=str)
    (out / "summary.json").write_text(text + "\n", encoding="utf-8")
    return report


def report_run(run_dir: Path) -> None:
    """Draw one finished run's report into ``RUN_DIR/plots`` and say where it is (the
    command line's last step); a run with nothing to plot is still a finished run."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = make_report(load_runs([str(run_dir)]), str(run_dir / "plots"), force=True)
    except AnalyzeError as exc:
        print(f"plots: none ({exc})")
        return
    print(f"plots: {report.parent} (report {report.name})")
