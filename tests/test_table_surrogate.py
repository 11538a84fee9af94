"""Surrogate benchmark: fitted on multi-rung tables, served for every genome, labelled,
measured, promoted over its rungs, and registered."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import nas_env  # noqa: F401  (registers the ids)
from nas_env.errors import ConfigError
from nas_env.evaluation import EvalResult, TrainSettings
from nas_env.evaluation.fidelity import Fidelity
from nas_env.genome import Genome
from nas_env.space import SearchSpace
from nas_env.table import SurrogateEvaluator, build_table, select_genomes
from nas_env.table.__main__ import main
from nas_env.table.surrogate import build_surrogate, encode, rung_tables

pytest.importorskip("sklearn")

MID = SearchSpace.load("mid")
MID_GENOMES = 56_364
"""Valid genomes of the mid space (config/tables/README.md); the surrogate serves each."""
TOP = Fidelity.resolve("tiny", steps=30, eval_tokens=512)
LOW = TOP.rung(10)


def true_loss(genome: Genome, steps: int) -> float:
    """A smooth function of the genes, lower for wider and deeper models, worse early."""
    return (
        6.0
        - 0.8 * math.log2(genome["d_model"] / 32)
        - 0.3 * genome["layers"]
        + 0.2 * (genome["activation"] == "relu")
        + 0.1 * (genome["position"] == "learned")
        + (0.6 if steps < 30 else 0.0)
    )


class LadderFake:
    """Hand-made results at one rung (no training)."""

    def __init__(self, fidelity: Fidelity, seed: int = 0) -> None:
        self.space, self.fidelity, self.task_id = MID, fidelity, "lm/fake"
        self.settings = TrainSettings(device="cpu", precision="fp32", seed=seed)

    def evaluate(self, genome: Genome) -> EvalResult:
        noise = (int(genome.key()[:4], 16) % 100 - 50) / 2000 * (1 + self.settings.seed)
        loss = true_loss(genome, self.fidelity.steps) + noise
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            task=self.task_id,
            metric="perplexity",
            val_loss=loss,
            perplexity=math.exp(loss),
            baseline_loss=6.5,
            latency_ms=0.2 * genome["layers"] + genome["d_model"] / 200,
            eval_seconds=1.0,
            fidelity=self.fidelity.name,
            fidelity_config=self.fidelity.to_dict(),
            backend="torch",
            device="cpu",
            precision="fp32",
            seed=self.settings.seed,
        )


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("surrogate")
    genomes = select_genomes(MID, None, 160, 0)
    for fidelity in (LOW, TOP):
        name = "t.sqlite" if fidelity is TOP else "t@10.sqlite"
        build_table(LadderFake(fidelity), folder / name, genomes=genomes, progress=False)
    build_table(
        LadderFake(LOW, 1), folder / "n" / "t@10.sqlite", genomes=genomes[:40], progress=False
    )
    build_table(LadderFake(TOP, 1), folder / "n" / "t.sqlite", genomes=genomes[:40], progress=False)
    out = folder / "mid.npz"
    grid = [{"learning_rate": 0.1, "max_leaf_nodes": 7, "max_iter": 80, "min_samples_leaf": 5}]
    meta = build_surrogate(folder / "t.sqlite", out, noise=folder / "n" / "t.sqlite", grid=grid)
    return out, meta


def test_rung_tables_are_found_lowest_first(benchmark: tuple[Path, dict]) -> None:
    out, _ = benchmark
    assert [p.name for p in rung_tables(out.parent / "t.sqlite")] == ["t@10.sqlite", "t.sqlite"]


def test_meta_reports_held_out_ranking_noise_and_cost(benchmark: tuple[Path, dict]) -> None:
    _, meta = benchmark
    assert meta["rung_steps"] == [10, 30] and meta["training_rows"] == 160
    top = meta["report"]["val_loss@30"]
    assert top["held_out_genomes"] == 32
    assert top["held_out"]["kendall_tau"] > 0.6  # the fake is smooth: the model must learn it
    assert {row["rung_steps"] for row in meta["noise_floor"]} == {10, 30}
    assert meta["real_training_seconds"] == pytest.approx(320.0)
    assert meta["genomes"] == MID_GENOMES


def test_every_valid_genome_is_served_and_labelled(benchmark: tuple[Path, dict]) -> None:
    out, _ = benchmark
    top = SurrogateEvaluator(out)
    assert len(top) == MID_GENOMES and top.rung == 1 and top.steps == (10, 30)
    genome = MID.default_genome()
    result = top.evaluate(genome)
    assert result.ok and result.source == "surrogate" and result.cache_hit
    assert result.perplexity == pytest.approx(math.exp(result.val_loss))
    assert result.params and result.size_mb and result.latency_ms > 0
    assert top.evaluate(genome) is result  # memoised
    low = top.rung_views()[0].evaluate(genome)
    assert low.val_loss > result.val_loss  # the fake's early rung is worse
    assert SurrogateEvaluator(out).evaluate(genome).val_loss == result.val_loss  # deterministic


def test_invalid_genome_is_a_result(benchmark: tuple[Path, dict]) -> None:
    out, _ = benchmark
    genes = {**MID.default_genome().to_dict()["genes"], "layers": 4, "d_model": 128, "ffn_ratio": 4}
    result = SurrogateEvaluator(out).evaluate(Genome(MID.name, genes))
    assert result.status == "invalid" and "max_params" in result.message


def test_surrogate_ranks_like_the_truth(benchmark: tuple[Path, dict]) -> None:
    out, _ = benchmark
    top = SurrogateEvaluator(out)
    sample = select_genomes(MID, None, 300, 5)
    predicted = [top.evaluate(g).val_loss for g in sample]
    truth = [true_loss(g, 30) for g in sample]
    assert np.corrcoef(predicted, truth)[0, 1] > 0.9


def test_env_on_the_surrogate_and_promotion(benchmark: tuple[Path, dict]) -> None:
    out, _ = benchmark
    env = gym.make("nas_env/SurrogateLM-v0", table=str(out), promotion="asha", eta=3)
    _obs, info = env.reset(seed=0)
    assert info["result"]["source"] == "surrogate" and info["result"]["rung"] == 1
    assert info["result"]["cost_steps"] == 30
    costs = []
    for _ in range(30):
        mask = env.unwrapped.action_masks()
        _obs, _r, _t, _tr, info = env.step(int(np.flatnonzero(mask)[-2]))
        if "candidate" in info:
            costs.append(info["candidate"]["cost_steps"])
    assert costs and set(costs) <= {0, 10, 20, 30}
    env.close()


def test_cli_fits_and_describes(
    benchmark: tuple[Path, dict], capsys: pytest.CaptureFixture
) -> None:
    out, _ = benchmark
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "held-out" in text and "Kendall tau" in text and "noise floor" in text
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"].startswith("nas_env-surrogate")


def test_encode_is_one_row_per_genome() -> None:
    rows = encode(MID, [MID.default_genome()])
    assert rows.shape[0] == 1 and np.isfinite(rows).all()


def test_missing_benchmark_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nas_env\.table surrogate"):
        SurrogateEvaluator(tmp_path / "none.npz")
