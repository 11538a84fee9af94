"""The torch training loop's pieces: optimizer groups (muP-style width scaling), the
learning rate they get, and the training-loss means of a run."""

from __future__ import annotations

import math

import pytest
import torch

from models import TaskSpec, build_model, model_config
from nas_env.errors import ConfigError
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.loop import WIDTH_BASE, LossTally, make_optimizer, param_groups, set_lr

TASK = TaskSpec("lm", 128, 16)


def _model(d_model: int, tied: bool = False) -> torch.nn.Module:
    genes = {"layers": 1, "d_model": d_model, "heads": (2,), "tied_embeddings": tied}
    return build_model(model_config(genes, TASK))


def test_plain_groups_decay_matrices_only() -> None:
    model = _model(32)
    groups = param_groups(model, 0.1)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert all(p.dim() >= 2 for p in groups[0]["params"])
    assert all(p.dim() < 2 for p in groups[1]["params"])
    assert all("lr_scale" not in g for g in groups)


@pytest.mark.parametrize("tied", [True, False])
def test_width_scaling_slows_matrices_by_fan_in_but_not_embeddings(tied: bool) -> None:
    model = _model(128, tied)
    groups = param_groups(model, 0.1, "width")
    scale_of = {id(p): g.get("lr_scale", 1.0) for g in groups for p in g["params"]}
    embedding = model.transformer.tok_emb.weight
    assert scale_of[id(embedding)] == 1.0
    attn = model.transformer.blocks[0].attn.c_attn.weight  # fan-in 128
    assert scale_of[id(attn)] == WIDTH_BASE / 128
    if not tied:
        assert scale_of[id(model.lm_head.weight)] == WIDTH_BASE / 128
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    optimizer = make_optimizer(
        model, Fidelity.resolve("tiny", lr_scaling="width"), torch.device("cpu")
    )
    set_lr(optimizer, 1e-2)
    lrs = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    assert lrs[id(attn)] == pytest.approx(1e-2 * WIDTH_BASE / 128)
    assert lrs[id(embedding)] == pytest.approx(1e-2)


def test_lr_scaling_is_a_checked_training_field() -> None:
    plain, scaled = Fidelity.resolve("tiny"), Fidelity.resolve("tiny", lr_scaling="width")
    assert "lr_scaling" not in plain.cache_token()
    assert "lr_scaling=width" in scaled.cache_token()
    assert plain.training_fields() != scaled.training_fields()
    with pytest.raises(ConfigError, match='lr_scaling: "mup" is not allowed; allowed: width'):
        Fidelity.resolve("tiny", lr_scaling="mup")


def test_loss_tally_means_over_all_steps_and_the_second_half() -> None:
    tally = LossTally(Fidelity.resolve("tiny", steps=4), torch.device("cpu"))
    for step, loss in enumerate([4.0, 3.0, 2.0, 1.0]):
        tally.add(torch.tensor(loss), step)
    assert tally.means() == (2.5, 1.5)
    empty = LossTally(Fidelity.resolve("tiny"), torch.device("cpu"))
    assert all(math.isnan(v) for v in empty.means())
