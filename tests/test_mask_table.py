"""Masks of a flat space, computed once: the same masks and edits as checking each action,
kept in the cache folder, and not used where a space has per-layer genes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nas_env.mask_table as mt
from nas_env.actions import EditActions
from nas_env.space import SearchSpace


def slow_actions(space: SearchSpace) -> EditActions:
    actions = EditActions(space)
    actions._table = False  # check every action of every genome
    return actions


@pytest.mark.parametrize("name", ["bench", "mid"])
def test_table_masks_and_edits_match_checking_each_action(name: str) -> None:
    space = SearchSpace.load(name)
    fast, slow = EditActions(space), slow_actions(space)
    assert fast._mask_table() is not None
    rng = np.random.default_rng(0)
    for _ in range(60):
        genome = space.random_genome(rng)
        assert (fast.mask(genome) == slow.mask(genome)).all()
        for action in range(len(fast.actions)):
            assert fast.try_apply(genome, action) == slow.try_apply(genome, action)


def test_the_grid_counts_the_valid_genomes() -> None:
    space = SearchSpace.load("bench")
    grid = mt.valid_grid(space)
    assert grid.sum() == sum(1 for _ in space.enumerate())


def test_invalid_edits_keep_their_reasons() -> None:
    space = SearchSpace.load("mid")
    actions = EditActions(space)
    big = space.genome({**space.default_genome(), "layers": 3, "d_model": 128, "ffn_ratio": 2})
    new, reason = actions.try_apply(big, "layers+1")
    assert new is None and "exceed the budget max_params" in reason
    assert not actions.mask(big)[actions.index("layers+1")]


def test_the_grid_is_kept_in_the_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAS_ENV_CACHE", str(tmp_path))
    monkeypatch.setattr(mt, "_GRIDS", {})
    space = SearchSpace.load("bench")
    first = mt.valid_grid(space)
    files = list((tmp_path / "masks").glob("*.npy"))
    assert [f.stem for f in files] == [mt.grid_digest(space)]
    monkeypatch.setattr(mt, "_GRIDS", {})
    monkeypatch.setattr(mt, "_check_grid", lambda s: pytest.fail("checked again"))
    assert (mt.valid_grid(space) == first).all()


def test_spaces_with_per_layer_genes_have_no_table() -> None:
    space = SearchSpace.load("tiny")
    assert not mt.tabulable(space)
    actions = EditActions(space)
    genome = space.default_genome()
    assert actions._mask_table() is None and actions.mask(genome)[actions.stop_index]


def test_a_genome_outside_the_grid_falls_back() -> None:
    space = SearchSpace.load("bench")
    table = EditActions(space)._mask_table()
    other = SearchSpace.load("mid").default_genome()
    assert table.flat(other) is None and table.mask(other) is None
    assert table.flat({**space.default_genome(), "d_model": 48}) is None


def test_masks_of_a_space_with_its_genes_in_another_order() -> None:
    from nas_env.table import SHIPPED_TABLES, SurrogateEvaluator

    mt.valid_grid(SearchSpace.load("mid"))
    served = SurrogateEvaluator(SHIPPED_TABLES / "mid.npz").space  # genes sorted by name
    fast, slow = EditActions(served), slow_actions(served)
    rng = np.random.default_rng(5)
    for _ in range(40):
        genome = served.random_genome(rng)
        assert (fast.mask(genome) == slow.mask(genome)).all()


def test_a_grid_stored_under_other_model_rules_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model builders' checks decide validity: a change to them (another digest of
    `models`' source) must not be answered by a grid stored before it."""
    monkeypatch.setenv("NAS_ENV_CACHE", str(tmp_path))
    monkeypatch.setattr(mt, "_GRIDS", {})
    space = SearchSpace.load("bench")
    before = mt.grid_digest(space)
    mt.valid_grid(space)
    monkeypatch.setattr(mt, "_RULES", ["other-rules"])
    monkeypatch.setattr(mt, "_GRIDS", {})
    assert mt.grid_digest(space) != before
    checked: list[str] = []
    real = mt._check_grid
    monkeypatch.setattr(mt, "_check_grid", lambda s: checked.append(s.name) or real(s))
    mt.valid_grid(space)
    assert checked == ["bench"]
