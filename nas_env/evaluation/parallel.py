"""Several candidates in flight: an evaluator that trains on an executor's workers.

`ParallelEvaluator` is what the env uses when its settings name an executor (``ray``, or
``local`` with ``workers > 1``). It keeps the driver in charge of everything stateful:

* Keys, the result cache and the claims stay on the driver: the workers evaluate with no
  cache (`nas_env.evaluation.jobs.run_evaluation`), and only the driver writes the database.
  A claim (see `ResultCache.compute`) still stops another process sharing the database
  from training the same genome.
* `submit` returns a `concurrent.futures.Future`; a genome already in flight from this
  evaluator (submitted, and not yet collected by `evaluate`) is never submitted twice
  (its future is shared), a cached one resolves at once. `evaluate` waits on that
  future, so the env's step works unchanged, and a vector env or a baseline that
  submits its next candidates first keeps the workers busy
  (`agents.vec_env.InFlightVecEnv`, the baselines' ``in_flight``).
* A worker lost on every attempt (`WorkerLost`), or a result computed on other task data
  (another task fingerprint: a node with other files), becomes an ``error`` result with
  the reason; errors are not cached, so the genome is tried again when asked again.

Results are the same as in-process evaluation of the same genome and settings: the same
`Evaluator` code runs on the worker with the recipe's thread count, which is part of the
key.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from models import TaskSpec
from nas_env.evaluation.cache import ResultCache
from nas_env.evaluation.evaluator import Evaluator, TrainSettings
from nas_env.evaluation.executors import Executor, WorkerLost
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.jobs import EvaluatorRecipe
from nas_env.evaluation.result import EvalResult
from nas_env.genome import Genome
from nas_env.space import SearchSpace


class ParallelEvaluator:
    """Evaluate genomes of one recipe on an executor, through the driver's cache.

    Args:
        recipe: The evaluator the workers build (its ``settings.threads`` is set).
        executor: Where evaluations run (`LocalPool`, `RayExecutor`, or a test's own).
        driver: The driver-side evaluator (keys, cache, space, task); None: built from
            ``recipe`` with ``cache``.
        cache: The result database (see `Evaluator`'s ``cache``), when ``driver`` is None.

    Attributes:
        submitted: Evaluations handed to the executor so far (cache hits and shared
            in-flight requests are not counted).
    """

    def __init__(
        self,
        recipe: EvaluatorRecipe,
        executor: Executor,
        driver: Evaluator | None = None,
        cache: Any = None,
    ) -> None:
        if recipe.settings.threads is None:
            raise ValueError("ParallelEvaluator: the recipe needs settings.threads (per worker)")
        self.recipe = recipe
        self.executor = executor
        self.driver = driver if driver is not None else recipe.build(cache=cache)
        self.capacity = int(executor.capacity)
        self.submitted = 0
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[EvalResult]] = {}
        self._threads = ThreadPoolExecutor(self.capacity, thread_name_prefix="nas-eval")
        self._closed = False

    # what the driver knows, read through it (never copied: one source of truth)
    @property
    def space(self) -> SearchSpace:
        """The driver's space (with the task's real spec)."""
        return self.driver.space

    @property
    def spec(self) -> TaskSpec:
        """The driver's task spec."""
        return self.driver.spec

    @property
    def task(self) -> Any:
        """The driver's task."""
        return self.driver.task

    @property
    def task_id(self) -> str:
        """The driver's task id."""
        return self.driver.task_id

    @property
    def fidelity(self) -> Fidelity:
        """The driver's fidelity."""
        return self.driver.fidelity

    @property
    def settings(self) -> TrainSettings:
        """The driver's training settings."""
        return self.driver.settings

    @property
    def cache(self) -> ResultCache:
        """The driver's result database (only the driver writes it)."""
        return self.driver.cache

    @property
    def vocab_size(self) -> int:
        """The driver's vocabulary size."""
        return self.driver.vocab_size

    def key(self, genome: Genome) -> str:
        """The cache key of ``genome`` (see `Evaluator.key`)."""
        return self.driver.key(genome)

    def context_key(self) -> str:
        """See `Evaluator.context_key`."""
        return self.driver.context_key()

    def in_flight(self) -> int:
        """Evaluations submitted and not finished."""
        with self._lock:
            return sum(1 for f in self._in_flight.values() if not f.done())

    def submit(self, genome: Genome) -> Future[EvalResult]:
        """Start evaluating ``genome`` (or join its evaluation in flight); its future.

        Raises:
            RuntimeError: The evaluator was closed.
        """
        key = self.key(genome)
        with self._lock:
            if self._closed:
                raise RuntimeError("ParallelEvaluator: closed")
            running = self._in_flight.get(key)
            if running is not None:
                return running
        found = self.cache.get(key)
        done: Future[EvalResult] = Future()
        if found is not None:
            done.set_result(found)
            return done
        with self._lock:
            running = self._in_flight.get(key)
            if running is not None:  # another thread submitted it meanwhile
                return running
            future = self._threads.submit(self._compute, key, genome)
            self._in_flight[key] = future
        return future

    def evaluate(self, genome: Genome) -> EvalResult:
        """The result of ``genome`` (waits for it; see `submit`). The first call after a
        submission gets the result as computed (``cache_hit`` False); later ones read it
        from the cache."""
        key = self.key(genome)
        future = self.submit(genome)
        result = future.result()
        with self._lock:
            if self._in_flight.get(key) is future:
                del self._in_flight[key]
        return result

    def _compute(self, key: str, genome: Genome) -> EvalResult:
        return self.cache.compute(
            key,
            lambda: self._run(genome),
            fidelity=self.fidelity.name,
            seed=self.settings.seed,
        )

    def _run(self, genome: Genome) -> EvalResult:
        with self._lock:
            self.submitted += 1
        try:
            result = EvalResult.from_json(self.executor.run(self.recipe, genome))
        except WorkerLost as exc:
            return self._error(genome, str(exc))
        except Exception as exc:  # a bug on the worker: a result, never a crash of the search
            return self._error(genome, f"{type(exc).__name__} on the worker: {exc}")
        expected = self.driver.task_fingerprint
        if result.task_fingerprint != expected:
            return self._error(
                genome,
                f"the worker's task data differ (fingerprint {result.task_fingerprint}, the "
                f"driver's {expected}): install the same nas_env version on every node",
            )
        return result

    def _error(self, genome: Genome, message: str) -> EvalResult:
        base = self.driver.base_fields(genome)
        return EvalResult(status="error", message=message, **base)

    def close(self) -> None:
        """Cancel what is in flight, stop the workers and close the cache connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.executor.shutdown()
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.cache.close()
