"""Candidate evaluation: short real training runs, measured metrics, a persistent cache."""

from __future__ import annotations

from nas_env.evaluation.backends import BACKENDS
from nas_env.evaluation.cache import ResultCache, cache_key
from nas_env.evaluation.evaluator import EVALUATOR_VERSION, Evaluator, TrainSettings
from nas_env.evaluation.fidelity import Fidelity, fidelity_levels
from nas_env.evaluation.precision import Precision, resolve_device, resolve_precision
from nas_env.evaluation.result import FAILURES, STATUSES, EvalResult

__all__ = [
    "BACKENDS",
    "EVALUATOR_VERSION",
    "FAILURES",
    "STATUSES",
    "EvalResult",
    "Evaluator",
    "Fidelity",
    "Precision",
    "ResultCache",
    "TrainSettings",
    "cache_key",
    "fidelity_levels",
    "resolve_device",
    "resolve_precision",
]
