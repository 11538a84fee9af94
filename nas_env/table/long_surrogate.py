"""Build a surrogate benchmark whose truth is long training, from rows of real runs.

``python -m nas_env.table long-surrogate --rows benchmarks/data/mid_long.jsonl --base
config/tables/mid.npz --out config/tables/mid-long.npz`` reads the held-out losses that
``benchmarks/long_truth.py --plan surrogate`` measured at every mark (rung) of the `long`
level, fits one model per rung on the samples not named as held out (features as
`nas_env.table.surrogate.encode`: genes, log parameters, log FLOPs per token; the model,
gradient-boosted trees under one of several settings or a Gaussian process
(`nas_env.table.regressors`), chosen by 5-fold cross-validation on those rows only),
measures each model on the held-out samples (``valid*``: Kendall tau, Spearman rho, and
the regret of its top pick),
and writes the predictions for every genome of ``base`` (a surrogate benchmark of the same
space, whose latency predictions, analytic sizes and genome order it keeps: latency does
not depend on training).

Rows files may hold genomes of another space with the same genes (`tiny`'s per-layer genes
are encoded by their means): the `tiny` truth rows fit the rungs they were measured at.
A genome counts at a rung when its run was ``ok`` there; only seed 0 fits, and the rows of
another training seed give the noise floor on the genomes both seeds trained.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nas_env.errors import ConfigError, NASEnvError
from nas_env.evaluation.fidelity import Fidelity
from nas_env.table.features import encode
from nas_env.table.regressors import (
    ESTIMATORS,
    GP,
    HGB_GRID,
    choose_settings,
    family,
    fit,
)
from nas_env.table.surrogate import ranking
from nas_env.table.surrogate_evaluator import FORMAT, load_benchmark

HELD_OUT_PREFIX = "valid"
MIN_TRAIN = 30
MIN_HELD_OUT = 8
GRID: tuple[dict[str, Any], ...] = (*HGB_GRID, GP)


@dataclass
class Run:
    """One genome's run: its genes, sample and the held-out loss at each mark."""

    source: str
    sample: str
    index: int
    genes: dict[str, Any]
    losses: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def key(self) -> str:
        """Genes as canonical JSON (the same genome in two files is one genome)."""
        return json.dumps(self.genes, sort_keys=True)


def read_runs(paths: Sequence[Path], seed: int = 0) -> list[Run]:
    """The runs of training seed ``seed`` in the rows files, ``ok`` marks only.

    Raises:
        ConfigError: A missing file or a line that is not a JSON row.
    """
    runs: dict[tuple[str, str, int], Run] = {}
    for path in paths:
        if not Path(path).is_file():
            raise ConfigError(f"rows file {path} does not exist (benchmarks/long_truth.py)")
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not a JSON row ({exc})") from exc
            if row.get("seed", 0) != seed:
                continue
            ident = (str(path), row["sample"], int(row["index"]))
            run = runs.setdefault(ident, Run(str(path), row["sample"], ident[2], row["genes"]))
            run.seconds += float(row.get("train_seconds") or 0.0)
            if row.get("status") == "ok" and row.get("val_loss") is not None:
                run.losses[int(row["steps"])] = float(row["val_loss"])
    return list(runs.values())


def is_held_out(run: Run, held_out: str = HELD_OUT_PREFIX) -> bool:
    """Whether ``run`` belongs to a held-out sample (its name starts with ``held_out``)."""
    return run.sample.startswith(held_out)


def regret(predicted: Sequence[float], real: Sequence[float]) -> float:
    """How much worse (perplexity, fraction) the predicted best is than the real best."""
    pick = int(np.argmin(predicted))
    return math.exp(real[pick] - min(real)) - 1.0


def _measure(model: Any, x: np.ndarray, runs: Sequence[Run], steps: int) -> dict[str, Any]:
    """Ranking and top-pick regret of ``model`` on ``runs`` (all, and each sample)."""
    real = [r.losses[steps] for r in runs]
    predicted = model.predict(x).tolist()
    out: dict[str, Any] = {**ranking(predicted, real), "regret": regret(predicted, real)}
    for sample in sorted({r.sample for r in runs}):
        chosen = [i for i, r in enumerate(runs) if r.sample == sample]
        if len(chosen) >= 3:
            sub_pred, sub_real = [predicted[i] for i in chosen], [real[i] for i in chosen]
            out[sample] = {
                "genomes": len(chosen),
                **ranking(sub_pred, sub_real),
                "regret": regret(sub_pred, sub_real),
            }
    return out


