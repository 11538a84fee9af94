"""The report and the CLI end to end: every plot is a real PNG, the report links them, the
numbers match, mixed envs and runs in progress work, and run folders stay untouched."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_analyze_support import Truth, check_png, snapshot, write_run

import analyze
from agents.records import RecordWriter
from analyze import AnalyzeError
from analyze.__main__ import main

LM, CLS = "nas_env/TransformerLM-v2", "nas_env/TransformerCls-v2"


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two PPO and two random-search seeds on LM, one in-progress classifier run (other env,
    truncated last line), analysed once through the CLI with --html and --metric."""
    root = tmp_path_factory.mktemp("runs")
    truths: list[Truth] = [
        write_run(root, "ppo", LM, seed=0, steps=60, failures={5: "diverged", 21: "oom"}),
        write_run(root, "ppo", LM, seed=1, steps=60, failures={10: "diverged"}),
        write_run(root, "random", LM, seed=0, steps=60, failures={4: "timeout"}),
        write_run(root, "random", LM, seed=1, steps=60),
        write_run(root, "dqn", CLS, seed=0, steps=30, metric="accuracy", planned=400),
    ]
    with (truths[-1].run_dir / "episodes.jsonl").open("a") as handle:
        handle.write('{"run_id": "still running", "glo')
    before = snapshot(root)
    out = tmp_path_factory.mktemp("analysis") / "report"
    return {"root": root, "truths": truths, "before": before, "out": out}


@pytest.fixture(scope="module")
def cli_result(done: dict[str, Any]) -> dict[str, Any]:
    import contextlib
    import io

    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = main([str(done["root"]), "--out", str(done["out"]), "--html", "--metric",
                     "latency_ms"])  # fmt: skip
    return {"code": code, "stderr": err.getvalue(), "stdout": std.getvalue()}


def test_cli_succeeds_and_warns_about_mixed_envs_and_truncation(
    done: dict[str, Any], cli_result: dict[str, Any]
) -> None:
    assert cli_result["code"] == 0, cli_result["stderr"]
    err = cli_result["stderr"]
    assert "warning: runs of 2 environments" in err
    assert re.search(r"episodes\.jsonl:\d+: truncated last line skipped", err)
    assert "report:" in cli_result["stdout"] and "report.html" in cli_result["stdout"]


def test_every_plot_exists_and_is_a_readable_png(
    done: dict[str, Any], cli_result: dict[str, Any]
) -> None:
    out: Path = done["out"]
    expected = []
    for env in ("TransformerLM-v2", "TransformerCls-v2"):
        expected += [
            out / env / name for name in ("best_so_far.png", "pareto.png", "latency_ms.png")
        ]
    for truth in done["truths"]:
        env = truth.run_dir.name.split("__")[0]
        folder = out / env / f"{truth.run_dir.parent.name}__{truth.run_dir.name}"
        expected += [folder / name for name in ("reward.png", "genes.png", "failures.png")]
    for path in expected:
        assert path.is_file(), path
        check_png(path)
    assert sorted(out.rglob("*.png")) == sorted(expected)


def test_report_links_every_plot_and_shows_the_table(
    done: dict[str, Any], cli_result: dict[str, Any]
) -> None:
    out: Path = done["out"]
    text = (out / "report.md").read_text()
    links = set(re.findall(r"\]\(([^)]+\.png)\)", text))
    assert links == {str(p.relative_to(out)) for p in out.rglob("*.png")}
    assert "## nas_env/TransformerLM-v2" in text and "## nas_env/TransformerCls-v2" in text
    for header in ("algorithm", "seed", "env", "unique evals", "best score", "best genome",
                   "cache hits", "failures", "wall s"):  # fmt: skip
        assert header in text
    assert "30 of 400" in text  # the run in progress
    assert "diverged 1, oom 1" in text and "timeout 1" in text
    assert "## Warnings" in text and "truncated last line" in text
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<img ") == len(links)


