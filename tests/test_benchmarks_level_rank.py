"""The level-rank benchmark: rows per genome, level and seed (resumable), and a summary
whose rankings use only genomes trained at every level."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import level_rank


def test_quick_run_writes_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    assert level_rank.main(["--quick", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["space"] == "vowels" and summary["accuracy"]["genomes"] == 3
    assert summary["best_at_truth"]["params"] > 0


def test_rankings_skip_failed_genomes(tmp_path: Path) -> None:
    from nas_env.samples import uniform_sample
    from nas_env.space import load_space

    genomes = uniform_sample(load_space("dendritic"), 4, 1)
    rows = level_rank.measure(
        "dendritic", "image/digits", genomes, tmp_path / "r.jsonl", (("tiny", 0), ("tiny", 1))
    )
    rows[genomes[0].key(), "tiny", 1]["status"] = "diverged"
    ranked = level_rank.ranking(genomes, rows, "accuracy", "tiny", "tiny")
    assert ranked["genomes"] == 3
    again = level_rank.measure(
        "dendritic", "image/digits", genomes, tmp_path / "r.jsonl", (("tiny", 0),)
    )
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 8 == len(again)
