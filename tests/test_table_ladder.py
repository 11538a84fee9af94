"""Ladder table builds: every rung's table from one continued training per genome, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas_env.table import TableEvaluator
from nas_env.table.__main__ import main
from nas_env.table.ladder import rung_table_path


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ladder")
    argv = ["build", "--space", "tiny", "--fidelity", "tiny", "--sample", "3", "--rungs", "2"]
    argv += ["--eta", "4", "--workers", "1", "--vocab-size", "256", "--no-progress"]
    argv += ["--device", "cpu", "--cache-dir", str(folder / "cache")]
    assert main([*argv, "--out", str(folder / "t.sqlite")]) == 0
    return folder


def test_one_table_per_rung_with_the_same_genomes(ladder: Path) -> None:
    top = TableEvaluator(ladder / "t.sqlite")
    low = TableEvaluator(rung_table_path(ladder / "t.sqlite", 10, 40))
    assert len(top) == len(low) == 3 and set(top.keys()) == set(low.keys())
    assert (top.fidelity.steps, low.fidelity.steps) == (40, 10)
    for key in top.keys():  # noqa: SIM118  (a table is not a mapping)
        a, b = low.get(key), top.get(key)
        assert a.ok and b.ok and a.val_loss != b.val_loss


def test_a_rerun_resumes_without_training(ladder: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["build", "--space", "tiny", "--fidelity", "tiny", "--sample", "3", "--rungs", "2"]
    argv += ["--eta", "4", "--workers", "1", "--vocab-size", "256", "--no-progress"]
    argv += ["--device", "cpu", "--cache-dir", str(ladder / "cache")]
    capsys.readouterr()
    assert main([*argv, "--out", str(ladder / "t.sqlite")]) == 0
    assert "skipped 3 already stored" in capsys.readouterr().out
