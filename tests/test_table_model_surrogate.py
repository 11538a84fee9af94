"""The per-genome surrogate: Gaussian processes fitted on rows of long training, served in
closed form for a space too large to list, measured on held-out genomes, usable by the
env."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nas_env.errors import ConfigError
from nas_env.samples import uniform_sample
from nas_env.space import SearchSpace
from nas_env.table.__main__ import main
from nas_env.table.gp_export import GPPredictor, export_gp
from nas_env.table.model_evaluator import ModelSurrogateEvaluator, is_model_benchmark
from nas_env.table.model_surrogate import build_model_surrogate
from nas_env.table.regressors import GP, fit

pytest.importorskip("sklearn")

MARKS = (20, 40)  # the `tiny` level's 40 steps, in two segments
BITS = {"fp32": 32, "int8": 8, "int4": 4}


def truth(genes: dict[str, Any], steps: int, seed: int = 0) -> dict[str, float]:
    """A deployed model's figures, smooth in the genes (a little noise per seed)."""
    mixers = genes["mixer"]
    wobble = (zlib.crc32(json.dumps(genes, sort_keys=True).encode()) % 7) / 700 * seed
    loss = (
        6.0
        - 0.8 * math.log2(genes["d_model"] / 32)
        - 0.2 * genes["layers"]
        + 0.3 * sum(m == "linear" for m in mixers) / len(mixers)
        + 0.4 * (genes["precision"] == "int4")
        + 0.5 * genes["prune"]
        + (0.5 if steps < 40 else 0.0)
        + wobble
    )
    weights = genes["layers"] * genes["d_model"] ** 2 * (1 + genes["ffn_ratio"])
    size = (weights * (1 - 0.5 * genes["prune"]) + 512 * genes["d_model"]) * BITS[
        genes["precision"]
    ]
    latency = 0.1 + 0.05 * genes["layers"] + 0.3 * sum(m == "mamba" for m in mixers)
    return {"val_loss": loss, "size_mb": size / 8 / 2**20, "latency_ms": latency}


def write_rows(path: Path, sample: str, count: int, seed: int, train_seed: int = 0) -> None:
    genomes = uniform_sample(SearchSpace.load("modern"), count, seed)
    with path.open("a", encoding="utf-8") as fh:
        for index, genome in enumerate(genomes):
            genes = json.loads(json.dumps(dict(genome)))
            for steps in MARKS:
                row = {"sample": sample, "index": index, "seed": train_seed, "steps": steps,
                       "status": "ok", "train_seconds": 2.0, "genes": genes,
                       "evaluator_version": "5", **truth(genes, steps, train_seed)}  # fmt: skip
                fh.write(json.dumps(row) + "\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("model")
    rows = folder / "rows.jsonl"
    write_rows(rows, "train", 60, seed=1)
    write_rows(rows, "valid", 16, seed=3)
    write_rows(rows, "valid", 16, seed=3, train_seed=1)  # the noise floor
    out = folder / "modern.npz"
    return out, build_model_surrogate([rows], "modern", out, level="tiny")


def test_fits_each_mark_and_the_deployed_measures(built: tuple[Path, dict[str, Any]]) -> None:
    _, meta = built
    assert meta["rung_steps"] == list(MARKS) and meta["space"]["name"] == "modern"
    assert set(meta["report"]) == {"val_loss@20", "val_loss@40", "size_mb", "latency_ms"}
    top = meta["report"]["val_loss@40"]
    assert top["training_genomes"] == 60 and top["held_out_genomes"] == 16
    assert top["held_out"]["kendall_tau"] > 0.7
    assert top["noise_floor"]["genomes"] == 16 and top["noise_floor"]["kendall_tau"] > 0.8
    size = meta["report"]["size_mb"]["held_out"]
    assert size["kendall_tau"] > 0.8 and size["median_ape"] < 0.2
    assert meta["real_training_seconds"] == pytest.approx(2.0 * 2 * (60 + 16))
    assert meta["evaluator_version"] == "5"


def test_serves_any_valid_genome_the_same_way_each_time(
    built: tuple[Path, dict[str, Any]],
) -> None:
    path, _ = built
    assert is_model_benchmark(path)
    served = ModelSurrogateEvaluator(path)
    space = served.space
    genomes = uniform_sample(space, 20, 99)  # never trained
    first = [served.evaluate(g) for g in genomes]
    again = ModelSurrogateEvaluator(path, rung=served.rungs - 1)
    assert [r.val_loss for r in first] == [again.evaluate(g).val_loss for g in genomes]
    assert all(r.status == "ok" and r.source == "surrogate" for r in first)
    real = [truth(dict(g), 40)["val_loss"] for g in genomes]
    from nas_env.ranking import kendall_tau

    assert kendall_tau([r.val_loss for r in first], real) > 0.6
    batch = served.predict_losses(genomes)
    assert batch == pytest.approx([r.val_loss for r in first], abs=1e-9)
    cheap = served.rung_views()[0].evaluate(genomes[0])
    assert cheap.val_loss > first[0].val_loss  # the earlier mark is worse in this truth
    assert cheap.fidelity == "tiny@20" and first[0].fidelity == "tiny"
    bad = space.default_genome().replace(layers=4, d_model=128, ffn_ratio=4)
    if space.check(bad):
        assert served.evaluate(bad).status == "invalid"


def test_the_closed_form_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6))
    y = np.sin(x[:, 0]) + 0.3 * x[:, 1] ** 2
    for nu in (0.5, 1.5, 2.5):
        model = fit({**GP, "nu": nu}, x, y)
        served = GPPredictor.from_arrays(export_gp(model, "p."), "p.")
        test = rng.normal(size=(15, 6))
        assert served.predict(test) == pytest.approx(model.predict(test), abs=1e-9)
    with pytest.raises(ConfigError, match=r"lacks p\.alpha"):
        GPPredictor.from_arrays(
            {k: v for k, v in export_gp(model, "p.").items() if "alpha" not in k}, "p."
        )
    with pytest.raises(ConfigError, match="cannot export"):
        export_gp(fit({"max_iter": 10}, x, y), "p.")