def noise_floor(runs: Sequence[Run], other: Sequence[Run], steps: int) -> dict[str, Any] | None:
    """Seed-against-seed ranking at ``steps`` on the genomes both seeds trained."""
    first = {r.key: r.losses[steps] for r in runs if steps in r.losses}
    pairs = [(first[r.key], r.losses[steps]) for r in other if r.key in first and steps in r.losses]
    if len(pairs) < 3:
        return None
    a, b = zip(*pairs, strict=True)
    return {"genomes": len(pairs), **ranking(a, b)}


def _base_losses(space: Any, base_data: dict[str, Any]) -> dict[str, np.ndarray]:
    """The base benchmark's predicted held-out loss at each of its rungs, by genome key."""
    arrays = base_data["arrays"]
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in arrays["keys"]]
    losses = np.asarray(arrays["val_loss"], dtype=np.float64).reshape(-1, len(keys))
    return {k: losses[:, i] for i, k in enumerate(keys)}


def _cheap_row(space: Any, cheap: dict[str, np.ndarray], genes: Any) -> np.ndarray:
    """`_base_losses` of one genome (NaN where the base does not hold it)."""
    width = len(next(iter(cheap.values())))
    try:
        key = genes.key() if hasattr(genes, "key") else space.genome(genes).key()
    except NASEnvError:  # a genome of another space: no short-training prediction
        return np.full(width, np.nan)
    return cheap.get(key, np.full(width, np.nan))


LATENCY_LEVELS = ("profile", "base")
"""How a profiled latency column is levelled: as the profile predicts (its steady-state
minimum), or scaled by one factor to the base benchmark's median (its ranking, the base's
level: the level the space's latency targets were set at)."""


def _profiled_latency(
    path: str | Path, space: Any, genomes: list[Any], base: Any, level: str = "profile"
) -> tuple[Any, str, float]:
    """The latency column predicted by a profile (on the device it was made on), levelled
    as ``level`` says (`LATENCY_LEVELS`); also its description and the scale applied."""
    from nas_env.latency.profile import Profile

    if level not in LATENCY_LEVELS:
        raise ConfigError(f"latency level {level!r}; allowed: {', '.join(LATENCY_LEVELS)}")
    profile = Profile(Path(path), json.loads(Path(path).read_text(encoding="utf-8")))
    if profile.meta.get("space") != space.name:
        raise ConfigError(f"latency profile {path} is of space {profile.meta.get('space')!r}")
    values = np.asarray([profile.predict(dict(g), space.task) for g in genomes], np.float64)
    scale = 1.0
    if level == "base":
        scale = float(np.exp(np.median(np.log(np.asarray(base, np.float64) / values))))
    device = profile.meta["device"]
    where = f"{device['processor']}, {device['threads']} thread(s), torch {device['torch']}"
    text = f"latency profile {profile.tag} ({where})"
    if level == "base":
        text += f", scaled x{scale:.3f} to the base benchmark's median"
    return (values * scale).astype(np.float32), text, scale


