"""The level-rank benchmark: rows per genome, level and seed (resumable), and a summary
whose rankings use only genomes trained at every level."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import level_rank


@pytest.mark.slow  # run_all's quick run covers it too; the default suite stays under 5 min
def test_quick_run_writes_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    assert level_rank.main(["--quick", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["space"] == "vowels" and summary["accuracy"]["genomes"] == 3
    assert summary["best_at_truth"]["params"] > 0


def test_rankings_skip_failed_genomes(tmp_path: Path) -> None:
    from nas_env.samples import uniform_sample
    from nas_env.space import load_space

    genomes = uniform_sample(load_space("dendritic"), 4, 1)
    rows = level_rank.measure(
        "dendritic", "image/digits", genomes, tmp_path / "r.jsonl", (("tiny", 0), ("tiny", 1))
    )
    rows[genomes[0].key(), "tiny", 1]["status"] = "diverged"
    ranked = level_rank.ranking(genomes, rows, "accuracy", "tiny", "tiny")
    assert ranked["genomes"] == 3
    again = level_rank.measure(
        "dendritic", "image/digits", genomes, tmp_path / "r.jsonl", (("tiny", 0),)
    )
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 8 == len(again)


@pytest.mark.slow  # trains two LMs at a tiny level (5 s)
def test_a_language_models_truth_is_read_from_long_truth_rows(tmp_path: Path) -> None:
    """`--truth-rows`: the truth of the same sample comes from `long_truth.py`'s rows (seed
    0, the level's last mark); a language model is ranked and picked by its loss."""
    from nas_env.samples import uniform_sample
    from nas_env.space import load_space

    genomes = uniform_sample(load_space("rnn-lm"), 3, 5)
    truth = tmp_path / "long.jsonl"
    with truth.open("w", encoding="utf-8") as fh:
        for i, genome in enumerate(genomes):
            for steps, seed in ((20, 0), (40, 0), (40, 1)):
                row = {"genes": json.loads(json.dumps(dict(genome))), "steps": steps,
                       "seed": seed, "status": "ok", "val_loss": 5.0 - i - steps / 100 + seed,
                       "params": 100 + i, "train_seconds": 1.0}  # fmt: skip
                fh.write(json.dumps(row) + "\n")
    out = tmp_path / "summary.json"
    argv = ["--space", "rnn-lm", "--task", "lm/stdlib", "--search", "tiny", "--truth", "tiny",
            "--genomes", "3", "--sample-seed", "5", "--truth-rows", str(truth),
            "--rows", str(tmp_path / "rows.jsonl"), "--out", str(out)]  # fmt: skip
    assert level_rank.main(argv) == 0
    summary = json.loads(out.read_text())
    assert "accuracy" not in summary and summary["val_loss"]["genomes"] == 3
    assert summary["best_at_truth"]["val_loss"] == 5.0 - 2 - 0.4  # the last genome, 40 steps
    rows = (tmp_path / "rows.jsonl").read_text().splitlines()
    assert {json.loads(r)["level"] for r in rows} == {"tiny"} and len(rows) == 6  # search only
