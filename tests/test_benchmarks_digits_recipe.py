"""The digits recipe benchmark: candidates from run folders, a choice on seeds 0-3, and a
measurement on fresh seeds and unseen splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import digits_recipe

BASE = dict(digits_recipe.REFERENCE)


def _record(genes: dict, accuracy: float, loss: float, status: str = "ok") -> dict:
    key = json.dumps(genes, sort_keys=True)
    return {"genome": genes, "genome_key": key, "status": status, "accuracy": accuracy,
            "val_loss": loss}  # fmt: skip


def test_candidates_are_distinct_genomes_by_accuracy_then_loss(tmp_path: Path) -> None:
    a, b, c, d = ({**BASE, "hidden": h} for h in (8, 16, 32, 64))
    runs = [tmp_path / "one", tmp_path / "two"]
    for run in runs:
        run.mkdir()
    lines = [_record(a, 0.95, 0.2), _record(b, 0.97, 0.3), _record(c, 0.97, 0.1),
             _record(a, 0.99, 0.1)]  # fmt: skip  # a revisit is the first record's
    (runs[0] / "episodes.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    more = [_record(d, 1.0, 0.0, status="failed"), _record(d, 0.96, 0.2)]
    (runs[1] / "episodes.jsonl").write_text("\n".join(json.dumps(r) for r in more) + "\n")
    assert digits_recipe.candidates(runs, 3) == [c, b, d]
    assert digits_recipe.candidates(runs, 10) == [c, b, d, a]


@pytest.mark.slow  # trains 22 + 4 x top networks at a tiny level
def test_the_winner_is_measured_on_fresh_seeds_and_unseen_splits(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    genes = [{**BASE, "lr": lr, "weight_decay": 0.0, "label_smoothing": 0.0}
             for lr in (0.002, 0.01)]  # fmt: skip
    records = [_record(g, 0.9, 0.3) for g in genes]
    (run / "episodes.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = tmp_path / "summary.json"
    argv = ["--runs", str(run), "--top", "2", "--rows", str(tmp_path / "rows.jsonl"),
            "--level", "tiny", "--mlp-iter", "20", "--out", str(out)]  # fmt: skip
    assert digits_recipe.main(argv) == 0
    summary = json.loads(out.read_text())
    assert summary["winner"] in genes and len(summary["candidates"]) == 2
    assert set(summary["splits"]) == {"image/digits", "image/digits:1", "image/digits:2"}
    pinned = summary["splits"]["image/digits"]
    assert pinned["training_seeds"] == [4, 5, 6, 7, 8] and len(pinned["winner"]["accuracy"]) == 5
    assert len(summary["splits"]["image/digits:2"]["reference"]["accuracy"]) == 3
    for split in (0, 1, 2):  # one rows file per split; a second run trains nothing more
        assert (tmp_path / f"rows.split{split}.jsonl").is_file()
    before = (tmp_path / "rows.split1.jsonl").read_text()
    assert digits_recipe.main(argv) == 0
    assert (tmp_path / "rows.split1.jsonl").read_text() == before
