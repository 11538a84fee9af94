"""``latency="predicted"``: results take the profile's prediction and say so, the cache key
knows it, records carry it, and a profile made elsewhere is refused unless allowed."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import gymnasium as gym
import pytest

import nas_env  # noqa: F401  (registers the ids)
from agents.records import metrics_of
from nas_env.errors import ConfigError
from nas_env.evaluation import Evaluator, TrainSettings
from nas_env.latency.__main__ import main as latency_main
from nas_env.latency.profile import load_profile

FIDELITY = {"steps": 2, "batch_size": 2, "lr": 0.001, "eval_tokens": 256}


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lat") / "tiny-cpu.json"
    args = ["profile", "--space", "tiny", "--genomes", "6", "--passes", "1", "--out", str(out)]
    assert latency_main(args) == 0
    return out


def evaluator(tmp_path: Path, **settings: object) -> Evaluator:
    return Evaluator(
        "tiny", "lm/stdlib", FIDELITY, TrainSettings(device="cpu", **settings),  # type: ignore[arg-type]
        cache=False, cache_root=tmp_path / "cache", vocab_size=256,
    )  # fmt: skip


def test_predicted_latency_is_the_profiles_and_says_so(profile: Path, tmp_path: Path) -> None:
    measured = evaluator(tmp_path)
    predicted = evaluator(tmp_path, latency="predicted", latency_profile=str(profile))
    genome = predicted.space.default_genome()
    result = predicted.evaluate(genome)
    expected = load_profile(profile, "tiny", "cpu", 1).predict(dict(genome), predicted.spec)
    assert result.ok and result.latency_ms == expected
    assert result.latency_source is not None and result.latency_source.startswith("predicted:")
    assert measured.evaluate(genome).latency_source == "measured"
    assert predicted.key(genome) != measured.key(genome)
    assert metrics_of(result.to_dict())["latency_source"] == result.latency_source


def test_the_env_takes_the_option_and_refuses_a_profile_made_elsewhere(
    profile: Path, tmp_path: Path
) -> None:
    env = gym.make(
        "nas_env/TransformerLM-v2", fidelity=FIDELITY, vocab_size=256, cache=False,
        cache_root=str(tmp_path / "cache"), latency="predicted", latency_profile=str(profile),
    )  # fmt: skip
    _, info = env.reset(seed=0)
    assert info["result"]["latency_source"].startswith("predicted:tiny-cpu@")
    env.close()
    moved = tmp_path / "moved.json"
    meta = json.loads(profile.read_text())
    meta["device"]["torch"] = "1.0.0"
    moved.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"torch '1\.0\.0'"):
        evaluator(tmp_path, latency="predicted", latency_profile=str(moved))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluator(
            tmp_path, latency="predicted", latency_profile=str(moved), latency_profile_mismatch=True
        )
    assert any("measured elsewhere" in str(w.message) for w in caught)
    with pytest.raises(ConfigError, match='latency: "guessed" is not allowed'):
        gym.make("nas_env/TransformerLM-v2", latency="guessed")