def test_too_few_runs_are_refused_with_the_counts(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    write_rows(rows, "train", 6, seed=1)
    write_rows(rows, "valid", 8, seed=3)
    with pytest.raises(ConfigError, match="6 fitting and 8 held-out runs; need >= 30"):
        build_model_surrogate([rows], "modern", tmp_path / "m.npz", level="tiny")


def test_the_env_serves_it_and_the_cli_describes_it(
    built: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    from gymnasium.utils.env_checker import check_env

    from nas_env.env import NASEnv

    path, _ = built
    design = NASEnv(space="modern", evaluator="surrogate", table=str(path), mode="design")
    check_env(design, skip_render_check=True)
    design.close()
    env = NASEnv(space="modern", evaluator="surrogate", table=str(path), mode="edit")
    check_env(env, skip_render_check=True)
    _, info = env.reset(seed=0)
    assert info["result"]["source"] == "surrogate"
    env.close()
    asha = NASEnv(space="modern", evaluator="surrogate", table=str(path), promotion="asha")
    asha.reset(seed=0)
    asha.close()
    assert main(["info", str(path)]) == 0
    assert "served per genome" in capsys.readouterr().out


def test_size_and_latency_fit_on_untrained_deployments_scaled_to_the_loop(
    tmp_path: Path,
) -> None:
    """``measures``: the deployed size and latency models fit on many cheap rows of
    untrained deployments; latency is scaled by one factor to the trained rows' level."""
    rows = tmp_path / "rows.jsonl"
    write_rows(rows, "train", 40, seed=1)
    write_rows(rows, "valid", 10, seed=3)
    deployed = tmp_path / "deployed.jsonl"
    with deployed.open("w", encoding="utf-8") as fh:
        for genome in uniform_sample(SearchSpace.load("modern"), 150, 7):
            genes = json.loads(json.dumps(dict(genome)))
            quiet = truth(genes, 40)  # an idle machine: half the loop's latency
            row = {"genes": genes, "size_mb": quiet["size_mb"],
                   "latency_ms": quiet["latency_ms"] / 2}  # fmt: skip
            fh.write(json.dumps(row) + "\n")
    out = tmp_path / "m.npz"
    meta = build_model_surrogate([rows], "modern", out, level="tiny", measures=[deployed])
    size, latency = meta["report"]["size_mb"], meta["report"]["latency_ms"]
    assert size["fitted_on"] == latency["fitted_on"] == "150 untrained deployments"
    assert size["scale"] == 1.0 and latency["scale"] == pytest.approx(2.0, rel=0.05)
    assert size["deployed_held_out"]["genomes"] == 30
    assert size["held_out"]["median_ape"] < 0.1 and latency["held_out"]["median_ape"] < 0.1
    assert str(deployed) in meta["data_sha256"]
    served = ModelSurrogateEvaluator(out)
    genome = uniform_sample(served.space, 1, 123)[0]
    real = truth(dict(genome), 40)["latency_ms"]
    assert served.evaluate(genome).latency_ms == pytest.approx(real, rel=0.15)
