"""What every evaluator offers the environment: `GenomeEvaluator`.

The built-in evaluators (training `Evaluator`, `ParallelEvaluator`, `PromotionEvaluator`,
`TableEvaluator`, `SurrogateEvaluator`) implement all of it; the environment uses an
evaluator only through these members, never by probing for attributes. A user's own
object needs only ``space`` and ``evaluate(genome)``: `as_genome_evaluator` adds the
rest (`ForeignEvaluator`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from nas_env.errors import ConfigError
from nas_env.evaluation.result import EvalResult
from nas_env.genome import Genome
from nas_env.space import SearchSpace


@runtime_checkable
class GenomeEvaluator(Protocol):
    """Scores genomes of one space on one task.

    Attributes:
        space: The space whose genomes it scores (its task spec is the real one).
    """

    space: SearchSpace

    @property
    def vocab_size(self) -> int:
        """The task's vocabulary size (perplexity-derived scores normalise by it)."""
        ...

    def evaluate(self, genome: Genome) -> EvalResult:
        """Score one genome; a failure is a result with a failure ``status``, not an
        exception."""
        ...

    def close(self) -> None:
        """Release what it holds open (result databases, workers); it reopens on use."""
        ...


class ForeignEvaluator:
    """A user's evaluator object with ``space`` and ``evaluate`` only, completed:
    ``vocab_size`` from its space's task spec, ``close`` its own if it has one.

    Args:
        inner: The user's object.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.space: SearchSpace = inner.space

    @property
    def vocab_size(self) -> int:
        """The vocabulary size of the space's task spec."""
        return int(self.space.task.vocab_size)

    def evaluate(self, genome: Genome) -> EvalResult:
        """The user's ``evaluate``."""
        return self.inner.evaluate(genome)

    def close(self) -> None:
        """The user's ``close()``, when it has one."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)  # the user's own extras stay reachable


def as_genome_evaluator(evaluator: Any) -> GenomeEvaluator:
    """``evaluator`` itself when it is a `GenomeEvaluator`, else wrapped in a
    `ForeignEvaluator`.

    Raises:
        ConfigError: It has no ``evaluate`` method or no ``space``.
    """
    if isinstance(evaluator, GenomeEvaluator):
        return evaluator
    if not callable(getattr(evaluator, "evaluate", None)) or not hasattr(evaluator, "space"):
        raise ConfigError(
            f"evaluator {evaluator!r} has no evaluate()/space; pass 'train', 'table', "
            "'surrogate' or an object with both"
        )
    return ForeignEvaluator(evaluator)
