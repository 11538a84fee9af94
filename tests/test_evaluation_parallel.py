"""ParallelEvaluator: driver-side cache and claims, futures, no duplicate submission,
lost workers and foreign task data as errors; the local process pool for real."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeExecutor

from nas_env.errors import ConfigError
from nas_env.evaluation import TrainSettings
from nas_env.evaluation.executors import LocalPool
from nas_env.evaluation.jobs import EvaluatorRecipe, run_evaluation
from nas_env.evaluation.parallel import ParallelEvaluator
from nas_env.genome import Genome

DETERMINISTIC = ("status", "val_loss", "val_loss_se", "params", "size_mb", "steps")


def recipe(fidelity: str = "tiny") -> EvaluatorRecipe:
    return EvaluatorRecipe.of("tiny", "lm/stdlib", fidelity, TrainSettings(threads=1))


@pytest.fixture
def genomes(tiny) -> list[Genome]:
    rng = np.random.default_rng(3)
    out: dict[str, Genome] = {}
    while len(out) < 3:
        g = tiny.random_genome(rng)
        out[g.key()] = g
    return list(out.values())


def test_a_genome_in_flight_is_submitted_once_and_cached_by_the_driver(
    tmp_path: Path, genomes: list[Genome]
) -> None:
    executor = FakeExecutor()
    executor.release.clear()
    evaluator = ParallelEvaluator(recipe(), executor, cache=tmp_path / "r.sqlite")
    first, second = evaluator.submit(genomes[0]), evaluator.submit(genomes[0])
    assert first is second and evaluator.in_flight() == 1
    executor.release.set()
    result = first.result(timeout=30)
    assert result.ok and not result.cache_hit
    collected = evaluator.evaluate(genomes[0])  # the first to collect it: as computed
    assert not collected.cache_hit and collected.val_loss == result.val_loss
    again = evaluator.evaluate(genomes[0])
    assert again.cache_hit and again.val_loss == result.val_loss
    assert executor.runs == [genomes[0].key()] and evaluator.submitted == 1
    assert evaluator.cache.get(evaluator.key(genomes[0])) is not None
    evaluator.close()
    assert executor.closed


def test_submitted_genomes_run_at_once_up_to_capacity(
    tmp_path: Path, genomes: list[Genome]
) -> None:
    executor = FakeExecutor(capacity=2)
    executor.release.clear()
    evaluator = ParallelEvaluator(recipe(), executor, cache=False)
    futures = [evaluator.submit(g) for g in genomes]
    for _ in range(200):
        if executor.peak == 2:
            break
        threading.Event().wait(0.02)
    assert executor.peak == 2 and evaluator.in_flight() == 3
    executor.release.set()
    assert [f.result(timeout=30).ok for f in futures] == [True] * 3
    assert executor.peak == 2  # never more than capacity
    evaluator.close()


def test_a_lost_worker_is_an_error_with_its_reason_not_cached_and_tried_again(
    tmp_path: Path, genomes: list[Genome]
) -> None:
    executor = FakeExecutor(fail=1)
    evaluator = ParallelEvaluator(recipe(), executor, cache=tmp_path / "r.sqlite")
    failed = evaluator.evaluate(genomes[0])
    assert failed.status == "error" and "died" in failed.message
    assert failed.genome_key == genomes[0].key()
    assert evaluator.cache.get(evaluator.key(genomes[0])) is None
    assert evaluator.evaluate(genomes[1]).ok  # the search goes on
    assert evaluator.evaluate(genomes[0]).ok  # and the lost one is tried again
    assert executor.runs == [genomes[0].key(), genomes[1].key(), genomes[0].key()]
    evaluator.close()


def test_a_result_on_other_task_data_is_an_error(genomes: list[Genome]) -> None:
    evaluator = ParallelEvaluator(recipe(), FakeExecutor(fingerprint="other"), cache=False)
    result = evaluator.evaluate(genomes[0])
    assert result.status == "error" and "task data differ" in result.message
    evaluator.close()


def test_another_driver_waits_for_a_claimed_genome_instead_of_training_it(
    tmp_path: Path, genomes: list[Genome]
) -> None:
    path = tmp_path / "shared.sqlite"
    slow, other = FakeExecutor(), FakeExecutor()
    slow.release.clear()
    a = ParallelEvaluator(recipe(), slow, cache=path)
    b = ParallelEvaluator(recipe(), other, cache=path)
    running = a.submit(genomes[0])
    for _ in range(200):
        if slow.runs:
            break
        threading.Event().wait(0.02)
    waiting = b.submit(genomes[0])
    threading.Event().wait(0.5)
    assert not waiting.done()
    slow.release.set()
    assert waiting.result(timeout=30).cache_hit
    assert waiting.result().val_loss == running.result().val_loss
    assert other.runs == []
    a.close()
    b.close()


def test_the_recipe_needs_a_thread_count() -> None:
    bare = EvaluatorRecipe.of("tiny", "lm/stdlib", "tiny", TrainSettings())
    with pytest.raises(ValueError, match="threads"):
        ParallelEvaluator(bare, FakeExecutor(), cache=False)


def test_run_job_refuses_a_cpu_grant_that_differs_from_the_key(genomes: list[Genome]) -> None:
    with pytest.raises(ValueError, match="cpus_per_eval=1"):
        run_evaluation(recipe(), genomes[0], threads=2)


@pytest.mark.slow
def test_the_local_pool_gives_the_in_process_results(genomes: list[Genome]) -> None:
    local = recipe().build(cache=False)
    evaluator = ParallelEvaluator(recipe(), LocalPool(2), cache=False)
    try:
        futures = [evaluator.submit(g) for g in genomes[:2]]
        remote = [f.result(timeout=300) for f in futures]
    finally:
        evaluator.close()
    for genome, result in zip(genomes[:2], remote, strict=True):
        expected = local.evaluate(genome)
        assert result.ok, result.message
        assert {k: getattr(result, k) for k in DETERMINISTIC} == {
            k: getattr(expected, k) for k in DETERMINISTIC
        }
        assert evaluator.key(genome) == local.key(genome)


def test_a_driver_without_the_workers_gpu_keys_results_by_their_device() -> None:
    local = recipe().build(cache=False)
    placed = local.placed_on("cuda", "bf16")
    genome = local.space.default_genome()
    assert placed.key(genome) != local.key(genome)
    fields = placed.base_fields(genome)
    assert (fields["device"], fields["precision"]) == ("cuda", "bf16")
    assert local.device.type == "cpu"  # the original is untouched
    with pytest.raises(ConfigError, match="precision 'auto'"):
        local.placed_on("cuda", "auto")
