"""The CLI end to end on the tasks without a tokenizer (images, series): search, final
training, and a saved model that rebuilds and runs, with no tokenizer beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import train_rl
from models import load_trained
from models.common import example_input


@pytest.mark.parametrize(
    ("env_id", "algo"),
    [
        ("nas_env/DendriticDigits-v0", "grid"),
        pytest.param("nas_env/RNNVowels-v0", "random", marks=pytest.mark.slow),  # 10 s
    ],
)
def test_a_run_saves_a_model_without_a_tokenizer(env_id: str, algo: str, tmp_path: Path) -> None:
    argv = ["--algo", algo, "-n", "3", "--env", env_id, "--env-kwargs", "fidelity:tiny",
            "device:cpu", f"cache_root:{tmp_path / 'cache'}", "--final-top", "1",
            "--final-fidelity", "tiny", "--log-folder", str(tmp_path), "--no-progress"]  # fmt: skip
    assert train_rl.main(argv) == 0
    (run,) = list((tmp_path / algo).iterdir())
    final = json.loads((run / "final.json").read_text())
    assert final["winner"] is not None and final["model"]["tokenizer"] is None
    assert not (run / "model" / "tokenizer.model").exists()
    model = load_trained(run / "model")
    task = model.config.task
    logits, _ = model(example_input(task, 2, torch.Generator().manual_seed(0)))
    assert logits.shape == (2, task.num_classes)


@pytest.mark.parametrize(
    ("env_id", "extra", "level"),
    [
        ("nas_env/DendriticDigits-v0", [], "long-img"),
        ("nas_env/RNNVowels-v0", [], "long-series"),
        ("nas_env/RNNVowels-v0", ["space:motions", "task:series/basic-motions"], "long-series"),
        ("nas_env/TransformerCls-v2", [], "long-cls"),
        ("nas_env/MidLM-v1", [], train_rl.DEFAULT_FINAL_FIDELITY),
        ("nas_env/RNNLM-v0", [], "long"),  # rerank's signal was fitted on Transformers
        ("nas_env/RNNCharLM-v0", [], "long"),
    ],
)
def test_the_final_training_defaults_to_the_task_kinds_level(
    env_id: str, extra: list[str], level: str, tmp_path: Path
) -> None:
    """A Transformer language model's final training is re-ranked by a signal fitted on
    Transformer language models; a recurrent one, and any other kind, trains its
    candidates at the kind's long level."""
    argv = ["--algo", "random", "-n", "1", "--env", env_id, "--log-folder", str(tmp_path)]
    if extra:
        argv += ["--env-kwargs", *extra]
    config = train_rl.prepare(train_rl.build_parser().parse_args(argv), argv)
    assert config.final_fidelity == level
