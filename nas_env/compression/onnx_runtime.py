"""Precision after training, on the runtime a CPU deployment uses: ONNX Runtime.

A trained model is exported to ONNX (batch 1 at the task's context, `models.artifact`)
and, for a lower precision, quantized by ONNX Runtime's own tools; the result is loaded
into an ONNX Runtime session on the CPU execution provider and wrapped as a module
(`OrtModel`), so the held-out loss and the latency are measured by the same code as an
eager model's, on the quantized graph that would be deployed, and the size is the bytes of
the serialized file.

| precision | what runs (kernels) |
| --- | --- |
| ``fp32`` | the exported graph (MatMul) |
| ``int8`` | int8 weights, activations quantized per call (MatMulInteger) |
| ``int4`` | weights in blocks of 32 with a scale each, symmetric (MatMulNBits) |

Only matrix products are quantized (embeddings, norms and the rest stay fp32), as ONNX
Runtime does. fp16 / bf16 are not offered on the CPU provider (few CPU kernels; ONNX
Runtime runs them by casting back); ``BENCHMARKS.md`` ("Compression runtimes") compares
this runtime with PyTorch's and torchao's on the same trained models.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.artifact import export_onnx
from models.config import CHOICES
from models.spec import TaskSpec
from nas_env.errors import ConfigError

PRECISIONS: tuple[str, ...] = CHOICES["transformer"]["precision"]
"""Precisions a model can be deployed at (ONNX Runtime, CPU): the ``precision`` gene's."""
INT4_BLOCK = 32
"""Weights per int4 block (one fp32 scale each)."""


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "compression needs ONNX Runtime, which is not installed; allowed: install the "
            "extra with pip install -e '.[compress]'"
        ) from None
    return onnxruntime


def compress_to_onnx(
    model: nn.Module, task: TaskSpec, precision: str, folder: str | Path | None = None
) -> Path:
    """Export ``model`` and quantize it to ``precision``; returns the ONNX file.

    Raises:
        ConfigError: Unknown precision, or ONNX Runtime / the onnx extra not installed.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is invalid; allowed: {', '.join(PRECISIONS)}")
    _onnxruntime()
    out = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="nas-onnx-"))
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the exporter's deprecation notices, not ours
        warnings.simplefilter("ignore", FutureWarning)
        path = export_onnx(model, task, out)
    if path is None:
        raise ConfigError("compression needs the onnx extra; allowed: pip install -e '.[compress]'")
    _strip_debug_info(path)
    if precision == "fp32":
        return path
    target = out / f"model.{precision}.onnx"
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.disable(logging.WARNING)  # its advice to pre-process, printed every call
        try:
            quantize_dynamic(str(path), str(target), weight_type=QuantType.QInt8)
        finally:
            logging.disable(logging.NOTSET)
    else:
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        logging.getLogger("onnxruntime.quantization").setLevel(logging.WARNING)  # per node
        quantizer = MatMulNBitsQuantizer(onnx.load(str(path)), block_size=INT4_BLOCK)
        quantizer.process()
        quantizer.model.save_model_to_file(str(target), False)
    return target


def _strip_debug_info(path: Path) -> None:
    """Drop what the exporter records for debugging (each node's source namespace and stack,
    doc strings, intermediate shapes): about half the file of a small model, and nothing a
    deployment ships or the runtime reads."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del model.graph.value_info[:]
    model.graph.doc_string = ""
    onnx.save(model, str(path))


class OrtModel(nn.Module):
    """An ONNX file in an ONNX Runtime CPU session, called like the package's models:
    ``model(tokens) -> (logits, None)`` for token ids ``(B, T)``, one sequence per session
    run (the graph is exported for batch 1).

    Args:
        path: The ONNX file.
        threads: Intra-op threads of the session (the latency protocol's, 1 by default).
    """

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        super().__init__()
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @property
    def size_bytes(self) -> int:
        """Bytes of the serialized model (what a deployment ships)."""
        return self.path.stat().st_size

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> tuple[Any, None]:
        """Logits ``(B, T, vocab)`` of token ids ``(B, T)``; ``targets`` is ignored."""
        rows = idx.detach().cpu().numpy()
        out = [self.session.run(None, {"tokens": row[None]})[0] for row in rows]
        return torch.from_numpy(np.concatenate(out)).to(idx.device), None
