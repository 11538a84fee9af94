"""Build a surrogate benchmark served one genome at a time, for spaces too large to list.

A space like `modern` (a mixer per layer, deployment genes: 282 million genomes) cannot be
predicted genome by genome into a table as `mid`'s 56,364 are. NAS-Bench-301 faces the
same with its 10^18 cells and ships the model instead of a table; so does this:
``python -m nas_env.table model-surrogate --rows benchmarks/data/modern_long.jsonl --space
modern --out config/tables/modern-long.npz`` reads the rows `benchmarks/long_truth.py`
measured (the deployed model's held-out loss at each mark of `long`, and its deployed size
and latency), fits one Gaussian process per mark on the samples not held out, one for the
log deployed size and one for the log latency (at the top mark), measures each on the
held-out samples (``valid*``: Kendall tau, Spearman, top-pick regret; size and latency:
tau and median absolute percentage error) and on the seed-1 twins where trained (the
noise floor), and writes the fitted processes as arrays (`nas_env.table.gp_export`) with
a JSON ``meta``. `nas_env.table.model_evaluator.ModelSurrogateEvaluator` serves it.

Features are those of `nas_env.table.surrogate.encode` (genes; per-layer genes by their
means and fractions; log parameters and log FLOPs per token of the undeployed model).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nas_env.errors import ConfigError
from nas_env.evaluation.fidelity import Fidelity
from nas_env.table.features import encode
from nas_env.table.gp_export import export_gp
from nas_env.table.long_surrogate import (
    HELD_OUT_PREFIX,
    is_held_out,
    noise_floor,
    read_runs,
    regret,
)
from nas_env.table.regressors import GP, choose_settings, fit
from nas_env.table.surrogate import ranking

FORMAT = "nas_env-surrogate-model/1"
MIN_TRAIN = 30
MIN_HELD_OUT = 8
MEASURES = ("size_mb", "latency_ms")
"""Deployed-model figures predicted beside the losses (on a log scale)."""


def read_measures(paths: Sequence[Path], steps: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """``size_mb`` and ``latency_ms`` of each genome's ``ok`` row at ``steps`` (seed
    ``seed``), by the genome's canonical genes JSON."""
    out: dict[str, dict[str, float]] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("seed", 0) != seed or int(row["steps"]) != steps:
                continue
            if row.get("status") != "ok" or any(row.get(m) is None for m in MEASURES):
                continue
            out[json.dumps(row["genes"], sort_keys=True)] = {m: float(row[m]) for m in MEASURES}
    return out


def read_deployed(paths: Sequence[Path]) -> list[tuple[dict[str, Any], dict[str, float]]]:
    """``(genes, {size_mb, latency_ms})`` of each row of untrained deployments
    (`benchmarks/deployed_measures.py`), in file order."""
    out = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            out.append((row["genes"], {m: float(row[m]) for m in MEASURES}))
    return out


def _mape(predicted: np.ndarray, real: np.ndarray) -> float:
    return float(np.median(np.abs(predicted - real) / real))


