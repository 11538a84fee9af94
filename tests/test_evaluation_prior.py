"""Priors fitted on long training: built from rows, deterministic, refused where they cannot
read a genome, and the feature ``prior`` of the signals that name one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from nas_env.errors import ConfigError
from nas_env.evaluation import Evaluator
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.prior import load_prior
from nas_env.evaluation.signals import checked_signal, load_signal
from nas_env.ranking import kendall_tau
from nas_env.samples import uniform_sample
from nas_env.space import load_space
from nas_env.table.prior_fit import build_prior, main


def _truth(genes: dict) -> float:
    """A made-up long-training loss: wider and deeper is better, post-norm worse."""
    heads = float(np.mean(genes["heads"])) if isinstance(genes["heads"], list) else 0.0
    post = 0.3 if genes["norm_position"] == "post" else 0.0
    return 4.0 - 0.4 * math.log(genes["d_model"]) - 0.05 * genes["layers"] + post + 0.01 * heads


def _rows(path: Path, count: int, seed: int, sample: str = "fit") -> list[dict]:
    genomes = uniform_sample(load_space("tiny"), count, seed)
    rows = []
    for index, genome in enumerate(genomes):
        genes = {k: list(v) if isinstance(v, tuple) else v for k, v in dict(genome).items()}
        row = {"sample": sample, "index": index, "seed": 0, "genes": genes, "status": "ok"}
        rows.append({**row, "steps": 40, "val_loss": _truth(genes)})
    with path.open("a") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return rows


def test_a_prior_learns_the_truth_it_is_fitted_on_and_predicts_alike_every_time(
    tmp_path: Path,
) -> None:
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 40, 1)
    held = _rows(rows, 12, 2, sample="uniform")
    out = tmp_path / "prior.npz"
    meta = build_prior([rows], ["uniform"], "tiny", out, level="tiny")
    assert meta["runs"] == 40 and meta["excluded_samples"] == ["uniform"]  # held out
    prior = load_prior(out)
    predicted = [prior.predict(r["genes"]) for r in held]
    assert kendall_tau(predicted, [r["val_loss"] for r in held]) > 0.6
    assert [load_prior(out).predict(r["genes"]) for r in held] == predicted
    assert prior.mismatch(load_space("tiny")) == ""
    assert "searches pooling" in prior.mismatch(load_space("cls"))


def test_bad_prior_files_and_too_few_rows_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not a prior"):
        load_prior(bad)
    with pytest.raises(ConfigError, match="prior 'nosuch': no file"):
        load_prior("nosuch")
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 10, 3)
    with pytest.raises(ConfigError, match="10 runs reach tiny's 40 steps; a prior needs >= 30"):
        build_prior([rows], [], "tiny", tmp_path / "p.npz", level="tiny")
    assert main(["--rows", str(tmp_path / "none.jsonl"), "--out", str(bad)]) == 2


def test_the_shipped_prior_signals_score_with_the_prior(tmp_path: Path) -> None:
    genes = dict(load_space("tiny").default_genome())
    for name in ("search-gp", "rerank-gp"):
        signal = load_signal(name)
        assert signal.prior == "long-gp" and signal.to_dict()["prior"] == "long-gp"
        feats = signal.features(genes, {"val_loss": 3.0, "params": 1e5, "flops_per_token": 1e5})
        assert feats["prior"] == load_prior("long-gp").predict(genes)
        assert math.isfinite(signal.estimate(genes, {"val_loss": 3.0}))
    with pytest.raises(ConfigError, match=r"space 'rnn-lm' lacks activation, .*searches cell"):
        checked_signal(Fidelity.resolve("search-gp"), load_space("rnn-lm"))
    for name, kind in (("cls", "cls"), ("vowels", "series"), ("dendritic", "image")):
        with pytest.raises(ConfigError, match=f"lm tasks; space '{name}' is a {kind} space"):
            checked_signal(Fidelity.resolve("rerank"), load_space(name))
    result = Evaluator("tiny", fidelity="tiny", cache=False).evaluate(
        load_space("tiny").default_genome()
    )
    assert result.signal == ""  # a level without a signal measures as it is
    with pytest.raises(ConfigError, match="is a cls space"):
        Evaluator("cls", task="cls/stdlib-modules", fidelity="search-gp", cache=False)
