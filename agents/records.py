"""Episode records from the env's ``info``: the metric fields of a result.

The record format itself (fields, writer, reader, version) is `runfolder.records`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas_env.tasks.kinds import metrics
from runfolder.records import (
    METRIC_FIELDS,
    RECORD_FIELDS,
    RECORD_VERSION,
    EpisodeRecord,
    RecordWriter,
    read_records,
)

__all__ = [
    "METRIC_FIELDS",
    "RECORD_FIELDS",
    "RECORD_VERSION",
    "EpisodeRecord",
    "RecordWriter",
    "metrics_of",
    "read_records",
]


def metrics_of(result: Mapping[str, Any] | None) -> dict[str, Any]:
    """The record's metric fields from an `EvalResult.to_dict` (all None without one)."""
    if not result:
        return dict.fromkeys(METRIC_FIELDS)
    metric = result.get("metric") or ""
    quality = result.get(metric) if metric in metrics() else None
    out = {key: result.get(key) for key in METRIC_FIELDS if key not in ("quality",)}
    out["quality"] = quality
    out["cache_hit"] = bool(result.get("cache_hit", False))
    return out
