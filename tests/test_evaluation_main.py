"""``python -m nas_env.evaluation``: one genome, its metrics, clear errors."""

from __future__ import annotations

import json

import pytest

from nas_env.evaluation.__main__ import main


def test_prints_fingerprint_standard_error_and_latency_protocol(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--fidelity", "tiny", "--no-cache", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "fingerprint 2057b2c6f8a269e8" in out  # the space's 512-token vocabulary
    assert "+- 0.0" in out and "(4,096 scored)" in out
    assert "1 thread(s)" in out and "15 runs" in out


def test_json_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--task", "cls/stdlib-modules", "--no-cache"]) == 2
    assert "is a cls task but space 'tiny' is a lm space" in capsys.readouterr().err
    assert main(["--fidelity", "tiny", "--no-cache", "--device", "cpu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["task_fingerprint"] == "2057b2c6f8a269e8" and data["val_loss_se"] > 0
