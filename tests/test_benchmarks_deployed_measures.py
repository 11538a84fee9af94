"""Untrained deployments: the deployed size of a genome is exactly its trained deployment's
(pruning keeps a fixed share, quantization a fixed width), so it can be measured without
training; rows resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import deployed_measures
from nas_env.samples import uniform_sample
from nas_env.space import load_space

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.mark.parametrize(
    "precision",
    [
        pytest.param("fp32", marks=pytest.mark.slow),
        "int8",
        pytest.param("int4", marks=pytest.mark.slow),
    ],
)  # int8 in the default suite, all three in the slow stage
def test_the_untrained_size_is_the_trained_deployments(precision: str) -> None:
    from nas_env.evaluation import Evaluator, TrainSettings

    space = load_space("modern")
    genome = space.default_genome().replace(precision=precision, prune=0.4, layers=2)
    genome = space.genome(dict(genome))
    fidelity = {"steps": 3, "batch_size": 2, "lr": 1e-3, "eval_tokens": 256}
    trained = Evaluator("modern", fidelity=fidelity, settings=TrainSettings(), cache=False)
    result = trained.evaluate(genome)
    assert result.status == "ok", result.message
    untrained = deployed_measures.measure(genome.to_dict()["genes"], space)
    assert untrained["size_mb"] == pytest.approx(result.size_mb, rel=1e-6)
    assert untrained["latency_ms"] > 0


def test_rows_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake(genes: dict, space: object, threads: int = 1) -> dict[str, float]:
        calls.append(json.dumps(genes, sort_keys=True))
        return {"size_mb": 1.0, "latency_ms": 1.0}

    monkeypatch.setattr(deployed_measures, "measure", fake)
    rows = tmp_path / "d.jsonl"
    argv = ["--genomes", "2", "--rows", str(rows)]
    assert deployed_measures.main(argv) == 0
    first = rows.read_text().splitlines()
    assert deployed_measures.main(["--genomes", "3", "--rows", str(rows)]) == 0
    lines = rows.read_text().splitlines()
    assert lines[:2] == first and len(lines) == 3
    keys = [g.key() for g in uniform_sample(load_space("modern"), 3, 0)]
    assert [json.loads(line)["key"] for line in lines] == keys
    assert len(calls) == 3  # the first two were not measured again
