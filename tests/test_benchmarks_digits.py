"""The digits benchmark: rows per genome, level and seed (resumable), and the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import digits


@pytest.mark.slow  # trains; the default suite stays under 5 minutes
def test_quick_measures_ranks_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    assert digits.main(["--quick", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["accuracy"]["genomes"] == 3
    assert set(summary["best_at_truth_by_architecture"]) <= {
        "dendritic_simple", "soma_disabled", "dendritic_with_hidden",
    }  # fmt: skip
    yardstick = summary["yardstick_mlp_64_100_10"]
    assert yardstick.get("params") == 7510 or "skipped" in yardstick


def test_measure_skips_what_the_rows_hold(tmp_path: Path) -> None:
    from nas_env.samples import uniform_sample
    from nas_env.space import load_space

    genomes = uniform_sample(load_space("dendritic"), 2, 0)
    rows = tmp_path / "rows.jsonl"
    digits.measure(genomes, rows, (("tiny", 0),))
    before = rows.read_text()
    again = digits.measure(genomes, rows, (("tiny", 0), ("tiny", 1)))
    assert rows.read_text().startswith(before) and len(rows.read_text().splitlines()) == 4
    assert len(again) == 4
