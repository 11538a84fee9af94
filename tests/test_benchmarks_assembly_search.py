"""The assembly workflow benchmark: both searches run, promotion spends fewer training steps
on the same number of candidates, rows resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import assembly_search


@pytest.mark.slow
def test_quick_run_writes_rows_and_resumes(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    argv = ["--quick", "--seeds", "0", "--out", str(tmp_path / "runs"), "--rows", str(rows)]
    assert assembly_search.main(argv) == 0
    found = {r["method"]: r for r in map(json.loads, rows.read_text().splitlines())}
    assert set(found) == {"tpe", "tpe-asha"}
    assert found["tpe"]["unique_evaluations"] == found["tpe-asha"]["unique_evaluations"] == 6
    assert found["tpe"]["training_steps"] == 6 * 6  # every candidate in full
    assert found["tpe-asha"]["training_steps"] < found["tpe"]["training_steps"]
    assert 0.0 <= found["tpe"]["final_accuracy"] <= 1.0
    assert assembly_search.main(argv) == 0  # resumes: nothing new
    assert len(rows.read_text().splitlines()) == 2


def test_the_table_reports_medians() -> None:
    row = {"unique_evaluations": 10, "training_steps": 2000, "wall_seconds": 30.0,
           "final_accuracy": 0.95, "best_final_accuracy": 0.97}  # fmt: skip
    rows = [{**row, "method": "tpe", "seed": s} for s in range(3)]
    rows.append({**row, "method": "tpe-asha", "seed": 0, "training_steps": 900})
    text = assembly_search.table(rows)
    assert "| tpe | 3 | 10 | 2,000 | 30 | 95.0 % | 97.0 % |" in text
    assert "| tpe-asha | 1 | 10 | 900 |" in text
