"""Shipped tables stay comparable: a fresh machine computes the fingerprints they record."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas_env.table.provenance import provenance_problems
from nas_env.table.store import connect_reader, read_meta
from nas_env.tasks.registry import clear_task_memo

TABLES = sorted((Path(__file__).parents[1] / "config" / "tables").glob("*.sqlite"))


@pytest.mark.parametrize("path", TABLES, ids=[p.name for p in TABLES])
def test_a_fresh_cache_reproduces_a_shipped_tables_task_fingerprint(
    path: Path, tmp_path: Path
) -> None:
    # A fresh cache trains the tokenizer anew (as CI and a new user do): any change to how
    # it is trained changes its bytes, the task fingerprint, and makes the table refused.
    meta = read_meta(connect_reader(path), path)
    assert meta.get("task_fingerprint")
    clear_task_memo()
    try:
        fingerprint = [p for p in provenance_problems(meta, tmp_path) if "fingerprint" in p]
        assert fingerprint == []
    finally:
        clear_task_memo()


def test_a_changed_fingerprint_is_a_problem(tmp_path: Path) -> None:
    meta = read_meta(connect_reader(TABLES[0]), TABLES[0])
    problems = provenance_problems({**meta, "task_fingerprint": "0" * 16}, cache_root=tmp_path)
    assert any("fingerprint '0000000000000000'" in problem for problem in problems)
