"""The CLI's final training: which genomes it re-trains, the winner, its saved model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from test_train_rl import cli, only_run

import train_rl
from agents.records import read_records


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tokenizer, token arrays and result cache shared by the module."""
    return tmp_path_factory.mktemp("train_rl_final_cache")


@pytest.mark.slow  # a search and a final training through the CLI (10 s)
def test_the_final_training_re_trains_the_best_genomes_and_names_the_winner(
    tmp_path: Path, cache_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = cli("random", tmp_path, cache_root, 6)
    argv[argv.index("--final-top") + 1] = "2"
    assert train_rl.main([*argv, "--final-fidelity", "tiny"]) == 0
    out = capsys.readouterr().out
    run = only_run(tmp_path, "random")
    final = json.loads((run / "final.json").read_text())
    assert final["fidelity"] == "tiny"
    records = [r for r in read_records(run / "episodes.jsonl") if r["status"] == "ok"]
    best: dict[str, float] = {}
    layers: dict[str, int] = {}
    for r in records:
        best[r["genome_key"]] = max(r["score"], best.get(r["genome_key"], -math.inf))
        layers[r["genome_key"]] = r["genome"]["layers"]
    ranked = sorted(best, key=lambda k: (-best[k], k))  # ties broken by key
    # The search's best two, then the best genome of every depth not among them.
    expected = ranked[:2]
    for depth in sorted(set(layers.values())):
        if all(layers[k] != depth for k in expected[:2]):
            expected.append(next(k for k in ranked if layers[k] == depth))
    assert [c["genome_key"] for c in final["candidates"]] == expected
    assert [c["chosen_as"] for c in final["candidates"]][:2] == ["top", "top"]
    assert all(c["chosen_as"].startswith("best of layers=") for c in final["candidates"][2:])
    scores = {c["genome_key"]: c["final"]["score"] for c in final["candidates"]}
    assert final["winner"] == max(scores, key=scores.__getitem__)
    assert all(c["final"]["fidelity"] == "tiny" for c in final["candidates"])
    assert final["targets"] == {"size_mb": 1.0, "latency_ms": 1.5}
    assert "winner:" in out and "Pareto front" in out and "targets: size_mb <= 1" in out
    assert (run / "plots" / "report.md").is_file() and "plots:" in out
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert (config["final_top"], config["final_fidelity"]) == (2, "tiny")
    # The winner's trained model is in the run folder and rebuilds.
    from models import load_trained

    model = load_trained(run / "model")
    description = json.loads((run / "model" / "model.json").read_text())
    winner = next(c for c in final["candidates"] if c["genome_key"] == final["winner"])
    assert description["meta"]["genome_key"] == final["winner"]
    assert {k: v for k, v in description["genes"].items() if k != "family"} == winner["genome"]
    assert final["model"]["folder"] == str(run / "model") and "trained model:" in out
    assert (run / "model" / "tokenizer.model").stat().st_size > 0
    # The README's snippet: tokenize with the shipped tokenizer, run the model.
    import torch

    from nas_env.tasks.tokenizer import Tokenizer

    tokenizer = Tokenizer.from_file(run / "model" / "tokenizer.model")
    tokens = torch.tensor([tokenizer.encode("def main():\n    return")])
    logits, _ = model(tokens)
    assert logits.shape == (1, tokens.shape[1], description["task"]["vocab_size"])


def test_final_training_defaults(tmp_path: Path) -> None:
    parser = train_rl.build_parser()
    trained = train_rl.prepare(parser.parse_args(["--log-folder", str(tmp_path)]), [])
    assert (trained.final_top, trained.final_fidelity) == (train_rl.DEFAULT_FINAL_TOP, "rerank")
    assert trained.final_baselines is False
    args = ["--final-baselines", "--log-folder", str(tmp_path)]
    assert train_rl.prepare(parser.parse_args(args), args).final_baselines is True
    served = ["--env", "nas_env/BenchLM-v2", "--algo", "random"]
    assert train_rl.prepare(parser.parse_args(served), served).final_top == 0
    bad = ["--final-fidelity", "nosuch", "--final-top", "1"]
    assert train_rl.main([*bad, "--log-folder", str(tmp_path)]) == 2
