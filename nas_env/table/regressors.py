"""The regressors a surrogate benchmark may fit, chosen by cross-validated Kendall tau.

A candidate is a settings mapping. Without ``family`` (or ``family: hgb``) it is a
scikit-learn `HistGradientBoostingRegressor` with those settings, the model of the
short-training benchmarks. ``family: gp`` is a Gaussian process on standardised features:
a constant times a Matern kernel with one length scale per feature (automatic relevance
determination; ``nu`` as given, 2.5 by default) plus a white-noise kernel, its
hyperparameters fitted by maximum marginal likelihood (``restarts`` extra random starts).
With a few hundred trained genomes the Gaussian process ranks held-out genomes better
than the trees (BENCHMARKS.md, "A surrogate benchmark whose truth is long training"); it
does not accept missing features, so candidates that need complete rows are skipped where
a feature is missing (`usable`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nas_env.errors import ConfigError
from nas_env.ranking import kendall_tau

FAMILIES = ("hgb", "gp")
HGB_GRID: tuple[dict[str, Any], ...] = tuple(
    {"learning_rate": lr, "max_leaf_nodes": leaves, "max_iter": 400, "min_samples_leaf": 10}
    for lr in (0.03, 0.08)
    for leaves in (7, 15, 31)
)
GP: dict[str, Any] = {"family": "gp", "nu": 2.5, "restarts": 0}
ESTIMATORS = {"hgb": "HistGradientBoostingRegressor", "gp": "GaussianProcessRegressor"}


def family(settings: Mapping[str, Any]) -> str:
    """The model family a candidate names (``hgb`` when it names none).

    Raises:
        ConfigError: An unknown family.
    """
    name = str(settings.get("family", "hgb"))
    if name not in FAMILIES:
        raise ConfigError(
            f"regressor family {name!r} (settings {dict(settings)}) is not one of {FAMILIES}"
        )
    return name


def make_regressor(settings: Mapping[str, Any], features: int) -> Any:
    """An unfitted scikit-learn regressor for ``settings`` over ``features`` columns.

    Raises:
        ConfigError: scikit-learn is missing, or an unknown family.
    """
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise ConfigError(
            "building a surrogate needs scikit-learn: pip install 'nas_env[surrogate]'"
        ) from exc
    if family(settings) == "hgb":
        rest = {k: v for k, v in settings.items() if k != "family"}
        return HistGradientBoostingRegressor(random_state=0, early_stopping=False, **rest)
    kernel = ConstantKernel(1.0) * Matern(
        length_scale=np.full(features, 3.0),
        length_scale_bounds=(1e-2, 1e3),
        nu=float(settings.get("nu", 2.5)),
    ) + WhiteKernel(1e-2, (1e-6, 1.0))
    process = GaussianProcessRegressor(
        kernel,
        normalize_y=True,
        n_restarts_optimizer=int(settings.get("restarts", 0)),
        random_state=0,
    )
    return make_pipeline(StandardScaler(), process)


def fit(settings: Mapping[str, Any], x: np.ndarray, y: np.ndarray) -> Any:
    """`make_regressor` fitted on (x, y), quiet about length scales at their bounds (a
    feature the Gaussian process finds irrelevant ends at the upper bound by design)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make_regressor(settings, x.shape[1]).fit(x, y)


def usable(grid: Sequence[Mapping[str, Any]], x: np.ndarray) -> list[dict[str, Any]]:
    """The candidates of ``grid`` that can fit ``x`` (a Gaussian process needs every feature)."""
    complete = not bool(np.isnan(x).any())
    return [dict(s) for s in grid if complete or family(s) == "hgb"]


def choose_settings(
    x: np.ndarray, y: np.ndarray, seed: int, grid: Sequence[Mapping[str, Any]] = HGB_GRID
) -> tuple[dict[str, Any], float]:
    """The usable ``grid`` entry with the best mean 5-fold Kendall tau on (x, y), and that tau.

    Raises:
        ConfigError: No entry of ``grid`` can fit ``x``.
    """
    candidates = usable(grid, x)
    if not candidates:
        raise ConfigError(f"none of the regressors {list(grid)} accepts features with gaps")
    order = np.random.default_rng(seed).permutation(len(y))
    folds = np.array_split(order, 5)
    best: tuple[dict[str, Any], float] = (candidates[0], -2.0)
    for settings in candidates:
        taus = []
        for k, test in enumerate(folds):
            train = np.concatenate([f for j, f in enumerate(folds) if j != k])
            model = fit(settings, x[train], y[train])
            taus.append(kendall_tau(model.predict(x[test]).tolist(), y[test].tolist()))
        if float(np.mean(taus)) > best[1]:
            best = (settings, float(np.mean(taus)))
    return best
