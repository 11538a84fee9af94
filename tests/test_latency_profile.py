"""Latency profiles: measured, resumable, round-tripped, and refused on another space or
device (or a corrupted file) with a clear error."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from nas_env.errors import ConfigError
from nas_env.latency.__main__ import main
from nas_env.latency.profile import device_description, load_profile
from nas_env.space import load_space


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lat") / "tiny-cpu.json"
    args = ["profile", "--space", "tiny", "--genomes", "15", "--passes", "1", "--out", str(out)]
    assert main(args) == 0
    return out


def test_a_profile_round_trips_and_predicts(profiled: Path) -> None:
    meta = json.loads(profiled.read_text())
    assert meta["space"] == "tiny" and meta["fit"]["genomes"] == 15 and meta["fit"]["held_out"] == 3
    assert meta["device"] == device_description("cpu", 1)
    profile = load_profile(profiled, "tiny", "cpu", 1)
    space = load_space("tiny")
    genome = dict(space.default_genome())
    first = profile.predict(genome, space.task)
    assert first > 0 and first == profile.predict(genome, space.task)
    assert profile.tag.startswith("tiny-cpu@") and len(profile.tag) == len("tiny-cpu@") + 8


@pytest.mark.slow  # times a profile twice (4 s)
def test_an_interrupted_profile_resumes_from_its_rows(profiled: Path) -> None:
    rows = profiled.with_suffix(".rows.jsonl")
    before = rows.read_text()
    args = ["profile", "--space", "tiny", "--genomes", "15", "--passes", "1"]
    assert main([*args, "--out", str(profiled)]) == 0
    assert rows.read_text() == before  # nothing measured twice
    assert main([*args[:-1], "2", "--out", str(profiled)]) == 0  # a second pass adds to it
    lines = rows.read_text().splitlines()
    assert len(lines) == 30 and rows.read_text().startswith(before)


def test_another_space_or_device_is_refused(profiled: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="made for space 'tiny', not 'mid'"):
        load_profile(profiled, "mid", "cpu", 1)
    with pytest.raises(ConfigError, match="measured elsewhere: threads 1 vs 2 here"):
        load_profile(profiled, "tiny", "cpu", 2)
    moved = tmp_path / "moved.json"
    meta = json.loads(profiled.read_text())
    meta["device"]["processor"] = "Some Other CPU"
    moved.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="processor 'Some Other CPU'"):
        load_profile(moved, "tiny", "cpu", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_profile(moved, "tiny", "cpu", 1, allow_mismatch=True)
    assert "measured elsewhere" in str(caught[0].message)


@pytest.mark.parametrize("text", ["{not json", '{"format": "other"}', "[]"])
def test_a_corrupted_profile_gives_a_clear_error(text: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"latency profile .*bad\.json"):
        load_profile(path, "tiny", "cpu", 1)
    with pytest.raises(ConfigError, match=r"does not exist.*nas_env\.latency profile"):
        load_profile(tmp_path / "none.json", "tiny", "cpu", 1)


def test_the_cli_describes_a_profile_and_exits_2_on_errors(
    profiled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(profiled)]) == 0
    assert "held out 3" in capsys.readouterr().out
    assert main(["profile", "--space", "nowhere", "--genomes", "2"]) == 2
    assert "error:" in capsys.readouterr().err


def test_refit_keeps_the_device_and_reproduces_the_fit(profiled: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tiny-cpu.json"
    meta = json.loads(profiled.read_text())
    meta["device"]["processor"] = "The CPU that timed it"  # refit runs anywhere
    copy.write_text(json.dumps(meta))
    copy.with_suffix(".rows.jsonl").write_text(profiled.with_suffix(".rows.jsonl").read_text())
    assert main(["refit", str(copy)]) == 0
    refitted = json.loads(copy.read_text())
    assert refitted["device"]["processor"] == "The CPU that timed it"
    assert refitted["costs"] == pytest.approx(meta["costs"], abs=1e-9)
    assert refitted["fit"] == pytest.approx(meta["fit"])


def test_timing_onto_rows_of_another_device_is_refused(
    profiled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "tiny-cpu.json"
    meta = json.loads(profiled.read_text())
    meta["device"]["processor"] = "Some Other CPU"
    copy.write_text(json.dumps(meta))
    copy.with_suffix(".rows.jsonl").write_text(profiled.with_suffix(".rows.jsonl").read_text())
    args = ["profile", "--space", "tiny", "--genomes", "16", "--passes", "1", "--out", str(copy)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "timed elsewhere (processor 'Some Other CPU'" in err and "nas_env.latency refit" in err


def test_a_profile_with_a_feature_this_model_does_not_count_is_refused(
    profiled: Path, tmp_path: Path
) -> None:
    meta = json.loads(profiled.read_text())
    meta["features"][-1] = "warp_drive_steps"
    path = tmp_path / "future.json"
    path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"features warp_drive_steps are not counted.*refit"):
        load_profile(path, "tiny", "cpu", 1)


def test_genomes_of_one_computation_are_ranked_once() -> None:
    from nas_env.latency.profile import fit_profile

    space = load_space("assembly")
    base = dict(space.default_genome())
    rows = []
    for units in (8, 16, 32):
        for blocks in (1, 2, 4, 8):
            for lr in (0.0001, 0.001, 0.01, 0.1):  # the same network, timed four times
                genes = {**base, "units": units, "blocks": blocks, "lr": lr, "coupling": 0}
                latency = 0.1 + 0.01 * units * blocks / 8 + 0.0001 * lr
                rows.append({"genes": genes, "latency_ms": latency})
    meta = {"batch": 1, "family": "assembly"}
    fit = fit_profile(rows, meta, space.task)["fit"]
    assert fit["held_out"] == 10 and fit["computations"] < fit["held_out"]
    assert fit["kendall_tau_computations"] > 0.9
