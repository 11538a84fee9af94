"""Scoring rules (signals): features, the ridge fit, files, and an evaluator that scores
with one (val_loss the estimate, the measurement kept, versioned cache keys)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from nas_env import SearchSpace
from nas_env.errors import ConfigError
from nas_env.evaluation import Evaluator, TrainSettings
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.signals import (
    Signal,
    available_signals,
    checked_signal,
    features,
    fit_ridge,
    load_signal,
)

GENES = {
    "layers": 2,
    "d_model": 64,
    "heads": (1, 2),
    "ffn_ratio": (2, 4),
    "norm_position": "post",
    "tied_embeddings": False,
}


def test_features_name_measurements_counts_and_genes() -> None:
    feats = features(GENES, {"val_loss": 4.0, "mean_train_loss": 5.0, "params": 1000})
    assert feats["val_loss"] == 4.0 and feats["mean_train_loss"] == 5.0
    assert feats["log_params"] == pytest.approx(math.log(1000))
    assert feats["layers"] == 2.0 and feats["d_model"] == 64.0
    assert feats["mean:heads"] == 1.5 and feats["mean:ffn_ratio"] == 3.0
    assert feats["norm_position=post"] == 1.0 and feats["tied_embeddings=false"] == 1.0
    assert "late_train_loss" not in feats  # not measured: left out, not invented
    nan = features(GENES, {"val_loss": float("nan")})
    assert "val_loss" not in nan


def test_ridge_recovers_a_linear_rule_and_predicts_deterministically() -> None:
    rng = np.random.default_rng(0)
    rows = [{"a": float(a), "b": float(b), "c=x": float(c)} for a, b, c in rng.random((40, 3))]
    y = [2.0 + 3.0 * r["a"] - 1.0 * r["b"] for r in rows]
    intercept, weights, center = fit_ridge(rows, y, ["a", "b", "c=x"], alpha=1e-9)
    signal = Signal("t", 1, "tiny", "long", intercept, weights, center)
    assert [signal.predict(r) for r in rows] == pytest.approx(y, abs=1e-6)
    assert signal.predict(rows[0]) == signal.predict(dict(rows[0]))
    assert weights["c=x"] == pytest.approx(0.0, abs=1e-6)
    # A constant feature gets no weight and a unit scale.
    const = [{**r, "k": 1.0} for r in rows]
    _, w2, c2 = fit_ridge(const, y, ["a", "k"], alpha=1.0)
    assert w2["k"] == 0.0 and c2["k"] == (1.0, 1.0)


def test_ridge_errors() -> None:
    with pytest.raises(ConfigError, match="needs >= 3 rows"):
        fit_ridge([{"a": 1.0}], [1.0], ["a"], 1.0)
    with pytest.raises(ConfigError, match="lacks feature 'b'"):
        fit_ridge([{"a": 1.0}] * 3, [1.0, 2.0, 3.0], ["b"], 1.0)


def test_prediction_needs_its_numeric_features() -> None:
    signal = Signal("t", 1, "tiny", "long", 1.0, {"val_loss": 1.0}, {"val_loss": (0.0, 1.0)})
    with pytest.raises(ConfigError, match="feature 'val_loss' is missing"):
        signal.predict({"layers": 2.0})
    # A categorical feature that is absent counts as 0.
    cat = Signal(
        "t", 1, "tiny", "long", 1.0, {"position=alibi": 2.0}, {"position=alibi": (0.5, 0.5)}
    )
    assert cat.predict({}) == pytest.approx(1.0 - 2.0)


def _write(path: Path, level: str = "tiny", version: int = 1, weight: float = 0.5) -> Path:
    signal = Signal(
        path.stem,
        version,
        level,
        "long",
        3.0,
        {"val_loss": weight, "layers": -0.1},
        {"val_loss": (4.0, 0.5), "layers": (2.5, 1.0)},
        fitted_on="a test",
    )
    path.write_text(yaml.safe_dump(signal.to_dict()), encoding="utf-8")
    return path


def test_signal_files_round_trip_and_bad_files_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.yaml")
    signal = load_signal(path)
    assert (signal.tag, signal.level, signal.target) == ("mine@1", "tiny", "long")
    assert load_signal(path) == signal
    raw = yaml.safe_load(path.read_text())
    raw["features"]["val_loss"]["std"] = 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"bad.yaml.features.val_loss.std: must be > 0"):
        load_signal(bad)
    with pytest.raises(ConfigError, match="unknown signal 'nosuch'"):
        load_signal("nosuch")


def test_shipped_signals_load_and_match_their_level() -> None:
    for name in available_signals():
        signal = load_signal(name)
        fidelity = Fidelity.resolve(signal.level, signal=name)
        assert checked_signal(fidelity) == signal


def test_a_signal_refuses_a_level_that_trains_differently(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.yaml", level="tiny")
    assert checked_signal(Fidelity.resolve("tiny", signal=str(path))) is not None
    with pytest.raises(ConfigError, match=r"trains differently \(lr, steps\)"):
        checked_signal(Fidelity.resolve("tiny", steps=12, lr=0.01, signal=str(path)))


def test_a_signal_refuses_a_space_of_another_family(tmp_path: Path) -> None:
    from nas_env.space import load_space

    level = Fidelity.resolve("rerank")
    assert checked_signal(level, load_space("mid")).family == "transformer"
    with pytest.raises(
        ConfigError,
        match=r"rerank-ridge@\d was fitted on transformer genomes; space 'rnn-lm' is of the "
        r"rnn family: use a level without a signal",
    ):
        checked_signal(level, load_space("rnn-lm"))
    path = _write(tmp_path / "mine.yaml", level="tiny")
    raw = yaml.safe_load(path.read_text())
    raw["family"] = "rnn"
    path.write_text(yaml.safe_dump(raw))
    signal = checked_signal(Fidelity.resolve("tiny", signal=str(path)), load_space("rnn-lm"))
    assert signal.family == "rnn" and signal.to_dict()["family"] == "rnn"
    assert "family" not in load_signal("rerank-ridge").to_dict()  # the default is not written


def test_partial_rungs_are_measured_as_they_are(tmp_path: Path) -> None:
    fidelity = Fidelity.resolve("tiny", signal=str(_write(tmp_path / "s.yaml")))
    assert fidelity.rung(10).signal is None
    assert fidelity.rung(fidelity.steps).signal == fidelity.signal


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signals_cache")


def test_an_evaluator_with_a_signal_scores_with_it(tmp_path: Path, cache_root: Path) -> None:
    path = _write(tmp_path / "mine.yaml")
    settings = TrainSettings(device="cpu", precision="fp32", seed=0, threads=1)
    plain = Evaluator(
        "tiny", fidelity="tiny", settings=settings, cache=False, cache_root=cache_root
    )
    scored = Evaluator(
        "tiny",
        fidelity=Fidelity.resolve("tiny", signal=str(path)),
        settings=settings,
        cache=False,
        cache_root=cache_root,
    )
    genome = SearchSpace.load("tiny").default_genome()
    raw, result = plain.evaluate(genome), scored.evaluate(genome)
    assert raw.ok and result.ok and raw.signal == "" and raw.measured_val_loss is None
    assert result.measured_val_loss == raw.val_loss  # the same training
    expected = 3.0 + 0.5 * (raw.val_loss - 4.0) / 0.5 - 0.1 * (genome["layers"] - 2.5)
    assert result.val_loss == pytest.approx(expected)
    assert result.perplexity == pytest.approx(math.exp(expected))
    assert result.signal == "mine@1"
    assert raw.mean_train_loss is not None and math.isfinite(raw.mean_train_loss)
    assert raw.late_train_loss is not None and math.isfinite(raw.late_train_loss)
    # The signal and its version are part of the cache key.
    assert scored.key(genome) != plain.key(genome)
    _write(path, version=2, weight=0.7)
    again = Evaluator(
        "tiny",
        fidelity=Fidelity.resolve("tiny", signal=str(path)),
        settings=settings,
        cache=False,
        cache_root=cache_root,
    )
    assert again.key(genome) != scored.key(genome)


def test_a_signal_never_rewards_learning_worse(tmp_path: Path) -> None:
    path = _write(tmp_path / "neg.yaml", weight=-0.5)
    with pytest.raises(ConfigError, match=r"val_loss\.weight: -0\.5 is negative"):
        load_signal(path)
