"""Training hyperparameters as genes: searched jointly with the architecture.

Any space YAML may list genes with these names; they set how a candidate trains, not what
it is, so they are split off before the genome becomes a model (`model_genes`) and applied
to the fidelity of its evaluation (`apply`). A space without them trains every candidate
with the fidelity's own values. They are genes like the others: in the genome's key (so in
the cache key), in the records and in the observation.

* ``lr``: the peak learning rate (AdamW), replacing the fidelity's;
* ``weight_decay``: AdamW's decoupled weight decay;
* ``warmup``: the warm-up as a fraction of the schedule's steps (0 to 0.5);
* ``schedule``: ``cosine`` (to ``min_lr_ratio``), ``linear`` (to ``min_lr_ratio``) or
  ``constant`` after the warm-up, ``onecycle`` (PyTorch's OneCycleLR, its rise the
  warm-up) or ``plateau`` (halved when the training loss stalls; `nas_env.evaluation.
  schedules`, `nas_env.evaluation.fidelity.SCHEDULES`);
* ``label_smoothing``: the training loss's label smoothing (0 to 0.5; held-out scoring
  is never smoothed).

A fidelity with a signal (``search``: an estimate fitted on runs of its own recipe) does
not accept them: the signal was not fitted on other recipes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from nas_env.checks import expect_choice, expect_number
from nas_env.errors import ConfigError

TRAINING_GENES: tuple[str, ...] = ("lr", "weight_decay", "warmup", "schedule", "label_smoothing")


def model_genes(genes: Mapping[str, Any], family: str) -> dict[str, Any]:
    """The genes that build the model (training genes left out), with the family."""
    return {**{k: v for k, v in genes.items() if k not in TRAINING_GENES}, "family": family}


def training_genes(genes: Mapping[str, Any]) -> dict[str, Any]:
    """The genes of `TRAINING_GENES` a genome has."""
    return {k: genes[k] for k in TRAINING_GENES if k in genes}


def apply(fidelity: Any, genes: Mapping[str, Any]) -> Any:
    """``fidelity`` with the genome's training genes in place of its own values.

    Raises:
        ConfigError: A bad value (naming the gene), or a fidelity that has a signal.
    """
    found = training_genes(genes)
    if not found:
        return fidelity
    if fidelity.signal:
        raise ConfigError(
            f"training genes {sorted(found)} cannot train at fidelity {fidelity.name!r}: its "
            f"signal {fidelity.signal!r} was fitted on one recipe; use a measured level "
            "(fast, reference...)"
        )
    changes: dict[str, Any] = {}
    if "lr" in found:
        changes["lr"] = _number(found["lr"], "lr", 0.0, None, open_low=True)
    if "weight_decay" in found:
        changes["weight_decay"] = _number(found["weight_decay"], "weight_decay", 0.0, None)
    if "warmup" in found:
        share = _number(found["warmup"], "warmup", 0.0, 0.5)
        changes["warmup_steps"] = round(share * fidelity.total_steps)
    if "schedule" in found:
        from nas_env.evaluation.fidelity import SCHEDULES

        where = "training gene 'schedule'"
        changes["lr_schedule"] = expect_choice(found["schedule"], where, SCHEDULES)
    if "label_smoothing" in found:
        changes["label_smoothing"] = _number(found["label_smoothing"], "label_smoothing", 0.0, 0.5)
    return replace(fidelity, **changes)


def _number(value: Any, gene: str, low: float, high: float | None, open_low: bool = False) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` when ``open_low``).

    Raises:
        ConfigError: Not a number, or out of range (naming the gene and the range).
    """
    number = float(expect_number(value, f"training gene {gene!r}", finite=True))  # type: ignore[arg-type]
    if number < low or (open_low and number == low) or (high is not None and number > high):
        bound = f"{'>' if open_low else '>='} {low:g}" + (f" and <= {high:g}" if high else "")
        raise ConfigError(f"training gene {gene!r}={value!r} is invalid; allowed: {bound}")
    return number
