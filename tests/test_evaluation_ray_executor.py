"""The Ray executor on a real local Ray instance (`ray_session`: ``ray.init(num_cpus=2)``
once per session): the local executor's results, no duplicate training, killed workers
retried or recorded as errors, no task left behind on shutdown."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nas_env.evaluation import TrainSettings
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.jobs import EvaluatorRecipe
from nas_env.evaluation.parallel import ParallelEvaluator
from nas_env.genome import Genome

pytestmark = pytest.mark.ray

DETERMINISTIC = ("status", "val_loss", "val_loss_se", "params", "size_mb", "steps")
SLOW_FIDELITY = {"steps": 200, "batch_size": 8, "lr": 1e-3, "warmup_steps": 10, "eval_tokens": 2048}
"""Long enough (a few seconds) to find the worker's process and kill it mid-training."""


TINY = Fidelity.resolve("tiny", max_seconds=600)
"""`tiny` with a wall-clock cap a loaded machine cannot reach (its own 60 s can be, in
validation, when other jobs share the cores)."""


def recipe(fidelity: Any = TINY) -> EvaluatorRecipe:
    return EvaluatorRecipe.of("tiny", "lm/stdlib", fidelity, TrainSettings(threads=1))


def executor(**kwargs: Any) -> Any:
    from nas_env.evaluation.ray_executor import RayExecutor

    return RayExecutor(2, **kwargs)


def same(a: Any, b: Any) -> bool:
    return all(getattr(a, k) == getattr(b, k) for k in DETERMINISTIC)


def worker_processes(title: str) -> list[int]:
    """Pids whose process title (Ray sets ``ray::<task>`` while a task runs) starts so."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if command.startswith(title):
            found.append(int(entry.name))
    return found


def wait_for(title: str, seconds: float = 60.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = worker_processes(title)
        if pids:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"no process titled {title!r} within {seconds} s")


@pytest.fixture
def genomes(tiny) -> list[Genome]:
    rng = np.random.default_rng(5)
    out: dict[str, Genome] = {}
    while len(out) < 2:
        g = tiny.random_genome(rng)
        out[g.key()] = g
    return list(out.values())


@pytest.mark.slow  # starts a local Ray instance and trains on its workers (about a minute)
def test_ray_gives_the_local_results_and_trains_a_genome_in_flight_once(
    ray_session: Any, genomes: list[Genome], tmp_path: Path
) -> None:
    local = recipe().build(cache=False)
    evaluator = ParallelEvaluator(recipe(), executor(), cache=tmp_path / "r.sqlite")
    try:
        futures = [evaluator.submit(g) for g in (*genomes, genomes[0])]
        assert futures[0] is futures[2]
        results = [f.result(timeout=300) for f in futures]
        assert evaluator.submitted == 2
        assert not evaluator.evaluate(genomes[1]).cache_hit  # collected as computed
        assert evaluator.evaluate(genomes[1]).cache_hit and evaluator.submitted == 2
    finally:
        evaluator.close()
    for genome, result in zip(genomes, results, strict=False):
        assert result.ok, result.message
        assert same(result, local.evaluate(genome))
        assert result.threads == 1
    assert ray_session.is_initialized()  # an executor that joined Ray leaves it up


@pytest.mark.slow
@pytest.mark.parametrize("actors", [False, True], ids=["tasks", "actors"])
def test_a_killed_worker_is_retried_and_gives_the_same_result(
    ray_session: Any, genomes: list[Genome], actors: bool
) -> None:
    slow = recipe(SLOW_FIDELITY)
    evaluator = ParallelEvaluator(slow, executor(max_retries=1, actors=actors), cache=False)
    title = "ray::EvaluationActor.evaluate" if actors else "ray::evaluate_task"
    try:
        future = evaluator.submit(genomes[0])
        os.kill(wait_for(title)[0], signal.SIGKILL)
        result = future.result(timeout=300)
    finally:
        evaluator.close()
    assert result.ok, result.message
    assert same(result, slow.build(cache=False).evaluate(genomes[0]))


@pytest.mark.slow
def test_a_worker_killed_on_every_attempt_is_an_error_and_the_search_goes_on(
    ray_session: Any, genomes: list[Genome], tmp_path: Path
) -> None:
    evaluator = ParallelEvaluator(
        recipe(SLOW_FIDELITY), executor(max_retries=0), cache=tmp_path / "r.sqlite"
    )
    try:
        future = evaluator.submit(genomes[0])
        os.kill(wait_for("ray::evaluate_task")[0], signal.SIGKILL)
        lost = future.result(timeout=300)
        assert lost.status == "error" and "died on all 1 attempt" in lost.message
        assert evaluator.cache.get(evaluator.key(genomes[0])) is None
        assert evaluator.evaluate(genomes[1]).ok
    finally:
        evaluator.close()


@pytest.mark.slow
def test_shutdown_cancels_what_is_in_flight_and_leaves_no_task_running(
    ray_session: Any, genomes: list[Genome]
) -> None:
    evaluator = ParallelEvaluator(recipe(SLOW_FIDELITY), executor(), cache=False)
    futures = [evaluator.submit(g) for g in genomes]
    wait_for("ray::evaluate_task")
    closer = threading.Thread(target=evaluator.close)
    closer.start()
    closer.join(timeout=60)
    assert not closer.is_alive()
    results = [f.result(timeout=60) for f in futures]
    assert all(r.status == "error" for r in results)
    assert any("cancelled" in r.message or "shut down" in r.message for r in results)
    deadline = time.monotonic() + 30
    while worker_processes("ray::evaluate_task") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker_processes("ray::evaluate_task") == []


def test_nothing_is_submitted_once_shut_down() -> None:
    # A submission after ray.shutdown() would start a new local Ray instance from the pool
    # thread that makes it (an interrupted search then exited 1 instead of 130).
    from nas_env.evaluation.executors import WorkerLost
    from nas_env.evaluation.ray_executor import RayExecutor

    executor = RayExecutor.__new__(RayExecutor)
    executor._lock = threading.Lock()
    executor._closed = False
    submitted: list[int] = []
    assert executor._submit(lambda: submitted.append(1) or "ref") == "ref"
    executor._closed = True
    with pytest.raises(WorkerLost, match="shut down"):
        executor._submit(lambda: submitted.append(2))
    assert submitted == [1]


def test_a_thread_waiting_on_an_evaluation_leaves_once_shut_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A blocking ray.get on a cancelled task could outlive Ray, and the evaluation pool
    # joins its threads on close: an interrupted run then never exited.
    from types import SimpleNamespace

    from nas_env.evaluation import ray_executor
    from nas_env.evaluation.executors import WorkerLost
    from nas_env.evaluation.ray_executor import RayExecutor

    monkeypatch.setattr(ray_executor, "POLL_S", 0.01)
    waits: list[float] = []

    def never_ready(refs: list[Any], timeout: float) -> tuple[list[Any], list[Any]]:
        waits.append(timeout)
        time.sleep(timeout)
        return [], refs

    executor = RayExecutor.__new__(RayExecutor)
    executor.ray = SimpleNamespace(wait=never_ready, get=lambda ref: pytest.fail("not ready"))
    executor._lock = threading.Lock()
    executor._closed = False
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            executor._wait("ref")
        except WorkerLost as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)
    assert waiter.is_alive() and len(waits) > 1  # still waiting, polling
    executor._closed = True
    waiter.join(timeout=5)
    assert not waiter.is_alive()
    assert len(errors) == 1 and "shut down" in str(errors[0])
