"""Every built-in evaluator is a `GenomeEvaluator`; a user's object with only ``space`` and
``evaluate`` is completed by `ForeignEvaluator`, anything less is refused; the env never
probes an evaluator for attributes."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from nas_env.env.factory import make_evaluator
from nas_env.env.settings import EvaluatorSettings
from nas_env.errors import ConfigError
from nas_env.evaluation.interface import ForeignEvaluator, GenomeEvaluator, as_genome_evaluator
from nas_env.space import SearchSpace

ENV_PACKAGE = Path(__file__).resolve().parents[1] / "nas_env" / "env"


@pytest.mark.parametrize(
    ("space", "fidelity", "settings"),
    [
        ("tiny", "tiny", {"evaluator": "train", "cache": False}),
        ("tiny", "tiny", {"evaluator": "train", "cache": False, "promotion": "asha"}),
        ("bench", "bench", {"evaluator": "table"}),
        ("mid", "fast", {"evaluator": "surrogate"}),
        ("mid", "fast", {"evaluator": "surrogate", "promotion": "asha"}),
    ],
)
def test_built_in_evaluators_are_genome_evaluators(
    space: str, fidelity: str, settings: dict[str, Any]
) -> None:
    evaluator = make_evaluator(
        space, "lm/stdlib", fidelity, EvaluatorSettings.from_kwargs(settings)
    )
    assert isinstance(evaluator, GenomeEvaluator)
    assert not isinstance(evaluator, ForeignEvaluator)
    assert evaluator.vocab_size == evaluator.space.task.vocab_size
    evaluator.close()
    evaluator.close()  # closing twice is harmless


class Minimal:
    def __init__(self) -> None:
        self.space = SearchSpace.load("tiny")
        self.closed = 0
        self.extra = "kept"

    def evaluate(self, genome: Any) -> Any:
        return genome


def test_a_minimal_user_evaluator_is_completed() -> None:
    user = Minimal()
    wrapped = as_genome_evaluator(user)
    assert isinstance(wrapped, ForeignEvaluator) and isinstance(wrapped, GenomeEvaluator)
    assert wrapped.vocab_size == 512 and wrapped.extra == "kept"
    wrapped.close()  # the user's object has no close(): nothing happens
    assert wrapped.evaluate("g") == "g"
    copied = pickle.loads(pickle.dumps(wrapped))  # vector envs may pickle it
    assert copied.extra == "kept" and copied.vocab_size == 512


@pytest.mark.parametrize("bad", [object(), type("NoSpace", (), {"evaluate": lambda s, g: g})()])
def test_objects_without_space_or_evaluate_are_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match="has no evaluate\\(\\)/space"):
        as_genome_evaluator(bad)


def test_the_env_never_probes_an_evaluator() -> None:
    pattern = re.compile(r"(getattr|hasattr)\([^)]*evaluator")
    offenders = [
        f"{path.name}:{n}"
        for path in ENV_PACKAGE.glob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
