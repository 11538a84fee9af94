"""Best genome and Pareto front of a run, kept up to date on disk.

``best.json``: the highest-scoring successfully evaluated genome so far (genome, key,
metrics, score, global step, episode). ``pareto.json``: the non-dominated set of
successfully evaluated genomes under (quality, params, latency_ms), quality meaning
perplexity (lower is better) or accuracy (higher is better). Both files are written
atomically (`nas_env.atomic`) so a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas_env.atomic import atomic_write_json
from runfolder import BEST_FILE, PARETO_FILE

PARETO_OBJECTIVES: tuple[str, ...] = ("quality", "params", "latency_ms")


def _objectives(entry: Mapping[str, Any]) -> tuple[float, ...] | None:
    """Minimisation vector of an entry, or None when a measurement is missing."""
    metrics = entry["metrics"]
    quality = metrics.get("quality")
    params, latency = metrics.get("params"), metrics.get("latency_ms")
    if quality is None or params is None or latency is None:
        return None
    sign = -1.0 if metrics.get("metric") == "accuracy" else 1.0
    return (sign * float(quality), float(params), float(latency))


def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """True when ``a`` is no worse than ``b`` everywhere and better somewhere (minimising)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


class ParetoFront:
    """Non-dominated set of evaluated genomes (one entry per genome key)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add(self, entry: dict[str, Any]) -> bool:
        """Offer an entry (key, genome, metrics...); True when the front changed."""
        point = _objectives(entry)
        if point is None or any(e["genome_key"] == entry["genome_key"] for e in self.entries):
            return False
        kept = []
        for other in self.entries:
            other_point = _objectives(other)
            assert other_point is not None
            if dominates(other_point, point) or other_point == point:
                return False
            if not dominates(point, other_point):
                kept.append(other)
        kept.append(entry)
        kept.sort(key=lambda e: _objectives(e) or ())
        self.entries = kept
        return True

    def to_dict(self) -> dict[str, Any]:
        """What ``pareto.json`` holds."""
        return {
            "objectives": {
                "quality": "task metric (perplexity: lower is better; accuracy: higher)",
                "params": "parameters, lower is better",
                "latency_ms": "inference latency, lower is better",
            },
            "size": len(self.entries),
            "front": self.entries,
        }


class BestAndFront:
    """Tracks the best genome and the Pareto front, rewriting their files on change.

    Args:
        folder: Run folder receiving ``best.json`` and ``pareto.json`` (None: memory only).
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.best: dict[str, Any] | None = None
        self.front = ParetoFront()

    @property
    def best_score(self) -> float | None:
        """Score of the best genome so far (None before the first success)."""
        return None if self.best is None else float(self.best["score"])

    def offer(self, record: Mapping[str, Any], write: bool = True) -> bool:
        """Consider a record of an evaluation; True when the best genome changed."""
        if not record.get("evaluated") or record.get("status") != "ok":
            return False
        score = record.get("score")
        if score is None or record.get("genome") is None:
            return False
        from agents.records import METRIC_FIELDS

        entry = {
            "genome_key": record["genome_key"],
            "genome": record["genome"],
            "score": float(score),
            "metrics": {k: record.get(k) for k in METRIC_FIELDS if k != "cache_hit"},
            "global_step": record.get("global_step"),
            "episode": record.get("episode"),
            "step": record.get("step"),
            "algo": record.get("algo"),
            "env_id": record.get("env_id"),
        }
        improved = self.best is None or entry["score"] > self.best["score"]
        if improved:
            self.best = entry
        front_changed = self.front.add(entry)
        if write:
            self.save(best=improved, pareto=front_changed)
        return improved

    def save(self, best: bool = True, pareto: bool = True) -> None:
        """Write ``best.json`` and/or ``pareto.json`` (atomically)."""
        if self.folder is None:
            return
        if best and self.best is not None:
            atomic_write_json(self.folder / BEST_FILE, self.best)
        if pareto:
            atomic_write_json(self.folder / PARETO_FILE, self.front.to_dict())
