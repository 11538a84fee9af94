"""The latency model: analytic counts per genome, non-negative least squares, closed form."""

from __future__ import annotations

import numpy as np
import pytest

from nas_env.latency.model import FEATURES, features, fit, matrix, predict
from nas_env.space import load_space


def test_counts_follow_the_genes() -> None:
    space = load_space("mid")
    genome = dict(space.default_genome())
    base = features(genome, space.family, space.task)
    assert base["forward"] == 1 and base["blocks"] == genome["layers"]
    rope = features({**genome, "position": "rope"}, space.family, space.task)
    assert rope["rope_blocks"] == genome["layers"] and base["rope_blocks"] == 0
    batched = features(genome, space.family, space.task, batch=4)
    assert batched["matmul_gflop"] == pytest.approx(4 * base["matmul_gflop"])
    assert batched["weight_mb"] == base["weight_mb"]  # the weights are read once
    rnn = load_space("rnn")
    counts = features(dict(rnn.default_genome()), rnn.family, rnn.task)
    steps = counts["blocks"] * rnn.task.seq_len
    assert counts["lstm_steps"] == steps > 0 and counts["gru_steps"] == 0
    normed = features({**rnn.default_genome(), "cell_norm": True}, rnn.family, rnn.task)
    assert normed["lstm_cell_steps"] == steps and normed["lstm_steps"] == 0
    hidden = rnn.default_genome()["hidden_size"]
    assert counts["recurrent_mflop"] == pytest.approx(steps * 4 * hidden**2 / 1e6)
    gru = features({**rnn.default_genome(), "cell": "gru"}, rnn.family, rnn.task)
    assert gru["gru_steps"] == steps and gru["recurrent_mflop"] == pytest.approx(
        steps * 3 * hidden**2 / 1e6
    )
    assert counts["attention_gflop"] == 0 and base["recurrent_mflop"] == 0


def test_dendritic_and_assembly_counts_follow_their_structure() -> None:
    dendritic = load_space("dendritic")
    genome = dict(dendritic.default_genome())
    simple = features({**genome, "architecture": "dendritic_simple"}, "dendritic", dendritic.task)
    assert (simple["soma_blocks"], simple["head_ops"]) == (1.0, 1.0)
    hidden = features(
        {**genome, "architecture": "dendritic_with_hidden"}, "dendritic", dendritic.task
    )
    assert (hidden["soma_blocks"], hidden["head_ops"]) == (1.0, 4.0)
    assembly = load_space("assembly")
    genes = dict(assembly.default_genome())
    coupled = features({**genes, "coupling": 8}, "assembly", assembly.task)
    alone = features({**genes, "coupling": 0}, "assembly", assembly.task)
    assert coupled["coupled_steps"] == assembly.task.seq_len and alone["coupled_steps"] == 0
    assert simple["coupled_steps"] == 0 and coupled["head_ops"] == 0


def test_fit_recovers_non_negative_costs_and_predicts_the_same_each_time() -> None:
    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(60, len(FEATURES))))
    x[:, 0] = 1.0
    x[:, -1] = 0.0  # a feature the sample never uses
    truth = np.zeros(len(FEATURES))
    truth[:12] = [0.05, 0.2, 3.0, 1.0, 0.01, 0.1, 0.0, 0.3, 0.02, 0.04, 0.07, 0.01]
    costs = fit(x, x @ truth)
    assert costs == pytest.approx(truth, abs=1e-9)
    noisy = x @ truth - 0.5 * x[:, 4]  # a negative effect is clipped, not fitted
    assert (fit(x, noisy) >= 0).all() and fit(x, noisy)[4] == 0
    rows = [dict(zip(FEATURES, r, strict=True)) for r in x[:3]]
    assert (predict(costs, rows) == predict(costs, rows)).all()
    assert matrix(rows).shape == (3, len(FEATURES))


def test_predict_takes_the_profiles_own_feature_order() -> None:
    rows = [dict.fromkeys(FEATURES, 1.0)]
    names = ["forward", "blocks"]  # an older profile knew fewer features: the rest cost 0
    assert predict([0.5, 0.25], rows, names)[0] == pytest.approx(0.75)
