"""Promotion (ASHA-style successive halving): rung steps, calibration, the promotion
rule, training cost, checkpoint continuation and the env option."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import pytest

import nas_env  # noqa: F401  (registers the ids)
from nas_env.errors import ConfigError
from nas_env.evaluation import EvalResult, Evaluator
from nas_env.evaluation.backends import training_backend
from nas_env.evaluation.checkpoints import CheckpointStore
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.promotion import (
    PromotionEvaluator,
    fit_calibration,
    rung_steps,
)
from nas_env.evaluation.rung_log import RungLog
from nas_env.genome import Genome
from nas_env.space import SearchSpace


@pytest.mark.parametrize(
    ("top", "rungs", "eta", "expected"),
    [(100, 2, 3, (33, 100)), (100, 3, 3, (11, 33, 100)), (40, 2, 2, (20, 40)), (9, 1, 3, (9,))],
)
def test_rung_steps(top: int, rungs: int, eta: int, expected: tuple[int, ...]) -> None:
    assert rung_steps(top, rungs, eta) == expected


def test_rung_steps_refuses_rungs_that_do_not_grow() -> None:
    with pytest.raises(ConfigError, match="do not fit"):
        rung_steps(4, 4, 3)
    with pytest.raises(ConfigError, match="eta"):
        rung_steps(100, 2, 1)


def test_calibration_rules() -> None:
    assert fit_calibration([]).kind == "none"
    assert fit_calibration([]).__call__(4.0) == 4.0
    shift = fit_calibration([(5.0, 4.5)])
    assert shift.kind == "shift" and shift(5.2) == pytest.approx(4.7)
    line = fit_calibration([(5.0, 4.0), (6.0, 4.5), (7.0, 5.0)])
    assert line.kind == "linear" and line.label == "linear:3"
    assert line(8.0) == pytest.approx(5.5)
    falling = fit_calibration([(5.0, 5.0), (6.0, 4.0), (7.0, 3.0)])
    assert falling.kind == "shift"  # a negative slope would invert the ranking


def test_fidelity_rung_shares_the_schedule_and_the_top_rung_is_the_fidelity() -> None:
    fast = Fidelity.resolve("fast")
    low = fast.rung(33)
    assert low.steps == 33 and low.total_steps == fast.steps and low.name == "fast@33"
    assert [low.lr_at(s) for s in range(33)] == [fast.lr_at(s) for s in range(33)]
    top = low.rung(fast.steps)
    assert top.cache_token() == fast.cache_token() and top.name == "fast"
    with pytest.raises(ConfigError, match="rung needs"):
        fast.rung(101)
    with pytest.raises(ConfigError, match="schedule_steps"):
        Fidelity.resolve("fast", schedule_steps=50)


class RungFake:
    """A benchmark-like rung: loss = the genome's d_model-based value minus a rung bonus."""

    def __init__(self, space: SearchSpace, rung: int, fail: str | None = None) -> None:
        self.space, self.rung, self.fail, self.calls = space, rung, fail, 0

    def evaluate(self, genome: Genome) -> EvalResult:
        self.calls += 1
        genes = genome.to_dict()["genes"]
        if self.fail and genes["activation"] == self.fail:
            return EvalResult(status="diverged", genome_key=genome.key(), source="table")
        loss = 6.0 - genes["d_model"] / 64 - 0.1 * genes["layers"] - 0.5 * self.rung
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            metric="perplexity",
            val_loss=loss,
            perplexity=math.exp(loss),
            source="table",
            cache_hit=True,
        )


def ladder(space: SearchSpace, eta: int = 2, fail: str | None = None) -> PromotionEvaluator:
    rungs = [RungFake(space, 0), RungFake(space, 1, fail)]
    return PromotionEvaluator(rungs, (10, 30), eta, RungLog(), "ctx")


@pytest.fixture
def mid() -> SearchSpace:
    """A space of global genes only."""
    return SearchSpace.load("mid")


def genome(space: SearchSpace, **genes: object) -> Genome:
    return space.genome({**space.default_genome().to_dict()["genes"], **genes})


def test_asha_promotes_the_top_fraction_and_calibrates_the_rest(mid: SearchSpace) -> None:
    evaluator = ladder(mid, eta=2)
    first = evaluator.evaluate(genome(mid, d_model=64))
    assert first.rung == 1 and first.calibration == "top"  # alone at its rung: the top
    assert first.cost_steps == 30  # 10 at rung 0, then 20 more from its checkpoint
    worse = evaluator.evaluate(genome(mid, d_model=32))
    assert worse.rung == 0 and worse.cost_steps == 10  # 1 better of 2: not in the top 1/2
    assert worse.rung_val_loss == pytest.approx(5.3)
    # one genome measured at both rungs: a shift by its difference (0.5)
    assert worse.calibration == "shift:1" and worse.val_loss == pytest.approx(4.8)
    assert worse.perplexity == pytest.approx(math.exp(4.8))
    best = evaluator.evaluate(genome(mid, d_model=128))
    assert best.rung == 1 and best.val_loss == pytest.approx(3.3)
    again = evaluator.evaluate(genome(mid, d_model=64))
    assert again.rung == 1 and again.cost_steps == 0  # both rungs served before
    assert evaluator.log.losses("ctx", 0).keys() >= {genome(mid, d_model=32).key()}


