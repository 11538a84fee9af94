"""Device and precision choice."""

from __future__ import annotations

import pytest
import torch

from nas_env import ConfigError
from nas_env.evaluation import precision as prec


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (set(), "fp32"),
        ({"avx2", "avx512f"}, "fp32"),
        ({"avx512_bf16"}, "fp32"),
        ({"amx_bf16", "amx_tile", "avx512_bf16"}, "bf16"),
    ],
)
def test_cpu_auto(monkeypatch: pytest.MonkeyPatch, flags: set[str], expected: str) -> None:
    monkeypatch.setattr(prec, "cpu_flags", lambda: flags)
    chosen = prec.resolve_precision("auto", torch.device("cpu"))
    assert chosen.name == expected
    assert chosen.autocast == (expected != "fp32")
    assert not chosen.use_grad_scaler and chosen.reason


def test_auto_is_stable_on_this_machine() -> None:
    first = prec.resolve_precision("auto", torch.device("cpu"))
    assert all(prec.resolve_precision("auto", torch.device("cpu")) == first for _ in range(3))
    if "amx_bf16" not in prec.cpu_flags():
        assert first.name == "fp32"


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
