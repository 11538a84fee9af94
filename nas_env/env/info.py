"""The ``info`` dict of every `NASEnv.reset` and `NASEnv.step` (what records are made of)."""

from __future__ import annotations

from typing import Any

from nas_env.evaluation import EvalResult
from nas_env.genome import Genome


def env_info(
    *,
    action: str,
    invalid: str,
    score: float,
    step: int,
    mode: str,
    genome: Genome | None,
    result: EvalResult | None,
) -> dict[str, Any]:
    """``action`` (its name, ``reset`` at a reset), ``invalid_action`` (why a masked action
    did nothing, else ""), ``score``, ``step``, ``mode``; with a genome ``genome`` (its
    genes) and ``genome_key``; with a result ``status``, ``cache_hit`` and ``result`` (the
    `EvalResult` as a dict)."""
    info: dict[str, Any] = {
        "action": action,
        "invalid_action": invalid,
        "score": score,
        "step": step,
        "mode": mode,
    }
    if genome is not None:
        info["genome"] = genome.to_dict()["genes"]
        info["genome_key"] = genome.key()
    if result is not None:
        info["status"] = result.status
        info["cache_hit"] = result.cache_hit
        info["result"] = result.to_dict()
    return info
