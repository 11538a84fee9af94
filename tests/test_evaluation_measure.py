"""Held-out scoring with its standard error, macro-F1, pinned-thread latency."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from models import TaskSpec, build_model, model_config
from nas_env.evaluation.measure import macro_f1, measure_latency, score_heldout, torch_threads
from nas_env.tasks import LMTask, Tokenizer
from nas_env.tasks.tokenizer import train_tokenizer

TEXT = "\n".join(f"def f{i}(x):\n    return x * {i} + {i % 7}\n" for i in range(400))


@pytest.fixture(scope="module")
def task() -> LMTask:
    """A small in-memory LM task."""
    tokenizer = Tokenizer(train_tokenizer([TEXT], 64))
    return LMTask([TEXT[: len(TEXT) // 2]], [TEXT[len(TEXT) // 2 :]], tokenizer)


@pytest.fixture(scope="module")
def model(task: LMTask) -> torch.nn.Module:
    """An untrained tiny Transformer LM for ``task``."""
    torch.manual_seed(0)
    spec = TaskSpec(kind="lm", vocab_size=task.tokenizer.vocab_size, seq_len=16)
    genes = {"family": "transformer", "layers": 1, "d_model": 16, "heads": [2], "ffn_ratio": [2]}
    return build_model(model_config(genes, spec))


def test_validate_reports_the_standard_error_of_window_losses(
    task: LMTask, model: torch.nn.Module
) -> None:
    scores = score_heldout(model, task, 16, 4, 16 * 12, torch.device("cpu"))
    assert scores.items == 12 and scores.tokens == 12 * 16 and scores.accuracy is None
    losses = []
    with torch.inference_mode():
        for batch in task.eval_batches(4, 16, max_tokens=16 * 12):
            logits, _ = model(batch.inputs, batch.targets)
            flat = torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), batch.targets.flatten(), reduction="none"
            )
            losses.append(flat.view(batch.targets.shape).mean(1))
    per_window = torch.cat(losses).double()
    assert scores.loss == pytest.approx(float(per_window.mean()), rel=1e-6)
    expected_se = float(per_window.std()) / math.sqrt(12)
    assert scores.loss_se == pytest.approx(expected_se, rel=1e-6) and scores.loss_se > 0
    single = score_heldout(model, task, 16, 4, 16, torch.device("cpu"))
    assert single.items == 1 and single.loss_se == 0.0


def test_macro_f1() -> None:
    truth = torch.tensor([0, 0, 1, 1, 2, 2])
    assert macro_f1(truth, truth, 3) == 1.0
    constant = torch.zeros(6, dtype=torch.long)
    assert macro_f1(constant, truth, 3) == pytest.approx((2 * 2 / 8) / 3)
    assert macro_f1(constant, torch.zeros(6, dtype=torch.long), 4) == 1.0  # absent classes skipped


def test_latency_pins_threads_and_restores_them(model: torch.nn.Module) -> None:
    spec = TaskSpec(kind="lm", vocab_size=64, seq_len=16)
    before = torch.get_num_threads()
    state = torch.random.get_rng_state()
    latency = measure_latency(model, spec, torch.device("cpu"), warmup=1, repeats=5, threads=1)
    assert latency.threads == 1 and latency.repeats == 5 and latency.warmup == 1
    assert latency.median_ms > 0 and latency.spread_ms >= 0
    assert torch.get_num_threads() == before
    assert torch.equal(state, torch.random.get_rng_state())  # the input is drawn privately


def test_latency_protocols_warm_up_for_long_enough_and_summarise_as_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a fake clock that only the model's passes move (slow and fast passes
    alternating, 4 and 1 ms): the statistics and the warm-up are exact."""
    from nas_env.evaluation import measure

    spec = TaskSpec(kind="lm", vocab_size=64, seq_len=16)
    clock = [0.0]
    calls = []

    class Counted(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(clock[0])
            clock[0] += 0.004 if len(calls) % 2 else 0.001
            return x

    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])
    cpu = torch.device("cpu")

    def run(**kwargs: Any) -> float:
        calls.clear()
        return measure_latency(Counted(), spec, cpu, **kwargs).median_ms

    # one untimed pass (4 ms), then 1, 4, 1, 4, 1, 4 ms
    assert run(warmup=1, repeats=6) == pytest.approx(2.5) and len(calls) == 7
    assert run(warmup=1, repeats=6, statistic="min") == pytest.approx(1.0)
    assert run(warmup=0, repeats=8, statistic="q25") == pytest.approx(1.0)
    assert run(warmup=0, repeats=5) == pytest.approx(4.0)  # 4, 1, 4, 1, 4
    # untimed passes continue until 50 ms have passed: 20 of them (10 x 5 ms), then 2
    run(warmup=1, repeats=2, warmup_seconds=0.05)
    assert len(calls) == 22 and calls[20] - calls[0] == pytest.approx(0.05)


def test_torch_threads_restores_on_error() -> None:
    before = torch.get_num_threads()
    target = 2 if before == 1 else 1
    with pytest.raises(RuntimeError), torch_threads(target) as used:
        assert used == target == torch.get_num_threads()
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
