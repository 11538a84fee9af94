"""Training hyperparameters as genes: split off the model, applied to the fidelity, in the
cache key and the records, refused by a signal level, checked with clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from nas_env.errors import ConfigError
from nas_env.evaluation import Evaluator, Fidelity, TrainSettings
from nas_env.evaluation.loop import forward_loss
from nas_env.tasks.batch import Batch
from nas_env.tasks.kinds import task_kind
from nas_env.training_genes import apply, model_genes, training_genes

FAST = Fidelity.resolve("fast")


def test_genes_split_and_apply_to_the_fidelity() -> None:
    genes = {"layers": 2, "lr": 0.003, "weight_decay": 0.0, "warmup": 0.2,
             "schedule": "linear", "label_smoothing": 0.1}  # fmt: skip
    assert model_genes(genes, "transformer") == {"layers": 2, "family": "transformer"}
    assert set(training_genes(genes)) == {"lr", "weight_decay", "warmup", "schedule",
                                          "label_smoothing"}  # fmt: skip
    tuned = apply(FAST, genes)
    assert (tuned.lr, tuned.weight_decay, tuned.warmup_steps) == (0.003, 0.0, 20)
    assert (tuned.lr_schedule, tuned.label_smoothing) == ("linear", 0.1)
    assert apply(FAST, {"layers": 2}) is FAST  # no training genes: the fidelity's own


@pytest.mark.parametrize(
    ("gene", "value", "message"),
    [
        ("lr", 0.0, "'lr'=0.0 is invalid; allowed: > 0"),
        ("warmup", 0.7, "'warmup'=0.7 is invalid; allowed: >= 0 and <= 0.5"),
        ("label_smoothing", -0.1, "'label_smoothing'=-0.1 is invalid"),
        ("schedule", "cyclic", "training gene 'schedule'"),
    ],
)
def test_bad_values_name_the_gene(gene: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply(FAST, {gene: value})


def test_schedules_and_the_cache_token() -> None:
    for name in ("cosine", "linear", "constant", "plateau"):
        level = Fidelity.resolve("fast", lr_schedule=name)
        rates = [level.lr_at(s) for s in range(level.steps)]
        assert rates[level.warmup_steps] == pytest.approx(level.lr)
        end = {"cosine": level.lr * level.min_lr_ratio, "constant": level.lr}.get(name)
        if end is not None:
            assert rates[-1] == pytest.approx(end, rel=0.02)
    linear = Fidelity.resolve("fast", lr_schedule="linear")
    middle = linear.warmup_steps + (linear.steps - linear.warmup_steps) // 2
    assert linear.lr_at(middle) == pytest.approx((linear.lr + linear.lr * 0.1) / 2, rel=0.03)
    token = FAST.cache_token()  # the defaults leave the keys of every cached result alone
    assert "lr_schedule" not in token and "label_smoothing" not in token
    assert "lr_schedule=linear" in linear.cache_token()
    with pytest.raises(
        ConfigError,
        match='"cyclic" is not allowed; allowed: cosine, linear, constant, onecycle, plat',
    ):
        Fidelity.resolve("fast", lr_schedule="cyclic")


def test_label_smoothing_changes_the_training_loss_only() -> None:
    class Fixed(torch.nn.Module):
        def forward(self, inputs: torch.Tensor, targets: torch.Tensor, mask: object) -> tuple:
            logits = torch.tensor([[4.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
            return logits, torch.nn.functional.cross_entropy(logits, targets)

    batch = Batch(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1]))
    kind = task_kind("cls")
    plain = forward_loss(Fixed(), batch, kind)
    smooth = forward_loss(Fixed(), batch, kind, 0.1)
    assert float(smooth) > float(plain) and math.isfinite(float(smooth))


def test_the_evaluator_trains_each_genome_with_its_recipe(tmp_path: Path) -> None:
    evaluator = Evaluator(
        "tiny-hp", task="lm/stdlib", fidelity="tiny", settings=TrainSettings(device="cpu"),
        cache=False, cache_root=tmp_path, vocab_size=256,
    )  # fmt: skip
    genome = evaluator.space.default_genome()
    other = genome.replace(lr=0.003, schedule="constant")
    assert evaluator.key(genome) != evaluator.key(other)
    result = evaluator.evaluate(other)
    assert result.status == "ok", result.message
    assert result.fidelity_config["lr"] == 0.003
    assert result.fidelity_config["lr_schedule"] == "constant"
    with pytest.raises(ConfigError, match="searches training genes"):
        Evaluator("tiny-hp", task="lm/stdlib", fidelity="search", cache=False, cache_root=tmp_path)


def test_the_dendritic_recipe_space_is_dendritic_with_long_img_as_its_default_recipe() -> None:
    from nas_env.space import load_space

    joint, plain = load_space("dendritic-hp"), load_space("dendritic")
    assert set(joint.gene_names) - set(plain.gene_names) == {"lr", "weight_decay",
                                                              "label_smoothing"}  # fmt: skip
    for name in plain.gene_names:  # the same architecture genes, choices and defaults
        assert joint.gene(name) == plain.gene(name), name
    level = Fidelity.resolve("long-img")
    tuned = apply(level, joint.default_genome())
    assert (tuned.lr, tuned.weight_decay, tuned.label_smoothing) == (
        level.lr, level.weight_decay, level.label_smoothing)  # fmt: skip
    assert model_genes(joint.default_genome(), "dendritic") == model_genes(
        plain.default_genome(), "dendritic")  # fmt: skip
