"""Replay validation: real run folders pass, a tampered record fails, usage errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import train_rl
from nas_env.validate import main, same_float, validate_run

HP = {
    "random": [],
    "evolution": ["--hyperparams", "population_size:3", "sample_size:2"],
    "tpe": ["--hyperparams", "n_startup_trials:3"],
    "ppo": ["--hyperparams", "n_steps:4", "batch_size:4", "n_epochs:1"],
    "maskable_ppo": ["--hyperparams", "n_steps:4", "batch_size:4", "n_epochs:1"],
}
BENCH = {"edit": "nas_env/BenchLM-v2", "design": "nas_env/BenchLMDesign-v2"}


def make_run(tmp_path: Path, algo: str, env_id: str, n: int = 10, *extra: str) -> Path:
    log = tmp_path / "logs"
    argv = ["--algo", algo, "--env", env_id, "-n", str(n), *HP[algo], *extra]
    assert train_rl.main([*argv, "--log-folder", str(log), "--no-progress"]) == 0
    (run,) = list((log / algo).iterdir())
    return run


def trained_run(tmp_path: Path) -> Path:
    """A random search of 3 steps on the training id, 2 optimizer steps per candidate."""
    kwargs = [
        "--env-kwargs",
        "fidelity:{steps: 2, batch_size: 2, lr: 0.001, eval_tokens: 256}",
        "vocab_size:256",
        f"cache_root:{tmp_path / 'cache'}",
    ]
    return make_run(tmp_path, "random", "nas_env/TransformerLM-v2", 3, *kwargs, "--final-top", "0")


def tamper(run: Path, index: int, key: str, change) -> None:
    path = run / "episodes.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[index])
    record[key] = change(record[key])
    lines[index] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("algo", "mode"),
    [
        ("random", "edit"),
        ("evolution", "edit"),
        ("tpe", "edit"),
        ("ppo", "edit"),
        ("maskable_ppo", "design"),
    ],
)
def test_a_run_replays_exactly(
    algo: str, mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path, algo, BENCH[mode])
    records = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    report = validate_run(run)
    assert report.ok and not report.mismatches and report.records == len(records) >= 10
    assert report.exact == sum(1 for r in records if r["evaluated"]) >= 1
    capsys.readouterr()
    assert main([str(run)]) == 0
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("key", "change", "what"),
    [
        ("reward", lambda r: r + 0.01, "reward"),
        ("genome_key", lambda k: "0" * 16, "candidate"),
        ("invalid_action", lambda a: "made up", "refused"),
    ],
)
def test_a_tampered_record_fails(
    key: str, change, what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path, "ppo", BENCH["edit"])
    tamper(run, 3, key, change)
    capsys.readouterr()
    assert main([str(run)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "mismatches        1" in out
    report = json.loads(_json(run, capsys))
    assert report["mismatches"] == 1 and what in report["first_mismatches"][0]


def _json(run: Path, capsys: pytest.CaptureFixture[str]) -> str:
    main([str(run), "--json"])
    return capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path), "--tolerance", "-1"])
    assert stop.value.code == 2


def test_a_corrupted_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.yaml").write_text("env: [unclosed\n")
    (tmp_path / "episodes.jsonl").write_text("")
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "config.yaml: not readable YAML" in err and "Traceback" not in err


@pytest.mark.slow  # re-trains a run (5 s)
def test_retrained_results_within_tolerance_and_no_train(tmp_path: Path) -> None:
    run = trained_run(tmp_path)
    assert validate_run(run).exact == 3  # the run's own cache serves every result
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("results.sqlite", "elsewhere.sqlite"))
    skipped = validate_run(run, train=False)
    assert skipped.ok and skipped.skipped == 3 and skipped.exact == 0
    trained = validate_run(run, tolerance=1.0)
    assert trained.ok and trained.tolerant >= 1 and trained.tolerant + trained.exact == 3


def test_same_float_is_float32_aware() -> None:
    assert same_float(0.1, float.fromhex("0x1.99999a0000000p-4"))
    assert not same_float(0.1, 0.1001)


def test_a_run_replays_with_its_own_thread_count(tmp_path: Path) -> None:
    """The training thread count is part of every cache key: a replay in a process with
    another count still finds what the run computed."""
    import torch

    run = trained_run(tmp_path)
    before = torch.get_num_threads()
    torch.set_num_threads(2 if before == 1 else 1)
    try:
        report = validate_run(run, train=False)
    finally:
        torch.set_num_threads(before)
    assert report.ok and report.exact == 3 and report.skipped == 0
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(("algo", "mode"), [("ppo", "edit"), ("maskable_ppo", "design")])
def test_a_run_with_drawn_targets_replays_them(algo: str, mode: str, tmp_path: Path) -> None:
    run = make_run(tmp_path, algo, BENCH[mode], 45, "--env-kwargs", "targets:random")
    records = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    drawn = {json.dumps(r["targets"], sort_keys=True) for r in records}
    assert all(r["targets"] for r in records) and len(drawn) >= 2  # a draw per episode
    report = validate_run(run)
    assert report.ok and not report.mismatches and report.exact >= 1
    for index in range(len(records)):  # other targets: other scores
        tamper(run, index, "targets", lambda t: {**t, "size_mb": t["size_mb"] / 50})
    assert not validate_run(run).ok
