"""Trained models on disk: safetensors + JSON round trips for every family, clear errors,
ONNX export where the extra is installed, and an evaluator's trained model that scores
exactly as its result says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models import TaskSpec, build_model, load_trained, model_config, save_trained
from models.artifact import CONFIG_FILE, WEIGHTS_FILE, export_onnx
from models.errors import ModelConfigError
from nas_env import SearchSpace
from nas_env.evaluation import Evaluator, TrainSettings
from nas_env.evaluation.measure import score_heldout

LM = TaskSpec("lm", 128, 16)
CLS = TaskSpec("cls", 128, 16, num_classes=3, pad_id=0)
CASES = {
    "transformer-tied": ({"layers": 2, "d_model": 32, "heads": (2, 1)}, LM),
    "transformer-untied-rope": (
        {"layers": 1, "d_model": 32, "tied_embeddings": False, "position": "rope"},
        LM,
    ),
    "transformer-cls": ({"layers": 1, "d_model": 32}, CLS),
    "rnn-lstm": ({"family": "rnn", "cell": "lstm", "layers": 2, "hidden_size": 32}, LM),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_saved_model_rebuilds_with_the_same_outputs(case: str, tmp_path: Path) -> None:
    genes, task = CASES[case]
    torch.manual_seed(0)
    model = build_model(model_config(genes, task)).eval()
    save_trained(model, genes, task, tmp_path / "m", meta={"note": case})
    loaded = load_trained(tmp_path / "m")
    idx = torch.randint(1, task.vocab_size, (2, task.seq_len))
    assert torch.equal(model(idx)[0], loaded(idx)[0])
    assert not loaded.training
    description = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    assert description["meta"] == {"note": case} and description["task"] == task.to_dict()


def test_loading_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="no such file"):
        load_trained(tmp_path)
    genes, task = CASES["transformer-tied"]
    save_trained(build_model(model_config(genes, task)), genes, task, tmp_path / "a")
    other = {**genes, "d_model": 64}
    save_trained(build_model(model_config(other, task)), other, task, tmp_path / "b")
    (tmp_path / "a" / WEIGHTS_FILE).replace(tmp_path / "b" / WEIGHTS_FILE)
    with pytest.raises(ModelConfigError, match="do not fit the model"):
        load_trained(tmp_path / "b")
    (tmp_path / "b" / CONFIG_FILE).write_text('{"format": "other"}')
    with pytest.raises(ModelConfigError, match="format 'other' is invalid"):
        load_trained(tmp_path / "b")


def test_onnx_export_where_the_extra_is_installed(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    genes, task = CASES["transformer-tied"]
    model = build_model(model_config(genes, task))
    path = export_onnx(model, task, tmp_path)
    assert path is not None and path.is_file()
    onnx.checker.check_model(str(path))
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["tokens"]
    assert [o.name for o in graph.output] == ["logits"]


def test_the_evaluators_trained_model_scores_as_its_result(tmp_path: Path) -> None:
    settings = TrainSettings(device="cpu", precision="fp32", seed=0, threads=1)
    evaluator = Evaluator("tiny", fidelity="tiny", settings=settings, cache=tmp_path / "r.sqlite")
    genome = SearchSpace.load("tiny").default_genome()
    result, model = evaluator.evaluate_with_model(genome)
    assert result.ok and model is not None
    again, cached_model = evaluator.evaluate_with_model(genome)
    assert again.cache_hit and cached_model is None
    retrained_result, retrained = evaluator.train_model(genome)
    assert retrained is not None and retrained_result.val_loss == result.val_loss
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, retrained.state_dict()[name]), name
    save_trained(model, dict(genome), evaluator.spec, tmp_path / "m")
    loaded = load_trained(tmp_path / "m")
    fid = evaluator.fidelity
    scores = score_heldout(
        loaded,
        evaluator.task,
        evaluator.seq_len,
        fid.batch_size,
        fid.eval_tokens,
        torch.device("cpu"),
    )
    assert scores.loss == pytest.approx(result.val_loss, abs=1e-6)
