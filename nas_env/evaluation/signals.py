"""Scoring rules: from what a short training run measured to the held-out loss after long
training.

A short run's held-out loss is biased by the genome's shape: at 100 steps wide, shallow,
post-norm genomes lead, while after long training the deeper pre-norm ones do
(BENCHMARKS.md, "Long training"). A *signal* corrects for that. It maps named features of
one evaluation (what was measured: held-out loss, the training curve's mean; what the
genome is: log parameter count, depth, gene values) to an estimate of the held-out loss at
the `long` level, with a linear model fitted by ridge regression on genomes trained at both
levels that are not the genomes it is judged on.

A signal is data: ``config/signals/<name>.yaml`` holds its level, features, standardisation
and weights, and a version that goes into every result it scores (``signal: name@version``)
and into the evaluator's cache key. Prediction is a fixed sum: deterministic on every
machine.

Features (`features`), all floats:

* ``val_loss``, ``mean_train_loss``, ``late_train_loss``: measured by the run; their
  weights must be >= 0 (a signal never scores a genome better because it learned worse;
  a fit that wants a negative weight drops the feature instead);
* ``log_params``, ``log_flops``: natural logs of the analytic counts;
* ``<gene>``: a numeric gene's value (``layers``, ``d_model``); ``mean:<gene>`` the mean
  of a per-layer numeric gene (``mean:ffn_ratio``);
* ``<gene>=<value>``: 1.0 when a categorical gene has that value, else 0.0;
* ``prior``: for a signal that names a prior (``prior: <name>`` in its file), that prior's
  prediction of the genome's held-out loss after long training from the genome alone
  (`nas_env.evaluation.prior`: a Gaussian process fitted on long-trained genomes). Its file
  is part of the signal: refitting it bumps the signal's version.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from config import CONFIG_DIR
from nas_env.checks import (
    check_keys,
    expect_int,
    expect_mapping,
    expect_number,
    load_data_file,
    suggest,
)
from nas_env.errors import ConfigError

SIGNALS_DIR = CONFIG_DIR / "signals"
MEASURED = ("val_loss", "mean_train_loss", "late_train_loss")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _number(value: Any, where: str) -> float:
    number = expect_number(value, where, finite=True)
    assert number is not None
    return number


def features(genes: Mapping[str, Any], measured: Mapping[str, Any]) -> dict[str, float]:
    """Every named feature of one evaluation (see the module docstring).

    Args:
        genes: The genome's genes.
        measured: ``val_loss``, ``mean_train_loss``, ``late_train_loss``, ``params`` and
            ``flops_per_token`` of the evaluation (missing ones are left out).
    """
    out: dict[str, float] = {}
    for name in MEASURED:
        value = measured.get(name)
        if isinstance(value, int | float) and math.isfinite(value):
            out[name] = float(value)
    for name, key in (("log_params", "params"), ("log_flops", "flops_per_token")):
        value = measured.get(key)
        if isinstance(value, int | float) and value > 0:
            out[name] = math.log(value)
    for name, value in genes.items():
        if isinstance(value, bool | str):
            out[f"{name}={str(value).lower() if isinstance(value, bool) else value}"] = 1.0
        elif isinstance(value, int | float):
            out[name] = float(value)
        elif (
            isinstance(value, Sequence)
            and value
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            out[f"mean:{name}"] = float(np.mean(value))
    return out


@dataclass(frozen=True)
class Signal:
    """A linear scoring rule over standardised features.

    ``predict = intercept + sum(weight[f] * (x[f] - mean[f]) / std[f])``; a categorical
    feature absent from an evaluation counts as 0.0, a missing measured or numeric one is
    an error.

    Attributes:
        name: The file's stem.
        version: Bumped whenever the weights change; part of cache keys and records.
        level: The fidelity level whose runs it scores (its features were measured there).
        target: What it predicts (the level whose held-out loss it estimates: ``long``).
        intercept: The prediction at the features' means.
        weights: Feature name -> weight (per standard deviation).
        center: Feature name -> (mean, standard deviation) of the fitting sample.
        fitted_on: Free text: which genomes, which seeds.
        extra: Other keys of the file, kept as they are (``stats``).
        prior: The prior whose prediction is the feature ``prior`` ("" for none).
        task_kind: The task kind whose held-out loss it estimates (``lm``: the shipped
            signals were fitted on language models of the pinned corpus).
        family: The model family it was fitted on (``transformer``: the shipped signals'
            genomes); its weights on shape features mean nothing for another family.
    """

    name: str
    version: int
    level: str
    target: str
    intercept: float
    weights: Mapping[str, float]
    center: Mapping[str, tuple[float, float]]
    fitted_on: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    prior: str = ""
    task_kind: str = "lm"
    family: str = "transformer"

    def features(self, genes: Mapping[str, Any], measured: Mapping[str, Any]) -> dict[str, float]:
        """`features` of one evaluation, with ``prior`` (the named prior's prediction for
        the genome, `nas_env.evaluation.prior`) when the signal has a prior."""
        out = features(genes, measured)
        if self.prior:
            out["prior"] = _prior(self.prior).predict(genes)
        return out

    def estimate(self, genes: Mapping[str, Any], measured: Mapping[str, Any]) -> float:
        """The estimated held-out loss at `target` of one evaluation (`predict` of its
        `features`)."""
        return self.predict(self.features(genes, measured))

    @property
    def tag(self) -> str:
        """``name@version``, as results and cache keys carry it."""
        return f"{self.name}@{self.version}"

    def predict(self, feats: Mapping[str, float]) -> float:
        """The estimated held-out loss at `target` for one evaluation's features.

        Raises:
            ConfigError: A measured or numeric feature the signal uses is missing.
        """
        total = self.intercept
        for name, weight in self.weights.items():
            mean, std = self.center[name]
            if name in feats:
                value = feats[name]
            elif "=" in name:
                value = 0.0
            else:
                raise ConfigError(
                    f"signal {self.tag}: feature {name!r} is missing from the evaluation "
                    f"(has: {', '.join(sorted(feats))})"
                )
            total += weight * (value - mean) / std
        return float(total)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, the file's format."""
        return {
            "version": self.version,
            "level": self.level,
            "target": self.target,
            "fitted_on": self.fitted_on,
            "intercept": self.intercept,
            "features": {
                name: {"weight": w, "mean": self.center[name][0], "std": self.center[name][1]}
                for name, w in self.weights.items()
            },
            **dict(self.extra),
            **({"prior": self.prior} if self.prior else {}),
            **({"task_kind": self.task_kind} if self.task_kind != "lm" else {}),
            **({"family": self.family} if self.family != "transformer" else {}),
        }

    @classmethod
    def from_dict(cls, raw: Any, name: str, where: str) -> Signal:
        """Parse and check a signal mapping (``where`` names the source in errors)."""
        data = expect_mapping(raw, where)
        check_keys(
            data,
            where,
            ["version", "level", "target", "intercept", "features"],
            ["fitted_on", "stats", "prior", "task_kind", "family"],
        )
        weights: dict[str, float] = {}
        center: dict[str, tuple[float, float]] = {}
        for feat, spec in expect_mapping(data["features"], f"{where}.features").items():
            at = f"{where}.features.{feat}"
            entry = expect_mapping(spec, at)
            check_keys(entry, at, ["weight", "mean", "std"], [])
            weights[str(feat)] = _number(entry["weight"], f"{at}.weight")
            if feat in MEASURED and weights[str(feat)] < 0:
                raise ConfigError(
                    f"{at}.weight: {weights[str(feat)]:g} is negative; a measured loss may "
                    "only weigh >= 0 (a genome that learned worse must never score better)"
                )
            std = _number(entry["std"], f"{at}.std")
            if std <= 0:
                raise ConfigError(f"{at}.std: must be > 0, got {std}")
            center[str(feat)] = (_number(entry["mean"], f"{at}.mean"), std)
        return cls(
            name=name,
            version=int(expect_int(data["version"], f"{where}.version", minimum=1) or 1),
            level=_text(data["level"], f"{where}.level"),
            target=_text(data["target"], f"{where}.target"),
            intercept=_number(data["intercept"], f"{where}.intercept"),
            weights=weights,
            center=center,
            fitted_on=str(data.get("fitted_on", "")),
            extra={"stats": data["stats"]} if "stats" in data else {},
            prior=_text(data["prior"], f"{where}.prior") if "prior" in data else "",
            task_kind=_text(data.get("task_kind", "lm"), f"{where}.task_kind"),
            family=_text(data.get("family", "transformer"), f"{where}.family"),
        )


