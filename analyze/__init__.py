"""Read nas_env episode logs (``episodes.jsonl``), summarise runs, draw comparison plots.

Depends only on the log format written by the training CLI (documented in
``agents/records.py``), never on the environment, the agents or torch::

    import analyze

    runs = analyze.load_runs(["runs/ppo", "runs/random"])
    print(analyze.summarize(runs[0])["best_score"])
    analyze.make_report(runs, "analysis", metric="perplexity")

Command line: ``python -m analyze RUN_DIR [RUN_DIR ...] --out DIR`` (or ``nas-analyze``).
"""

from __future__ import annotations

from analyze.load import AnalyzeError, AnalyzeWarning, Run, discover, load_runs
from analyze.pareto import dominates, pareto_front
from analyze.report import make_report
from analyze.series import numeric_fields
from analyze.summary import compact_genes, summarize

__all__ = [
    "AnalyzeError",
    "AnalyzeWarning",
    "Run",
    "compact_genes",
    "discover",
    "dominates",
    "load_runs",
    "make_report",
    "numeric_fields",
    "pareto_front",
    "summarize",
]
