"""The ``ray`` executor: evaluations as Ray core tasks, or on one actor per GPU.

Needs the optional extra ``pip install 'nas_env[ray]'`` (Ray core; the dashboard of
``ray[default]`` is not needed). Connects to ``address`` (``auto``: the cluster this
node belongs to, ``ray://...``: a Ray client address), else to ``$RAY_ADDRESS``, else
starts a private local instance with ``workers * cpus_per_eval`` CPUs, which it shuts
down again on `RayExecutor.shutdown`.

* CPU evaluations are tasks (``num_cpus=cpus_per_eval``, ``max_retries``): Ray runs them
  in its pooled worker processes and retries one whose worker died.
* GPU evaluations (``gpus_per_eval > 0``), or ``actors=True``, run on ``workers``
  long-lived actors (``max_restarts`` / ``max_task_retries`` = ``max_retries``), each
  holding its task data and CUDA context across candidates. An actor that died for good is
  replaced, so the pool keeps its size.

Each evaluation sets torch's CPU threads from the CPUs Ray assigned to it
(`ray.get_runtime_context().get_assigned_resources`), which must equal the evaluation's
``threads`` (part of its cache key). The package must be importable on every node: the
same ``pip install`` there, or the driver run as a Ray job with its ``runtime_env``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from typing import Any

from nas_env.errors import ConfigError
from nas_env.evaluation.executors import ExecutorSettings, WorkerLost
from nas_env.evaluation.jobs import EvaluatorRecipe, run_evaluation
from nas_env.genome import Genome

POLL_S = 0.5
"""How often a thread waiting on an evaluation checks that the executor is still open."""


def import_ray() -> Any:
    """The ``ray`` module, or a clear error naming the extra to install.

    Raises:
        ConfigError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "executor 'ray' needs Ray: pip install 'nas_env[ray]' (Ray core); "
            "or use executor='local'"
        ) from None
    return ray


def _granted_cpus(ray: Any) -> int | None:
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    return round(cpus) if cpus else None


def evaluate_task(recipe: EvaluatorRecipe, genome: Genome) -> str:
    """The body of a Ray evaluation task (see `run_evaluation`)."""
    import ray

    return run_evaluation(recipe, genome, _granted_cpus(ray))


class EvaluationActor:
    """A long-lived evaluation worker (one per GPU): keeps task data and evaluators."""

    def evaluate(self, recipe: EvaluatorRecipe, genome: Genome) -> str:
        """See `run_evaluation`."""
        return evaluate_task(recipe, genome)


