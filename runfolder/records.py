"""Episode records: one JSON line per environment step in ``episodes.jsonl``.

Record format version `RECORD_VERSION` (written to the run's ``versions.json``).

This is the single input of ``python -m analyze`` and the common format of every
searcher (SB3 agents and the baselines). Each line is a JSON object with the fields of
`RECORD_FIELDS`:

* identity: ``run_id``, ``algo``, ``env_id``, ``seed``, ``env_index`` (vector env slot),
  ``episode`` (run-wide counter), ``step`` (0 for the evaluation that starts an episode:
  a reset, a random sample, an evolution parent), ``global_step`` (env steps of the run);
* the action: ``action`` (name, ``reset`` or ``sample`` for step 0), ``action_index``
  (None at step 0), ``invalid_action`` (why a masked action was refused, else "");
* the genome the metrics describe: ``genome`` (genes), ``genome_key`` (the candidate when
  this step evaluated one, even a failing one; else the current genome), ``state_key``
  (the env's genome after the step; differs when a failed candidate was not adopted),
  ``start_genome`` (on the first step of an episode whose start has no record of its own,
  such as an evolution mutation: the genes it started from; else null);
* ``evaluated`` (this step evaluated a genome), ``new_evaluation`` (first evaluation of
  that genome in this run), ``unique_evaluations`` (distinct genomes evaluated so far);
* metrics from the `EvalResult`: ``status``, ``message``, ``metric`` (``perplexity`` or
  ``accuracy``), ``quality`` (the value of that metric), ``perplexity``, ``accuracy``,
  ``val_loss`` and its standard error ``val_loss_se``, ``measured_val_loss`` and
  ``signal`` (at a level with a signal: the held-out loss as measured, and the scoring
  rule whose estimate ``val_loss`` is; else null and ""), ``macro_f1`` (classifiers),
  ``params``, ``size_mb``, ``latency_ms`` and ``latency_source`` (``measured`` or
  ``predicted:<profile>``), ``flops_per_token``, ``rung`` and
  ``cost_steps`` (with promotion: the highest rung reached and the optimizer steps this
  step trained; else null), ``source`` (``train``, ``table`` or ``surrogate``: a
  benchmark-served result says so), ``cache_hit``, and what the result was
  measured on: ``fidelity``, ``task_fingerprint`` (the task's data, split and tokenizer)
  and ``evaluator_version``;
* ``reward``, ``score`` (the env's score after the step), ``targets`` (the episode's size
  and latency targets when the env draws them, ``targets="random"``; else null),
  ``episode_return`` so far,
  ``done``; ``wall_time`` (seconds since the run started, across resumes),
  ``step_seconds`` (since the previous record of that env) and ``timestamp`` (UTC ISO 8601).

Non-finite floats are written as null, so every line is strict JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypedDict

RECORD_VERSION = 1
"""The version of the episode record format; bump it when a field changes meaning."""

RECORD_FIELDS: tuple[str, ...] = (
    "run_id",
    "algo",
    "env_id",
    "seed",
    "env_index",
    "episode",
    "step",
    "global_step",
    "action",
    "action_index",
    "invalid_action",
    "genome",
    "genome_key",
    "state_key",
    "start_genome",
    "evaluated",
    "new_evaluation",
    "unique_evaluations",
    "status",
    "message",
    "metric",
    "quality",
    "perplexity",
    "accuracy",
    "val_loss",
    "val_loss_se",
    "measured_val_loss",
    "signal",
    "macro_f1",
    "params",
    "size_mb",
    "latency_ms",
    "latency_source",
    "flops_per_token",
    "rung",
    "cost_steps",
    "source",
    "cache_hit",
    "fidelity",
    "task_fingerprint",
    "evaluator_version",
    "reward",
    "score",
    "targets",
    "episode_return",
    "done",
    "wall_time",
    "step_seconds",
    "timestamp",
)
"""Keys of every episode record, in the order they are written."""

METRIC_FIELDS: tuple[str, ...] = (
    "status",
    "message",
    "metric",
    "quality",
    "perplexity",
    "accuracy",
    "val_loss",
    "val_loss_se",
    "measured_val_loss",
    "signal",
    "macro_f1",
    "params",
    "size_mb",
    "latency_ms",
    "latency_source",
    "flops_per_token",
    "rung",
    "cost_steps",
    "source",
    "cache_hit",
    "fidelity",
    "task_fingerprint",
    "evaluator_version",
)
"""The keys `metrics_of` fills from an `EvalResult` dict."""


class EpisodeRecord(TypedDict, total=False):
    """One line of ``episodes.jsonl`` (the fields of `RECORD_FIELDS`; see the module
    docstring for what each means). Metric fields are None when the step evaluated
    nothing."""

    run_id: str
    algo: str
    env_id: str
    seed: int
    env_index: int
    episode: int
    step: int
    global_step: int
    action: str
    action_index: int | None
    invalid_action: str
    genome: dict[str, Any]
    genome_key: str
    state_key: str
    start_genome: dict[str, Any] | None
    evaluated: bool
    new_evaluation: bool
    unique_evaluations: int
    status: str | None
    message: str | None
    metric: str | None
    quality: float | None
    perplexity: float | None
    accuracy: float | None
    val_loss: float | None
    val_loss_se: float | None
    measured_val_loss: float | None
    signal: str | None
    macro_f1: float | None
    params: int | None
    size_mb: float | None
    latency_ms: float | None
    latency_source: str | None
    flops_per_token: int | None
    rung: int | None
    cost_steps: int | None
    source: str | None
    cache_hit: bool
    fidelity: str | None
    task_fingerprint: str | None
    evaluator_version: str | None
    reward: float
    score: float
    targets: dict[str, float | None] | None
    episode_return: float
    done: bool
    wall_time: float
    step_seconds: float
    timestamp: str


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class RecordWriter:
    """Appends records to ``episodes.jsonl``, one flushed line each.

    A run in progress is therefore always readable, and a resumed run appends to the
    same file.

    Args:
        path: The ``episodes.jsonl`` file (created with its folder when missing).
        run_id, algo, env_id, seed: Written into every record.
    """

    def __init__(self, path: str | Path, run_id: str, algo: str, env_id: str, seed: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.identity = {"run_id": run_id, "algo": algo, "env_id": env_id, "seed": seed}
        self._file: IO[str] | None = None
        self.count = 0

    def write(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Complete ``record`` with the identity fields, write it as one line, return it."""
        full = {key: None for key in RECORD_FIELDS}
        full.update(self.identity)
        full.update(record)
        line = json.dumps(_finite(full), allow_nan=False, separators=(",", ":"), default=str)
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(line + "\n")
        self._file.flush()
        self.count += 1
        return full

    def close(self) -> None:
        """Close the file (writing again reopens it in append mode)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of an ``episodes.jsonl`` (a truncated last line, from a crash, is skipped)."""
    path = Path(path)
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record