def test_summary_json_matches_the_records(done: dict[str, Any], cli_result: dict[str, Any]) -> None:
    rows = json.loads((done["out"] / "summary.json").read_text())
    by_path = {row["path"]: row for row in rows}
    assert len(rows) == len(done["truths"])
    for truth in done["truths"]:
        row = by_path[str(truth.run_dir)]
        assert row["unique_evaluations"] == len(truth.unique)
        assert row["best_score"] == pytest.approx(truth.best_score)
        assert row["cache_hit_rate"] == pytest.approx(truth.cache_hits / truth.evaluations)
        assert row["failures"] == dict(truth.failures)


def test_nothing_is_written_into_run_folders(
    done: dict[str, Any], cli_result: dict[str, Any]
) -> None:
    assert snapshot(done["root"]) == done["before"]


def test_out_inside_a_run_folder_is_refused(done: dict[str, Any], capsys) -> None:  # type: ignore[no-untyped-def]
    run_dir = done["truths"][0].run_dir
    code = main([str(run_dir), "--out", str(run_dir / "analysis")])
    assert code == 2
    assert "inside the run folder" in capsys.readouterr().err
    assert not (run_dir / "analysis").exists()
    runs = analyze.load_runs(run_dir)
    with pytest.raises(AnalyzeError, match="--force"):
        analyze.make_report(runs, run_dir)
    from analyze.report import check_out_dir

    check_out_dir(runs, run_dir / "analysis", force=True)  # allowed when asked


def test_unknown_metric_lists_the_numeric_fields(
    done: dict[str, Any], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    code = main([str(done["truths"][0].run_dir), "--out", str(out), "--metric", "perplexty"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown metric 'perplexty'" in err
    for name in ("perplexity", "latency_ms", "params", "score", "reward"):
        assert name in err
    assert not out.exists()


def test_cli_fails_clearly_on_unusable_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "runs" / "ppo" / "BenchLM-v2__0__20250101-000000"
    folder.mkdir(parents=True)
    (folder / "episodes.jsonl").write_text("")
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "warning:" in err and "error: no usable records" in err
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main([]) == 2  # argparse: RUN is required


def test_library_report_on_degenerate_runs(tmp_path: Path) -> None:
    """A normal run, a run whose every evaluation failed and a run of bare records."""
    truth = write_run(tmp_path / "runs", "evolution", LM, seed=2, steps=25)
    failed = tmp_path / "runs" / "dqn" / "all_failed"
    failed.mkdir(parents=True)
    with RecordWriter(failed / "episodes.jsonl", "all_failed", "dqn", LM, 1) as writer:
        for i in range(12):
            status = ("diverged", "oom")[i % 2]
            writer.write(
                {"episode": i // 4, "step": i % 4, "global_step": i, "evaluated": True,
                 "status": status, "genome": {"layers": i % 3}, "reward": -1.0,
                 "done": i % 4 == 3, "latency_ms": float("nan")}
            )  # fmt: skip
    bare = tmp_path / "runs" / "other" / "bare"
    bare.mkdir(parents=True)
    (bare / "episodes.jsonl").write_text("".join(f'{{"reward": {i / 10}}}\n' for i in range(8)))
    with pytest.warns(analyze.AnalyzeWarning, match="2 environments"):
        runs = analyze.load_runs(tmp_path / "runs")
        report = analyze.make_report(runs, tmp_path / "out")
    assert report == tmp_path / "out" / "report.md" and report.is_file()
    assert not (tmp_path / "out" / "report.html").exists()
    pngs = list((tmp_path / "out").rglob("*.png"))
    assert len(pngs) == 3 * 3 + 2 * 2
    for png in pngs:
        check_png(png)
    summaries = {s["algo"]: s for s in map(analyze.summarize, runs)}
    assert summaries["dqn"]["best_score"] is None
    assert summaries["dqn"]["failures"] == {"diverged": 6, "oom": 6}
    assert summaries["dqn"]["unique_evaluations"] == 3  # no genome_key: genomes tell them apart
    assert summaries["other"]["env_id"] == "unknown" and summaries["other"]["evaluations"] == 0
    assert summaries["evolution"]["unique_evaluations"] == len(truth.unique)
    with pytest.raises(AnalyzeError, match="no runs"):
        analyze.make_report([], tmp_path / "out2")
