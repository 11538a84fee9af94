"""The regressors a surrogate may fit: families, gaps in the features, and the choice by
cross-validated Kendall tau."""

from __future__ import annotations

import numpy as np
import pytest

from nas_env.errors import ConfigError
from nas_env.ranking import kendall_tau
from nas_env.table.regressors import (
    GP,
    HGB_GRID,
    choose_settings,
    family,
    fit,
    make_regressor,
    usable,
)

pytest.importorskip("sklearn")


TREES = ({**HGB_GRID[0], "max_iter": 60}, {**HGB_GRID[3], "max_iter": 60})


def smooth(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth function of two of six features, few samples: what trees fit coarsely."""
    x = np.random.default_rng(seed).uniform(-2, 2, size=(n, 6))
    return x, np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2


def test_families_are_named_and_checked() -> None:
    assert family(HGB_GRID[0]) == "hgb" and family(GP) == "gp"
    with pytest.raises(ConfigError, match=r"family 'forest'.*\('hgb', 'gp'\)"):
        family({"family": "forest"})
    assert type(make_regressor(HGB_GRID[0], 6)).__name__ == "HistGradientBoostingRegressor"
    assert type(make_regressor(GP, 6)[-1]).__name__ == "GaussianProcessRegressor"


def test_a_gaussian_process_ranks_a_smooth_truth_better_and_is_chosen() -> None:
    x, y = smooth(30, 0)
    settings, tau = choose_settings(x, y, 0, (*TREES, GP))
    assert family(settings) == "gp" and tau > 0.7
    test_x, test_y = smooth(300, 1)
    taus = {
        name: kendall_tau(fit(chosen, x, y).predict(test_x).tolist(), test_y.tolist())
        for name, chosen in (("gp", GP), ("hgb", TREES[0]))
    }
    assert taus["gp"] > 0.9 and taus["gp"] > taus["hgb"] + 0.15, taus


def test_features_with_gaps_leave_only_the_trees() -> None:
    x, y = smooth(40, 2)
    x[3, 2] = np.nan
    assert [family(s) for s in usable((TREES[0], GP), x)] == ["hgb"]
    settings, _ = choose_settings(x, y, 0, (TREES[0], GP))
    assert family(settings) == "hgb"
    with pytest.raises(ConfigError, match="gaps"):
        choose_settings(x, y, 0, (GP,))
