"""Analytic counts, gene validation and the public API of ``models``."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import models
from models import (
    GENE_NAMES,
    RNNConfig,
    TaskSpec,
    TransformerConfig,
    build_model,
    count_params,
    flops_per_token,
    model_config,
    size_mb,
)
from models.config import CHOICES

VOCAB, SEQ, CLASSES = 37, 8, 3
LM = TaskSpec("lm", VOCAB, SEQ)
CLS = TaskSpec("cls", VOCAB, SEQ, num_classes=CLASSES)
TASKS = {"lm": LM, "cls": CLS}
TINY_TRANSFORMER = {"layers": 1, "d_model": 8, "heads": 2, "ffn_ratio": 1.5}
TINY_RNN = {"cell": "lstm", "layers": 2, "embed_dim": 6, "hidden_size": 5}


def _built_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_public_api() -> None:
    assert set(models.__all__) == {
        "TaskSpec",
        "build_model",
        "model_config",
        "count_params",
        "size_mb",
        "flops_per_token",
        "TransformerConfig",
        "RNNConfig",
        "GENE_NAMES",
        "load_trained",
        "save_trained",
    }
    assert GENE_NAMES["transformer"] == (
        "layers",
        "d_model",
        "heads",
        "ffn_ratio",
        "norm",
        "norm_position",
        "activation",
        "position",
        "bias",
        "tied_embeddings",
        "pooling",
        "dropout",
        "mixer",
        "kv_heads",
        "precision",
        "prune",
        "head_dim",
    )
    assert GENE_NAMES["rnn"] == (
        "cell",
        "layers",
        "embed_dim",
        "hidden_size",
        "bidirectional",
        "cell_norm",
        "pooling",
        "dropout",
    )


@pytest.mark.parametrize("kind", ("lm", "cls"))
def test_transformer_count_matches_every_option(kind: str) -> None:
    choices = CHOICES["transformer"]
    axes = [choices[k] for k in ("norm", "norm_position", "activation", "position", "pooling")]
    for norm, norm_position, activation, position, pooling in itertools.product(*axes):
        for bias, tied in itertools.product((True, False), (True, False)):
            genes = dict(TINY_TRANSFORMER, norm=norm, norm_position=norm_position)
            genes.update(activation=activation, position=position, pooling=pooling)
            genes.update(bias=bias, tied_embeddings=tied)
            model = build_model(genes, TASKS[kind])
            assert count_params(genes, TASKS[kind]) == _built_count(model), genes
            assert model.num_params() == _built_count(model)


@pytest.mark.parametrize("kind", ("lm", "cls"))
def test_rnn_count_matches_every_option(kind: str) -> None:
    choices = CHOICES["rnn"]
    bidirectional = (False,) if kind == "lm" else (False, True)
    for cell, cell_norm, bidi, pooling in itertools.product(
        choices["cell"], (False, True), bidirectional, choices["pooling"]
    ):
        genes = dict(TINY_RNN, cell=cell, cell_norm=cell_norm, bidirectional=bidi, pooling=pooling)
        model = build_model(genes, TASKS[kind])
        assert count_params(genes, TASKS[kind]) == _built_count(model), genes


def test_heterogeneous_layers_count() -> None:
    genes = {"layers": 3, "d_model": 12, "heads": [1, 3, 6], "ffn_ratio": [0.5, 1, 2.25]}
    for kind, activation in itertools.product(TASKS, ("gelu", "swiglu")):
        model = build_model(dict(genes, activation=activation), TASKS[kind])
        assert count_params(dict(genes, activation=activation), TASKS[kind]) == _built_count(model)


@st.composite
def _genomes(draw: st.DrawFn) -> tuple[dict[str, Any], TaskSpec]:
    kind = draw(st.sampled_from(("lm", "cls")))
    task = TaskSpec(
        kind,
        draw(st.integers(2, 50)),
        draw(st.integers(1, 12)),
        num_classes=draw(st.integers(2, 5)) if kind == "cls" else None,
    )
    if draw(st.booleans()):
        choices = CHOICES["rnn"]
        genes: dict[str, Any] = {k: draw(st.sampled_from(v)) for k, v in choices.items()}
        genes.update(layers=draw(st.integers(1, 3)), cell_norm=draw(st.booleans()))
        genes.update(embed_dim=draw(st.integers(1, 9)), hidden_size=draw(st.integers(1, 9)))
        genes["bidirectional"] = kind == "cls" and draw(st.booleans())
        return genes, task
    choices = CHOICES["transformer"]
    genes = {k: draw(st.sampled_from(v)) for k, v in choices.items()}
    layers = draw(st.integers(1, 3))
    d_model = draw(st.sampled_from((4, 8, 12)))
    heads = [draw(st.sampled_from((1, 2))) for _ in range(layers)]
    ratios = [draw(st.sampled_from((0.5, 1, 1.5, 3))) for _ in range(layers)]
    genes.update(layers=layers, d_model=d_model, heads=heads, ffn_ratio=ratios)
    genes.update(bias=draw(st.booleans()), tied_embeddings=draw(st.booleans()))
    mixers = choices["mixer"] if kind == "lm" else ("attention",)
    genes["mixer"] = [draw(st.sampled_from(mixers)) for _ in range(layers)]
    genes["kv_heads"] = [draw(st.sampled_from((None, 1, h))) for h in heads]
    return genes, task


@settings(max_examples=25, deadline=None)
@given(_genomes())
def test_count_matches_random_genomes(genome: tuple[dict[str, Any], TaskSpec]) -> None:
    genes, task = genome
    assert count_params(genes, task) == _built_count(build_model(genes, task))


def test_config_object_and_genes_agree() -> None:
    config = model_config(TINY_TRANSFORMER, LM)
    assert isinstance(config, TransformerConfig)
    assert build_model(config).config is config
    assert count_params(config) == count_params(TINY_TRANSFORMER, LM)
    assert model_config(config.to_genes(), LM) == config
    rnn = model_config({"cell": "gru"}, CLS)
    assert isinstance(rnn, RNNConfig) and rnn.hidden_size == 64 and rnn.pooling == "last"


def test_family_key_and_defaults() -> None:
    assert isinstance(model_config({}, LM), TransformerConfig)
    assert isinstance(model_config({"family": "rnn"}, LM), RNNConfig)
    config = model_config({"family": "transformer", "layers": 3}, LM)
    assert config.heads == (2, 2, 2) and config.ffn_ratio == (4.0, 4.0, 4.0)
    assert config.ffn_hidden == (256, 256, 256)
    with pytest.raises(ValueError, match=r"unknown rnn genes \['d_model'\]"):
        model_config({"family": "rnn", "d_model": 8}, LM)
    with pytest.raises(ValueError, match="'mlp'"):
        model_config({"family": "mlp"}, LM)


def test_size_mb_arithmetic() -> None:
    params = count_params(TINY_TRANSFORMER, LM)
    assert size_mb(TINY_TRANSFORMER, LM) == params * 4 / 2**20
    assert size_mb(TINY_TRANSFORMER, LM, dtype="bfloat16") == params * 2 / 2**20
    assert size_mb(TINY_TRANSFORMER, LM, dtype="float16") == params * 2 / 2**20
    assert size_mb(TINY_TRANSFORMER, LM, dtype="int8") == params / 2**20
    with pytest.raises(ValueError, match="'float64'"):
        size_mb(TINY_TRANSFORMER, LM, dtype="float64")


def test_flops_formula_and_monotonicity() -> None:
    d, V, T = 16, VOCAB, SEQ
    genes = {"layers": 2, "d_model": d, "ffn_ratio": 2, "activation": "relu"}
    expected = 2 * (2 * (4 * d * d + 2 * d * 2 * d) + d * V) + 2 * 2 * 2 * T * d
    assert flops_per_token(genes, LM) == expected
    gated = flops_per_token(dict(genes, activation="swiglu"), LM)
    assert gated == expected + 2 * 2 * d * 2 * d
    H, E = 10, 6
    lstm = {"cell": "lstm", "layers": 1, "embed_dim": E, "hidden_size": H}
    assert flops_per_token(lstm, LM) == 2 * (4 * H * (E + H) + H * V)
    gru_bi = dict(lstm, cell="gru", bidirectional=True)
    assert flops_per_token(gru_bi, CLS) == 2 * (2 * 3 * H * (E + H) + 2 * H * CLASSES)
    for family_genes in (TINY_TRANSFORMER, TINY_RNN):
        for task in (LM, CLS):
            base = flops_per_token(family_genes, task)
            assert base > 0
            assert flops_per_token(dict(family_genes, layers=4), task) > base
    for task in (LM, CLS):
        assert flops_per_token(dict(TINY_TRANSFORMER, d_model=16), task) > flops_per_token(
            TINY_TRANSFORMER, task
        )


@pytest.mark.parametrize(
    "genes,task,fragment",
    [
        ({"depth": 2}, LM, "'depth'"),
        ({"cell": "lstm", "heads": 2}, LM, "'heads'"),
        ({"layers": 0}, LM, "=0"),
        ({"layers": 2.5}, LM, "2.5"),
        ({"layers": True}, LM, "True"),
        ({"d_model": 10, "heads": 3}, LM, "'heads'=3"),
        ({"d_model": 12, "heads": 4, "position": "rope"}, LM, "head_dim=3"),
        ({"layers": 2, "heads": [1, 2, 4]}, LM, "[1, 2, 4]"),
        ({"layers": 2, "heads": [1, 3]}, LM, "'heads'[1]=3"),
        ({"ffn_ratio": -1}, LM, "-1"),
        ({"ffn_ratio": 0.001}, LM, "0.001"),
        ({"norm": "batchnorm"}, LM, "'batchnorm'"),
        ({"activation": "tanh"}, LM, "'tanh'"),
        ({"position": "relative"}, LM, "'relative'"),
        ({"pooling": "last"}, CLS, "'last'"),
        ({"bias": "yes"}, LM, "'yes'"),
        ({"dropout": 1.0}, LM, "1.0"),
        ({"cell": "transformer"}, LM, "'transformer'"),
        ({"cell": "gru", "hidden_size": 0}, LM, "=0"),
        ({"cell": "gru", "pooling": "first"}, CLS, "'first'"),
        ({"cell": "lstm", "bidirectional": True}, LM, "cannot look ahead"),
    ],
)
def test_model_config_errors_name_the_bad_value(
    genes: dict[str, Any], task: TaskSpec, fragment: str
) -> None:
    with pytest.raises(ValueError) as info:
        model_config(genes, task)
    assert fragment in str(info.value)
    assert "allowed" in str(info.value)


def test_missing_or_mismatched_task_is_rejected() -> None:
    with pytest.raises(ValueError, match="task=None"):
        count_params(TINY_TRANSFORMER)
    with pytest.raises(ValueError, match="differs"):
        build_model(model_config(TINY_TRANSFORMER, LM), CLS)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"kind": "seq2seq", "vocab_size": 5, "seq_len": 4}, "'seq2seq'"),
        ({"kind": "lm", "vocab_size": 0, "seq_len": 4}, "vocab_size=0"),
        ({"kind": "lm", "vocab_size": 5, "seq_len": 4.0}, "seq_len=4.0"),
        ({"kind": "cls", "vocab_size": 5, "seq_len": 4}, "num_classes=None"),
        ({"kind": "cls", "vocab_size": 5, "seq_len": 4, "num_classes": 1}, "num_classes=1"),
        ({"kind": "lm", "vocab_size": 5, "seq_len": 4, "num_classes": 3}, "num_classes=3"),
        ({"kind": "lm", "vocab_size": 5, "seq_len": 4, "pad_id": 5}, "pad_id=5"),
    ],
)
def test_task_spec_validation(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        TaskSpec(**kwargs)


def test_task_spec_round_trip() -> None:
    task = TaskSpec("cls", 100, 32, num_classes=4, pad_id=0)
    assert TaskSpec.from_dict(task.to_dict()) == task
    with pytest.raises(ValueError, match="'colour'"):
        TaskSpec.from_dict({**task.to_dict(), "colour": "red"})
