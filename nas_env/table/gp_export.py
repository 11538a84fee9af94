"""A fitted Gaussian process as plain arrays, and its prediction in closed form.

`nas_env.table.regressors` fits a Gaussian process as a scikit-learn pipeline: a
`StandardScaler`, then a `GaussianProcessRegressor` (``normalize_y=True``) whose kernel
is ``ConstantKernel(c) * Matern(length_scale, nu) + WhiteKernel``. Its posterior mean at
new points is

    x' = (x - mean) / scale
    y  = y_mean + y_std * c * Matern(x' / length_scale, X' / length_scale) @ alpha

(the white-noise term is zero between distinct points). `export_gp` takes those arrays out
of a fitted pipeline; `GPPredictor` computes the formula with NumPy. A surrogate that
predicts genomes one at a time (`nas_env.table.model_surrogate`) ships them in an ``.npz``:
no pickled object, no scikit-learn needed to serve, the same numbers on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nas_env.errors import ConfigError

FIELDS = ("x_mean", "x_scale", "x_train", "alpha", "length_scale", "constant", "nu")
FIELDS += ("y_mean", "y_std")
NUS = (0.5, 1.5, 2.5)


def export_gp(pipeline: Any, prefix: str) -> dict[str, np.ndarray]:
    """The arrays of a fitted scaler + Gaussian-process pipeline, named ``prefix`` + field.

    Raises:
        ConfigError: Not such a pipeline, or a kernel this module cannot serve.
    """
    try:
        scaler, process = pipeline[0], pipeline[-1]
        kernel = process.kernel_
        product = kernel.k1
        constant, matern = product.k1, product.k2
        arrays = {
            "x_mean": np.asarray(scaler.mean_, np.float64),
            "x_scale": np.asarray(scaler.scale_, np.float64),
            "x_train": np.asarray(process.X_train_, np.float64),
            "alpha": np.asarray(process.alpha_, np.float64).reshape(-1),
            "length_scale": np.broadcast_to(
                np.asarray(matern.length_scale, np.float64), (scaler.mean_.shape[0],)
            ).copy(),
            "constant": np.asarray(float(constant.constant_value)),
            "nu": np.asarray(float(matern.nu)),
            "y_mean": np.asarray(float(np.asarray(process._y_train_mean).reshape(-1)[0])),
            "y_std": np.asarray(float(np.asarray(process._y_train_std).reshape(-1)[0])),
        }
    except (AttributeError, IndexError, TypeError) as exc:
        raise ConfigError(
            f"cannot export {type(pipeline).__name__} as a Gaussian process: a fitted "
            f"StandardScaler + GaussianProcessRegressor(Constant * Matern + White) is "
            f"needed ({exc})"
        ) from exc
    if float(arrays["nu"]) not in NUS:
        raise ConfigError(f"Matern nu={float(arrays['nu'])} cannot be served; allowed: {NUS}")
    return {prefix + name: value for name, value in arrays.items()}


@dataclass(frozen=True)
class GPPredictor:
    """The posterior mean of an exported Gaussian process (see the module docstring)."""

    x_mean: np.ndarray
    x_scale: np.ndarray
    x_train: np.ndarray
    alpha: np.ndarray
    length_scale: np.ndarray
    constant: float
    nu: float
    y_mean: float
    y_std: float

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> GPPredictor:
        """Read the fields ``prefix`` + name of `FIELDS` from ``arrays``.

        Raises:
            ConfigError: A field is missing, or the shapes disagree.
        """
        missing = [prefix + f for f in FIELDS if prefix + f not in arrays]
        if missing:
            raise ConfigError(f"Gaussian process {prefix!r} lacks {', '.join(missing)}")
        got = {f: np.asarray(arrays[prefix + f], np.float64) for f in FIELDS}
        n, d = got["x_train"].shape
        if got["alpha"].shape != (n,) or got["x_mean"].shape != (d,):
            raise ConfigError(f"Gaussian process {prefix!r}: inconsistent array shapes")
        scalars = {f: float(got[f]) for f in ("constant", "nu", "y_mean", "y_std")}
        return cls(
            got["x_mean"], got["x_scale"], got["x_train"], got["alpha"], got["length_scale"],
            **scalars,
        )  # fmt: skip

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The posterior mean at the rows of ``x`` (raw features, as fitted)."""
        scaled = (np.asarray(x, np.float64) - self.x_mean) / self.x_scale / self.length_scale
        train = self.x_train / self.length_scale
        squared = (scaled**2).sum(1)[:, None] + (train**2).sum(1)[None, :] - 2.0 * scaled @ train.T
        d = np.sqrt(np.maximum(squared, 0.0))
        if self.nu == 0.5:
            k = np.exp(-d)
        elif self.nu == 1.5:
            k = (1.0 + np.sqrt(3.0) * d) * np.exp(-np.sqrt(3.0) * d)
        else:
            k = (1.0 + np.sqrt(5.0) * d + 5.0 / 3.0 * d**2) * np.exp(-np.sqrt(5.0) * d)
        return self.y_mean + self.y_std * (self.constant * k @ self.alpha)
