"""Benchmarks: tables of real results and surrogate benchmarks, served by lookup.

A table is one SQLite file (see `nas_env.table.store` for the schema) built with
`build_table` or ``python -m nas_env.table build``; `TableEvaluator` serves it as a
drop-in `Evaluator`, so that searches run thousands of steps per second. Results served
from a table carry ``source="table"``.

Example::

    from nas_env.table import TableEvaluator, SHIPPED_TABLES

    table = TableEvaluator(SHIPPED_TABLES / "bench.sqlite")
    result = table.evaluate(table.space.default_genome())
"""

from __future__ import annotations

from config import CONFIG_DIR
from nas_env.table.build import TableSummary, build_table, select_genomes
from nas_env.table.evaluator import MISSING_MODES, TableEvaluator, TableMissError
from nas_env.table.store import TABLE_FORMAT
from nas_env.table.surrogate_evaluator import SurrogateEvaluator

SHIPPED_TABLES = CONFIG_DIR / "tables"

__all__ = [
    "MISSING_MODES",
    "SHIPPED_TABLES",
    "TABLE_FORMAT",
    "SurrogateEvaluator",
    "TableEvaluator",
    "TableMissError",
    "TableSummary",
    "build_table",
    "select_genomes",
]
