"""The final training's candidates trained side by side, one process per free core.

Each worker builds the run's env once (at the final fidelity, with the parent's torch
thread count, so every result and cache key is the one a sequential final training gets)
and trains the candidates it is handed; a trained model comes back as a saved artifact
(`models.artifact`) in a scratch folder, which the parent loads for the winner only.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from nas_env.genome import Genome

_WORKER: dict[str, Any] = {}


def final_workers(candidates: int, threads: int | None = None) -> int:
    """How many candidates to train at once: the cores this process may use, divided by
    the torch threads each training uses, at most one per candidate."""
    threads = threads or torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(candidates, (cores or 1) // max(1, threads)))


def evaluate_candidate(evaluator: Any, genome: Genome) -> tuple[Any, Any]:
    """The result at the final fidelity and the trained model when there is one."""
    with_model = getattr(evaluator, "evaluate_with_model", None)
    if with_model is None:  # a table or surrogate: nothing is trained
        return evaluator.evaluate(genome), None
    return with_model(genome)


def _start(env_id: str, env_kwargs: Mapping[str, Any], threads: int) -> None:
    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids in the spawned process)

    torch.set_num_threads(threads)
    _WORKER["env"] = gym.make(env_id, **dict(env_kwargs))


def _train(genes: Mapping[str, Any], folder: str) -> tuple[Any, bool]:
    """Train one candidate in this worker; its model saved in ``folder`` (when trained)."""
    from models.artifact import save_trained
    from nas_env.training_genes import model_genes

    base = _WORKER["env"].unwrapped
    genome = Genome.from_genes(base.space, genes)
    result, model = evaluate_candidate(base.evaluator, genome)
    if model is None:
        return result, False
    save_trained(model, model_genes(genome, base.space.family), base.evaluator.spec, folder)
    return result, True


class FinalPool:
    """Trains candidates on ``workers`` processes; `load` returns a trained model.

    Args:
        env_id: The run's env id.
        env_kwargs: Its keyword arguments, the final fidelity included.
        workers: Processes (each with this process's torch thread count).
    """

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any], workers: int) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="nas-final-"))
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(env_id, dict(env_kwargs), torch.get_num_threads()),
        )
        self.saved: dict[str, Path] = {}

    def train(self, candidates: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The results of ``candidates`` (records with ``genome`` and ``genome_key``), in
        their order."""
        futures = []
        for record in candidates:
            folder = self.scratch / str(record["genome_key"])
            futures.append((record, folder, self.pool.submit(_train, record["genome"], folder)))
        results = []
        for record, folder, future in futures:
            result, trained = future.result()
            if trained:
                self.saved[str(record["genome_key"])] = folder
            results.append(result)
        return results

    def load(self, genome_key: str) -> torch.nn.Module | None:
        """The trained model of ``genome_key`` (None: not trained here, or unreadable)."""
        from models.artifact import load_trained
        from models.errors import ModelConfigError

        folder = self.saved.get(genome_key)
        if folder is None:
            return None
        try:
            return load_trained(folder)
        except ModelConfigError:  # a deployed variant the description cannot rebuild
            return None

    def close(self) -> None:
        """Stop the workers and delete the scratch folder."""
        self.pool.shutdown(cancel_futures=True)
        shutil.rmtree(self.scratch, ignore_errors=True)
