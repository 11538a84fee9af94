"""The main-job comparison: every method per seed at the agent's number of evaluations,
one row each, resumable, and the tables it prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import main_job


def fake_row(seed: int, method: str, evaluations: int | None) -> dict[str, Any]:
    score = {"agent": 0.5, "agent_lr0": 0.48, "random": 0.4, "local": 0.45, "evolution": 0.55}
    own = {"agent": 40 + seed, "agent_lr0": 30 + seed}  # the agents count their own
    return {
        "seed": seed,
        "method": method,
        "unique_evaluations": own.get(method, evaluations),
        "reference_score": score[method] + seed / 100,
        "reference_perplexity": 10.0 - score[method],
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
        if (seed, method) == (1, "local") and len(calls) < 10:
            raise KeyboardInterrupt  # a stopped session
        return fake_row(seed, method, evaluations)

    monkeypatch.setattr(main_job, "run_method", run_method)
    rows_path = tmp_path / "rows.jsonl"
    with pytest.raises(KeyboardInterrupt):
        main_job.run_all([0, 1], tmp_path, rows_path, False, ("task:lm/stdlib-prose",))
    assert len(rows_path.read_text().splitlines()) == 8  # seed 0's five, seed 1's first three
    rows = main_job.run_all([0, 1], tmp_path, rows_path, False, ("task:lm/stdlib-prose",))
    assert calls[:2] == [(0, "agent", None), (0, "agent_lr0", None)]
    assert calls[9:] == [(1, "local", 41), (1, "evolution", 41)]  # only what was missing
    assert [(r["seed"], r["method"]) for r in rows] == [
        (s, m) for s in (0, 1) for m in main_job.METHODS
    ]
    baselines = [r for r in rows if r["method"] not in ("agent_lr0",)]
    assert all(r["unique_evaluations"] == 40 + r["seed"] for r in baselines)
    assert len({json.dumps(r) for r in map(json.loads, rows_path.read_text().splitlines())}) == 10
    text = main_job.table(rows)
    assert "| random | 2 | 0.4050 | 0.4050 +- 0.0050 | 2/2 |" in text
    assert "| evolution | 2 | 0.5550 | 0.5550 +- 0.0050 | 0/2 |" in text


@pytest.mark.parametrize("quick", [False, True])
def test_the_control_is_the_main_job_at_learning_rate_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick: bool
) -> None:
    argvs: dict[str, list[str]] = {}

    def run(argv: list[str], log: Path) -> float:
        argvs[log.stem] = argv
        return 1.0

    monkeypatch.setattr(main_job, "_run", run)
    monkeypatch.setattr(main_job, "_only_run", lambda folder: folder)
    monkeypatch.setattr(main_job, "_summary", lambda run, seconds: {})
    for method in ("agent", "agent_lr0"):
        main_job.run_method(3, method, tmp_path, quick, None)
    agent, control = argvs["agent"], argvs["agent_lr0"]
    hyperparams = control[control.index("--hyperparams") + 1 :]
    assert "learning_rate:0" in hyperparams and control.count("--hyperparams") == 1
    assert ("n_steps:10" in hyperparams) is quick  # the smoke run's overrides are kept
    assert "learning_rate:0" not in agent and "--algo" not in control
    same = [a.replace("agent_lr0", "agent") for a in control[: control.index("--hyperparams")]]
    assert same == agent[: len(same)]  # the same command but for its folder
