"""Device and precision choice."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas_env import ConfigError
from nas_env.evaluation import precision as prec


@pytest.mark.parametrize(
    ("flags", "speedup", "expected"),
    [
        (set(), 9.0, "fp32"),
        ({"avx512_bf16"}, 0.5, "fp32"),
        ({"avx512_bf16"}, 1.5, "bf16"),
        ({"amx_bf16", "avx512_bf16"}, 0.1, "bf16"),
    ],
)
def test_cpu_auto(
    monkeypatch: pytest.MonkeyPatch, flags: set[str], speedup: float, expected: str
) -> None:
    monkeypatch.setattr(prec, "cpu_flags", lambda: flags)
    monkeypatch.setattr(prec, "cpu_bf16_speedup", lambda: speedup)
    chosen = prec.resolve_precision("auto", torch.device("cpu"))
    assert chosen.name == expected
    assert chosen.autocast == (expected != "fp32")
    assert not chosen.use_grad_scaler


def test_probe_measures_a_real_step() -> None:
    speedup = prec.measure_cpu_bf16_speedup(repeats=2)
    assert 0.01 < speedup < 100


def test_probe_is_stored_per_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NAS_ENV_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(prec, "measure_cpu_bf16_speedup", lambda: calls.append(1) or 0.5)
    prec.cpu_bf16_speedup.cache_clear()
    try:
        assert prec.cpu_bf16_speedup() == 0.5
        prec.cpu_bf16_speedup.cache_clear()
        assert prec.cpu_bf16_speedup() == 0.5  # read back from disk, not measured again
        assert calls == [1]
        assert list((tmp_path / "probes").glob("cpu-bf16-*.json"))
    finally:
        prec.cpu_bf16_speedup.cache_clear()


def test_explicit_and_errors() -> None:
    cpu = torch.device("cpu")
    assert prec.resolve_precision("fp32", cpu).dtype == torch.float32
    assert prec.resolve_precision("bf16", cpu).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="fp64"):
        prec.resolve_precision("fp64", cpu)


def test_devices() -> None:
    assert prec.resolve_device("cpu").type == "cpu"
    assert prec.resolve_device(None).type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            prec.resolve_device("cuda")
    with pytest.raises(ValueError, match="not supported"):
        prec.resolve_device("meta")
