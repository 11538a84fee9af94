"""The benchmark scripts: their statistics (fast) and a smoke run of all of them (slow)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import search_efficiency as se
from benchmarks.run_all import BENCHMARKS

ROOT = Path(__file__).resolve().parents[1]


def test_first_reaching_counts_from_one() -> None:
    assert se.first_reaching([0.1, 0.5, 0.9], 0.5) == 2
    assert se.first_reaching([0.1, 0.2], 0.5) is None


def test_hit_probability_matches_counting() -> None:
    assert se.hit_probability(10, 1, 10) == pytest.approx(1.0)
    assert se.hit_probability(10, 1, 3) == pytest.approx(0.3)
    assert se.hit_probability(10, 2, 1) == pytest.approx(0.2)
    assert se.hit_probability(10, 0, 5) == 0.0


def test_quantile_stays_infinite_next_to_misses() -> None:
    assert se.quantile([1.0, 3.0], 0.5) == 2.0
    assert se.quantile([1.0, 2.0, math.inf], 0.5) == 2.0
    assert math.isinf(se.quantile([1.0, math.inf], 0.5))


def test_summarize_reads_each_run_in_evaluation_order() -> None:
    scores = {"a": 0.1, "b": 0.9, "c": 0.5}
    runs = [
        {"seed": 0, "keys": ["a", "c", "b"], "env_steps": 5, "seconds": 0.1},
        {"seed": 1, "keys": ["c", "a"], "env_steps": 3, "seconds": 0.1},
    ]
    out = se.summarize(runs, scores, budget=3, best=0.9, threshold=0.5)
    assert [r["to_best"] for r in out["runs"]] == [3, None]
    assert [r["to_top1"] for r in out["runs"]] == [2, 1]
    assert out["to_best"]["reached"] == 1 and math.isinf(out["to_best"]["median"])
    assert out["runs"][0]["best_at"] == {"3": 0.9}
    assert out["runs"][1]["best_at"] == {"3": 0.5}  # a run that stopped early keeps its best


def test_every_method_names_an_algorithm_and_a_registered_env() -> None:
    import gymnasium as gym

    import nas_env  # noqa: F401
    from agents.algos import ALL_ALGOS

    for algo, env_id, _extra in se.METHODS.values():
        assert algo in ALL_ALGOS and env_id in gym.registry


@pytest.mark.slow
def test_run_all_quick_runs_every_benchmark(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run_all.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == set(BENCHMARKS)
    for name, entry in summary.items():
        if "skipped" in entry:
            continue
        assert entry["returncode"] == 0
        assert json.loads((tmp_path / f"{name}.json").read_text())
    search = json.loads((tmp_path / "search_efficiency.json").read_text())
    assert set(search["methods"]) == set(se.METHODS)