def test_a_failure_at_a_rung_ends_the_climb(mid: SearchSpace) -> None:
    evaluator = ladder(mid, fail="silu")
    result = evaluator.evaluate(genome(mid, activation="silu"))
    assert result.status == "diverged" and result.rung == 1 and result.rungs == 2


def test_a_promoted_genome_met_again_keeps_its_rung(mid: SearchSpace) -> None:
    evaluator = ladder(mid, eta=2)
    g = genome(mid, d_model=96)
    assert evaluator.evaluate(g).rung == 1
    for width in (128, 128, 128):  # better genomes arrive later
        evaluator.evaluate(genome(mid, d_model=width, layers=3))
    assert evaluator.evaluate(g).rung == 1  # promoted before: not demoted


def test_continuing_from_a_checkpoint_equals_training_at_once(tmp_path: Path) -> None:
    plain = Evaluator("tiny", fidelity="tiny", cache=False)
    g = plain.space.default_genome()
    expected = plain.evaluate(g)
    store = CheckpointStore(tmp_path / "ckpt")
    base = Evaluator("tiny", fidelity="tiny", cache=False)
    low = base.at_rung(13, store, None)
    top = base.at_rung(40, store, low)
    first = low.evaluate(g)
    assert first.steps == 13 and first.fidelity == "tiny@13"
    assert store.path(low.key(g)).is_file()
    second = top.evaluate(g)
    assert second.resumed_from == 13
    assert second.val_loss == expected.val_loss  # bit for bit on the CPU
    assert second.final_train_loss == expected.final_train_loss
    assert top.key(g) == plain.key(g)  # the top rung shares the plain fidelity's cache key
    assert store.files() == []  # the used checkpoint is discarded


def test_promotion_is_refused_for_deepspeed() -> None:
    evaluator = Evaluator("tiny", fidelity="tiny", cache=False)
    object.__setattr__(evaluator, "settings", replace(evaluator.settings, backend="deepspeed"))
    evaluator.backend = training_backend("deepspeed")  # not resumable
    with pytest.raises(ConfigError, match="promotion"):
        evaluator.at_rung(10, CheckpointStore("/nonexistent"), None)


def test_env_with_promotion_reports_rung_and_cost(tmp_path: Path) -> None:
    env = gym.make(
        "nas_env/TransformerLM-v2",
        fidelity="tiny",
        promotion="asha",
        eta=4,
        cache=str(tmp_path / "results.sqlite"),
        cache_root=str(tmp_path),
    )
    space = env.unwrapped.space
    default = space.default_genome().to_dict()["genes"]
    small = {**default, "layers": 1, "d_model": 32, "heads": [1], "ffn_ratio": [1]}
    _obs, info = env.reset(seed=0, options={"genome": default})
    assert info["result"]["rung"] == 1 and info["result"]["cost_steps"] == 40  # 10 + 30
    top = info["result"]
    assert top["resumed_from"] == 10 and top["steps"] == 40
    # throughput counts the tokens this call trained (30 steps), not those since step 0
    this_call = top["train_tokens"] * (40 - 10) / 40
    assert top["tokens_per_second"] * top["train_seconds"] == pytest.approx(this_call)
    _obs, info = env.reset(options={"genome": small})
    result = info["result"]
    assert result["rung"] == 0 and result["cost_steps"] == 10  # worse at rung 0: stops
    assert result["rung_val_loss"] > result["val_loss"]  # calibrated towards the top rung
    assert result["calibration"] == "shift:1"
    _obs, info = env.reset(options={"genome": default})
    assert info["result"]["rung"] == 1 and info["result"]["cost_steps"] == 0  # cached
    assert (tmp_path / "results.sqlite.rungs").is_file()
    assert list((tmp_path / "checkpoints").glob("*.ckpt"))  # the stopped genome's rung 0
    env.close()


def test_promotion_runs_on_an_executor_and_continues_across_processes(tmp_path: Path) -> None:
    """Each rung trains on the pool's workers; the top rung continues from the checkpoint
    a worker left at the rung below (the folder is shared), the climb and costs as in
    process."""
    env = gym.make(
        "nas_env/TransformerLM-v2", fidelity="tiny", promotion="asha", eta=4, workers=2,
        cache=str(tmp_path / "results.sqlite"), cache_root=str(tmp_path),
    )  # fmt: skip
    try:
        evaluator = env.unwrapped.evaluator
        assert [r.recipe.ladder.rung for r in evaluator.rungs] == [0, 1]
        default = env.unwrapped.space.default_genome().to_dict()["genes"]
        _obs, info = env.reset(seed=0, options={"genome": default})
        top = info["result"]
        assert top["status"] == "ok", top.get("message")
        assert top["rung"] == 1 and top["cost_steps"] == 40 and top["resumed_from"] == 10
        assert top["steps"] == 40 and top["fidelity"] == "tiny"
    finally:
        env.close()
    assert evaluator.rungs[-1].executor._closed  # the top rung shut the shared pool down


def test_env_settings_check_promotion_values() -> None:
    with pytest.raises(ConfigError, match="promotion"):
        gym.make("nas_env/TransformerLM-v2", promotion="hyperband")
    with pytest.raises(ConfigError, match="eta"):
        gym.make("nas_env/TransformerLM-v2", promotion="asha", eta=1)
