"""Genome immutability, canonical JSON round-trips, stable keys, default and random."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from nas_env import ConfigError, Genome, InvalidGenomeError, SearchSpace


def test_default_genome(tiny: SearchSpace) -> None:
    genome = Genome.default(tiny)
    assert genome["layers"] == 2
    assert genome["heads"] == (2, 2)
    assert genome["norm"] == "layernorm"
    assert genome.space_id == "tiny"


def test_round_trip_json_and_dict(preset_space: SearchSpace, rng: np.random.Generator) -> None:
    for _ in range(10):
        genome = Genome.random(preset_space, rng)
        assert Genome.from_json(preset_space, genome.to_json()) == genome
        assert Genome.from_dict(preset_space, genome.to_dict()) == genome
        assert Genome.from_dict(preset_space, json.loads(json.dumps(genome.to_dict()))) == genome
        assert pickle.loads(pickle.dumps(genome)) == genome
        assert Genome.from_json(preset_space, genome.to_json()).key() == genome.key()


def test_canonical_json_is_order_independent(tiny: SearchSpace) -> None:
    genes = dict(tiny.default_genome())
    reversed_genes = dict(reversed(list(genes.items())))
    assert Genome("tiny", reversed_genes).to_json() == Genome("tiny", genes).to_json()
    assert Genome("tiny", reversed_genes).key() == Genome("tiny", genes).key()


def test_key_is_stable_across_machines(tiny: SearchSpace) -> None:
    # The key is a SHA-256 of canonical JSON: a fixed value here guards against any
    # change in the encoding that would silently invalidate every cache and table.
    genome = Genome.default(tiny)
    assert genome.to_json() == (
        '{"genes":{"activation":"gelu","bias":true,"d_model":64,"ffn_ratio":[2,2],'
        '"heads":[2,2],"layers":2,"norm":"layernorm","norm_position":"pre",'
        '"position":"learned","tied_embeddings":true},"space":"tiny"}'
    )
    assert genome.key() == "9ebdb96adcfa19f7"


def test_key_depends_on_space_and_every_gene(tiny: SearchSpace) -> None:
    genome = Genome.default(tiny)
    assert Genome("other", dict(genome)).key() != genome.key()
    assert genome.replace(norm="rmsnorm").key() != genome.key()
    assert genome.replace(heads=(2, 1)).key() != genome.key()
    assert genome.replace(bias=1).key() != genome.replace(bias=True).key()


def test_immutable(tiny: SearchSpace) -> None:
    genome = Genome.default(tiny)
    with pytest.raises(TypeError):
        genome["layers"] = 3  # type: ignore[index]
    with pytest.raises(AttributeError):
        genome.layers = 3  # type: ignore[attr-defined]
    changed = genome.replace(layers=3)
    assert genome["layers"] == 2 and changed["layers"] == 3
    assert {genome: 1}[Genome.default(tiny)] == 1


def test_random_is_valid_and_seeded(preset_space: SearchSpace) -> None:
    a = [Genome.random(preset_space, np.random.default_rng(7)) for _ in range(3)]
    assert len({g.key() for g in a}) == 1
    rng = np.random.default_rng(0)
    genomes = [Genome.random(preset_space, rng) for _ in range(30)]
    assert all(preset_space.is_valid(g) for g in genomes)
    if preset_space.cardinality() > 100:
        assert len({g.key() for g in genomes}) > 10


def test_random_draws_heterogeneous_layers(tiny: SearchSpace) -> None:
    rng = np.random.default_rng(3)
    genomes = [Genome.random(tiny, rng) for _ in range(50)]
    assert any(len(set(g["ffn_ratio"])) > 1 for g in genomes)
    assert all(len(g["heads"]) == g["layers"] for g in genomes)


def test_uniform_weights_layer_counts_by_their_number_of_genomes() -> None:
    space = SearchSpace.from_dict(
        {
            "name": "u",
            "family": "transformer",
            "task": {"kind": "lm", "vocab_size": 64, "seq_len": 16},
            "genes": {
                "layers": {"choices": [1, 2], "default": 1},
                "d_model": [32],
                "heads": {"choices": [1, 2], "per_layer": True},
                "ffn_ratio": {"choices": [1, 2, 4], "per_layer": True},
            },
        }
    )
    genomes = list(space.enumerate())
    assert len(genomes) == 6 + 36  # 6 one-layer genomes, 36 two-layer ones
    rng = np.random.default_rng(0)
    draws = [space.uniform_genome(rng) for _ in range(4200)]
    counts = {g: 0 for g in genomes}
    for g in draws:
        counts[g] += 1
    # every genome equally likely (100 expected each): two-layer genomes are 6/7 of draws
    assert min(counts.values()) > 60 and max(counts.values()) < 145
    two = sum(1 for g in draws if g["layers"] == 2) / len(draws)
    assert abs(two - 36 / 42) < 0.02
    per_gene = [Genome.random(space, rng)["layers"] for _ in range(2000)]
    assert abs(per_gene.count(2) / 2000 - 0.5) < 0.05  # `random` is uniform per gene


def test_uniform_respects_constraints(tiny: SearchSpace) -> None:
    rng = np.random.default_rng(1)
    assert all(tiny.is_valid(tiny.uniform_genome(rng)) for _ in range(50))


def test_from_genes_rejects_without_repairing(tiny: SearchSpace) -> None:
    genes = dict(Genome.default(tiny))
    genes["heads"] = (2, 2, 2)
    with pytest.raises(InvalidGenomeError, match="one per layer") as info:
        Genome.from_genes(tiny, genes)
    assert info.value.reasons


def test_from_dict_errors(tiny: SearchSpace) -> None:
    genome = Genome.default(tiny)
    with pytest.raises(InvalidGenomeError, match="belongs to space 'rnn'"):
        Genome.from_dict(tiny, {**genome.to_dict(), "space": "rnn"})
    with pytest.raises(ConfigError, match="missing field 'genes'"):
        Genome.from_dict(tiny, {"space": "tiny"})
    with pytest.raises(ConfigError, match="does not parse"):
        Genome.from_json(tiny, "{not json")


def test_at_depth_draws_valid_genomes_of_that_depth(tiny: SearchSpace) -> None:
    rng = np.random.default_rng(0)
    draws = [Genome.at_depth(tiny, 3, rng) for _ in range(20)]
    assert all(g["layers"] == 3 and tiny.is_valid(g) for g in draws)
    assert len(set(draws)) > 10
    with pytest.raises(InvalidGenomeError, match="layers=7 is not a choice"):
        Genome.at_depth(tiny, 7, rng)
