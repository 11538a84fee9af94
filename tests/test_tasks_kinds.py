"""Task kinds own what differs between kinds: how a batch enters the model, the held-out
loss per item, the metric and its direction; tasks satisfy the `Task` protocol; nothing in
the package decides a kind by the metric's name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from nas_env.errors import ConfigError
from nas_env.evaluation.result import EvalResult, lower_is_better
from nas_env.tasks import (
    TASK_KINDS,
    Batch,
    ClsTask,
    LMTask,
    Task,
    Tokenizer,
    kind_of_metric,
    task_kind,
)
from nas_env.tasks.tokenizer import train_tokenizer

PACKAGE = Path(__file__).resolve().parents[1] / "nas_env"


class Recorder(torch.nn.Module):
    """A stand-in model that records how it was called."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return inputs.float(), torch.tensor(1.5)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    lines = [f"def f{i}(x): return x + {i}" for i in range(200)]
    return Tokenizer(train_tokenizer(lines, 64))


def _tasks(tokenizer: Tokenizer) -> list[Any]:
    texts = [f"def f{i}(x):\n    return x * {i}\n" * 20 for i in range(6)]
    examples = [(f"def g{i}(y): return y", ("a", "b")[i % 2]) for i in range(20)]
    return [
        LMTask(texts[:5], texts[5:], tokenizer, split_rule="test"),
        ClsTask(examples[:16], examples[16:], tokenizer, split_rule="test"),
    ]


def test_every_task_is_a_task_of_a_known_kind_with_its_metric(tokenizer: Tokenizer) -> None:
    for task in _tasks(tokenizer):
        assert isinstance(task, Task)
        kind = task_kind(task.kind)
        assert task.metric == kind.metric
        assert task.spec(8).kind == kind.name
        assert task.stats()["kind"] == kind.name


@pytest.mark.parametrize(("name", "masked"), [("lm", False), ("cls", True)])
def test_forward_passes_the_mask_only_to_classifiers(name: str, masked: bool) -> None:
    model = Recorder()
    batch = Batch(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    if masked:
        batch = Batch(batch.inputs, batch.targets, torch.ones(2, 3, dtype=torch.bool))
    _, loss = task_kind(name).forward(model, batch)
    assert float(loss) == 1.5
    assert ("mask" in model.calls[0]) is masked


def test_item_losses_are_per_window_for_lm_and_per_example_for_cls() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 5, generator=generator)
    targets = torch.randint(0, 5, (2, 4), generator=generator)
    lm = task_kind("lm").item_losses(logits, targets)
    expected = torch.stack([F.cross_entropy(logits[i], targets[i]) for i in range(2)])
    assert lm.shape == (2,) and torch.allclose(lm, expected)
    cls = task_kind("cls").item_losses(logits[:, 0], targets[:, 0])
    assert torch.allclose(cls, F.cross_entropy(logits[:, 0], targets[:, 0], reduction="none"))


def test_lookups_and_directions() -> None:
    assert kind_of_metric("perplexity") is TASK_KINDS["lm"]
    assert kind_of_metric("accuracy") is TASK_KINDS["cls"]
    assert kind_of_metric("bleu") is None
    assert lower_is_better("perplexity") and not lower_is_better("accuracy")
    with pytest.raises(ConfigError, match="task kind 'img' is unknown; allowed: lm, cls"):
        task_kind("img")


def test_a_result_reports_the_quality_of_its_kind() -> None:
    lm = EvalResult(status="ok", metric="perplexity", perplexity=12.0, accuracy=None)
    cls = EvalResult(status="ok", metric="accuracy", perplexity=None, accuracy=0.75)
    assert lm.quality == 12.0 and cls.quality == 0.75
    assert EvalResult(status="ok", metric="bleu", accuracy=0.5).quality is None


def test_no_module_decides_a_kind_by_the_metric_name() -> None:
    pattern = re.compile(r"""metric\s*[!=]=\s*["'](perplexity|accuracy)["']""")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith(("*", "#"))
    ]
    assert not offenders, offenders
