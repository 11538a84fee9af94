"""Where evaluations run: the executors behind `ParallelEvaluator`.

An executor runs one evaluation job (`nas_env.evaluation.jobs.run_job`) per call of
``run``, blocking until its result is back; the `ParallelEvaluator` calls it from up to
``capacity`` threads at once. Two kinds:

* ``local`` (`LocalPool`): a process pool on this machine (``spawn`` start, so that no
  torch or SQLite state is inherited). ``workers=1`` in the env settings needs no
  executor at all: evaluations then run in the env's own process, as always.
* ``ray`` (`nas_env.evaluation.ray_executor.RayExecutor`): Ray core tasks (CPU) or one
  long-lived actor per GPU, on this machine or a cluster (extra ``nas_env[ray]``).

A worker that dies mid-evaluation (killed, out of host memory, its node lost) is retried
up to ``max_retries`` times; after that ``run`` raises `WorkerLost`, which the
`ParallelEvaluator` records as an ``error`` result with the reason (never stored in the
cache, so a later request tries again).
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from nas_env.errors import NASEnvError
from nas_env.evaluation.jobs import EvaluatorRecipe, run_job
from nas_env.genome import Genome

EXECUTORS: tuple[str, ...] = ("local", "ray")


class WorkerLost(NASEnvError):
    """The worker running an evaluation died on every allowed attempt."""


class Executor(Protocol):
    """What `ParallelEvaluator` needs from an executor."""

    kind: str
    capacity: int

    def run(self, recipe: EvaluatorRecipe, genome: Genome) -> str:
        """Evaluate ``genome`` on a worker; its `EvalResult` as JSON.

        Raises:
            WorkerLost: The worker died on every attempt.
        """
        ...

    def shutdown(self) -> None:
        """Cancel what is in flight and stop the workers (no orphan processes)."""
        ...


class LocalPool:
    """A pool of ``workers`` processes on this machine.

    Args:
        workers: Processes (evaluations in flight).
        max_retries: Times an evaluation whose process died is run again.
    """

    kind = "local"

    def __init__(self, workers: int, max_retries: int = 2) -> None:
        self.capacity = int(workers)
        self.max_retries = int(max_retries)
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.capacity, mp_context=multiprocessing.get_context("spawn"))

    def run(self, recipe: EvaluatorRecipe, genome: Genome) -> str:
        last: BaseException | None = None
        for _attempt in range(1 + self.max_retries):
            with self._lock:
                if self._closed:
                    raise WorkerLost("the local process pool was shut down")
                pool = self._pool
            try:
                return pool.submit(run_job, recipe, genome).result()
            except BrokenProcessPool as exc:  # a worker died: every job of the pool failed
                last = exc
                with self._lock:
                    if self._pool is pool and not self._closed:
                        pool.shutdown(wait=False, cancel_futures=True)
                        self._pool = self._new_pool()
        raise WorkerLost(
            f"a local worker process died on all {1 + self.max_retries} attempt(s) "
            f"(max_retries={self.max_retries}): {last}"
        )

    def pids(self) -> list[int]:
        """Process ids of the pool's live workers."""
        processes = getattr(self._pool, "_processes", None) or {}
        return [p.pid for p in processes.values() if p.is_alive() and p.pid is not None]

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        # ProcessPoolExecutor has no public way to stop a running job: end the processes
        # themselves, so that an interrupted search leaves none behind.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
