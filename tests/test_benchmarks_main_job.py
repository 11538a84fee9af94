"""The main-job comparison: every method per seed at the agent's number of evaluations,
one row each, resumable, and the tables it prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import main_job


def fake_row(seed: int, method: str, evaluations: int | None) -> dict[str, Any]:
    score = {"agent": 0.5, "random": 0.4, "local": 0.45, "evolution": 0.55}[method] + seed / 100
    return {
        "seed": seed,
        "method": method,
        "unique_evaluations": 40 + seed if method == "agent" else evaluations,
        "reference_score": score,
        "reference_perplexity": 10.0 - score,
    }


def test_baselines_get_the_agents_evaluations_and_a_rerun_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, str, int | None]] = []

    def run_method(
        seed: int, method: str, out: Path, quick: bool, evaluations: int | None, env: tuple
    ) -> dict[str, Any]:
        assert env == ("task:lm/stdlib-prose",)
        calls.append((seed, method, evaluations))
        if (seed, method) == (1, "local") and len(calls) < 8:
            raise KeyboardInterrupt  # a stopped session
        return fake_row(seed, method, evaluations)

    monkeypatch.setattr(main_job, "run_method", run_method)
    rows_path = tmp_path / "rows.jsonl"
    with pytest.raises(KeyboardInterrupt):
        main_job.run_all([0, 1], tmp_path, rows_path, False, ("task:lm/stdlib-prose",))
    assert len(rows_path.read_text().splitlines()) == 6  # seed 0's four, seed 1's agent, random
    rows = main_job.run_all([0, 1], tmp_path, rows_path, False, ("task:lm/stdlib-prose",))
    assert calls[7:] == [(1, "local", 41), (1, "evolution", 41)]  # only what was missing
    assert [(r["seed"], r["method"]) for r in rows] == [
        (s, m) for s in (0, 1) for m in main_job.METHODS
    ]
    assert all(r["unique_evaluations"] == 40 + r["seed"] for r in rows)
    assert len({json.dumps(r) for r in map(json.loads, rows_path.read_text().splitlines())}) == 8
    text = main_job.table(rows)
    assert "| random | 2 | 0.4050 | 0.4050 +- 0.0050 | 2/2 |" in text
    assert "| evolution | 2 | 0.5550 | 0.5550 +- 0.0050 | 0/2 |" in text
