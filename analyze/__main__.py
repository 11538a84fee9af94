"""``python -m analyze RUN_DIR [RUN_DIR ...] --out DIR`` (console script ``nas-analyze``).

Exit codes: 0 report written, 2 unusable input or options (the reason on stderr).
"""

from __future__ import annotations

import argparse
import sys
import warnings

from analyze.load import AnalyzeError, AnalyzeWarning, load_runs
from analyze.report import make_report  # selects matplotlib's Agg backend (analyze.plotting)
from analyze.summary import summarize


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nas-analyze",
        description=(
            "Plot and compare nas_env runs from their episode logs: reward views, best "
            "score so far (RL agents vs baselines), Pareto fronts, gene choices, failures."
        ),
        epilog=(
            "RUN can be a run folder (runs/ppo/BenchLM-v2__0__20250101-120000), a folder of "
            "runs (runs/ or runs/ppo/; every episodes.jsonl below is used) or an "
            "episodes.jsonl file. Example: python -m analyze runs/ --out analysis --html"
        ),
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders, folders of runs, files"
    )
    parser.add_argument("--out", default="analysis", help="output folder (default: ./analysis)")
    parser.add_argument(
        "--metric",
        default=None,
        help="numeric record field to plot over steps and to use for best-so-far "
        "(e.g. perplexity, latency_ms, params, score)",
    )
    parser.add_argument("--html", action="store_true", help="also write report.html")
    parser.add_argument(
        "--force", action="store_true", help="allow an --out folder inside a run folder"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage and the error
        return int(exc.code or 0)
    with warnings.catch_warnings():
        warnings.simplefilter("always", AnalyzeWarning)
        warnings.showwarning = _printer(warnings.showwarning)
        try:
            runs = load_runs(args.runs)
            report = make_report(runs, args.out, args.metric, html=args.html, force=args.force)
        except AnalyzeError as exc:
            print(f"nas-analyze: error: {exc}", file=sys.stderr)
            return 2
    for run in runs:
        s = summarize(run)
        best = "-" if s["best_score"] is None else f"{s['best_score']:.4g}"
        print(
            f"{s['algo']:>13} seed {s['seed']}  {s['env_id']}: {s['steps']} steps, "
            f"{s['unique_evaluations']} unique evaluations, best score {best}"
        )
    print(f"report: {report}" + (f" (and {report.with_suffix('.html')})" if args.html else ""))
    return 0


def _printer(previous):  # type: ignore[no-untyped-def]
    """A `warnings.showwarning` printing analyze's warnings as plain lines, others as before."""

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if issubclass(category, AnalyzeWarning):
            print(f"nas-analyze: warning: {message}", file=sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    return show


if __name__ == "__main__":
    sys.exit(main())
