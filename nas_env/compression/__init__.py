"""Compression after training, measured on the compressed model: precision (ONNX Runtime
fp32, int8, int4) and structured pruning (`models.pruning`)."""

from nas_env.compression.onnx_runtime import PRECISIONS, OrtModel, compress_to_onnx

__all__ = ["PRECISIONS", "OrtModel", "compress_to_onnx"]
