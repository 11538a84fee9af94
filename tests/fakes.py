"""Test doubles shared by several test modules (imported as ``from fakes import ...``)."""

from __future__ import annotations

import threading

from nas_env.evaluation import EvalResult
from nas_env.evaluation.executors import WorkerLost
from nas_env.evaluation.jobs import EvaluatorRecipe
from nas_env.genome import Genome


class FakeExecutor:
    """An executor that answers at once with a result made from the genome (or a lost
    worker, ``fail`` times); it can hold every run until ``release`` is set, or make
    runs wait for each other at ``barrier``; it counts runs and their peak concurrency."""

    kind = "fake"

    def __init__(self, capacity: int = 2, fail: int = 0, fingerprint: str | None = None):
        self.capacity = capacity
        self.runs: list[str] = []
        self.fail = fail
        self.fingerprint = fingerprint
        self.release = threading.Event()
        self.release.set()
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.closed = False
        self.barrier: threading.Barrier | None = None

    def run(self, recipe: EvaluatorRecipe, genome: Genome) -> str:
        with self.lock:  # counted before the barrier: runs that meet there overlap
            self.runs.append(genome.key())
            self.running += 1
            self.peak = max(self.peak, self.running)
            failing = self.fail > 0
            self.fail -= 1
        try:
            if self.barrier is not None:  # every run of a step must be under way at once
                self.barrier.wait()
            assert self.release.wait(10), "released in time"
            if failing:
                raise WorkerLost("the worker died on all 1 attempt(s)")
            driver = recipe.build(cache=False)
            base = driver.base_fields(genome)
            if self.fingerprint:
                base["task_fingerprint"] = self.fingerprint
            loss = 3.0 + int(genome.key()[:4], 16) / 65536
            fields = {"val_loss": loss, "params": 1000, "size_mb": 0.5, "latency_ms": 1.0}
            return EvalResult(status="ok", **fields, **base).to_json()
        finally:
            with self.lock:
                self.running -= 1

    def shutdown(self) -> None:
        self.closed = True
        self.release.set()