def build_long_surrogate(
    rows: Sequence[str | Path],
    base: str | Path,
    out: str | Path,
    level: str = "long",
    held_out: str = HELD_OUT_PREFIX,
    noise_seed: int | None = 1,
    seed: int = 0,
    grid: Sequence[dict[str, Any]] = GRID,
    stack: bool = False,
    latency_profile: str | Path | None = None,
    latency_level: str = "profile",
) -> dict[str, Any]:
    """Fit, measure and write the benchmark (see the module docstring); its meta.

    Args:
        rows: Rows files of `benchmarks/long_truth.py` (seed 0 fits; see ``noise_seed``).
        base: A surrogate benchmark of the space whose genomes, sizes and latency to keep.
        out: The ``.npz`` to write.
        level: The fidelity level the rows were trained at (its rungs name the marks).
        held_out: Samples whose name starts with this are measured on, never fitted on.
        noise_seed: Training seed of rows giving the noise floor (None: none).
        seed: Seed of the cross-validation folds.
        stack: Also feed each model the base benchmark's predicted losses at its rungs
            (what short training says of the genome; NaN for a genome the base lacks, such
            as a `tiny` truth row), the "predictor over cheap signals" of the benchmark's
            design.
        latency_profile: A latency profile of the space (`nas_env.latency`) whose
            predictions become the latency column (None: the base benchmark's).
        latency_level: How the profiled column is levelled (`LATENCY_LEVELS`).

    Raises:
        ConfigError: Too few runs to fit (``MIN_TRAIN``) or measure (``MIN_HELD_OUT``) the
            top rung, or a base that is not a benchmark of a space with these genes.
    """
    started = time.perf_counter()
    paths = [Path(p) for p in rows]
    base_data = load_benchmark(base)
    base_meta = base_data["meta"]
    from nas_env.space import SearchSpace

    space = SearchSpace.from_dict(base_meta["space"], source=f"surrogate:{base}")
    runs = [r for r in read_runs(paths) if r.losses]
    top_level = Fidelity.resolve(level)
    marks = sorted({s for r in runs if not is_held_out(r, held_out) for s in r.losses})
    cheap = _base_losses(space, base_data) if stack else None

    def features(genes: Sequence[Any], sizes: Any = None) -> np.ndarray:
        x = encode(space, genes, sizes)
        if cheap is None:
            return x
        return np.hstack([x, np.stack([_cheap_row(space, cheap, g) for g in genes])])

    if not marks or marks[-1] != top_level.total_steps:
        raise ConfigError(
            f"{', '.join(map(str, paths))}: no run reaches {level}'s "
            f"{top_level.total_steps} steps; train some with benchmarks/long_truth.py"
        )
    report: dict[str, Any] = {}
    models = []
    noise = read_runs(paths, noise_seed) if noise_seed is not None else []
    for steps in marks:
        train = [r for r in runs if steps in r.losses and not is_held_out(r, held_out)]
        test = [r for r in runs if steps in r.losses and is_held_out(r, held_out)]
        if len(train) < MIN_TRAIN or len(test) < MIN_HELD_OUT:
            raise ConfigError(
                f"rung {steps} steps: {len(train)} fitting and {len(test)} held-out runs; "
                f"need >= {MIN_TRAIN} and >= {MIN_HELD_OUT} (keep training: "
                "benchmarks/long_truth.py --plan surrogate)"
            )
        x = features([r.genes for r in train])
        y = np.array([r.losses[steps] for r in train])
        settings, cv_tau = choose_settings(x, y, seed, grid)
        model = fit(settings, x, y)
        models.append(model)
        report[f"val_loss@{steps}"] = {
            "settings": settings,
            "cv_kendall_tau": cv_tau,
            "training_genomes": len(train),
            "training_samples": sorted({f"{Path(r.source).name}:{r.sample}" for r in train}),
            "held_out": _measure(model, features([r.genes for r in test]), test, steps),
            "held_out_genomes": len(test),
            "noise_floor": noise_floor(runs, noise, steps),
        }
    every = {g.key(): g for g in space.enumerate()}
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in base_data["arrays"]["keys"]]
    missing = [k for k in keys if k not in every]
    if missing:
        raise ConfigError(f"{base}: {len(missing)} genomes are not of space {space.name!r}")
    arrays = base_data["arrays"]
    sizes = [
        (int(p), float(s), int(f))
        for p, s, f in zip(
            arrays["params"], arrays["size_mb"], arrays["flops_per_token"], strict=True
        )
    ]
    x_all = features([every[k] for k in keys], sizes)
    predicted = np.stack([m.predict(x_all) for m in models]).astype(np.float32)
    import sklearn

    latency, latency_from, latency_scale = arrays["latency_ms"], str(base), None
    if latency_profile is not None:
        latency, latency_from, latency_scale = _profiled_latency(
            latency_profile, space, [every[k] for k in keys], latency, latency_level
        )

    used = [r for r in runs if any(s in r.losses for s in marks)]
    meta = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "space": base_meta["space"],
        "task": base_meta["task"],
        "task_fingerprint": base_meta["task_fingerprint"],
        "metric": base_meta["metric"],
        "baseline_loss": base_meta["baseline_loss"],
        "evaluator_version": base_meta["evaluator_version"],
        "seed": 0,
        "rung_steps": marks,
        "fidelities": [top_level.rung(s).to_dict() for s in marks],
        "genomes": len(keys),
        "model": {
            "library": f"scikit-learn {sklearn.__version__}",
            "estimator": ", ".join(
                sorted({ESTIMATORS[family(row["settings"])] for row in report.values()})
            ),
            "targets": list(report),
            "features": "genes (ordinal values, one-hot categories, per-layer means), "
            "log params, log FLOPs/token"
            + (
                f", the base benchmark's predicted val_loss at its rungs {base_meta['rung_steps']}"
                if stack
                else ""
            ),
        },
        "training_rows": sum(row["training_genomes"] for row in report.values()),
        "report": report,
        "noise_floor": [
            {"rung_steps": s, **row["noise_floor"]}
            for s, row in zip(marks, report.values(), strict=True)
            if row["noise_floor"]
        ],
        "data": [str(p) for p in paths],
        "data_sha256": {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths},
        "latency_from": latency_from,
        "latency_scale": latency_scale,
        "real_training_seconds": sum(r.seconds for r in used),
        "fit_seconds": time.perf_counter() - started,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        keys=arrays["keys"],
        val_loss=predicted,
        latency_ms=latency,
        params=arrays["params"],
        size_mb=arrays["size_mb"],
        flops_per_token=arrays["flops_per_token"],
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )
    return meta
