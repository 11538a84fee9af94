"""The benchmark scripts: their statistics (fast) and a smoke run of all of them (slow)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import fidelity_rank as fr
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

    for algo, mode, _extra in se.METHODS.values():
        assert algo in ALL_ALGOS and mode in ("edit", "design")
    for ids in se.BENCHMARKS.values():
        assert all(env_id in gym.registry for env_id in ids)
        assert gym.spec(ids[1]).kwargs["mode"] == "design"


def test_fidelity_rank_summarises_against_the_mean_reference() -> None:
    def row(level: str, seed: int, index: int, loss: float | None) -> dict:  # type: ignore[type-arg]
        status = "ok" if loss is not None else "diverged"
        return {"level": level, "seed": seed, "index": index, "status": status, "loss": loss,
                "seconds": 2.0}  # fmt: skip

    truth = [3.0, 3.5, 4.0, 4.5, 5.0]
    rows = [row("reference", s, i, v + 0.01 * s) for s in (0, 1) for i, v in enumerate(truth)]
    rows += [row("same", 0, i, v + 1) for i, v in enumerate(truth)]
    rows += [row("same", 1, i, v + 1) for i, v in enumerate(truth)]
    rows += [row("reversed", 0, i, -v) for i, v in enumerate(truth)]
    rows += [row("failing", 0, i, None if i == 0 else v) for i, v in enumerate(truth)]
    out = {
        s["level"]: s for s in fr.summarise(rows, ["same", "reversed", "failing"], "reference", 5)
    }
    assert out["same"]["tau"] == pytest.approx(1.0) and out["same"]["noise_tau"] == pytest.approx(
        1.0
    )
    assert out["reversed"]["tau"] == pytest.approx(-1.0) and "noise_tau" not in out["reversed"]
    assert out["failing"]["failed"] == 1 and out["failing"]["tau"] < 1.0  # a failure ranks last
    assert out["reference"]["noise_tau"] == pytest.approx(1.0)
    assert out["same"]["top10"] == (1, 1) and out["same"]["s_per_candidate"] == 2.0
    assert "| `same` | 5 (0) | 1.00 |" in fr.table(list(out.values()), "reference")


def test_fidelity_rank_samples_distinct_uniform_genomes() -> None:
    from nas_env.space import SearchSpace

    space = SearchSpace.load("tiny")
    genomes = fr.sample(space, 12, seed=0)
    assert len(set(genomes)) == 12 and genomes == fr.sample(space, 12, seed=0)
    assert all(space.is_valid(g) for g in genomes)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_benchmark_takes_the_options_run_all_passes(name: str) -> None:
    # run_all calls each script with --quick and --json PATH (the slow test runs them all)
    text = (ROOT / "benchmarks" / f"{name}.py").read_text(encoding="utf-8")
    assert '"--quick"' in text and '"--json"' in text, name


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


@pytest.mark.parametrize(("version", "factor"), [("v1", 16), ("v0", 4)])
def test_promoted_runs_may_spend_enough_evaluations_to_reach_equal_compute(
    version: str, factor: int
) -> None:
    """A promoted run is cut at the plain run's training compute, not by its evaluation
    cap: the cap allows every candidate to stop at the lowest rung."""
    env_id = se.BENCHMARKS[version][0]
    assert se.asha_factor(env_id) == factor


def test_a_space_too_large_to_list_is_scored_on_a_sample_and_what_runs_find() -> None:
    """`modern` (282 million genomes) is scored on a seeded uniform sample; a genome a run
    found outside it is scored afterwards, from the genes its record carries."""
    env_id = se.BENCHMARKS["modern"][0]
    scores, steps, sampled = se.surrogate_scores(env_id, sample=40)
    assert sampled and len(scores) == 40 and steps == 8000
    again, _, _ = se.surrogate_scores(env_id, sample=40)
    assert again == scores
    run = se.run_one("random", seed=3, budget=5, benchmark="modern")
    assert len(run["keys"]) == len(run["genes"]) == 5
    missing = [k for k in run["keys"] if k not in scores]
    assert se.score_missing(env_id, [run], scores) == len(missing) > 0
    assert [scores[k] for k in run["keys"]] == pytest.approx(run["scores"])
