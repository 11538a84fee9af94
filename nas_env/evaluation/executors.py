"""Where evaluations run: the executors behind `ParallelEvaluator`.

An executor runs one evaluation job (`nas_env.evaluation.jobs.run_evaluation`) per call of
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

Executors are chosen by name from `EXECUTOR_KINDS` (one `ExecutorKind` each: how to build
it from the env's settings, whether it is remote, how to describe it). Adding one: a
module with the executor class and its `ExecutorKind` line here.
"""

from __future__ import annotations

import importlib
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from nas_env.checks import describe, expect_int, expect_number
from nas_env.errors import ConfigError, NASEnvError
from nas_env.evaluation.jobs import EvaluatorRecipe, run_evaluation
from nas_env.genome import Genome


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
                return pool.submit(run_evaluation, recipe, genome).result()
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


@dataclass(frozen=True)
class ExecutorSettings:
    """Where trained evaluations run: the env's ``executor`` arguments (the fields are the
    argument names but ``kind``, which is ``executor``).

    Attributes:
        kind: ``local`` (in this process, or a pool of ``workers`` processes on this
            machine) or ``ray`` (Ray core, the extra ``nas_env[ray]``;
            `nas_env.evaluation.ray_executor`): a key of `EXECUTOR_KINDS`.
        workers: Evaluations in flight at once (1 with ``local``: in this process).
        ray_address: The Ray cluster to join (``auto``, ``ray://host:10001``; None:
            ``$RAY_ADDRESS``, else a private local Ray instance).
        cpus_per_eval: CPUs, and so torch threads, of one evaluation on a worker (part
            of the cache key, as ``threads``).
        gpus_per_eval: GPUs of one evaluation (a remote executor only; > 0 runs one
            long-lived actor per worker slot).
        max_retries: Times an evaluation whose worker died is run again before it is
            recorded as ``error``.

    Raises:
        ConfigError: A bad value, named by its argument (``"workers: ..."``).
    """

    kind: str = "local"
    workers: int = 1
    ray_address: str | None = None
    cpus_per_eval: int = 1
    gpus_per_eval: float = 0.0
    max_retries: int = 2

    def __post_init__(self) -> None:
        executor_kind(self.kind)
        expect_int(self.workers, "workers", minimum=1)
        expect_int(self.cpus_per_eval, "cpus_per_eval", minimum=1)
        expect_int(self.max_retries, "max_retries", minimum=0)
        gpus = expect_number(self.gpus_per_eval, "gpus_per_eval", minimum=0)
        if gpus and not self.remote:
            raise ConfigError(
                f"gpus_per_eval: {gpus:g} needs a remote executor ({', '.join(REMOTE_EXECUTORS)}: "
                f"GPU actors); with executor={self.kind!r} candidates train on this "
                "process' device"
            )
        if self.ray_address is not None:
            if not isinstance(self.ray_address, str) or not self.ray_address:
                raise ConfigError(
                    f"ray_address: {describe(self.ray_address)} is not allowed; allowed: "
                    "auto, host:port, ray://host:port or None"
                )
            if not self.remote:
                raise ConfigError(
                    f"ray_address: {self.ray_address!r} needs a remote executor "
                    f"({', '.join(REMOTE_EXECUTORS)}; it is {self.kind!r})"
                )

    @property
    def remote(self) -> bool:
        """Evaluations always run in the executor's workers (`ExecutorKind.remote`)."""
        return executor_kind(self.kind).remote

    @property
    def parallel(self) -> bool:
        """Evaluations run on an executor's workers (not in the env's process)."""
        return self.remote or self.workers > 1

    @property
    def remote_gpus(self) -> bool:
        """Evaluations run on GPUs of remote workers (the driver needs none)."""
        return self.remote and bool(self.gpus_per_eval)

    def build(self) -> Executor:
        """The executor these settings name (its module imported on first use)."""
        return executor_kind(self.kind).build(self)

    def describe(self) -> str:
        """Where candidates train, for the start of a run."""
        return executor_kind(self.kind).describe(self)


def local_pool(settings: ExecutorSettings) -> LocalPool:
    """A `LocalPool` of ``settings.workers`` processes."""
    return LocalPool(settings.workers, max_retries=settings.max_retries)


@dataclass(frozen=True)
class ExecutorKind:
    """One kind of executor.

    Attributes:
        name: Its ``executor=`` value.
        remote: Evaluations always run in its workers (even ``workers=1``), which may hold
            GPUs (``gpus_per_eval``) and join a cluster (``ray_address``).
        factory: ``module:function`` building the executor from `ExecutorSettings`
            (imported on first use: an optional extra stays unimported).
        where: How a run banner says where candidates train (``{workers}`` and
            ``{address}`` filled in).
    """

    name: str
    remote: bool
    factory: str
    where: str

    def build(self, settings: ExecutorSettings) -> Executor:
        """The executor for ``settings``.

        Raises:
            ConfigError: Its optional extra is not installed.
        """
        module, function = self.factory.split(":")
        make: Callable[[Any], Executor] = getattr(importlib.import_module(module), function)
        return make(settings)

    def describe(self, settings: ExecutorSettings) -> str:
        """Where candidates train, for the start of a run."""
        address = settings.ray_address or "$RAY_ADDRESS or a local Ray instance"
        return self.where.format(workers=settings.workers, address=address)


EXECUTOR_KINDS: dict[str, ExecutorKind] = {
    "local": ExecutorKind(
        "local", False, "nas_env.evaluation.executors:local_pool",
        "a pool of {workers} local processes",
    ),
    "ray": ExecutorKind(
        "ray", True, "nas_env.evaluation.ray_executor:from_settings",
        "Ray ({address}), {workers} evaluations at once",
    ),
}  # fmt: skip
"""Every executor by name."""
EXECUTORS: tuple[str, ...] = tuple(EXECUTOR_KINDS)
REMOTE_EXECUTORS: tuple[str, ...] = tuple(n for n, k in EXECUTOR_KINDS.items() if k.remote)


def executor_kind(name: str) -> ExecutorKind:
    """The executor kind called ``name``.

    Raises:
        ConfigError: No such executor.
    """
    found = EXECUTOR_KINDS.get(name)
    if found is None:
        raise ConfigError(f"executor: {name!r} is not allowed; allowed: {', '.join(EXECUTORS)}")
    return found
