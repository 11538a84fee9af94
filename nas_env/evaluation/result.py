"""EvalResult: everything measured about one candidate, as plain data.

A failed candidate is a result too: its ``status`` says how it failed and its
``message`` why, so that a search never crashes on a bad architecture.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from nas_env.tasks.kinds import kind_of_metric, metrics

Status = Literal["ok", "diverged", "oom", "timeout", "invalid", "error"]
STATUSES: tuple[str, ...] = ("ok", "diverged", "oom", "timeout", "invalid", "error")
FAILURES: tuple[str, ...] = ("diverged", "oom", "timeout", "invalid", "error")


def lower_is_better(metric: str | None) -> bool:
    """Direction of a quality metric, as its task kind says (perplexity down, accuracy
    up); lower for a metric no kind reports."""
    kind = kind_of_metric(metric) if metric else None
    return kind is None or not kind.higher_is_better


@dataclass(frozen=True)
class EvalResult:
    """Measured metrics of one trained candidate.

    Attributes:
        status: ``ok``, ``diverged`` (NaN/inf loss), ``oom``, ``timeout``, ``invalid``
            (genome breaks its space's rules) or ``error`` (any other exception).
        message: Why a failed candidate failed (empty when ok).
        genome_key: `Genome.key` of the candidate.
        task: Task id; ``metric`` is its quality metric (``perplexity`` or ``accuracy``).
        task_fingerprint: Fingerprint of the task's data, split and tokenizer.
        val_loss: Mean cross-entropy on the task's held-out selection (nats per token /
            per example).
        val_loss_se: Standard error of ``val_loss`` (per-window / per-example spread).
        baseline_loss: The task's own yardstick for ``val_loss``: the held-out
            cross-entropy of the context-free predictor fitted on the training split
            (unigram token frequencies for LM, class priors for classification); a model
            must beat it to have learned anything (`TaskBaseline`).
        scored_tokens: Held-out target tokens (LM) or examples (classification) scored.
        perplexity: ``exp(val_loss)`` for language models, else None.
        accuracy: Held-out accuracy for classifiers, else None.
        macro_f1: Held-out macro-averaged F1 for classifiers, else None.
        params: Parameter count (analytic, equal to the built model's).
        size_mb: Model size in MiB at float32.
        flops_per_token: Analytic forward FLOPs per token.
        latency_ms: Median inference latency, batch 1 at the task's sequence length.
        latency_spread_ms: Interquartile range of the timed latency repeats.
        latency_threads: CPU threads pinned while timing (None on CUDA).
        latency_repeats: Timed latency passes (after a warm-up).
        latency_source: ``measured``, or ``predicted:<profile>`` (`nas_env.latency`);
            None in results made before the option existed.
        threads: CPU threads torch trained with.
        train_seconds: Wall-clock time of the training loop.
        train_tokens: Tokens (LM) or token slots (classification) trained on.
        tokens_per_second: Tokens trained by this call per ``train_seconds`` (a resumed
            promotion rung counts only the steps it trained).
        peak_memory_mb: Peak memory during the evaluation (CUDA allocator peak, or the
            process' peak resident set on CPU).
        eval_seconds: Wall-clock time of the whole evaluation.
        fidelity: Fidelity level name; ``fidelity_config`` its resolved fields.
        backend: ``torch``, ``deepspeed`` or ``table`` (served from a benchmark table).
        device: Device trained on; ``precision`` the arithmetic (fp32, bf16, fp16).
        seed: Training seed.
        steps: Optimizer steps actually made.
        final_train_loss: Training loss at the last step.
        mean_train_loss: Mean training loss over the steps trained (area under the curve).
        late_train_loss: Mean training loss over the second half of the schedule.
        signal: The scoring rule that turned the measurement into ``val_loss`` (its name
            and version, e.g. ``long-ridge@1``: a prediction of the held-out loss after
            long training, `nas_env.evaluation.signals`); empty when ``val_loss`` is the
            held-out loss as measured.
        measured_val_loss: With a ``signal``: the held-out loss as measured at this
            fidelity (``val_loss`` and ``perplexity`` are then the signal's estimate).
        evaluator_version: Version of the evaluation code (part of cache keys).
        resumed_from: The step of the lower promotion rung's checkpoint that training
            continued from (None or 0: trained from scratch).
        rung: Promotion only: the index of the highest rung this candidate reached (0 is
            the cheapest); ``rungs`` is the ladder's length.
        cost_steps: Promotion only: optimizer steps trained for this candidate by this
            evaluation (0 when every rung came from the cache or a table).
        rung_val_loss: Promotion only: the held-out loss measured at ``rung``; ``val_loss``
            (and ``perplexity``) are then its estimate at the top rung (``calibration``
            says how it was made, see `nas_env.evaluation.promotion`).
        calibration: Promotion only: how ``val_loss`` was mapped from ``rung`` to the top
            rung (``top`` when it was measured there).
        source: ``train`` (measured now or cached from a real run), ``table`` or
            ``surrogate`` (predicted by a benchmark's surrogate model).
        cache_hit: True when served from the cache (not stored; set on retrieval).
    """

    status: Status
    message: str = ""
    genome_key: str = ""
    task: str = ""
    metric: str = ""
    task_fingerprint: str = ""
    val_loss: float | None = None
    val_loss_se: float | None = None
    baseline_loss: float | None = None
    scored_tokens: int | None = None
    perplexity: float | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    params: int | None = None
    size_mb: float | None = None
    flops_per_token: int | None = None
    latency_ms: float | None = None
    latency_spread_ms: float | None = None
    latency_threads: int | None = None
    latency_repeats: int | None = None
    latency_source: str | None = None
    threads: int | None = None
    train_seconds: float | None = None
    train_tokens: int | None = None
    tokens_per_second: float | None = None
    peak_memory_mb: float | None = None
    eval_seconds: float | None = None
    fidelity: str = ""
    fidelity_config: dict[str, Any] = field(default_factory=dict)
    backend: str = ""
    device: str = ""
    precision: str = ""
    seed: int | None = None
    steps: int | None = None
    final_train_loss: float | None = None
    mean_train_loss: float | None = None
    late_train_loss: float | None = None
    signal: str = ""
    measured_val_loss: float | None = None
    evaluator_version: str = ""
    resumed_from: int | None = None
    rung: int | None = None
    rungs: int | None = None
    cost_steps: int | None = None
    rung_val_loss: float | None = None
    calibration: str = ""
    source: str = "train"
    cache_hit: bool = False

    @property
    def ok(self) -> bool:
        """True when the candidate trained and was scored."""
        return self.status == "ok"

    @property
    def quality(self) -> float | None:
        """The task's quality metric (``metric``: perplexity, lower is better, or accuracy);
        None for a metric no task kind reports."""
        return getattr(self, self.metric, None) if self.metric in metrics() else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data; non-finite floats become None so that the JSON is strict."""
        cached = self.__dict__.get("_plain")
        if cached is None:  # results are immutable: build the plain form once
            cached = {name: getattr(self, name) for name in _FIELD_NAMES}
            for key, value in cached.items():
                if value.__class__ is float and not math.isfinite(value):
                    cached[key] = None
            object.__setattr__(self, "_plain", cached)
        return {**cached, "fidelity_config": dict(self.fidelity_config)}

    def to_json(self) -> str:
        """Compact JSON of `to_dict` (without the transient ``cache_hit``)."""
        data = self.to_dict()
        data.pop("cache_hit")
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        """Inverse of `to_dict`; unknown keys (from newer versions) are ignored."""
        return cls(**{k: v for k, v in data.items() if k in _FIELD_NAMES})

    @classmethod
    def from_json(cls, text: str) -> EvalResult:
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(text))

    def with_cache_hit(self) -> EvalResult:
        """A copy marked as served from the cache."""
        return replace(self, cache_hit=True)


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(EvalResult))
