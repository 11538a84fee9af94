"""A trained model on disk: safetensors weights beside a JSON description, no pickle.

A folder written by `save_trained` holds ``model.safetensors`` (the weights; tied
embeddings stored once) and ``model.json`` (the format, the model family, the genes, the
task spec, and whatever metadata the caller adds). `load_trained` rebuilds the
``torch.nn.Module`` from the description and loads the weights into it; nothing is
unpickled, so a folder from anywhere is safe to load. `export_onnx` writes ``model.onnx``
where the ``onnx`` extra is installed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.build import build_model
from models.common import example_input
from models.errors import ModelConfigError
from models.families import model_config
from models.spec import TaskSpec

FORMAT = "nas_env-model-v1"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
ONNX_FILE = "model.onnx"


def save_trained(
    model: nn.Module,
    genes: Mapping[str, Any],
    task: TaskSpec,
    folder: str | Path,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights and description into ``folder`` (created if needed).

    Args:
        model: The trained model, built from ``genes`` and ``task``.
        genes: Its genes (with the ``family`` key when it is not a transformer).
        task: The task spec it was built for.
        folder: Destination folder.
        meta: JSON-serialisable extras stored under ``meta`` (scores, fidelity...).

    Returns:
        The folder.
    """
    from safetensors.torch import save_model

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    description = {
        "format": FORMAT,
        "genes": {k: list(v) if isinstance(v, tuple) else v for k, v in genes.items()},
        "task": task.to_dict(),
        "meta": dict(meta or {}),
    }
    save_model(model.cpu(), str(out / WEIGHTS_FILE))
    (out / CONFIG_FILE).write_text(json.dumps(description, indent=1) + "\n", encoding="utf-8")
    return out


def read_description(folder: str | Path) -> dict[str, Any]:
    """The ``model.json`` of a saved model, checked.

    Raises:
        ModelConfigError: No description, or one of another format.
    """
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ModelConfigError(f"{path}: no such file; a saved model folder holds {CONFIG_FILE}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise ModelConfigError(f"{path}: format {found!r} is invalid; allowed: {FORMAT!r}")
    return data


def load_trained(folder: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the trained model saved in ``folder`` (eval mode, on ``device``).

    Raises:
        ModelConfigError: A missing or foreign description, or weights that do not fit the
            model it describes.
    """
    from safetensors.torch import load_model

    data = read_description(folder)
    config = model_config(data["genes"], TaskSpec.from_dict(data["task"]))
    model = build_model(config)
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelConfigError(f"{weights}: no such file")
    try:
        load_model(model, str(weights), strict=True)
    except RuntimeError as exc:
        raise ModelConfigError(f"{weights}: the weights do not fit the model: {exc}") from exc
    return model.to(device).eval()


def export_onnx(model: nn.Module, task: TaskSpec, folder: str | Path) -> Path | None:
    """Write ``model.onnx`` (batch 1 at the task's context) when the ``onnx`` extra is
    installed; None when it is not."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return None
    path = Path(folder) / ONNX_FILE
    example = example_input(task, 1, torch.Generator().manual_seed(0))
    # per-export notes, not problems: initializers merged, torchvision ops not registered
    for name in ("onnx_ir", "onnxscript"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    torch.onnx.export(
        _Logits(model.cpu()).eval(),
        (example,),
        str(path),
        input_names=["frames" if task.reads_frames else "tokens"],
        output_names=["logits"],
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    return path


class _Logits(nn.Module):
    """The model's logits alone (its forward also returns a loss slot)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model(tokens)[0]
