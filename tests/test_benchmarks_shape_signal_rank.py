"""The shape-only signal's ranking on `mid`: reproducible from the committed rows, and the
figures the run banner prints are the ones it computes."""

from __future__ import annotations

import pytest

from benchmarks.shape_signal_rank import DATA, estimates, report
from nas_env.errors import ConfigError
from nas_env.evaluation.fidelity import measured_ranking


def test_the_recorded_mid_ranking_is_what_the_rows_give() -> None:
    rows = estimates(DATA / "mid_long.jsonl", "mid", "long-ridge", 8000)
    stats = report(rows, {"train", "valid"}, {"train_decision", "valid_decision"})
    recorded = measured_ranking("mid", "search")
    assert recorded is not None
    assert stats["genomes"] == recorded["genomes"]
    assert stats["decision_genomes"] == recorded["decision_genomes"]
    for key in ("tau", "spearman", "tau_decision", "regret_decision"):
        assert round(stats[key], 2) == pytest.approx(recorded[key]), key


def test_a_signal_that_needs_a_run_is_refused() -> None:
    with pytest.raises(ConfigError, match="val_loss"):
        estimates(DATA / "mid_long.jsonl", "mid", "rerank-ridge", 8000)
