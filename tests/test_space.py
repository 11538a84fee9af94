"""SearchSpace loading, presets, YAML errors, validity checks and enumeration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config import preset_names
from models import count_params
from nas_env import ConfigError, Genome, InvalidGenomeError, SearchSpace

TINY_FILE: dict[str, Any] = {
    "name": "mine",
    "family": "transformer",
    "task": {"kind": "lm", "vocab_size": 100, "seq_len": 16},
    "genes": {
        "layers": {"choices": [1, 2, 3], "default": 2},
        "d_model": [16, 32],
        "heads": {"choices": [1, 2], "per_layer": True},
        "norm": ["layernorm", "rmsnorm"],
    },
    "constraints": {"max_params": 100000},
}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_presets_exist() -> None:
    assert {"tiny", "small", "gpt2", "rnn", "bench", "cls"} <= set(preset_names("spaces"))


def test_every_preset_loads_and_round_trips(preset_space: SearchSpace) -> None:
    again = SearchSpace.from_dict(preset_space.to_dict())
    assert again.to_dict() == preset_space.to_dict()
    assert preset_space.is_valid(preset_space.default_genome())


def test_gpt2_space_matches_hw_gpt_bench() -> None:
    space = SearchSpace.load("gpt2")
    assert space.gene("d_model").choices == (192, 384, 768)
    assert space.gene("layers").choices == (10, 11, 12)
    assert space.gene("ffn_ratio").choices == (2, 3, 4) and space.gene("ffn_ratio").per_layer
    assert space.gene("heads").choices == (4, 8, 12) and space.gene("heads").per_layer
    params = count_params(dict(space.default_genome()), space.task)
    assert 120e6 < params < 130e6  # GPT-2 small: 124M


def test_bench_space_is_a_few_hundred_genomes() -> None:
    space = SearchSpace.load("bench")
    genomes = list(space.enumerate())
    assert 200 <= len(genomes) <= 500
    assert len({g.key() for g in genomes}) == len(genomes)
    assert len(genomes) <= space.cardinality()


def test_user_yaml_space(tmp_path: Path) -> None:
    space = SearchSpace.load(write(tmp_path, TINY_FILE))
    assert space.name == "mine"
    assert space.gene("d_model").kind == "ordinal"
    assert space.gene("norm").kind == "categorical"
    assert space.gene("d_model").default == 16
    genome = space.default_genome()
    assert genome["heads"] == (1, 1)


@pytest.mark.parametrize(
    ("patch", "fragments"),
    [
        ({"family": "cnn"}, ["family", '"cnn"', "transformer", "rnn"]),
        ({"genes": {"layerz": [1, 2]}}, ["layerz", "did you mean 'layers'", "allowed genes"]),
        ({"genes": {"layers": {"choices": [3, 2, 1]}}}, ["layers.choices", "increasing"]),
        ({"genes": {"layers": {"choices": [1, 2], "default": 5}}}, ["layers.default", "5"]),
        ({"genes": {"layers": {"choices": []}}}, ["layers.choices", "non-empty"]),
        ({"genes": {"norm": {"choices": ["a", "b"], "kind": "ordinal"}}}, ["numeric", "norm"]),
        ({"genes": {"norm": {"choices": ["x"], "kind": "fuzzy"}}}, ["kind", "fuzzy", "ordinal"]),
        ({"genes": {"layers": {"choices": [1], "colour": 1}}}, ["colour", "allowed fields"]),
        ({"genes": {"heads": {"choices": [1, 2], "per_layer": True}}}, ["need a 'layers' gene"]),
        ({"task": {"kind": "lm", "vocab_size": 10}}, ["task", "seq_len"]),
        ({"constraints": {"max_params": -3}}, ["max_params", ">= 1", "-3"]),
        ({"constraints": {"size_dtype": "fp8"}}, ["size_dtype", "fp8", "float32"]),
        ({"constraints": {"max_params": 10}}, ["default genome is invalid", "max_params"]),
        ({"extra": 1}, ["unknown field 'extra'"]),
        ({"targets": {"size_mb": 0}}, ["targets.size_mb", "> 0"]),
        ({"targets": {"latency": 2}}, ["targets", "latency", "latency_ms"]),
    ],
)
def test_malformed_space_errors_name_field_value_and_allowed(
    tmp_path: Path, patch: dict[str, Any], fragments: list[str]
) -> None:
    data = {**TINY_FILE, **patch}
    if "genes" in patch and "layers" not in patch["genes"] and "heads" not in patch["genes"]:
        data["genes"] = {"layers": [1, 2], **patch["genes"]}
    with pytest.raises(ConfigError) as info:
        SearchSpace.load(write(tmp_path, data))
    for fragment in fragments:
        assert fragment in str(info.value)


def test_unknown_preset_suggests_close_names() -> None:
    with pytest.raises(ConfigError, match="did you mean 'tiny'"):
        SearchSpace.load("tinny")


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        SearchSpace.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot parse"):
        SearchSpace.load(bad)


def test_check_reports_every_domain_problem(tiny: SearchSpace) -> None:
    genes = dict(tiny.default_genome())
    genes["d_model"] = 48
    genes["heads"] = (2,)
    genes["colour"] = "red"
    del genes["norm"]
    reasons = tiny.check(Genome("tiny", genes))
    text = " | ".join(reasons)
    assert "d_model=48 is not allowed" in text
    assert "heads=[2]" in text and "one per layer" in text
    assert "unknown gene 'colour'" in text
    assert "missing gene 'norm'" in text


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"d_model": 96, "heads": (4, 4)}, None),
        ({"d_model": 32, "heads": (4, 4), "position": "rope"}, None),
        ({"layers": 4, "d_model": 128, "heads": (2,) * 4, "ffn_ratio": (4,) * 4}, "max_params"),
    ],
)
def test_constraints(tiny: SearchSpace, changes: dict[str, Any], fragment: str | None) -> None:
    genome = tiny.default_genome().replace(**changes)
    reasons = tiny.check(genome)
    if fragment is None:
        assert reasons == []
    else:
        assert any(fragment in r for r in reasons)
        with pytest.raises(InvalidGenomeError, match=fragment):
            tiny.require_valid(genome)


def test_structural_constraints_have_readable_reasons(tmp_path: Path) -> None:
    data = {
        **TINY_FILE,
        "genes": {
            "layers": [1, 2],
            "d_model": [24, 30],
            "heads": [1, 2, 4],
            "position": ["learned", "rope"],
        },
        "constraints": {},
    }
    space = SearchSpace.load(write(tmp_path, data))
    base = space.default_genome()
    indivisible = base.replace(d_model=30, heads=4)
    assert any("30" in r and "4" in r for r in space.check(indivisible))
    assert space.check(base.replace(d_model=24, heads=4, position="rope")) == []  # head dim 6
    odd_head_dim = base.replace(d_model=30, heads=2, position="rope")  # head dim 15
    reasons = space.check(odd_head_dim)
    assert reasons and any("rope" in r for r in reasons)
    assert space.check(base.replace(d_model=30, heads=2)) == []  # fine without rope


def test_size_budget(tiny: SearchSpace) -> None:
    small = tiny.with_budget(max_size_mb=0.5, max_params=None)
    genome = tiny.default_genome()
    big = genome.replace(d_model=128, heads=(4, 4), ffn_ratio=(4, 4))
    assert small.check(genome) == []
    assert any("MiB" in r and "max_size_mb=0.5" in r for r in small.check(big))


def test_with_task_rebinds_budget(tiny: SearchSpace) -> None:
    from models import TaskSpec

    genome = tiny.default_genome()
    assert tiny.is_valid(genome)
    huge_vocab = tiny.with_task(TaskSpec(kind="lm", vocab_size=50_000, seq_len=64))
    assert not huge_vocab.is_valid(genome)  # the embedding alone exceeds max_params


def test_rnn_space_rejects_bidirectional_lm() -> None:
    from models import TaskSpec

    space = SearchSpace.load("rnn")
    genome = space.default_genome().replace(bidirectional=True)
    assert space.is_valid(genome)
    lm = space.with_task(TaskSpec(kind="lm", vocab_size=1024, seq_len=128))
    assert any("bidirectional" in r for r in lm.check(genome))


def test_cardinality_is_exact_beyond_int64() -> None:
    import math

    data = {
        **TINY_FILE,
        "genes": {
            "layers": {"choices": [1, 24, 48], "default": 1},
            "d_model": [16, 32],
            "heads": {"choices": [1, 2, 4], "per_layer": True},
            "ffn_ratio": {"choices": [1, 2, 3, 4], "per_layer": True},
            "norm": ["layernorm", "rmsnorm"],
        },
        "constraints": {},
    }
    space = SearchSpace.from_dict(data)
    expected = 2 * 2 * sum(math.prod([3, 4]) ** n for n in (1, 24, 48))
    assert expected > 2**63
    count = space.cardinality()
    assert type(count) is int
    assert count == expected


def test_targets_load_and_round_trip(tmp_path: Path) -> None:
    space = SearchSpace.load(write(tmp_path, {**TINY_FILE, "targets": {"size_mb": 0.5}}))
    assert (space.targets.size_mb, space.targets.latency_ms) == (0.5, None)
    again = SearchSpace.from_dict(space.to_dict())
    assert again.targets == space.targets
    assert space.with_budget(max_params=10**6).targets == space.targets
    assert SearchSpace.load("tiny").targets.size_mb is not None


@pytest.mark.parametrize(("name", "size"), [("modern-xs", 8), ("modern-s", 13_056)])
def test_modern_presets_have_their_documented_sizes(name: str, size: int) -> None:
    space = SearchSpace.load(name)
    genomes = list(space.enumerate())
    assert space.cardinality() == size and len(genomes) == size
    assert all(space.is_valid(g) for g in genomes[:: max(1, size // 50)])


def test_the_modern_space_mixes_mixers_per_layer() -> None:
    space = SearchSpace.load("modern")
    assert space.cardinality() == 282_009_600
    assert space.gene("mixer").per_layer
    genome = space.genome(
        dict(space.default_genome(), layers=2, mixer=("mamba", "attention"), heads=4, kv_heads=1)
    )
    assert space.is_valid(genome)
    bad = dict(space.default_genome(), heads=2, kv_heads=4)
    assert any("kv_heads" in r for r in space.check(Genome("modern", bad)))
