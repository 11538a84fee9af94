"""Statistics of `benchmarks/signal_rank.py`: rank agreement of cheap signals with `long`.

Reads the long-training truth (`benchmarks/long_truth.py`'s rows) and the cheap levels'
rows; fits ridge predictors on the ``fit`` sample only and judges them on ``uniform`` and
``decision``. Failed evaluations rank last.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from nas_env.evaluation.signals import MEASURED, SIGNALS_DIR, Signal, features, fit_ridge
from nas_env.ranking import kendall_tau, spearman

Key = tuple[str, int]
REPORTED = ("uniform", "decision")
# The default predictor: the short run's measurements and the genome's shape.
GENE_FEATURES = (
    "log_params",
    "layers",
    "norm_position=post",
    "position=alibi",
    "position=rope",
    "position=sinusoidal",
    "tied_embeddings=true",
)
# The candidate predictors, declared before any was judged; each level's predictor is the
# set (and ridge alpha) with the best leave-one-out tau on the fitting samples alone.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "run + shape": ("val_loss", "mean_train_loss", *GENE_FEATURES),
    "held-out + shape": ("val_loss", *GENE_FEATURES),
    "held-out + late + shape": ("val_loss", "late_train_loss", *GENE_FEATURES),
    "held-out + size + norm/position": (
        "val_loss",
        "log_params",
        "position=alibi",
        "position=sinusoidal",
        "norm_position=post",
    ),
}
ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def truth_genomes(path: Path) -> dict[Key, dict[str, Any]]:
    """``(sample, index) -> genes`` of every genome whose long run finished (seed 0)."""
    return {
        (r["sample"], r["index"]): r["genes"]
        for r in _lines(path)
        if r.get("last") and r["seed"] == 0
    }


def truth_losses(path: Path, seed: int = 0, steps: int | None = None) -> dict[Key, float]:
    """``(sample, index) -> held-out loss`` at ``steps`` of the long run (its end when
    None); a failed run counts as infinitely bad."""
    rows = _lines(path)
    out: dict[Key, float] = {}
    for r in rows:
        if r["seed"] != seed:
            continue
        if (steps is None and r.get("last")) or (steps is not None and r["steps"] == steps):
            loss = r["val_loss"] if r["status"] == "ok" else None
            out[(r["sample"], r["index"])] = float(loss) if loss is not None else math.inf
    return out


def level_rows(path: Path) -> dict[tuple[str, int], dict[Key, dict[str, Any]]]:
    """``(level, seed) -> (sample, index) -> row`` of the cheap levels."""
    out: dict[tuple[str, int], dict[Key, dict[str, Any]]] = {}
    for r in _lines(path):
        out.setdefault((r["level"], r["seed"]), {})[(r["sample"], r["index"])] = r
    return out


def _loss(row: dict[str, Any] | None, field: str = "val_loss") -> float:
    value = row.get(field) if row else None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.inf


def truth_summary(path: Path, tokens_per_step: int = 16 * 64) -> str:
    """The long runs themselves: genomes per sample, perplexity (exp of the held-out loss)
    and tokens-per-parameter ranges (``tokens_per_step``: batch x context of the level),
    seconds per genome, and the overfitting check (held-out loss still falling over the
    last segment; the gap between the last training loss and held-out loss)."""
    rows = _lines(path)
    finals = [r for r in rows if r.get("last") and r["seed"] == 0 and r["status"] == "ok"]
    lines = [
        "| sample | genomes | perplexity at `long` | tokens / parameter | s / genome (one "
        "thread) | held-out loss still falling over the last quarter | median fall | "
        "median train - held-out gap |",
        "| --- | --: | --: | --: | --: | --: | --: | --: |",
    ]
    by_key = {(r["sample"], r["index"], r["steps"]): r for r in rows if r["seed"] == 0}
    for sample in ("fit", "fit_uniform", *REPORTED):
        mine = [r for r in finals if r["sample"] == sample]
        if not mine:
            continue
        steps = mine[0]["steps"]
        ppl = sorted(math.exp(r["val_loss"]) for r in mine)
        tpp = sorted(steps * tokens_per_step / r["params"] for r in mine)
        falls, secs = [], []
        for r in mine:
            segs = [v for (s, i, _), v in by_key.items() if s == sample and i == r["index"]]
            secs.append(sum(v["train_seconds"] or 0.0 for v in segs))
            before = sorted((v for v in segs if v["steps"] < steps), key=lambda v: v["steps"])
            if before:
                falls.append(before[-1]["val_loss"] - r["val_loss"])
        gap = statistics.median(r["final_train_loss"] - r["val_loss"] for r in mine)
        lines.append(
            f"| {sample} | {len(mine)} | {ppl[0]:.2f}-{ppl[-1]:.2f} | {tpp[0]:.0f}-{tpp[-1]:.0f} "
            f"| {statistics.median(secs):.0f} | {sum(f > 0 for f in falls)} / {len(falls)} | "
            f"{statistics.median(falls):.3f} nats | {gap:+.3f} nats |"
        )
    return "\n".join(lines)


def regret(signal: dict[Key, float], truth: dict[Key, float]) -> float:
    """Perplexity at `long` of the signal's top pick over the best genome's, minus 1."""
    keys = [k for k in signal if k in truth]
    pick = min(keys, key=lambda k: (signal[k], k))
    best = min(truth[k] for k in keys)
    return math.exp(truth[pick] - best) - 1.0


def _feats(genes: dict[str, Any], row: dict[str, Any]) -> dict[str, float]:
    return features(genes, row)


def fit_predictor(
    genomes: dict[Key, dict[str, Any]],
    rows: dict[Key, dict[str, Any]],
    truth: dict[Key, float],
    names: Sequence[str] | None = None,
) -> tuple[float, dict[str, float], dict[str, tuple[float, float]], float, float, str] | None:
    """Ridge of the long loss over the ``fit`` and ``fit_uniform`` samples: the feature
    set (``names``, else each of `FEATURE_SETS`) and alpha with the best leave-one-out
    Kendall tau there.

    Returns ``(intercept, weights, center, alpha, loo_tau, set_name)``, or None with fewer
    than 6 fitting genomes.
    """
    keys = [
        k
        for k in sorted(genomes)
        if k[0].startswith("fit")
        and k in rows
        and rows[k]["status"] == "ok"
        and math.isfinite(truth[k])
    ]
    if len(keys) < 6:
        return None
    table = [_feats(genomes[k], rows[k]) for k in keys]
    y = [truth[k] for k in keys]
    candidates = {"given": tuple(names)} if names else FEATURE_SETS
    best: tuple[str, float, float, tuple[str, ...]] | None = None
    for set_name, declared in candidates.items():
        for alpha in ALPHAS:
            feats = monotone_features(table, y, declared, alpha)
            preds = []
            for i in range(len(keys)):
                rest = [j for j in range(len(keys)) if j != i]
                b, w, c = fit_ridge([table[j] for j in rest], [y[j] for j in rest], feats, alpha)
                preds.append(_predict(b, w, c, table[i]))
            tau = kendall_tau(preds, y)
            if best is None or tau > best[2] + 1e-12:
                best = (set_name, alpha, tau, feats)
    assert best is not None
    set_name, alpha, loo, feats = best
    dropped = [f for f in candidates[set_name] if f not in feats]
    if dropped:
        set_name += f" (monotone: without {', '.join(dropped)})"
    intercept, weights, center = fit_ridge(table, y, feats, alpha)
    return intercept, weights, center, alpha, loo, set_name


def monotone_features(
    table: Sequence[dict[str, float]], y: Sequence[float], names: Sequence[str], alpha: float
) -> tuple[str, ...]:
    """``names`` without the measured features (`nas_env.evaluation.signals.MEASURED`)
    that the ridge fit weighs negatively, dropped one at a time (the most negative first)
    until none is: a signal must never score a genome better because it learned worse
    (`Signal` refuses such weights)."""
    feats = list(names)
    while True:
        _, weights, _ = fit_ridge(table, y, feats, alpha)
        bad = [f for f in feats if f in MEASURED and weights[f] < 0]
        if not bad:
            return tuple(feats)
        feats.remove(min(bad, key=lambda f: weights[f]))


def _predict(b: float, w: dict[str, float], c: dict[str, tuple[float, float]], x: dict) -> float:
    return Signal("fit", 1, "-", "long", b, w, c).predict(x)


def _stats(signal: dict[Key, float], truth: dict[Key, float], sample: str) -> dict[str, Any]:
    keys = sorted(k for k in signal if k[0] == sample and k in truth)
    if len(keys) < 4:
        return {"n": len(keys)}
    x = [signal[k] for k in keys]
    y = [truth[k] for k in keys]
    out: dict[str, Any] = {
        "n": len(keys),
        "tau": kendall_tau(x, y),
        "spearman": spearman(x, y),
    }
    out["regret"] = regret({k: signal[k] for k in keys}, {k: truth[k] for k in keys})
    return out


def report(
    truth_path: Path,
    rows_path: Path,
    names: Sequence[str] | None = None,
    tokens_per_step: int = 16 * 64,
) -> tuple[str, dict[str, Any]]:
    """The markdown tables and their numbers (``tokens_per_step``: see `truth_summary`)."""
    genomes = truth_genomes(truth_path)
    truth = truth_losses(truth_path)
    seed1 = truth_losses(truth_path, seed=1)
    levels = level_rows(rows_path)
    numbers: dict[str, Any] = {"features": names or FEATURE_SETS, "levels": {}}
    header = (
        "| signal | "
        + " | ".join(f"{s}: n, tau, rho, top-pick regret" for s in REPORTED)
        + " | seed-to-seed tau | s / candidate |"
    )
    lines = [header, "| --- |" + " --: |" * (len(REPORTED) + 2)]

    def add(name: str, signal: dict[Key, float], noise: str, seconds: str) -> None:
        cells: list[str] = []
        entry: dict[str, Any] = {"noise": noise, "seconds": seconds}
        for sample in REPORTED:
            st = _stats(signal, truth, sample)
            entry[sample] = st
            if "tau" in st:
                cells.append(
                    f"{st['n']}, {st['tau']:.2f}, {st['spearman']:.2f}, {100 * st['regret']:.1f} %"
                )
            else:
                cells.append(f"{st['n']}, -")
        numbers["levels"][name] = entry
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {noise} | {seconds} |")

    for steps in sorted({r["steps"] for r in _lines(truth_path) if not r.get("last")}):
        add(f"`long` after {steps} steps", truth_losses(truth_path, steps=steps), "-", "-")
    pairs = [k for k in truth if k in seed1]
    if len(pairs) >= 4:
        tau = kendall_tau([truth[k] for k in pairs], [seed1[k] for k in pairs])
        add("`long` seed 1", seed1, f"{tau:.2f} ({len(pairs)})", "-")
    static = {
        (r["sample"], r["index"]): {"status": "ok", "params": r["params"]}
        for r in _lines(truth_path)
        if r.get("last") and r["seed"] == 0
    }
    prior = fit_predictor(genomes, static, truth, list(GENE_FEATURES))
    if prior is not None:
        b, w, c, alpha, loo, _ = prior
        predicted = {k: _predict(b, w, c, _feats(genomes[k], r)) for k, r in static.items()}
        add(
            f"genes only, no training (ridge alpha {alpha:g}, fit LOO tau {loo:.2f})",
            predicted,
            "-",
            "0",
        )
    for level, seed in sorted(levels):
        if seed != 0:
            continue
        rows = levels[(level, 0)]
        other = levels.get((level, 1), {})
        both = sorted(k for k in rows if k in other)
        noise = (
            f"{kendall_tau([_loss(rows[k]) for k in both], [_loss(other[k]) for k in both]):.2f}"
            f" ({len(both)})"
            if len(both) >= 4
            else "-"
        )
        secs = statistics.mean(r["eval_seconds"] or 0.0 for r in rows.values())
        add(
            f"`{level}` held-out loss", {k: _loss(r) for k, r in rows.items()}, noise, f"{secs:.1f}"
        )
        add(
            f"`{level}` mean training loss",
            {k: _loss(r, "mean_train_loss") for k, r in rows.items()},
            "-",
            f"{secs:.1f}",
        )
        fitted = fit_predictor(genomes, rows, truth, names)
        if fitted is None:
            continue
        b, w, c, alpha, loo, chosen = fitted
        predicted = {
            k: _predict(b, w, c, _feats(genomes[k], r))
            for k, r in rows.items()
            if r["status"] == "ok" and k in genomes
        }
        add(
            f"`{level}` + ridge ({chosen}, alpha {alpha:g}, fit LOO tau {loo:.2f})",
            predicted,
            "-",
            f"{secs:.1f}",
        )
    return truth_summary(truth_path, tokens_per_step) + "\n\n" + "\n".join(lines), numbers


def write_signal(
    truth_path: Path,
    rows_path: Path,
    level: str,
    name: str,
    names: Sequence[str] | None,
    signal_level: str | None = None,
) -> Path:
    """Fit the predictor of ``level``'s rows on the fitting samples and save it as
    ``config/signals/NAME.yaml``, for the named level ``signal_level`` (default ``level``;
    it must train as ``level`` does)."""
    genomes = truth_genomes(truth_path)
    truth = truth_losses(truth_path)
    rows = level_rows(rows_path)[(level, 0)]
    fitted = fit_predictor(genomes, rows, truth, names)
    if fitted is None:
        raise SystemExit(f"too few `fit` genomes with both `{level}` and `long` results")
    b, w, c, alpha, loo, chosen = fitted
    count = sum(1 for k in genomes if k[0].startswith("fit") and k in rows)
    path = SIGNALS_DIR / f"{name}.yaml"
    old = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    version = int(old["version"]) + 1 if old else 1
    signal = Signal(
        name,
        version,
        signal_level or level,
        "long",
        b,
        w,
        c,
        fitted_on=(
            f"{count} genomes of the `fit` and `fit_uniform` samples of "
            f"benchmarks/long_truth.py (seed 0 at "
            f"`{level}` and `long`); features '{chosen}' and ridge alpha {alpha:g} by "
            f"leave-one-out there (tau {loo:.2f})"
        ),
    )
    SIGNALS_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(signal.to_dict(), sort_keys=False), encoding="utf-8")
    return path


# Which report rows the shipped levels are (`ranking_entry`).
SHIPPED = {
    "fast": "`fast` held-out loss",
    "reference": "`reference` held-out loss",
    "search": "`fast` + ridge",
    "rerank": "`r1600` + ridge",
}


def ranking_entry(numbers: dict[str, Any]) -> dict[str, Any]:
    """The `tiny` entry of ``config/fidelity_ranking.yaml`` from `report`'s numbers."""
    levels: dict[str, Any] = {}
    n_uniform = n_decision = 0
    for level, prefix in SHIPPED.items():
        name = next((k for k in numbers["levels"] if k.startswith(prefix)), None)
        if name is None:
            continue
        entry = numbers["levels"][name]
        uni, dec = entry["uniform"], entry["decision"]
        if "tau" not in uni or "tau" not in dec:
            continue
        row: dict[str, Any] = {
            "tau": round(uni["tau"], 2),
            "spearman": round(uni["spearman"], 2),
            "tau_decision": round(dec["tau"], 2),
            "regret_decision": round(dec["regret"], 3),
        }
        if entry["noise"] != "-":
            row["noise_tau"] = float(entry["noise"].split()[0])
        row["s_per_candidate"] = float(entry["seconds"])
        levels[level] = row
        n_uniform, n_decision = max(n_uniform, uni["n"]), max(n_decision, dec["n"])
    return {
        "reference": "long",
        "source": "benchmarks/signal_rank.py",
        "genomes": n_uniform,
        "decision_genomes": n_decision,
        "levels": levels,
    }
