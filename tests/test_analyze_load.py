"""analyze.load: finding runs, reading logs robustly (truncated, empty, bad lines, NaN)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_analyze_support import write_run

import analyze
from analyze import AnalyzeError, AnalyzeWarning


def test_discover_accepts_run_folders_trees_and_files(tmp_path: Path) -> None:
    a = write_run(tmp_path, "ppo", seed=0, steps=10).run_dir
    b = write_run(tmp_path, "random", seed=1, steps=10).run_dir
    both = {a / "episodes.jsonl", b / "episodes.jsonl"}
    assert set(analyze.discover([tmp_path])) == both
    assert analyze.discover([a]) == [a / "episodes.jsonl"]
    assert analyze.discover([tmp_path / "ppo"]) == [a / "episodes.jsonl"]
    assert analyze.discover([b / "episodes.jsonl"]) == [b / "episodes.jsonl"]
    assert len(analyze.discover([a, tmp_path, a / "episodes.jsonl"])) == 2  # no duplicates


def test_discover_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(AnalyzeError, match="no such file or folder"):
        analyze.discover([tmp_path / "missing"])
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(AnalyzeError, match=r"empty_dir: no episodes\.jsonl"):
        analyze.discover([tmp_path / "empty_dir"])


def test_run_identity_config_and_records(tmp_path: Path) -> None:
    truth = write_run(tmp_path, "dqn", seed=3, steps=20, planned=100)
    (run,) = analyze.load_runs([truth.run_dir])
    assert (run.algo, run.env_id, run.seed) == ("dqn", "nas_env/TransformerLM-v2", 3)
    assert run.path == truth.run_dir and run.name == truth.run_dir.name
    assert run.label == f"dqn/{truth.run_dir.name}"
    assert len(run.records) == truth.records
    assert run.config["n_timesteps"] == 100
    assert run.warnings == []


def test_truncated_last_line_is_skipped_with_file_and_line(tmp_path: Path) -> None:
    truth = write_run(tmp_path, "ppo", steps=15)
    path = truth.run_dir / "episodes.jsonl"
    with path.open("a") as handle:
        handle.write('{"run_id": "x", "episode": 3, "rew')  # a crash mid-write
    with pytest.warns(AnalyzeWarning, match=rf"episodes\.jsonl:{truth.records + 1}: truncated"):
        (run,) = analyze.load_runs([path])
    assert len(run.records) == truth.records
    assert str(path) in run.warnings[0]


def test_bad_middle_line_and_non_objects_are_skipped(tmp_path: Path) -> None:
    truth = write_run(tmp_path, "ppo", steps=10)
    path = truth.run_dir / "episodes.jsonl"
    lines = path.read_text().splitlines()
    lines[2:2] = ["{not json", "[1, 2]", ""]
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(AnalyzeWarning) as caught:
        (run,) = analyze.load_runs([path])
    messages = [str(w.message) for w in caught]
    assert any(":3: invalid JSON" in m for m in messages), messages
    assert any(":4: not a JSON object" in m for m in messages), messages
    assert len(run.records) == truth.records


def test_non_finite_values_become_none(tmp_path: Path) -> None:
    truth = write_run(tmp_path, "ppo", steps=5)
    path = truth.run_dir / "episodes.jsonl"
    record = json.loads(path.read_text().splitlines()[0])
    text = json.dumps({**record, "quality": float("nan"), "latency_ms": float("inf")})
    assert "NaN" in text  # what a writer without allow_nan=False would produce
    path.write_text(text + "\n")
    (run,) = analyze.load_runs([path])
    assert run.records[0]["quality"] is None and run.records[0]["latency_ms"] is None
    assert analyze.summarize(run)["best_quality"] is None


def test_empty_file_is_skipped_or_fails_when_nothing_is_usable(tmp_path: Path) -> None:
    empty = tmp_path / "random" / "BenchLM-v2__0__20250101-000000"
    empty.mkdir(parents=True)
    (empty / "episodes.jsonl").write_text("")
    with (
        pytest.warns(AnalyzeWarning, match="no usable records"),
        pytest.raises(AnalyzeError, match="no usable records"),
    ):
        analyze.load_runs([empty])
    good = write_run(tmp_path, "ppo", steps=5)
    with pytest.warns(AnalyzeWarning, match=r"empty file, or no complete line yet\); skipped"):
        runs = analyze.load_runs([tmp_path])
    assert [r.path for r in runs] == [good.run_dir]


def test_only_a_truncated_line_counts_as_empty(tmp_path: Path) -> None:
    folder = tmp_path / "ppo" / "run"
    folder.mkdir(parents=True)
    (folder / "episodes.jsonl").write_text('{"algo": "pp')
    with pytest.warns(AnalyzeWarning), pytest.raises(AnalyzeError):
        analyze.load_runs(folder)


def test_broken_config_does_not_hide_the_records(tmp_path: Path) -> None:
    truth = write_run(tmp_path, "ppo", steps=5)
    (truth.run_dir / "config.yaml").write_text("algo: [unclosed\n")
    with pytest.warns(AnalyzeWarning, match=r"config\.yaml: unreadable"):
        (run,) = analyze.load_runs([truth.run_dir])
    assert run.config == {} and run.algo == "ppo" and len(run.records) == truth.records


def test_runs_are_sorted_by_env_algo_seed(tmp_path: Path) -> None:
    write_run(tmp_path, "random", seed=1, steps=4)
    write_run(tmp_path, "ppo", seed=2, steps=4)
    write_run(tmp_path, "ppo", seed=0, steps=4)
    write_run(tmp_path, "ppo", seed=0, steps=4, env_id="nas_env/BenchLM-v2")
    runs = analyze.load_runs(tmp_path)
    order = [(r.env_id.split("/")[1], r.algo, r.seed) for r in runs]
    assert order == [
        ("BenchLM-v2", "ppo", 0),
        ("TransformerLM-v2", "ppo", 0),
        ("TransformerLM-v2", "ppo", 2),
        ("TransformerLM-v2", "random", 1),
    ]
