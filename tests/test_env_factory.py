"""The env's evaluator factory: vocabulary from the evaluator itself, table provenance."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from nas_env import ConfigError, SearchSpace
from nas_env.env.factory import default_table, make_evaluator
from nas_env.env.setting_groups import TableSettings
from nas_env.env.settings import EvaluatorSettings
from nas_env.evaluation.interface import GenomeEvaluator, as_genome_evaluator


class Custom:
    """A user evaluator with nothing but a space and evaluate()."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def evaluate(self, genome: object) -> object:
        raise NotImplementedError


def test_vocab_size_comes_from_the_evaluator_never_a_default() -> None:
    space = SearchSpace.load("tiny")
    assert space.task.vocab_size == 512
    assert as_genome_evaluator(Custom(space)).vocab_size == 512  # no silent 1,024
    table = make_evaluator("bench", "lm/stdlib", "bench", EvaluatorSettings(evaluator="table"))
    assert isinstance(table, GenomeEvaluator)
    assert table.vocab_size == table.meta["vocab_size"] == 512


def test_table_mismatch_is_refused_unless_the_env_allows_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    path.write_bytes(default_table("bench").read_bytes())
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'evaluator_version'", (json.dumps("1"),)
        )
    with pytest.raises(ConfigError, match="evaluator version '1'"):
        make_evaluator(
            "bench", "lm/stdlib", "bench", EvaluatorSettings("table", TableSettings(path))
        )
    with pytest.warns(UserWarning, match="used anyway"):
        allowed = EvaluatorSettings("table", TableSettings(path, allow_mismatch=True))
        make_evaluator("bench", "lm/stdlib", "bench", allowed)
