"""Design-mode feasibility: a masked design always ends in a valid genome, and the
cheapest-completion rule agrees with the exact grid where both apply."""

from __future__ import annotations

import numpy as np
import pytest

from nas_env.env.design import DesignState
from nas_env.env.feasibility import Feasibility
from nas_env.mask_table import valid_grid
from nas_env.space import SearchSpace


def design(space: SearchSpace, rng: np.random.Generator) -> tuple[DesignState, list]:
    state, seen = DesignState(space), []
    while not state.done:
        mask = state.mask()
        seen.append((dict(state.genes), state.current, mask[: len(state.current.gene.choices)]))
        state.decide(int(rng.choice(np.flatnonzero(mask))))
    return state, seen


@pytest.mark.parametrize("name", ["tiny", "mid", "cls", "rnn", "bench"])
def test_masked_designs_are_always_valid(name: str) -> None:
    space, rng = SearchSpace.load(name), np.random.default_rng(0)
    for _ in range(150):
        state, _ = design(space, rng)
        assert space.is_valid(state.genome()), space.check(state.genome())


def test_cheapest_completion_agrees_with_the_exact_grid() -> None:
    space, rng = SearchSpace.load("mid"), np.random.default_rng(1)
    exact = Feasibility.of(space)
    assert exact._grid is not None
    masked = 0
    for _ in range(100):
        _, seen = design(space, rng)
        for genes, decision, mask in seen:
            for i, value in enumerate(decision.gene.choices):
                cheap = exact._cheapest_check(genes, decision.gene.name, value, decision.layer)
                assert cheap == bool(mask[i])
                masked += not mask[i]
    assert masked > 0  # the rule was exercised on infeasible choices too


@pytest.mark.slow  # builds a second feasibility grid (4 s)
def test_a_space_with_its_genes_in_another_order_gets_its_own_grid() -> None:
    loaded = SearchSpace.load("mid")
    raw = loaded.to_dict()
    raw["genes"] = dict(reversed(list(raw["genes"].items())))
    served = SearchSpace.from_dict(raw)
    assert [g.name for g in served.genes] == [g.name for g in loaded.genes][::-1]
    valid_grid(loaded)  # computed first: the served space must not reuse it
    rng = np.random.default_rng(2)
    for _ in range(100):
        state, _ = design(served, rng)
        assert served.is_valid(state.genome())
