"""The CLI's usage errors: a bad command line or a corrupted input exits 2, names the bad
value and what is allowed, prints no traceback and leaves no run folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import train_rl


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--env", "nas_env/TransformerLm-v2"], "did you mean nas_env/TransformerLM-v2"),
        (["--env", "CartPole-v1"], "registered nas_env ids"),
        (["--algo", "ppo2"], "did you mean 'ppo'"),
        (["--algo", "sac"], "allowed: dqn, ppo, a2c, maskable_ppo, random, evolution"),
        (["--hyperparams", "learning_rate"], "key:value"),
        (["--hyperparams", "learning_rat:1"], "valid: "),
        (["--env-kwargs", "spaec:tiny"], "did you mean 'space'"),
        (["--env-kwargs", "space:nosuch", "cache:false"], "presets: "),
        (["--env-kwargs", "reward:nosuch", "cache:false"], "registered rewards"),
        (["--env-kwargs", "task:lm/nosuch", "cache:false"], "allowed: lm/stdlib"),
        (["--algo", "ppo", "-n", "1"], "at least 2 steps"),
        (["--algo", "random", "--n-envs", "2"], "single env"),
        (["--algo", "evolution", "--env", "nas_env/TransformerLMDesign-v2"], "edit-mode env"),
        (["--algo", "dqn", "-n", "0"], "must be >= 1"),
    ],
)
def test_bad_command_lines_exit_2_without_a_traceback(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_rl.main([*argv, "--log-folder", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # no run folder for a rejected command


@pytest.mark.parametrize("content", [b"PK\x03\x04 not a zip", b"\x80\x04random bytes", b""])
def test_a_corrupted_surrogate_file_exits_2(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "BAD.npz"
    bad.write_bytes(content)
    runs = tmp_path / "runs"
    argv = ["--env", "nas_env/SurrogateLM-v0", "--algo", "random", "-n", "4"]
    argv += ["--env-kwargs", f"table:{bad}", "--log-folder", str(runs), "--no-progress"]
    assert train_rl.main(argv) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not a readable .npz" in err and "Traceback" not in err
    assert not runs.exists() or not any(runs.iterdir())


def test_argparse_errors_return_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert train_rl.main(["--n-timesteps", "many"]) == 2
    assert "invalid int value" in capsys.readouterr().err