class RayExecutor:
    """Evaluations on Ray (see the module docstring).

    Args:
        workers: Evaluations in flight at once (actors in the actor pool).
        cpus_per_eval: CPUs (and torch threads) of one evaluation.
        gpus_per_eval: GPUs of one evaluation (> 0: the actor pool).
        max_retries: Times an evaluation whose worker died is run again.
        address: Cluster address (None: ``$RAY_ADDRESS``, else a private local instance).
        actors: Use the actor pool for CPU evaluations too (None: only with GPUs).
    """

    kind = "ray"

    def __init__(
        self,
        workers: int,
        cpus_per_eval: int = 1,
        gpus_per_eval: float = 0.0,
        max_retries: int = 2,
        address: str | None = None,
        actors: bool | None = None,
    ) -> None:
        ray = import_ray()
        self.ray = ray
        self.capacity = int(workers)
        self.cpus = int(cpus_per_eval)
        self.gpus = float(gpus_per_eval)
        self.max_retries = int(max_retries)
        self.owns_ray = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                options["address"] = address
            elif not os.environ.get("RAY_ADDRESS"):
                options["num_cpus"] = self.capacity * self.cpus
                if self.gpus:
                    options["num_gpus"] = max(1, int(self.capacity * self.gpus + 0.999))
            ray.init(**options)
            self.owns_ray = True
        self._lock = threading.Lock()
        self._refs: set[Any] = set()
        self._closed = False
        self.use_actors = bool(self.gpus > 0 if actors is None else actors)
        self._idle: queue.Queue[Any] = queue.Queue()
        self._actors: list[Any] = []
        if self.use_actors:
            for _ in range(self.capacity):
                self._idle.put(self._new_actor())
        else:
            self._task = ray.remote(evaluate_task).options(
                num_cpus=self.cpus,
                num_gpus=self.gpus,
                max_retries=self.max_retries,
                retry_exceptions=False,
            )

    def _new_actor(self) -> Any:
        actor_class = self.ray.remote(EvaluationActor).options(
            num_cpus=self.cpus,
            num_gpus=self.gpus,
            max_restarts=self.max_retries,
            max_task_retries=self.max_retries,
        )
        actor = actor_class.remote()
        with self._lock:
            self._actors.append(actor)
        return actor

    def _lost(self) -> tuple[type[BaseException], ...]:
        errors = self.ray.exceptions
        names = ("WorkerCrashedError", "RayActorError", "NodeDiedError", "ObjectLostError")
        return tuple(getattr(errors, n) for n in names if hasattr(errors, n))

    def _get(self, ref: Any) -> str:
        with self._lock:
            if self._closed:
                self.ray.cancel(ref, force=True)
                raise WorkerLost("the Ray executor was shut down")
            self._refs.add(ref)
        try:
            return str(self._wait(ref))
        except self._lost() as exc:
            raise WorkerLost(
                f"the Ray worker died on all {1 + self.max_retries} attempt(s) "
                f"(max_retries={self.max_retries}): {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        except self.ray.exceptions.TaskCancelledError:
            raise WorkerLost("the evaluation was cancelled (the search was interrupted)") from None
        finally:
            with self._lock:
                self._refs.discard(ref)

    def _wait(self, ref: Any) -> Any:
        """``ray.get(ref)``, polled so that a thread waiting on it leaves within
        `POLL_S` of `shutdown` (a blocking get on a cancelled task can outlive Ray itself,
        and the evaluation pool joins its threads on close)."""
        while True:
            try:
                ready, _ = self.ray.wait([ref], timeout=POLL_S)
            except Exception:
                if self._closed:
                    raise WorkerLost("the Ray executor was shut down") from None
                raise
            if ready:
                return self.ray.get(ref)
            if self._closed:
                raise WorkerLost("the Ray executor was shut down")

    def _submit(self, call: Any) -> Any:
        """``call()`` (a ``.remote`` submission) unless shut down: a submission after
        ``ray.shutdown`` would start a new local Ray instance from a pool thread."""
        with self._lock:
            if self._closed:
                raise WorkerLost("the Ray executor was shut down")
            return call()

    def run(self, recipe: EvaluatorRecipe, genome: Genome) -> str:
        if not self.use_actors:
            return self._get(self._submit(lambda: self._task.remote(recipe, genome)))
        actor = None
        while actor is None:  # never stuck waiting for an actor once shut down
            if self._closed:
                raise WorkerLost("the Ray executor was shut down")
            try:
                actor = self._idle.get(timeout=0.5)
            except queue.Empty:
                continue
        try:
            result = self._get(self._submit(lambda: actor.evaluate.remote(recipe, genome)))
        except WorkerLost:
            if not self._closed:  # its restarts are used up: a fresh actor keeps the pool's size
                self.ray.kill(actor, no_restart=True)
                with self._lock:
                    self._actors.remove(actor)
                actor = self._new_actor()
            raise
        finally:
            self._idle.put(actor)
        return result

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            refs = list(self._refs)
            actors = list(self._actors)
        for ref in refs:  # nothing left running on the cluster for this search
            with contextlib.suppress(Exception):  # an already finished or lost task
                self.ray.cancel(ref, force=not self.use_actors)
        for actor in actors:
            self.ray.kill(actor, no_restart=True)
        deadline = time.monotonic() + 10 * POLL_S
        while self._refs and time.monotonic() < deadline:  # waiting threads leave `_wait`
            time.sleep(POLL_S / 10)
        if self.owns_ray:
            self.ray.shutdown()


def from_settings(settings: ExecutorSettings) -> RayExecutor:
    """A `RayExecutor` from the env's settings (`EXECUTOR_KINDS` entry ``ray``)."""
    return RayExecutor(
        settings.workers,
        cpus_per_eval=settings.cpus_per_eval,
        gpus_per_eval=settings.gpus_per_eval,
        max_retries=settings.max_retries,
        address=settings.ray_address,
    )
