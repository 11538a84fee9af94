"""The env's evaluator factory: vocabulary from the evaluator itself, table provenance."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from nas_env import ConfigError, SearchSpace
from nas_env.env.factory import default_table, make_evaluator, table_path
from nas_env.env.setting_groups import TableSettings
from nas_env.env.settings import EvaluatorSettings
from nas_env.evaluation.interface import GenomeEvaluator, as_genome_evaluator


class Custom:
    """A user evaluator with nothing but a space and evaluate()."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def evaluate(self, genome: object) -> object:
        raise NotImplementedError


def test_vocab_size_comes_from_the_evaluator_never_a_default() -> None:
    space = SearchSpace.load("tiny")
    assert space.task.vocab_size == 512
    assert as_genome_evaluator(Custom(space)).vocab_size == 512  # no silent 1,024
    table = make_evaluator("bench", "lm/stdlib", "bench", EvaluatorSettings(evaluator="table"))
    assert isinstance(table, GenomeEvaluator)
    assert table.vocab_size == table.meta["vocab_size"] == 512


def test_table_mismatch_is_refused_unless_the_env_allows_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    path.write_bytes(default_table("bench").read_bytes())
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'evaluator_version'", (json.dumps("1"),)
        )
    with pytest.raises(ConfigError, match="evaluator version '1'"):
        make_evaluator(
            "bench", "lm/stdlib", "bench", EvaluatorSettings("table", TableSettings(path))
        )
    with pytest.warns(UserWarning, match="used anyway"):
        allowed = EvaluatorSettings("table", TableSettings(path, allow_mismatch=True))
        make_evaluator("bench", "lm/stdlib", "bench", allowed)


def test_a_table_is_named_by_path_or_by_its_shipped_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = default_table("mid", ".npz").parent / "mid-long.npz"
    assert table_path("mid-long.npz", "mid", ".npz") == shipped
    assert table_path(None, "mid", ".npz") == default_table("mid", ".npz")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mid-long.npz").write_bytes(b"")  # a file by that name here wins
    assert table_path("mid-long.npz", "mid", ".npz") == Path("mid-long.npz")
    assert table_path("nowhere.npz", "mid", ".npz") == Path("nowhere.npz")


def test_the_long_training_benchmark_is_served_with_its_rungs_and_v0_latency() -> None:
    """`SurrogateLM-v1`: five rungs of `long`, validated on held-out genomes trained at
    `long` (tau >= 0.85 at the top rung), latency and sizes those of `-v0` (the scale of
    the space's targets)."""
    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids)

    env = gym.make("nas_env/SurrogateLM-v1")
    served = env.unwrapped.evaluator
    assert served.steps == (500, 2000, 4000, 6000, 8000)
    meta = served.meta
    assert meta["fidelities"][-1]["name"] == "long"
    assert meta["report"]["val_loss@8000"]["held_out"]["kendall_tau"] >= 0.85
    assert meta["latency_from"] == "config/tables/mid.npz"
    _, info = env.reset(seed=0)
    assert info["result"]["fidelity"] == "long" and info["result"]["source"] == "surrogate"
    env.close()


def test_v2_is_v1_with_the_latency_profiles_column() -> None:
    """`SurrogateLM-v2`: `-v1`'s losses to the digit; latency from the `mid` CPU profile
    (its ranking), scaled by one factor to `-v1`'s median, so the targets keep their
    meaning."""
    import json

    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids)
    from nas_env.latency.profile import Profile, default_path
    from nas_env.samples import uniform_sample

    v1 = gym.make("nas_env/SurrogateLMDesign-v1").unwrapped.evaluator
    v2 = gym.make("nas_env/SurrogateLMDesign-v2").unwrapped.evaluator
    assert v2.meta["latency_from"].startswith("latency profile mid-cpu@")
    scale = v2.meta["latency_scale"]
    assert 1.0 < scale < 4.0  # in-loop timings beside training read above the steady minimum
    path = default_path("mid", "cpu")
    profile = Profile(path, json.loads(path.read_text(encoding="utf-8")))
    for genome in (v1.space.default_genome(), *uniform_sample(v1.space, 5, 3)):
        one, two = v1.evaluate(genome), v2.evaluate(genome)
        assert two.val_loss == pytest.approx(one.val_loss, abs=1e-6)
        assert two.params == one.params and two.size_mb == one.size_mb
        expected = scale * profile.predict(dict(genome), v2.space.task)
        assert two.latency_ms == pytest.approx(expected, rel=1e-5)
