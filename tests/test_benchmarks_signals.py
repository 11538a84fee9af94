"""The long-truth and signal-ranking scripts: their statistics on synthetic rows (fast),
and a tiny real run of both end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from benchmarks import long_truth as lt
from benchmarks import signal_rank as sr
from benchmarks import signal_stats as ss
from nas_env import SearchSpace
from nas_env.errors import ConfigError


def _truth(path: Path, losses: dict[tuple[str, int], float], genes: dict) -> None:
    with path.open("w") as fh:
        for (sample, index), loss in losses.items():
            for steps in (4, 8):
                row = {
                    "sample": sample,
                    "index": index,
                    "level": "long",
                    "seed": 0,
                    "steps": steps,
                    "status": "ok",
                    "val_loss": loss + (0.1 if steps == 4 else 0.0),
                    "final_train_loss": loss + 0.2,
                    "params": 1000 + index,
                    "train_seconds": 1.0,
                    "genes": genes[(sample, index)],
                }
                if steps == 8:
                    row["last"] = True
                fh.write(json.dumps(row) + "\n")


def test_regret_is_the_perplexity_ratio_of_the_top_pick() -> None:
    truth = {("d", 0): 2.0, ("d", 1): 2.1}
    assert ss.regret({("d", 0): 5.0, ("d", 1): 4.0}, truth) == pytest.approx(math.exp(0.1) - 1)
    assert ss.regret({("d", 0): 4.0, ("d", 1): 5.0}, truth) == 0.0


def test_the_report_ranks_levels_and_predictors_against_long(tmp_path: Path) -> None:
    keys = [(s, i) for s in ("fit", "fit_uniform", "uniform", "decision") for i in range(8)]
    genes = {
        k: {"layers": 1 + k[1] % 4, "position": "alibi" if k[1] % 3 == 0 else "rope"} for k in keys
    }
    # Long training punishes alibi; the cheap level is fooled by it.
    long = {k: 2.0 + 0.05 * k[1] + (0.5 if genes[k]["position"] == "alibi" else 0.0) for k in keys}
    _truth(tmp_path / "t.jsonl", long, genes)
    with (tmp_path / "r.jsonl").open("w") as fh:
        for k in keys:
            cheap = 4.0 + 0.05 * k[1] - (0.5 if genes[k]["position"] == "alibi" else 0.0)
            row = {"level": "c", "seed": 0, "sample": k[0], "index": k[1], "status": "ok"}
            row |= {"val_loss": cheap, "mean_train_loss": cheap + 1, "params": 1000 + k[1]}
            row |= {"eval_seconds": 2.0}
            fh.write(json.dumps(row) + "\n")
    text, numbers = ss.report(
        tmp_path / "t.jsonl", tmp_path / "r.jsonl", ["val_loss", "position=alibi"]
    )
    raw = numbers["levels"]["`c` held-out loss"]
    assert raw["uniform"]["n"] == 8 and raw["uniform"]["tau"] < 0.5
    fitted = next(v for k, v in numbers["levels"].items() if k.startswith("`c` + ridge"))
    assert fitted["uniform"]["tau"] == pytest.approx(1.0)
    assert fitted["decision"]["regret"] == 0.0
    assert "| fit | 8 |" in text and "`long` after 4 steps" in text


def test_the_samples_are_seeded_and_interleaved() -> None:
    space = SearchSpace.load("tiny")
    groups = lt.samples(space, lt.load_plan("truth")["samples"], 1)
    assert set(groups) == {"fit", "uniform", "decision", "fit_uniform"}
    assert [g["layers"] for g in groups["fit"]] == [1, 2, 3, 4]
    order = lt.interleave(groups)
    assert [name for name, _, _ in order[:4]] == ["fit", "uniform", "decision", "fit_uniform"]
    assert len(order) == 16


def test_truth_then_signals_end_to_end(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "r.sqlite"
    out = tmp_path / "truth.jsonl"
    common = ["--level", "tiny", "--segments", "2", "--per", "1", "--workers", "1"]
    assert lt.main([*common, "--out", str(out), "--cache", str(cache), "--limit", "2"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["steps"] for r in rows] == [20, 40, 20, 40]
    assert [r.get("last", False) for r in rows] == [False, True, False, True]
    assert lt.main([*common, "--out", str(out), "--cache", str(cache), "--limit", "2"]) == 0
    assert len(out.read_text().splitlines()) == 8  # resumed: the next two genomes only
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"c2": {"steps": 2, "batch_size": 2, "lr": 1e-3}}))
    rows_path = tmp_path / "rows.jsonl"
    argv = ["--levels", "c2", "--extra", str(extra), "--truth", str(out), "--rows", str(rows_path)]
    assert sr.main([*argv, "--cache", str(tmp_path / "s.sqlite")]) == 0
    cheap = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert len(cheap) == 4 and all(r["status"] == "ok" for r in cheap)
    assert all(r["mean_train_loss"] is not None for r in cheap)


def test_monotone_features_drop_a_measurement_that_would_weigh_negatively() -> None:
    rows = [{"val_loss": float(i % 3), "size": float(i)} for i in range(12)]
    falling = [-r["val_loss"] + 0.1 * r["size"] for r in rows]  # worse learner, better target
    assert ss.monotone_features(rows, falling, ["val_loss", "size"], 0.1) == ("size",)
    rising = [r["val_loss"] + 0.1 * r["size"] for r in rows]
    assert ss.monotone_features(rows, rising, ["val_loss", "size"], 0.1) == ("val_loss", "size")


def test_interleave_takes_samples_in_proportion_to_their_sizes() -> None:
    space = SearchSpace.load("tiny")
    genomes = lt.samples(space, {"a": {"kind": "uniform", "seed": 1, "size": 6}}, None)["a"]
    order = lt.interleave({"big": genomes[:4], "small": genomes[4:]})
    assert [(name, i) for name, i, _ in order] == [
        ("big", 0),
        ("small", 0),
        ("big", 1),
        ("big", 2),
        ("small", 1),
        ("big", 3),
    ]


def test_plans_are_checked(tmp_path: Path) -> None:
    assert set(lt.load_plan("surrogate")["samples"]) >= {"train", "valid"}
    bad = tmp_path / "plans.yaml"
    bad.write_text(yaml.safe_dump({"p": {"samples": {"s": {"kind": "grid", "seed": 1}}}}))
    with pytest.raises(ConfigError, match=r"sample 's'.*needs kind"):
        lt.load_plan("p", bad)
    with pytest.raises(ConfigError, match="no plan 'q'"):
        lt.load_plan("q", bad)


@pytest.mark.parametrize("name", ["truth", "surrogate", "truth_cls", "truth_rnn"])
def test_every_shipped_plan_draws_its_samples_and_names_a_level(name: str) -> None:
    from nas_env.evaluation.fidelity import Fidelity

    plan = lt.load_plan(name)
    level = Fidelity.resolve(plan.get("level", "long"))
    assert plan["marks"][-1] == level.total_steps and plan["marks"] == sorted(plan["marks"])
    groups = lt.samples(SearchSpace.load(plan["space"]), plan["samples"])
    assert all(len(set(g)) == len(g) > 0 for g in groups.values())
