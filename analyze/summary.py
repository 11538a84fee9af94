"""Per-run summary numbers (the rows of the report's table)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from analyze.load import Run
from analyze.series import eval_key, is_success, number


def compact_genes(genome: Any, width: int | None = None) -> str:
    """``layers=2 d_model=64 heads=2/4 norm=rmsnorm ...`` (per-layer lists joined by ``/``)."""
    if not isinstance(genome, dict):
        return "-" if genome is None else str(genome)
    genes = genome.get("genes", genome) if isinstance(genome.get("genes"), dict) else genome
    parts = []
    for key, value in genes.items():
        if isinstance(value, list | tuple):
            text = "/".join(_plain(v) for v in value)
        else:
            text = _plain(value)
        parts.append(f"{key}={text}")
    out = " ".join(parts)
    if width is not None and len(out) > width:
        out = out[: width - 1] + "…"
    return out


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def summarize(run: Run) -> dict[str, Any]:
    """Numbers of one run, computed from its records only.

    Keys: ``run``, ``path``, ``algo``, ``env_id``, ``seed``, ``records``, ``steps`` (largest
    ``global_step``), ``planned_steps`` (``n_timesteps`` of config.yaml, or None),
    ``episodes``, ``evaluations`` (records that evaluated a genome), ``unique_evaluations``
    (distinct genome keys evaluated), ``cache_hits``, ``cache_hit_rate`` (hits / evaluations,
    None without evaluations), ``failures`` (status -> count over evaluations, ``ok``
    excluded), ``failure_count``, ``invalid_actions``, ``best_score``, ``best_genome``,
    ``best_genome_key``, ``best_step``, ``best_unique`` (unique evaluations when it was found),
    ``best_metric``, ``best_quality``, ``best_params``, ``best_latency_ms``, ``best_size_mb``,
    ``sources`` (``train``/``table``), ``wall_time`` (seconds).
    """
    records = run.records
    evaluated = [r for r in records if r.get("evaluated")]
    keys = {key for key in map(eval_key, evaluated) if key}
    counted = [number(r.get("unique_evaluations")) for r in records]
    unique = int(max((c for c in counted if c is not None), default=len(evaluated)))
    unique = len(keys) if keys else unique
    hits = sum(bool(r.get("cache_hit")) for r in evaluated)
    failures = Counter(
        str(r.get("status")) for r in evaluated if r.get("status") not in ("ok", None)
    )
    best: dict[str, Any] | None = None
    best_score = None
    for record in records:
        score = number(record.get("score"))
        if is_success(record) and score is not None and (best_score is None or score > best_score):
            best, best_score = record, score
    steps = [number(r.get("global_step")) for r in records]
    walls = [number(r.get("wall_time")) for r in records]
    planned = number(run.config.get("n_timesteps")) if run.config else None
    best = best or {}
    return {
        "run": run.name,
        "path": str(run.path),
        "algo": run.algo,
        "env_id": run.env_id,
        "seed": run.seed,
        "records": len(records),
        "steps": int(max((s for s in steps if s is not None), default=len(records))),
        "planned_steps": None if planned is None else int(planned),
        "episodes": len({r.get("episode") for r in records if r.get("episode") is not None}),
        "evaluations": len(evaluated),
        "unique_evaluations": unique,
        "cache_hits": hits,
        "cache_hit_rate": hits / len(evaluated) if evaluated else None,
        "failures": dict(sorted(failures.items())),
        "failure_count": sum(failures.values()),
        "invalid_actions": sum(bool(r.get("invalid_action")) for r in records),
        "best_score": best_score,
        "best_genome": best.get("genome"),
        "best_genome_key": best.get("genome_key"),
        "best_step": best.get("global_step"),
        "best_unique": best.get("unique_evaluations"),
        "best_metric": best.get("metric"),
        "best_quality": number(best.get("quality")),
        "best_params": number(best.get("params")),
        "best_latency_ms": number(best.get("latency_ms")),
        "best_size_mb": number(best.get("size_mb")),
        "sources": sorted({str(r["source"]) for r in evaluated if r.get("source")}),
        "wall_time": max((w for w in walls if w is not None), default=None),
    }
