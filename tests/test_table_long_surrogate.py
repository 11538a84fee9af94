"""The surrogate benchmark whose truth is long training: fitted on rows of real runs (of
its own space and of another with the same genes), measured on held-out samples only,
served for every genome of its base with the base's latency, and usable by the env."""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import nas_env  # noqa: F401  (registers the ids)
from nas_env.errors import ConfigError
from nas_env.samples import uniform_sample
from nas_env.space import SearchSpace
from nas_env.table import SHIPPED_TABLES, SurrogateEvaluator
from nas_env.table.__main__ import main
from nas_env.table.long_surrogate import build_long_surrogate, read_runs, regret
from nas_env.table.regressors import GP, HGB_GRID

pytest.importorskip("sklearn")

BASE = SHIPPED_TABLES / "mid.npz"
MARKS = (20, 40)  # the `tiny` level's 40 steps, in two segments


def loss(genes: dict[str, Any], steps: int, seed: int = 0) -> float:
    """Smooth in the genes, worse early; ``seed`` adds a little genome-specific noise."""
    heads = genes["heads"] if isinstance(genes["heads"], list) else [genes["heads"]]
    wobble = (zlib.crc32(json.dumps(genes, sort_keys=True).encode()) % 7) / 700 * seed
    return (
        6.0
        - 0.8 * math.log2(genes["d_model"] / 32)
        - 0.25 * genes["layers"]
        - 0.05 * float(np.mean(heads))
        + 0.3 * (genes["norm_position"] == "post")
        + (0.5 if steps < 40 else 0.0)
        + wobble
    )


