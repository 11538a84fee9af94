"""Named edit actions, their application and masks (including hypothesis property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import preset_names
from nas_env import STOP, Genome, InvalidActionError, SearchSpace

SPACES = {name: SearchSpace.load(name) for name in preset_names("spaces")}


def test_action_names(tiny: SearchSpace) -> None:
    names = tiny.action_names
    for expected in [
        "layers+1",
        "layers-1",
        "d_model+1",
        "norm=rmsnorm",
        "bias=false",
        "heads[0]+1",
        "heads[3]-1",
        "ffn_ratio[2]+1",
        "activation=swiglu",
        "position=alibi",
        STOP,
    ]:
        assert expected in names
    assert len(names) == len(set(names))
    assert names[-1] == STOP


def test_fixed_genes_have_no_actions() -> None:
    names = SPACES["gpt2"].action_names
    assert not any(n.startswith(("norm", "activation", "position", "bias")) for n in names)
    assert "heads[11]+1" in names


def test_apply_edits(tiny: SearchSpace) -> None:
    genome = tiny.default_genome()
    assert tiny.apply(genome, "layers+1")["layers"] == 3
    assert tiny.apply(genome, "layers+1")["heads"] == (2, 2, 2)  # last layer copied
    assert tiny.apply(genome, "layers-1")["ffn_ratio"] == (2,)
    assert tiny.apply(genome, "heads[1]-1")["heads"] == (2, 1)
    assert tiny.apply(genome, "norm=rmsnorm")["norm"] == "rmsnorm"
    assert tiny.apply(genome, "d_model+1")["d_model"] == 96
    assert tiny.apply(genome, STOP) == genome
    index = tiny.actions.index("bias=false")
    assert tiny.apply(genome, index)["bias"] is False
    assert tiny.apply(genome, np.int64(index))["bias"] is False


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        ("norm=layernorm", "no-op"),
        ("heads[3]+1", "inactive"),
        ("layers-1", None),
        ("d_model-1", None),
    ],
)
def test_masked_actions_are_refused_with_reason(
    tiny: SearchSpace, action: str, fragment: str | None
) -> None:
    genome = tiny.default_genome()
    if fragment is None:  # reach the minimum first
        genome = tiny.apply(genome, action)
        fragment = "minimum"
    mask = tiny.action_mask(genome)
    assert not mask[tiny.actions.index(action)]
    with pytest.raises(InvalidActionError, match=fragment):
        tiny.apply(genome, action)


def test_mask_hides_edits_that_break_constraints(tiny: SearchSpace) -> None:
    from models import count_params

    genome = tiny.genome({**tiny.default_genome(), "d_model": 96, "heads": (4, 4)})
    budget = count_params(dict(genome), tiny.task)
    space = tiny.with_budget(max_params=budget)  # the genome sits exactly at the budget
    mask = space.action_mask(genome)
    for grow in ("ffn_ratio[0]+1", "d_model+1", "layers+1", "tied_embeddings=false"):
        assert not mask[space.actions.index(grow)], grow
        with pytest.raises(InvalidActionError, match="max_params"):
            space.apply(genome, grow)
    for shrink in ("ffn_ratio[0]-1", "d_model-1", "layers-1", "heads[1]-1"):
        assert mask[space.actions.index(shrink)], shrink
    # d_model 96 -> 64 keeps 4 heads (64 % 4 == 0); a 3-head choice would be masked instead
    assert space.apply(genome, "d_model-1")["heads"] == (4, 4)


def test_unknown_action_name_and_index(tiny: SearchSpace) -> None:
    with pytest.raises(KeyError, match="did you mean 'layers\\+1'"):
        tiny.actions.index("layer+1")
    with pytest.raises(InvalidActionError, match="out of range"):
        tiny.apply(tiny.default_genome(), len(tiny.action_names))


def test_mask_is_a_fresh_bool_array(tiny: SearchSpace) -> None:
    genome = tiny.default_genome()
    mask = tiny.action_mask(genome)
    assert mask.dtype == bool and mask.shape == (len(tiny.action_names),)
    mask[:] = False
    assert tiny.action_mask(genome).any()
    assert tiny.action_mask(genome)[tiny.actions.stop_index]


@st.composite
def walks(draw: st.DrawFn) -> tuple[str, int, list[int]]:
    name = draw(st.sampled_from(sorted(SPACES)))
    seed = draw(st.integers(0, 2**32 - 1))
    picks = draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=25))
    return name, seed, picks


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walks())
def test_any_sequence_of_unmasked_actions_stays_valid(walk: tuple[str, int, list[int]]) -> None:
    name, seed, picks = walk
    space = SPACES[name]
    genome = Genome.random(space, np.random.default_rng(seed))
    for pick in picks:
        allowed = np.flatnonzero(space.action_mask(genome))
        assert space.actions.stop_index in allowed
        genome = space.apply(genome, int(allowed[pick % len(allowed)]))
        assert space.check(genome) == []
        assert all(len(genome[g.name]) == genome["layers"] for g in space.genes if g.per_layer)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(SPACES)), st.integers(0, 2**32 - 1))
def test_mask_agrees_with_apply(name: str, seed: int) -> None:
    space = SPACES[name]
    genome = Genome.random(space, np.random.default_rng(seed))
    mask = space.action_mask(genome)
    for index, allowed in enumerate(mask):
        new, reason = space.actions.try_apply(genome, index)
        assert (new is not None) == bool(allowed), reason
        if allowed and index != space.actions.stop_index:
            assert new != genome  # unmasked edits are never no-ops
