"""analyze on a real (short, table-served) run of the training CLI: the numbers agree with
the run's own best.json and pareto.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_analyze_support import check_png, snapshot

import analyze
from analyze.pareto import OBJECTIVES, candidates, front_of

train_rl = pytest.importorskip("train_rl", reason="the training CLI (train_rl.py) is not available")


@pytest.mark.slow  # real training; the default suite stays under 5 minutes
def test_real_random_search_run(tmp_path: Path) -> None:
    if "--log-folder" not in train_rl.build_parser().format_help():
        pytest.skip("train_rl has no --log-folder option yet")
    args = ["--algo", "random", "--env", "nas_env/BenchLM-v2", "-n", "60", "--seed", "3",
            "--log-folder", str(tmp_path / "runs"), "--no-progress", "--no-tensorboard",
            "--env-kwargs", f"cache_root:{tmp_path / 'cache'}"]  # fmt: skip
    assert train_rl.main(args) == 0
    (run_dir,) = (tmp_path / "runs" / "random").iterdir()
    before = snapshot(run_dir)
    (run,) = analyze.load_runs([tmp_path / "runs"])
    assert (run.algo, run.env_id, run.seed) == ("random", "nas_env/BenchLM-v2", 3)
    s = analyze.summarize(run)
    best = json.loads((run_dir / "best.json").read_text())
    assert s["best_score"] == pytest.approx(best["score"])
    assert s["best_genome_key"] == best["genome_key"]
    assert s["steps"] == 60 and s["sources"] == ["table"]
    assert s["unique_evaluations"] == run.records[-1]["unique_evaluations"]
    pareto = json.loads((run_dir / "pareto.json").read_text())
    larger = s["best_metric"] == "accuracy"
    front = front_of(candidates([run]), OBJECTIVES, (larger, False, False))
    assert {e["genome_key"] for e in front} == {e["genome_key"] for e in pareto["front"]}

    report = analyze.make_report([run], tmp_path / "analysis", metric="perplexity")
    pngs = sorted((tmp_path / "analysis").rglob("*.png"))
    assert len(pngs) == 6 and report.is_file()
    for png in pngs:
        check_png(png)
    assert snapshot(run_dir) == before