@functools.cache
def _prior(name: str) -> Any:
    """The prior a signal names, loaded once per process."""
    from nas_env.evaluation.prior import load_prior

    return load_prior(name)


def available_signals() -> list[str]:
    """Names of the shipped signals (``config/signals/*.yaml``)."""
    return sorted(p.stem for p in SIGNALS_DIR.glob("*.yaml"))


def load_signal(name_or_path: str | Path) -> Signal:
    """A shipped signal by name, or a signal file by path.

    Raises:
        ConfigError: Unknown name (lists the shipped ones) or a malformed file.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml", ".json"):
        names = available_signals()
        if str(name_or_path) not in names:
            raise ConfigError(
                f"unknown signal {str(name_or_path)!r}{suggest(str(name_or_path), names)}; "
                f"shipped: {', '.join(names) or 'none'}, or a path to a signal file"
            )
        path = SIGNALS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"signal file {path} does not exist")
    return Signal.from_dict(load_data_file(path), path.stem, f"signal file {path.name}")


def fit_ridge(
    rows: Iterable[Mapping[str, float]],
    targets: Sequence[float],
    names: Sequence[str],
    alpha: float,
) -> tuple[float, dict[str, float], dict[str, tuple[float, float]]]:
    """Ridge regression of ``targets`` on the standardised features ``names``.

    Returns ``(intercept, weights, center)`` for a `Signal`. A feature constant over the
    rows gets weight 0 (and std 1). Deterministic: a closed-form solve.

    Raises:
        ConfigError: Fewer than 3 rows, or a measured/numeric feature missing in a row.
    """
    table = list(rows)
    if len(table) < 3 or len(table) != len(targets):
        raise ConfigError(f"fit_ridge: needs >= 3 rows with a target each, got {len(table)}")
    x = np.zeros((len(table), len(names)))
    for i, row in enumerate(table):
        for j, name in enumerate(names):
            if name in row:
                x[i, j] = row[name]
            elif "=" not in name:
                raise ConfigError(f"fit_ridge: row {i} lacks feature {name!r}")
    y = np.asarray(targets, dtype=float)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    live = std > 1e-12
    std = np.where(live, std, 1.0)
    z = (x - mean) / std
    intercept = float(y.mean())
    gram = z.T @ z + alpha * np.eye(len(names))
    w = np.linalg.solve(gram, z.T @ (y - intercept))
    w = np.where(live, w, 0.0)
    weights = {name: float(w[j]) for j, name in enumerate(names)}
    center = {name: (float(mean[j]), float(std[j])) for j, name in enumerate(names)}
    return intercept, weights, center


def checked_signal(fidelity: Any, space: Any = None) -> Signal | None:
    """The signal a fidelity names, checked against it and the space it scores (None when
    it names none).

    Raises:
        ConfigError: Unknown signal, one fitted on a level that trains differently from
            ``fidelity`` (its features would mean something else), on another task kind
            or model family than ``space``'s, or one whose prior encodes genes ``space``
            lacks.
    """
    if not fidelity.signal:
        return None
    from nas_env.evaluation.fidelity import Fidelity

    signal = load_signal(fidelity.signal)
    expected = Fidelity.resolve(signal.level).training_fields()
    actual = fidelity.training_fields()
    if expected != actual:
        changed = sorted(k for k in expected if expected[k] != actual[k])
        raise ConfigError(
            f"fidelity {fidelity.name!r}: signal {signal.tag} was fitted on level "
            f"{signal.level!r}, which trains differently ({', '.join(changed)}); use that "
            "level's training fields or signal=None"
        )
    if space is not None and space.task.kind != signal.task_kind:
        raise ConfigError(
            f"fidelity {fidelity.name!r}: signal {signal.tag} estimates the held-out loss of "
            f"{signal.task_kind} tasks; space {space.name!r} is a {space.task.kind} space: use "
            "a level without a signal (the kind's own, such as long-cls, long-img, long-series)"
        )
    if signal.prior and space is not None:
        prior = _prior(signal.prior)
        mismatch = prior.mismatch(space)
        if mismatch:
            raise ConfigError(
                f"fidelity {fidelity.name!r}: signal {signal.tag}'s prior {prior.name!r} reads "
                f"the genes of space {prior.space.name!r}; space {space.name!r} {mismatch}: "
                "use a level without a prior (search, rerank, fast...)"
            )
    if space is not None and space.family != signal.family:
        raise ConfigError(
            f"fidelity {fidelity.name!r}: signal {signal.tag} was fitted on {signal.family} "
            f"genomes; space {space.name!r} is of the {space.family} family: use a level "
            "without a signal (fast, reference, long...)"
        )
    return signal
