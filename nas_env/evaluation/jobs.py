"""Evaluations as plain data, so that they can run in another process or on another node.

An `EvaluatorRecipe` holds what builds an `Evaluator` (space, task, fidelity, training
settings, cache root, vocabulary size); `run_evaluation` is what a worker runs: it builds the
recipe's evaluator once per process, **without a result cache** (only the driver writes
the cache), sets the torch threads it was given and returns the `EvalResult` as JSON.
The same code path as an in-process evaluation (`Evaluator.evaluate_uncached`), so a
genome gives the same result wherever it runs.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nas_env.evaluation.evaluator import Evaluator, TrainSettings
from nas_env.evaluation.fidelity import Fidelity
from nas_env.genome import Genome
from nas_env.space import SearchSpace


@dataclass(frozen=True)
class Ladder:
    """Where a recipe's evaluator sits on a promotion ladder (built in the worker, so that
    promotion runs on an executor): the rung steps, its rung, and the checkpoint folder
    the rungs share (a missing checkpoint means training from scratch, to the same result:
    workers on other machines are correct, only slower).
    """

    steps: tuple[int, ...]
    rung: int
    checkpoints: str
    checkpoint_mb: float


@dataclass(frozen=True)
class EvaluatorRecipe:
    """What builds an `Evaluator`: its constructor's arguments, as picklable data.

    Attributes:
        space: Space name, YAML path or `SearchSpace`.
        task: Task id.
        fidelity: The resolved fidelity (a `Fidelity`).
        settings: Training settings; ``threads`` is the CPU threads per evaluation and
            is part of every cache key.
        cache_root: Folder of tokenizers and token arrays (None: the worker's default,
            ``$NAS_ENV_CACHE`` or the user's cache folder).
        vocab_size: The task's vocabulary size (None: the space's).
        ladder: The promotion rung to build (None: the fidelity itself).
    """

    space: str | SearchSpace
    task: str
    fidelity: Fidelity
    settings: TrainSettings
    cache_root: str | None = None
    vocab_size: int | None = None
    ladder: Ladder | None = None

    @classmethod
    def of(
        cls,
        space: str | Path | SearchSpace,
        task: str,
        fidelity: Any,
        settings: TrainSettings,
        cache_root: str | Path | None = None,
        vocab_size: int | None = None,
    ) -> EvaluatorRecipe:
        """A recipe from `Evaluator`-style arguments (paths become strings, the fidelity
        is resolved)."""
        return cls(
            space=space if isinstance(space, SearchSpace) else str(space),
            task=task,
            fidelity=Fidelity.resolve(fidelity),
            settings=settings,
            cache_root=None if cache_root is None else str(cache_root),
            vocab_size=vocab_size,
        )

    def with_threads(self, threads: int) -> EvaluatorRecipe:
        """This recipe training with ``threads`` CPU threads."""
        return replace(self, settings=replace(self.settings, threads=int(threads)))

    def build(self, cache: str | Path | bool | None = False) -> Evaluator:
        """The evaluator (``cache=False``: no persistent result database); on a
        `ladder`, its rung (`Evaluator.at_rung`, each rung continuing from the one below)."""
        evaluator = Evaluator(
            self.space,
            task=self.task,
            fidelity=self.fidelity,
            settings=self.settings,
            cache=cache,
            cache_root=self.cache_root,
            vocab_size=self.vocab_size,
        )
        if self.ladder is None:
            return evaluator
        from nas_env.evaluation.checkpoints import CheckpointStore

        store = CheckpointStore(Path(self.ladder.checkpoints), self.ladder.checkpoint_mb)
        chain: list[Evaluator] = []
        for steps in self.ladder.steps[: self.ladder.rung + 1]:
            chain.append(evaluator.at_rung(steps, store, chain[-1] if chain else None))
        return chain[-1]


_BUILT: dict[EvaluatorRecipe, Evaluator] = {}
_BUILT_LOCK = threading.Lock()


def worker_evaluator(recipe: EvaluatorRecipe) -> Evaluator:
    """This process' evaluator of ``recipe`` (built on first use: task data loaded once)."""
    with _BUILT_LOCK:
        evaluator = _BUILT.get(recipe)
        if evaluator is None:
            evaluator = recipe.build(cache=False)
            _BUILT[recipe] = evaluator
        return evaluator


def run_evaluation(recipe: EvaluatorRecipe, genome: Genome, threads: int | None = None) -> str:
    """Evaluate one genome in this process; the `EvalResult` as JSON.

    Args:
        recipe: The evaluator to use.
        genome: The genome.
        threads: CPU threads granted to this evaluation (Ray's assigned CPUs); None: the
            recipe's ``settings.threads``. Training runs with the recipe's thread count,
            which is part of the cache key, so a grant that differs is an error.

    Raises:
        ValueError: ``threads`` differs from the recipe's thread count.
    """
    wanted = recipe.settings.threads
    if threads is not None and wanted is not None and int(threads) != wanted:
        raise ValueError(
            f"run_evaluation: this worker was granted {threads} CPU(s) but the evaluation's cache "
            f"key says threads={wanted}; ask for cpus_per_eval={wanted}"
        )
    if wanted is not None:
        os.environ["OMP_NUM_THREADS"] = str(wanted)
    return worker_evaluator(recipe).evaluate_uncached(genome).to_json()
