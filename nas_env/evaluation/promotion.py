"""Promotion (successive halving, ASHA-style) inside the environment.

A ladder of rungs trains a candidate for the first ``steps[0] < steps[1] < ... <
steps[-1]`` optimizer steps of one learning-rate schedule (the top rung is the search
fidelity itself). `PromotionEvaluator.evaluate` trains a new candidate at the lowest rung;
while its held-out loss is in the top ``ceil(n / eta)`` of the ``n`` losses seen at that
rung for this context (`RungLog`, shared across processes through the cache folder), it
continues from its checkpoint to the next rung, up to the top. Asynchronous like ASHA: a
candidate is judged against those seen so far, one at a time, so it works for a single env
and for vector envs alike; a candidate met again later is judged again (and continues
from the rung it reached, at the cost of the missing steps only).

Scores across rungs: a candidate that stops below the top gets, as ``val_loss``, an
estimate of its top-rung loss from a calibration fitted on every genome of the context
measured at both its rung and the top rung (`fit_calibration`): the least-squares line
``top = a + b * rung_loss`` once ``min_pairs`` genomes with distinct losses give a
positive slope, else a shift by the mean difference once one genome does, else no change
(``none``: a low rung's loss is then higher than it would be at the top, which is what
stopping early implies). ``rung_val_loss`` keeps the measured loss, ``calibration`` says
which map was used, ``cost_steps`` the optimizer steps this call trained.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from nas_env.checks import expect_int
from nas_env.errors import ConfigError
from nas_env.evaluation.result import EvalResult
from nas_env.evaluation.rung_log import RungLog
from nas_env.genome import Genome
from nas_env.tasks.kinds import kind_of_metric

DEFAULT_ETA = 3
DEFAULT_RUNGS = 2
MIN_PAIRS = 3


def rung_steps(top: int, rungs: int, eta: int) -> tuple[int, ...]:
    """The steps of each rung: ``top / eta**k`` rounded, lowest first, ending at ``top``.

    Raises:
        ConfigError: ``rungs`` or ``eta`` below 2 (``rungs`` may be 1: no promotion), or
            rungs that would not grow strictly (too many rungs for ``top`` steps).
    """
    expect_int(rungs, "promotion rungs", minimum=1)
    expect_int(eta, "promotion eta", minimum=2)
    steps = tuple(max(1, round(top / eta ** (rungs - 1 - i))) for i in range(rungs))
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ConfigError(
            f"promotion: {rungs} rungs with eta={eta} do not fit in {top} steps "
            f"(rungs {list(steps)}); use fewer rungs or a smaller eta"
        )
    return steps


@dataclass(frozen=True)
class Calibration:
    """A map from one rung's loss to the top rung's: ``top = offset + slope * loss``."""

    kind: str  # top | linear | shift | none
    offset: float = 0.0
    slope: float = 1.0
    pairs: int = 0

    def __call__(self, loss: float) -> float:
        return self.offset + self.slope * loss

    @property
    def label(self) -> str:
        """``kind`` with the number of genomes it was fitted on (``linear:12``)."""
        return self.kind if self.kind in ("top", "none") else f"{self.kind}:{self.pairs}"


def fit_calibration(
    pairs: Sequence[tuple[float, float]], min_pairs: int = MIN_PAIRS
) -> Calibration:
    """The calibration of (rung loss, top loss) pairs, by the module's rule."""
    if not pairs:
        return Calibration("none")
    n = len(pairs)
    xs = [p[0] for p in pairs]
    ys = [p[1] for p in pairs]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if n >= min_pairs and sxx > 1e-12:
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        if slope > 0:
            return Calibration("linear", my - slope * mx, slope, n)
    return Calibration("shift", my - mx, 1.0, n)


