"""analyze.summarize, the Pareto front and the series helpers against known facts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_analyze_support import key_of, write_run

import analyze
from analyze.load import AnalyzeError, Run
from analyze.pareto import candidates, front_of
from analyze.series import best_curve, check_metric, maximize, step_at


@pytest.mark.parametrize(
    ("algo", "metric", "failures"),
    [
        ("ppo", "perplexity", {5: "diverged", 17: "oom", 30: "diverged"}),
        ("random", "perplexity", {7: "timeout", 8: "error"}),
        ("dqn", "accuracy", {}),
    ],
)
def test_summary_matches_what_was_written(
    tmp_path: Path, algo: str, metric: str, failures: dict[int, str]
) -> None:
    truth = write_run(tmp_path, algo, seed=4, steps=70, failures=failures, metric=metric)
    (run,) = analyze.load_runs([truth.run_dir])
    s = analyze.summarize(run)
    assert (s["algo"], s["seed"], s["env_id"]) == (algo, 4, "nas_env/TransformerLM-v2")
    assert s["records"] == truth.records and s["steps"] == truth.steps == 70
    assert s["unique_evaluations"] == len(truth.unique)
    assert s["evaluations"] == truth.evaluations
    assert s["cache_hits"] == truth.cache_hits
    assert s["cache_hit_rate"] == pytest.approx(truth.cache_hits / truth.evaluations)
    assert s["failures"] == dict(truth.failures)
    assert s["failure_count"] == sum(truth.failures.values()) == len(failures)
    assert s["invalid_actions"] == truth.invalid_actions
    assert s["best_score"] == pytest.approx(truth.best_score)
    assert s["best_genome"] == truth.best_genome
    assert s["best_genome_key"] == key_of(truth.best_genome)
    assert s["best_metric"] == metric and s["best_quality"] is not None
    assert s["best_params"] and s["best_latency_ms"]
    assert s["wall_time"] == pytest.approx(truth.wall_time)
    assert s["episodes"] == truth.episodes
    assert s["sources"] == ["train"]
    if algo == "random":
        assert s["episodes"] == s["records"]  # one-record episodes


def test_in_progress_run_reports_planned_steps(tmp_path: Path) -> None:
    truth = write_run(tmp_path, "ppo", steps=12, planned=500)
    s = analyze.summarize(analyze.load_runs(truth.run_dir)[0])
    assert (s["steps"], s["planned_steps"]) == (12, 500)


def test_compact_genes() -> None:
    genes = {"layers": 2, "heads": [2, 4], "norm": "rmsnorm", "bias": False, "lr": 0.5}
    text = analyze.compact_genes(genes)
    assert text == "layers=2 heads=2/4 norm=rmsnorm bias=false lr=0.5"
    assert analyze.compact_genes({"space": "tiny", "genes": {"layers": 1}}) == "layers=1"
    assert analyze.compact_genes(None) == "-"
    assert len(analyze.compact_genes(genes, width=12)) == 12


def test_pareto_front_by_hand() -> None:
    # (perplexity: lower better, params: lower better)
    points = [(100, 50), (90, 60), (95, 55), (90, 70), (120, 40), (130, 45), (100, 50), (80, 90)]
    assert analyze.pareto_front(points, (False, False)) == [0, 1, 2, 4, 7]
    # (accuracy: higher better, params: lower better)
    acc = [(0.9, 100), (0.8, 50), (0.85, 120), (0.95, 200), (0.8, 60)]
    assert analyze.pareto_front(acc, (True, False)) == [0, 1, 3]
    # three objectives: a point only better in latency stays
    three = [(100, 50, 1.0), (100, 50, 0.5), (90, 80, 2.0), (100, 60, 0.4)]
    assert analyze.pareto_front(three, (False, False, False)) == [1, 2, 3]
    assert analyze.pareto_front([], (False,)) == []
    assert analyze.dominates((1, 2), (1, 3)) and not analyze.dominates((1, 2), (1, 2))


def _record(key: str, quality: float | None, params: int, latency: float, **extra: Any) -> dict:
    return {
        "genome_key": key, "genome": {"k": key}, "evaluated": True, "status": "ok",
        "metric": "accuracy", "quality": quality, "params": params, "latency_ms": latency,
        "score": 0.0, "global_step": 1, **extra,
    }  # fmt: skip


def test_front_from_records_uses_successful_first_evaluations(tmp_path: Path) -> None:
    records = [
        _record("a", 0.90, 100, 1.0),
        _record("b", 0.80, 50, 1.0),
        _record("c", 0.70, 60, 0.5),  # only the fastest: stays in 3-D
        _record("d", 0.99, 10, 0.1, status="diverged"),  # failures never count
        _record("e", None, 10, 0.1),  # no quality: cannot be placed
        _record("a", 0.10, 100, 1.0),  # a cache hit of a: its first evaluation counts
        _record("f", 0.85, 100, 1.2),  # dominated by a
        {**_record("g", 0.99, 1, 0.01), "evaluated": False},  # not an evaluation
    ]
    run = Run(tmp_path, "ppo", "nas_env/TransformerCls-v2", 0, records)
    entries = candidates([run])
    assert [e["genome_key"] for e in entries] == ["a", "b", "c", "e", "f"]
    three = front_of(entries, ("quality", "params", "latency_ms"), (True, False, False))
    assert sorted(e["genome_key"] for e in three) == ["a", "b", "c"]
    two = front_of(entries, ("quality", "params"), (True, False))
    assert sorted(e["genome_key"] for e in two) == ["a", "b"]


def test_best_curve_and_step_function(tmp_path: Path) -> None:
    truth = write_run(tmp_path, "ppo", steps=40, failures={3: "diverged"})
    run = analyze.load_runs(truth.run_dir)[0]
    curve = best_curve(run, "score", larger=True)
    best = curve["best"][np.isfinite(curve["best"])]
    assert np.all(np.diff(best) >= 0) and best[-1] == pytest.approx(truth.best_score)
    assert curve["unique"][-1] == len(truth.unique)
    low = best_curve(run, "perplexity", larger=False)["best"]
    assert np.all(np.diff(low[np.isfinite(low)]) <= 0)
    x, y = np.array([1.0, 3.0, 5.0]), np.array([10.0, 20.0, 30.0])
    got = step_at(x, y, np.array([0.0, 1.0, 2.0, 5.0, 9.0]))
    assert math.isnan(got[0]) and list(got[1:]) == [10.0, 10.0, 30.0, 30.0]


def test_metric_directions_and_unknown_metric(tmp_path: Path) -> None:
    truth = write_run(tmp_path, "ppo", steps=5)
    runs = analyze.load_runs(truth.run_dir)
    assert not maximize("perplexity") and not maximize("latency_ms") and maximize("score")
    assert not maximize("quality", runs)  # perplexity runs
    check_metric(runs, "latency_ms")
    assert "latency_ms" in analyze.numeric_fields(runs)
    assert "status" not in analyze.numeric_fields(runs) and "done" not in analyze.numeric_fields(
        runs
    )
    with pytest.raises(AnalyzeError, match=r"unknown metric 'bogus'.*latency_ms.*perplexity"):
        check_metric(runs, "bogus")