def build_model_surrogate(
    rows: Sequence[str | Path],
    space_name: str,
    out: str | Path,
    level: str = "long",
    task_id: str = "lm/stdlib",
    held_out: str = HELD_OUT_PREFIX,
    noise_seed: int | None = 1,
    seed: int = 0,
    min_train: int = MIN_TRAIN,
    measures: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Fit, measure and write the benchmark (see the module docstring); its meta.

    ``measures``: rows of untrained deployments (`benchmarks/deployed_measures.py`) to fit
    the size and latency models on instead of the trained rows (a deployed model's bytes
    and arithmetic do not depend on its weights, and such rows cost seconds, not hours).
    Their last fifth is held out once to report the fit; the latency model is then scaled
    by one factor, the median ratio of the trained rows' latency (measured in the loop,
    beside training) to its prediction, so that the latency targets keep their meaning.

    Raises:
        ConfigError: Too few fitting (``min_train``) or held-out (``MIN_HELD_OUT``) runs
            at a mark, or rows of no genome of the space.
    """
    from nas_env.space import load_space
    from nas_env.tasks import make_task

    started = time.perf_counter()
    paths = [Path(p) for p in rows]
    space = load_space(space_name)
    top = Fidelity.resolve(level)
    runs = [r for r in read_runs(paths) if r.losses]
    noise = read_runs(paths, noise_seed) if noise_seed is not None else []
    marks = sorted({s for r in runs for s in r.losses})
    if not marks or marks[-1] != top.total_steps:
        raise ConfigError(
            f"{', '.join(map(str, paths))}: no run reaches {level}'s {top.total_steps} steps; "
            f"train some with benchmarks/long_truth.py"
        )
    arrays: dict[str, np.ndarray] = {}
    report: dict[str, Any] = {}

    def split(steps: int) -> tuple[list[Any], list[Any]]:
        ok = [r for r in runs if steps in r.losses]
        train = [r for r in ok if not is_held_out(r, held_out)]
        test = [r for r in ok if is_held_out(r, held_out)]
        if len(train) < min_train or len(test) < MIN_HELD_OUT:
            raise ConfigError(
                f"mark {steps} steps: {len(train)} fitting and {len(test)} held-out runs; "
                f"need >= {min_train} and >= {MIN_HELD_OUT} (keep training: "
                f"benchmarks/long_truth.py)"
            )
        return train, test

    for i, steps in enumerate(marks):
        train, test = split(steps)
        x, y = encode(space, [r.genes for r in train]), np.array([r.losses[steps] for r in train])
        _, cv_tau = choose_settings(x, y, seed, (GP,))
        model = fit(GP, x, y)
        arrays.update(export_gp(model, f"loss{i}."))
        predicted = model.predict(encode(space, [r.genes for r in test]))
        real = [r.losses[steps] for r in test]
        report[f"val_loss@{steps}"] = {
            "cv_kendall_tau": cv_tau,
            "training_genomes": len(train),
            "held_out_genomes": len(test),
            "held_out": {
                **ranking(predicted.tolist(), real),
                "regret": regret(predicted.tolist(), real),
            },
            "noise_floor": noise_floor(runs, noise, steps),
        }
    measured = read_measures(paths, marks[-1])
    train, test = split(marks[-1])
    deployed = read_deployed([Path(p) for p in measures])
    for name in MEASURES:
        fitting = [r for r in train if r.key in measured]
        report[name] = {}
        if deployed:
            cut = len(deployed) * 4 // 5
            genes, y = [g for g, _ in deployed], np.log([m[name] for _, m in deployed])
            first = fit(GP, encode(space, genes[:cut]), y[:cut])
            guess = np.exp(first.predict(encode(space, genes[cut:])))
            report[name]["deployed_held_out"] = {
                **ranking(guess.tolist(), np.exp(y[cut:]).tolist()),
                "median_ape": _mape(guess, np.exp(y[cut:])),
                "genomes": len(genes) - cut,
            }
            model = fit(GP, encode(space, genes), y)
            source = f"{len(deployed)} untrained deployments"
        else:
            x = encode(space, [r.genes for r in fitting])
            model = fit(GP, x, np.log([measured[r.key][name] for r in fitting]))
            source = f"{len(fitting)} trained genomes"
        arrays.update(export_gp(model, f"{name}."))
        scale = 1.0
        if deployed and name == "latency_ms":
            fitted = np.exp(model.predict(encode(space, [r.genes for r in fitting])))
            scale = float(np.median([measured[r.key][name] for r in fitting] / fitted))
            arrays[f"{name}.y_mean"] = arrays[f"{name}.y_mean"] + np.log(scale)
        scored = [r for r in test if r.key in measured]
        guess = scale * np.exp(model.predict(encode(space, [r.genes for r in scored])))
        real = np.array([measured[r.key][name] for r in scored])
        report[name].update({
            "fitted_on": source,
            "scale": scale,
            "training_genomes": len(deployed) or len(fitting),
            "held_out_genomes": len(scored),
            "held_out": {
                **ranking(guess.tolist(), real.tolist()),
                "median_ape": _mape(guess, real),
            },
        })  # fmt: skip
    task = make_task(task_id, vocab_size=space.task.vocab_size)
    used = [r for r in runs if r.losses]
    meta = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "space": space.to_dict(),
        "task": task_id,
        "task_fingerprint": task.fingerprint,
        "metric": task.metric,
        "baseline_loss": task.baseline_loss(),
        "evaluator_version": _evaluator_version(paths),
        "seed": 0,
        "rung_steps": marks,
        "fidelities": [top.rung(s).to_dict() for s in marks],
        "model": {
            "estimator": "GaussianProcessRegressor (served in closed form)",
            "features": "genes (ordinal means, categorical fractions), log params, log FLOPs/token",
            "targets": [*report],
        },
        "report": report,
        "data": [str(p) for p in [*paths, *map(Path, measures)]],
        "data_sha256": {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in [*paths, *map(Path, measures)]
        },
        "real_training_seconds": sum(r.seconds for r in used),
        "fit_seconds": time.perf_counter() - started,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    return meta


def _evaluator_version(paths: Sequence[Path]) -> str:
    """The one evaluator version the rows were trained under.

    Raises:
        ConfigError: Rows of several versions (their losses are not comparable).
    """
    versions = set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            versions.add(str(json.loads(line).get("evaluator_version")))
    if len(versions) != 1:
        raise ConfigError(f"rows of evaluator versions {sorted(versions)}; fit one version")
    return versions.pop()


def describe(path: str | Path, meta: dict[str, Any]) -> str:
    """The benchmark in a few lines."""
    lines = [f"surrogate    {path}: a model of space {meta['space']['name']} (served per genome)"]
    for name, row in meta["report"].items():
        held = row["held_out"]
        extra = (
            f", median |error| {100 * held['median_ape']:.1f} %"
            if "median_ape" in held
            else f", top-pick regret {100 * held['regret']:.1f} %"
        )
        floor = row.get("noise_floor")
        noise = f"; seed-to-seed tau {floor['kendall_tau']:.3f}" if floor else ""
        fitted = row.get("fitted_on", f"{row['training_genomes']} fitted")
        lines.append(
            f"held-out     {name}: Kendall tau {held['kendall_tau']:.3f} on "
            f"{row['held_out_genomes']} genomes ({fitted}){extra}{noise}"
        )
        own = row.get("deployed_held_out")
        if own:
            lines.append(
                f"             {name} on {own['genomes']} held-out deployments: Kendall tau "
                f"{own['kendall_tau']:.3f}, median |error| {100 * own['median_ape']:.1f} %"
            )
    minutes, fitting = meta["real_training_seconds"] / 60, meta["fit_seconds"]
    lines.append(f"cost         {minutes:.0f} min of real training; fit {fitting:.0f} s")
    return "\n".join(lines)
