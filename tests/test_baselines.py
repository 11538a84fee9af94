"""Named baselines: every entry of config/baselines.yaml is a valid genome of its space, a
search can start from one, and bad names and entries are refused with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import preset_names
from models import count_params
from nas_env import ConfigError
from nas_env import baselines as bl
from nas_env.checks import load_data_file
from nas_env.env import NASEnv
from nas_env.evaluation import EvalResult
from nas_env.genome import Genome
from nas_env.space import SearchSpace


class Instant:
    """An evaluator object for the `modern` space: no training."""

    def __init__(self) -> None:
        self.space = SearchSpace.load("modern")

    def evaluate(self, genome: Genome) -> EvalResult:
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            metric="perplexity",
            val_loss=2.1972,
            perplexity=9.0,
            size_mb=0.5,
            latency_ms=1.0,
        )


def test_every_named_space_exists_and_every_baseline_is_valid() -> None:
    data = load_data_file(bl.BASELINES_FILE)
    assert set(data) <= set(preset_names("spaces"))
    for name in data:
        space = SearchSpace.load(name)
        found = bl.baseline_genomes(space)
        assert found and all(space.is_valid(g) for g in found.values())


def test_baselines_are_what_their_names_say() -> None:
    space = SearchSpace.load("modern")
    found = bl.baseline_genomes(space)
    llama, gpt2 = dict(found["llama-like"]), dict(found["gpt2-like"])
    assert llama["kv_heads"] < llama["heads"] and llama["norm"] == "rmsnorm"
    assert llama["activation"] == "swiglu" and llama["position"] == "rope"
    assert gpt2["norm"] == "layernorm" and gpt2["position"] == "learned" and gpt2["bias"]
    assert dict(found["hybrid"])["mixer"] == ("mamba", "attention", "mamba", "attention")
    assert set(dict(found["mamba-like"])["mixer"]) == {"mamba"}
    sizes = {n: count_params(dict(g), space.task) for n, g in found.items()}
    assert min(sizes, key=sizes.__getitem__) == "ultra-small"


def test_a_search_starts_from_a_baseline() -> None:
    env = NASEnv(evaluator=Instant(), mode="edit")
    _, info = env.reset(seed=0, options={"genome": "llama-like"})
    want = bl.baseline_genome(env.space, "llama-like")
    assert env.genome == want and info["genome"] == want.to_dict()["genes"]
    env.close()


def test_unknown_baseline_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"lama-like.*did you mean 'llama-like'.*allowed"):
        bl.baseline_genome(SearchSpace.load("modern"), "lama-like")
    with pytest.raises(ConfigError, match="none for this space"):
        bl.baseline_genome(SearchSpace.load("tiny"), "gpt2-like")


def test_a_bad_entry_is_refused_with_the_file_and_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "baselines.yaml"
    path.write_text("modern:\n  broken: {heads: 2, kv_heads: 4}\n  odd: {widht: 3}\n")
    monkeypatch.setattr(bl, "BASELINES_FILE", path)
    with pytest.raises(ConfigError, match=r"modern\.broken: not a valid genome.*kv_heads"):
        bl.baseline_genomes(SearchSpace.load("modern"))
    path.write_text("modern:\n  odd: {widht: 3}\n")
    with pytest.raises(ConfigError, match=r"modern\.odd: unknown genes \['widht'\]"):
        bl.baseline_genomes(SearchSpace.load("modern"))


def test_the_command_prints_the_table_and_exits_2_on_a_bad_space(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bl.main(["--space", "modern"]) == 0
    out = capsys.readouterr().out
    assert "| llama-like |" in out and "| hybrid |" in out
    assert bl.main(["--space", "nope"]) == 2
    assert "unknown search space 'nope'" in capsys.readouterr().err


def test_the_command_trains_each_baseline_at_the_fidelity(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nas_env.evaluation

    built: list[dict] = []

    class Recording(Instant):
        def __init__(self, space: SearchSpace, **kwargs: object) -> None:
            super().__init__()
            built.append(kwargs)

    monkeypatch.setattr(nas_env.evaluation, "Evaluator", Recording)
    assert bl.main(["--space", "modern", "--fidelity", "tiny"]) == 0
    assert built == [{"fidelity": "tiny"}]
    out = capsys.readouterr().out
    assert "| val loss | perplexity | latency ms |" in out and "| 9.00 | 1.000 |" in out
    assert bl.main(["--space", "modern", "--fidelity", "tiny", "--task", "lm/stdlib"]) == 0
    assert built[-1] == {"fidelity": "tiny", "task": "lm/stdlib"}
