"""Fidelity levels, overrides, validation errors and the learning-rate schedule."""

from __future__ import annotations

import itertools

import pytest

from nas_env import ConfigError
from nas_env.evaluation import Fidelity, fidelity_levels


def test_levels_exist() -> None:
    assert {"tiny", "fast", "medium", "full"} <= set(fidelity_levels())
    for name in fidelity_levels():
        fidelity = Fidelity.resolve(name)
        assert fidelity.name == name and fidelity.steps > 0


def test_overrides_and_tokens() -> None:
    fidelity = Fidelity.resolve("fast", steps=7)
    assert fidelity.steps == 7 and fidelity.name == "fast+custom"
    by_tokens = Fidelity.resolve("fast", tokens=16 * 64 * 10, seq_len=64)
    assert by_tokens.steps == 10
    assert Fidelity.resolve("fast").cache_token() != fidelity.cache_token()


@pytest.mark.parametrize(
    ("spec", "overrides", "fragment"),
    [
        ("fastt", {}, "did you mean 'fast'"),
        ("fast", {"stepz": 3}, "did you mean 'steps'"),
        ({"batch_size": 2, "lr": 0.1}, {}, "exactly one of 'steps' and 'tokens'"),
        ({"steps": 0, "batch_size": 2, "lr": 0.1}, {}, "steps: must be >= 1, got 0"),
        (
            {"steps": 1, "batch_size": "x", "lr": 0.1},
            {},
            'batch_size: expected an integer, got "x"',
        ),
        ({"tokens": 100, "batch_size": 2, "lr": 0.1}, {}, "needs an explicit 'seq_len'"),
        ({"steps": 1, "batch_size": 2, "lr": 0.1, "min_lr_ratio": 2}, {}, "min_lr_ratio"),
    ],
)
def test_errors(spec: object, overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Fidelity.resolve(spec, **overrides)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_warmup_then_cosine() -> None:
    f = Fidelity.resolve(
        {"steps": 110, "batch_size": 1, "lr": 1.0, "warmup_steps": 10, "min_lr_ratio": 0.1}
    )
    assert f.lr_at(0) == pytest.approx(0.1)
    assert f.lr_at(9) == pytest.approx(1.0)
    assert f.lr_at(10) == pytest.approx(1.0)
    assert f.lr_at(60) == pytest.approx(0.55)
    assert f.lr_at(110) == pytest.approx(0.1)
    lrs = [f.lr_at(s) for s in range(10, 110)]
    assert all(a >= b for a, b in itertools.pairwise(lrs))


def test_measured_rankings_name_real_levels_and_plausible_figures() -> None:
    from config import CONFIG_DIR
    from nas_env.checks import load_data_file
    from nas_env.evaluation.fidelity import fidelity_levels, measured_ranking

    data = load_data_file(CONFIG_DIR / "fidelity_ranking.yaml")
    levels = fidelity_levels()
    assert "tiny" in data
    for space, entry in data.items():
        assert entry["reference"] in levels and entry["genomes"] >= 8
        for level, row in entry["levels"].items():
            assert level in levels
            assert -1.0 <= row["tau"] <= 1.0 and -1.0 <= row["spearman"] <= 1.0
            assert row["s_per_candidate"] > 0
            assert measured_ranking(space, level)["tau"] == row["tau"]
    assert measured_ranking("mid", "search-gp")["source"] == "benchmarks/prior_mid_rank.py"
    assert measured_ranking("mid", "search")["source"] == "benchmarks/shape_signal_rank.py"
    assert measured_ranking("tiny", "no-such-level") is None
    assert measured_ranking("no-such-space", "fast") is None


def test_the_run_banner_says_how_well_its_fidelity_ranks() -> None:
    from agents.envs import describe_fidelity
    from nas_env.evaluation.fidelity import measured_ranking

    line = describe_fidelity("nas_env/TransformerLM-v3", {})
    ranking = measured_ranking("tiny", "search-gp")
    assert ranking is not None and ranking["reference"] == "long"
    assert f"Kendall tau {ranking['tau']:.2f}" in line and "`long`" in line
    assert f"{ranking['tau_decision']:.2f} on {ranking['decision_genomes']} genomes" in line
    old = describe_fidelity("nas_env/TransformerLM-v0", {})
    assert f"Kendall tau {measured_ranking('tiny', 'fast')['tau']:.2f}" in old
    assert "Kendall" not in describe_fidelity(
        "nas_env/TransformerLM-v2", {"fidelity": {"steps": 3, "batch_size": 2, "lr": 1e-3}}
    )
