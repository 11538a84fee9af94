"""The prior's ranking benchmark: the shipped prior and signals judged on the reported
samples from the committed rows (no training)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import prior_rank


def test_the_shipped_prior_ranks_the_reported_samples_as_benchmarks_says(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert prior_rank.main(["--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["prior"]["excluded_samples"] == ["decision", "main_job", "uniform"]
    for sample in ("uniform", "decision"):
        entry = report[sample]
        assert entry["prior"]["genomes"] == entry["search-gp"]["genomes"] == 32
        assert entry["search-gp"]["regret"] == 0.0  # the top pick is the sample's best
    assert report["uniform"]["search-gp"]["kendall_tau"] >= 0.85
    assert (
        report["decision"]["rerank-gp"]["kendall_tau"] >= report["decision"]["prior"]["kendall_tau"]
    )
