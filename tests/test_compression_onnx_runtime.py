"""Precision after training on ONNX Runtime: the int8 and int4 graphs are really int8 and
int4 (weight types, bytes), run on the CPU provider, and compute nearly what fp32 does."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
import torch

from models import TaskSpec, build_model
from nas_env import ConfigError

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from nas_env.compression import OrtModel, compress_to_onnx  # noqa: E402

LM = TaskSpec(kind="lm", vocab_size=64, seq_len=16)


@pytest.fixture(scope="module")
def trained() -> torch.nn.Module:
    torch.manual_seed(0)
    genes = {"layers": 2, "d_model": 64, "heads": 2, "ffn_ratio": 4, "tied_embeddings": False}
    return build_model(genes, LM).eval()


@pytest.fixture(scope="module")
def files(trained: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx")
    return {p: compress_to_onnx(trained, LM, p, folder / p) for p in ("fp32", "int8", "int4")}


def weights(path: Path) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in onnx.load(str(path)).graph.initializer}


def test_fp32_session_computes_the_eager_logits(
    trained: torch.nn.Module, files: dict[str, Path]
) -> None:
    idx = torch.randint(0, LM.vocab_size, (3, LM.seq_len))
    with torch.no_grad():
        want = trained(idx)[0]
    got, _ = OrtModel(files["fp32"])(idx)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_int8_weights_are_int8_and_a_quarter_of_the_bytes(files: dict[str, Path]) -> None:
    fp32, int8 = weights(files["fp32"]), weights(files["int8"])
    quantized = [t for t in int8.values() if t.data_type == onnx.TensorProto.INT8]
    assert len(quantized) >= 2 * 4 + 1  # per layer: q/k/v, out, two FFN matrices; the head
    q_bytes = sum(len(t.raw_data) for t in quantized)
    float_bytes = sum(
        len(t.raw_data)
        for name, t in fp32.items()
        if name not in int8 and t.dims and len(t.dims) == 2
    )
    assert q_bytes == pytest.approx(float_bytes / 4, rel=0.05)
    assert files["int8"].stat().st_size < 0.5 * files["fp32"].stat().st_size
    ops = {n.op_type for n in onnx.load(str(files["int8"])).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops


def test_int4_runs_matmul_nbits_with_packed_weights(files: dict[str, Path]) -> None:
    graph = onnx.load(str(files["int4"])).graph
    nbits = [n for n in graph.node if n.op_type == "MatMulNBits"]
    assert nbits and all(a.i == 4 for n in nbits for a in n.attribute if a.name == "bits")
    assert files["int4"].stat().st_size < files["int8"].stat().st_size


@pytest.mark.parametrize(("precision", "tolerance"), [("int8", 0.1), ("int4", 0.3)])
def test_quantized_logits_stay_close_to_fp32(
    trained: torch.nn.Module, files: dict[str, Path], precision: str, tolerance: float
) -> None:
    idx = torch.randint(0, LM.vocab_size, (2, LM.seq_len))
    with torch.no_grad():
        want = trained(idx)[0]
    got, _ = OrtModel(files[precision])(idx)
    error = float((got - want).abs().max() / want.abs().max())
    assert 0 < error < tolerance
    assert np.isfinite(got.numpy()).all()


def test_bad_precision_and_missing_runtime_are_refused(
    trained: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"precision='fp8' is invalid; allowed: fp32, int8, int4"):
        compress_to_onnx(trained, LM, "fp8")
    real_import = builtins.__import__

    def no_ort(name: str, *args: object, **kwargs: object) -> object:
        if name == "onnxruntime":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ort)
    with pytest.raises(ConfigError, match=r"needs ONNX Runtime.*\[compress\]"):
        compress_to_onnx(trained, LM, "int8")