def write_rows(
    path: Path,
    space: str,
    sample: str,
    count: int,
    seed: int,
    train_seed: int = 0,
    loss: Any = loss,
) -> None:
    genomes = uniform_sample(SearchSpace.load(space), count, seed)
    with path.open("a", encoding="utf-8") as fh:
        for index, genome in enumerate(genomes):
            genes = json.loads(json.dumps(dict(genome)))
            for steps in MARKS:
                row = {
                    "sample": sample,
                    "index": index,
                    "seed": train_seed,
                    "steps": steps,
                    "status": "ok",
                    "val_loss": loss(genes, steps, train_seed),
                    "train_seconds": 1.5,
                    "genes": genes,
                }
                fh.write(json.dumps(row) + "\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("long")
    rows = folder / "rows.jsonl"
    write_rows(rows, "mid", "train", 40, seed=1)
    write_rows(rows, "tiny", "fit", 20, seed=2)  # per-layer genes, another space
    write_rows(rows, "mid", "valid", 16, seed=3)
    write_rows(rows, "mid", "valid", 16, seed=3, train_seed=1)  # the noise floor
    out = folder / "long.npz"
    quick = (HGB_GRID[0], GP)  # one of each family
    return out, build_long_surrogate([rows], BASE, out, level="tiny", grid=quick)


def test_fits_on_every_sample_but_the_held_out(built: tuple[Path, dict[str, Any]]) -> None:
    _, meta = built
    assert meta["rung_steps"] == list(MARKS)
    assert [f["name"] for f in meta["fidelities"]] == ["tiny@20", "tiny"]
    top = meta["report"]["val_loss@40"]
    assert top["training_genomes"] == 60 and top["held_out_genomes"] == 16
    assert top["training_samples"] == ["rows.jsonl:fit", "rows.jsonl:train"]
    assert top["held_out"]["kendall_tau"] > 0.7 and top["held_out"]["regret"] < 0.2
    assert top["held_out"]["valid"]["genomes"] == 16
    assert top["noise_floor"]["genomes"] == 16 and top["noise_floor"]["kendall_tau"] > 0.8
    chosen = {row["settings"].get("family", "hgb") for row in meta["report"].values()}
    assert chosen == {"gp"}  # the smooth truth: the process wins the cross-validation
    assert meta["model"]["estimator"] == "GaussianProcessRegressor"
    assert meta["real_training_seconds"] == pytest.approx(1.5 * 2 * (40 + 20 + 16))
    (path,) = meta["data"]
    assert meta["data_sha256"][path] == hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_serves_every_base_genome_with_the_base_latency(
    built: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = built
    served, base = SurrogateEvaluator(out), SurrogateEvaluator(BASE)
    assert len(served) == len(base) and served.steps == MARKS
    genome = served.space.default_genome()
    result, before = served.evaluate(genome), base.evaluate(genome)
    assert result.source == "surrogate" and result.fidelity == "tiny"
    assert result.latency_ms == before.latency_ms and result.params == before.params
    wide = served.space.genome({**genome, "d_model": 128})
    assert served.evaluate(wide).val_loss < result.val_loss  # the fitted trend
    low = SurrogateEvaluator(out, rung=0).evaluate(genome)
    assert low.val_loss > result.val_loss


def test_env_runs_on_it_with_promotion(built: tuple[Path, dict[str, Any]]) -> None:
    out, _ = built
    env = gym.make("nas_env/SurrogateLM-v0", table=str(out), promotion="asha")
    env.reset(seed=0)
    _, reward, *_ = env.step(env.action_space.sample())
    assert math.isfinite(reward)
    env.close()


def test_too_few_runs_name_the_command(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    write_rows(rows, "mid", "train", 5, seed=1)
    write_rows(rows, "mid", "valid", 2, seed=3)
    with pytest.raises(ConfigError, match=r"long_truth\.py --plan surrogate"):
        build_long_surrogate([rows], BASE, tmp_path / "x.npz", level="tiny")
    with pytest.raises(ConfigError, match="no run reaches"):
        build_long_surrogate([rows], BASE, tmp_path / "x.npz", level="reference")


def test_reader_keeps_one_seed_and_ok_marks(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    write_rows(rows, "mid", "train", 2, seed=1)
    write_rows(rows, "mid", "train", 2, seed=1, train_seed=1)
    with rows.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "sample": "x",
                    "index": 0,
                    "steps": 20,
                    "status": "failed",
                    "val_loss": None,
                    "genes": {"layers": 1},
                }
            )
            + "\n"
        )
    runs = read_runs([rows])
    assert len(runs) == 3 and sorted(len(r.losses) for r in runs) == [0, 2, 2]
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(ConfigError, match=r"bad\.jsonl:1"):
        read_runs([tmp_path / "bad.jsonl"])


def test_regret_is_the_perplexity_gap_of_the_pick() -> None:
    assert regret([0.1, 0.2], [2.0, 1.0]) == pytest.approx(math.e - 1)
    assert regret([0.2, 0.1], [2.0, 1.0]) == 0.0


def test_cli_builds_and_describes(built: tuple[Path, dict[str, Any]], tmp_path: Path, capsys):
    out, _ = built
    assert main(["info", str(out)]) == 0
    assert "top-pick regret" in capsys.readouterr().out
    assert (
        main(
            [
                "long-surrogate",
                "--rows",
                str(tmp_path / "none.jsonl"),
                "--base",
                str(BASE),
                "--out",
                str(tmp_path / "y.npz"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow  # two builds over every genome of `mid` (about 20 s)
def test_stacking_fits_on_what_the_base_predicts(tmp_path: Path) -> None:
    """A truth that follows the base benchmark's own predictions (but not the genes
    smoothly) is ranked far better when those predictions are features; genomes the base
    lacks (`tiny` rows) still fit, with no prediction. (The stacked build also takes its
    latency column from a latency profile.)"""
    from nas_env.latency.profile import Profile

    base = SurrogateEvaluator(BASE)

    def follows_base(genes: dict[str, Any], steps: int, seed: int = 0) -> float:
        predicted = base.evaluate(base.space.genome(genes)).val_loss
        return 2.0 * predicted + (0.5 if steps < 40 else 0.0)

    rows = tmp_path / "rows.jsonl"
    write_rows(rows, "mid", "train", 40, seed=1, loss=follows_base)
    write_rows(rows, "tiny", "fit", 10, seed=2)
    write_rows(rows, "mid", "valid", 16, seed=3, loss=follows_base)
    quick = {"level": "tiny", "noise_seed": None, "grid": HGB_GRID[:1]}
    plain = build_long_surrogate([rows], BASE, tmp_path / "a.npz", **quick)
    profile_path = SHIPPED_TABLES.parent / "latency" / "mid-cpu.json"
    stacked = build_long_surrogate(
        [rows], BASE, tmp_path / "b.npz", stack=True, latency_profile=profile_path, **quick
    )
    tau = {
        name: meta["report"]["val_loss@40"]["held_out"]["kendall_tau"]
        for name, meta in (("plain", plain), ("stacked", stacked))
    }
    assert tau["stacked"] >= 0.85 and tau["stacked"] > tau["plain"] + 0.2, tau
    assert "predicted val_loss" in stacked["model"]["features"]
    assert "predicted" not in plain["model"]["features"]
    # the latency column came from the profile, not from the base benchmark
    assert stacked["latency_from"].startswith("latency profile mid-cpu@")
    assert plain["latency_from"] == str(BASE)
    served = SurrogateEvaluator(tmp_path / "b.npz")
    profile = Profile(profile_path, json.loads(profile_path.read_text()))
    genome = served.space.default_genome()
    assert served.evaluate(genome).latency_ms == pytest.approx(
        profile.predict(dict(genome), served.space.task), rel=1e-6
    )
    assert served.evaluate(genome).latency_ms != base.evaluate(genome).latency_ms


@pytest.mark.parametrize("level", ["profile", "base"])
def test_a_profiled_latency_column_keeps_the_profiles_ranking(level: str) -> None:
    """`--latency-level base` scales the profile's predictions by one factor to the base
    benchmark's median (the level the targets were set at); the ranking stays the
    profile's either way."""
    from nas_env.latency.profile import Profile
    from nas_env.table.long_surrogate import _profiled_latency

    space = SearchSpace.load("mid")
    genomes = uniform_sample(space, 30, seed=5)
    base = np.linspace(1.0, 3.0, len(genomes))[::-1]  # any column, ranked otherwise
    path = SHIPPED_TABLES.parent / "latency" / "mid-cpu.json"
    column, text, scale = _profiled_latency(path, space, genomes, base, level)
    profile = Profile(path, json.loads(path.read_text()))
    raw = np.array([profile.predict(dict(g), space.task) for g in genomes])
    assert np.argsort(column).tolist() == np.argsort(raw).tolist()
    np.testing.assert_allclose(column, raw * scale, rtol=1e-6)
    if level == "base":
        assert np.median(column / base) == pytest.approx(1.0, rel=1e-5)
        assert scale != 1.0 and f"x{scale:.3f}" in text
    else:
        assert scale == 1.0 and "scaled" not in text


def test_an_unknown_latency_level_is_refused() -> None:
    from nas_env.table.long_surrogate import _profiled_latency

    space = SearchSpace.load("mid")
    path = SHIPPED_TABLES.parent / "latency" / "mid-cpu.json"
    with pytest.raises(ConfigError, match="latency level 'fastest'; allowed: profile, base"):
        _profiled_latency(path, space, [space.default_genome()], np.ones(1), "fastest")
