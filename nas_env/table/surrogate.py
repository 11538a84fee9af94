"""Build a surrogate benchmark from multi-rung tables of real training results.

``python -m nas_env.table surrogate --data config/tables/mid/fast.sqlite --out
config/tables/mid.npz`` reads the top rung's table and the lower rungs' tables beside it
(``fast@33.sqlite``... as written by ``build --rungs``), fits one gradient-boosted tree
model (scikit-learn's `HistGradientBoostingRegressor`, the optional extra
``nas_env[surrogate]``) per rung's held-out loss and one for the log latency, on gene
features (ordinal genes as values, categorical ones one-hot, per-layer genes averaged)
plus the analytic log parameter count and log FLOPs per token, and writes the
predictions for every valid genome of the space (`SurrogateEvaluator` serves them).

Measured on the way, and stored in the file's meta: the model's held-out Kendall tau and
Spearman rho against real results (a seeded 80/20 split of the genomes; the model's
settings are chosen by 5-fold cross-validation on the 80 % only), the noise floor when a
table of the same genomes trained with another seed is given (the same ranking, seed
against seed), and the cost of the real training the benchmark rests on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nas_env.errors import ConfigError
from nas_env.genome import Genome
from nas_env.ranking import kendall_tau, spearman
from nas_env.table.evaluator import TableEvaluator
from nas_env.table.features import analytic, encode
from nas_env.table.regressors import HGB_GRID, choose_settings, fit
from nas_env.table.surrogate_evaluator import FORMAT

GRID = HGB_GRID
HELD_OUT = 0.2


def rung_tables(top: str | Path) -> list[Path]:
    """The rung tables of a ladder, lowest first: ``<stem>@<steps>.sqlite`` beside ``top``,
    then ``top``."""
    top = Path(top)
    if not top.is_file():
        raise ConfigError(f"{top}: no such table; build it with `python -m nas_env.table build`")
    lower = sorted(
        top.parent.glob(f"{top.stem}@*{top.suffix}"), key=lambda p: int(p.stem.split("@")[1])
    )
    return [*lower, top]


def ranking(predicted: Sequence[float], real: Sequence[float]) -> dict[str, float]:
    """Kendall tau and Spearman rho of two score lists."""
    return {
        "kendall_tau": kendall_tau(list(predicted), list(real)),
        "spearman": spearman(list(predicted), list(real)),
    }


def read_ladder(paths: Sequence[Path]) -> tuple[list[TableEvaluator], list[Genome], np.ndarray]:
    """The rung tables, the genomes ``ok`` at every rung, and their losses [rung, genome]."""
    tables = [TableEvaluator(p) for p in paths]
    top = tables[-1]
    genomes = [
        g for g in top.genomes() if all((t.get(g.key()) or top.get(g.key())).ok for t in tables)
    ]
    if len(genomes) < 50:
        raise ConfigError(f"{paths[-1]}: {len(genomes)} genomes ok at every rung; need >= 50")
    losses = np.array([[t.get(g.key()).val_loss for g in genomes] for t in tables])
    return tables, genomes, losses


def noise_floor(noise_top: Path | None, tables: list[TableEvaluator]) -> list[dict[str, Any]]:
    """Seed-against-seed ranking per rung, on the genomes of the noise tables."""
    if noise_top is None:
        return []
    out = []
    for table, other_path in zip(tables, rung_tables(noise_top), strict=False):
        other = TableEvaluator(other_path)
        pairs = [
            (table.get(k).val_loss, other.get(k).val_loss)
            for k in other.keys()  # noqa: SIM118  (a table is not a mapping)
            if table.get(k) is not None and table.get(k).ok and other.get(k).ok
        ]
        if len(pairs) >= 3:
            a, b = zip(*pairs, strict=True)
            out.append({"rung_steps": other.fidelity.steps, "genomes": len(pairs), **ranking(a, b)})
    return out


def build_surrogate(
    data: str | Path,
    out: str | Path,
    noise: str | Path | None = None,
    seed: int = 0,
    grid: Sequence[dict[str, Any]] = GRID,
) -> dict[str, Any]:
    """Fit, measure and write a surrogate benchmark (see the module docstring); its meta.

    Args:
        data: The top rung's table; the lower rungs' tables lie beside it.
        out: The ``.npz`` to write.
        noise: The top rung's table of a rebuild with another training seed (noise floor).
        seed: Seed of the held-out split and the cross-validation folds.
        grid: Model settings tried by cross-validation.
    """
    started = time.perf_counter()
    paths = rung_tables(data)
    tables, genomes, losses = read_ladder(paths)
    top = tables[-1]
    space = top.space
    x = encode(space, genomes)
    latency = np.log([top.get(g.key()).latency_ms for g in genomes])
    order = np.random.default_rng(seed).permutation(len(genomes))
    cut = round(len(genomes) * (1 - HELD_OUT))
    train, test = order[:cut], order[cut:]
    targets = [*losses, latency]
    names = [f"val_loss@{t.fidelity.steps}" for t in tables] + ["log_latency_ms"]
    models, report = [], {}
    for name, y in zip(names, targets, strict=True):
        settings, cv_tau = choose_settings(x[train], y[train], seed, grid)
        held = fit(settings, x[train], y[train]).predict(x[test])
        report[name] = {
            "settings": settings,
            "cv_kendall_tau": cv_tau,
            "held_out": ranking(held.tolist(), y[test].tolist()),
            "held_out_genomes": len(test),
        }
        models.append(fit(settings, x, y))
    every = list(space.enumerate())
    sizes = [analytic(space, g) for g in every]
    features = encode(space, every, sizes)
    predicted = np.stack([m.predict(features) for m in models[:-1]]).astype(np.float32)
    build_cost = sum(
        float(r.eval_seconds or 0.0) for t in tables for r in t.results() if r.source == "table"
    )
    import sklearn

    meta = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "space": space.to_dict(),
        "task": top.task_id,
        "task_fingerprint": top.task_fingerprint,
        "metric": top.metric,
        "baseline_loss": top.results()[0].baseline_loss,
        "evaluator_version": top.meta["evaluator_version"],
        "seed": int(top.meta["seed"]),
        "rung_steps": [t.fidelity.steps for t in tables],
        "fidelities": [t.fidelity.to_dict() for t in tables],
        "genomes": len(every),
        "model": {
            "library": f"scikit-learn {sklearn.__version__}",
            "estimator": "HistGradientBoostingRegressor",
            "targets": names,
            "features": "genes (ordinal values, one-hot categories, per-layer means), "
            "log params, log FLOPs/token",
        },
        "training_rows": len(genomes),
        "report": report,
        "noise_floor": noise_floor(Path(noise) if noise else None, tables),
        "data": [str(p) for p in paths],
        "real_training_seconds": build_cost,
        "fit_seconds": time.perf_counter() - started,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        keys=np.array([g.key() for g in every], dtype="S16"),
        val_loss=predicted,
        latency_ms=np.exp(models[-1].predict(features)).astype(np.float32),
        params=np.array([s[0] for s in sizes], dtype=np.int64),
        size_mb=np.array([s[1] for s in sizes], dtype=np.float32),
        flops_per_token=np.array([s[2] for s in sizes], dtype=np.int64),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )
    return meta