class PromotionEvaluator:
    """Successive halving over a ladder of rung evaluators (see the module docstring).

    Args:
        rungs: One evaluator per rung, lowest first; each ``evaluate(genome)`` returns the
            result at that rung (a training rung continues from the checkpoint of the rung
            below, `Evaluator.at_rung`; a benchmark serves the rung's stored result).
        steps: Optimizer steps of each rung (strictly increasing).
        eta: Keep the top ``ceil(n / eta)`` at each rung.
        log: Where rung losses are shared.
        context: The `RungLog` context (which evaluations are comparable).
        min_pairs: Genomes measured at both rungs before the linear calibration is used.

    Attributes:
        space: The search space (the top rung's).
        top: The top rung's evaluator (``fidelity``, ``task_id``... are read from it).
    """

    def __init__(
        self,
        rungs: Sequence[Any],
        steps: Sequence[int],
        eta: int,
        log: RungLog,
        context: str,
        min_pairs: int = MIN_PAIRS,
    ) -> None:
        if len(rungs) != len(steps) or not rungs:
            raise ConfigError(
                f"PromotionEvaluator: {len(rungs)} rung evaluators for {len(steps)} rung steps"
            )
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ConfigError(f"PromotionEvaluator: rung steps must increase, got {list(steps)}")
        self.rungs = list(rungs)
        self.steps = tuple(int(s) for s in steps)
        self.eta = int(expect_int(eta, "promotion eta", minimum=2) or DEFAULT_ETA)
        self.log = log
        self.context = context
        self.min_pairs = min_pairs
        self.top = self.rungs[-1]
        self.space = self.top.space
        self._served: set[tuple[str, int]] = set()  # table rungs already "trained"

    # attributes the reward set-up and the records read from an evaluator
    def __getattr__(self, name: str) -> Any:
        if name in ("spec", "meta", "task_id", "fidelity", "settings", "task", "path"):
            return getattr(self.top, name)
        raise AttributeError(name)

    @property
    def vocab_size(self) -> int:
        """The top rung's vocabulary size."""
        return self.top.vocab_size

    def close(self) -> None:
        """Close the rung log and each rung's result cache."""
        self.log.close()
        for rung in self.rungs:
            rung.close()

    # -- the ladder ----------------------------------------------------------------------
    def promoted(self, rung: int, genome_key: str, loss: float) -> bool:
        """Whether ``loss`` (already logged) is in the top ``ceil(n / eta)`` at ``rung``,
        or the genome has been promoted past it before."""
        if genome_key in self.log.losses(self.context, rung + 1):
            return True
        losses = self.log.losses(self.context, rung)
        better = sum(1 for key, other in losses.items() if other < loss and key != genome_key)
        return better * self.eta < max(1, len(losses))

    def calibration(self, rung: int) -> Calibration:
        """The map from ``rung``'s loss to the top rung's, fitted on the log now."""
        top = len(self.rungs) - 1
        if rung == top:
            return Calibration("top")
        low = self.log.losses(self.context, rung)
        high = self.log.losses(self.context, top)
        pairs = [(low[k], high[k]) for k in low.keys() & high.keys()]
        return fit_calibration(sorted(pairs), self.min_pairs)

    def _cost(self, result: EvalResult, rung: int, genome_key: str) -> int:
        """Optimizer steps this rung trained now: from the result for real training (a
        failed run counts the whole rung), simulated for a benchmark's rung the first
        time this evaluator serves it (continuing from the rung below when it served
        that too)."""
        below = self.steps[rung - 1] if rung else 0
        if result.source == "train":
            if result.cache_hit:
                return 0
            if result.steps is None:
                return self.steps[rung] - below
            return int(result.steps - (result.resumed_from or 0))
        if (genome_key, rung) in self._served:
            return 0
        self._served.add((genome_key, rung))
        continued = rung and (genome_key, rung - 1) in self._served
        return self.steps[rung] - (below if continued else 0)

    def evaluate(self, genome: Genome) -> EvalResult:
        """The result at the highest rung ``genome`` reaches, its loss calibrated to the top
        rung (see the module docstring); never raises for a bad candidate."""
        key = genome.key()
        cost = 0
        hits = True
        result: EvalResult | None = None
        reached = 0
        for index, evaluator in enumerate(self.rungs):
            result = evaluator.evaluate(genome)
            reached = index
            cost += self._cost(result, index, key)
            hits = hits and result.cache_hit
            if not result.ok or result.val_loss is None:
                break
            self.log.add(self.context, index, key, result.val_loss)
            if index == len(self.rungs) - 1 or not self.promoted(index, key, result.val_loss):
                break
        assert result is not None
        common = {"rung": reached, "rungs": len(self.rungs), "cost_steps": cost, "cache_hit": hits}
        if not result.ok or result.val_loss is None:
            return replace(result, **common)
        calibration = self.calibration(reached)
        loss = calibration(result.val_loss)
        kind = kind_of_metric(result.metric)
        log_ppl = kind is not None and kind.loss_is_log_perplexity
        perplexity = math.exp(min(loss, 700.0)) if log_ppl else None
        return replace(
            result,
            **common,
            rung_val_loss=result.val_loss,
            val_loss=loss,
            perplexity=perplexity if perplexity is not None else result.perplexity,
            calibration=calibration.label,
        )
