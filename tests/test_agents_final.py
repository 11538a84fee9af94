"""The final training's choice of candidates: the search's best, then the best of every
depth, so that a cheap level's bias across depths cannot exclude the true best."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.final import choose_candidates, top_genomes


def _episodes(run: Path, rows: list[tuple[str, int, float, str]]) -> None:
    with (run / "episodes.jsonl").open("w") as fh:
        for key, layers, score, status in rows:
            record = {"genome_key": key, "genome": {"layers": layers}, "score": score}
            fh.write(json.dumps({**record, "status": status}) + "\n")


def test_top_genomes_keep_each_genomes_best_score(tmp_path: Path) -> None:
    _episodes(tmp_path, [("a", 1, 0.1, "ok"), ("a", 1, 0.5, "ok"), ("b", 2, 0.4, "ok")])
    assert [(r["genome_key"], r["score"]) for r in top_genomes(tmp_path, None)] == [
        ("a", 0.5),
        ("b", 0.4),
    ]


def test_candidates_are_the_top_then_the_best_of_each_missing_depth(tmp_path: Path) -> None:
    rows = [
        ("a", 1, 0.9, "ok"),
        ("b", 1, 0.8, "ok"),
        ("c", 2, 0.7, "ok"),
        ("d", 4, 0.3, "ok"),
        ("e", 4, 0.5, "ok"),
        ("f", 3, 0.95, "diverged"),  # failures never qualify
        ("g", 3, 0.1, "ok"),
    ]
    _episodes(tmp_path, rows)
    chosen = choose_candidates(tmp_path, top=2)
    assert [c["genome_key"] for c in chosen] == ["a", "b", "c", "g", "e"]
    assert [c["chosen_as"] for c in chosen] == [
        "top",
        "top",
        "best of layers=2",
        "best of layers=3",
        "best of layers=4",
    ]
    two = choose_candidates(tmp_path, top=1, per_depth=2)
    assert [c["genome_key"] for c in two] == ["a", "b", "c", "g", "e", "d"]
    assert [c["genome_key"] for c in choose_candidates(tmp_path, 2, per_depth=0)] == ["a", "b"]
    assert [c["genome_key"] for c in choose_candidates(tmp_path, 2, depth_gene=None)] == [
        "a",
        "b",
    ]


def test_named_baselines_are_measured_like_candidates_and_reported() -> None:
    from agents.final import _baselines, baseline_lines
    from nas_env.evaluation import EvalResult
    from nas_env.rewards import make_reward
    from nas_env.space import SearchSpace

    space = SearchSpace.load("mid")

    class Fixed:
        def evaluate(self, genome: object) -> EvalResult:
            return EvalResult(
                status="ok",
                genome_key=genome.key(),  # type: ignore[attr-defined]
                metric="perplexity",
                val_loss=2.0,
                perplexity=7.39,
                size_mb=0.5,
                latency_ms=1.0,
                baseline_loss=6.0,
            )

    reward = make_reward("target", target_size_mb=1.0, target_latency_ms=1.5)
    found = _baselines(space, Fixed(), reward)
    assert [b["name"] for b in found] == ["gpt2-like", "llama-like", "ultra-small"]
    assert all(b["final"]["within_targets"] and b["final"]["score"] > 0 for b in found)
    lines = baseline_lines(found)
    assert lines[0].startswith("named baselines") and "llama-like" in lines[2]
    assert baseline_lines([]) == []


@pytest.mark.slow  # two final trainings; the default suite stays under 5 minutes
def test_candidates_trained_side_by_side_give_the_sequential_results(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from agents.final import final_training
    from agents.final_pool import final_workers
    from nas_env.evaluation import Evaluator
    from nas_env.genome import Genome
    from nas_env.samples import uniform_sample
    from nas_env.space import SearchSpace

    space = SearchSpace.load("tiny")
    genomes = uniform_sample(space, 3, 5)
    kwargs = {"vocab_size": 256, "cache": False, "device": "cpu"}
    finals = {}
    for workers in (1, 2):
        run = tmp_path / f"w{workers}"
        run.mkdir()
        with (run / "episodes.jsonl").open("w") as fh:
            for rank, genome in enumerate(genomes):
                record = {"genome_key": genome.key(), "genome": dict(genome), "score": -rank}
                fh.write(json.dumps({**record, "status": "ok"}, default=list) + "\n")
        data = final_training(
            run, "nas_env/TransformerLM-v2", kwargs, 3, "tiny", per_depth=0, workers=workers
        )
        weights = load_file(str(run / "model" / "model.safetensors"))
        finals[workers] = (data, weights)
    (one, _), (two, w2) = finals[1], finals[2]

    def trained(data: dict) -> list[tuple]:  # latency is timed anew: not compared
        return [(c["final"]["val_loss"], c["final"]["params"]) for c in data["candidates"]]

    assert trained(one) == trained(two) and len(one["candidates"]) == 3
    # The winner's model came back from a worker: the weights a training here gives.
    winner = next(c for c in two["candidates"] if c["genome_key"] == two["winner"])
    saved = json.loads((tmp_path / "w2" / "model" / "model.json").read_text())
    assert saved["meta"]["genome_key"] == winner["genome_key"]
    evaluator = Evaluator("tiny", fidelity="tiny", cache=False, vocab_size=256)
    _, model = evaluator.train_model(Genome.from_genes(evaluator.space, winner["genome"]))
    here = model.state_dict()
    assert w2 and all(w2[k].equal(here[k]) for k in w2)  # (tied copies are saved once)
    assert final_workers(5, threads=1) >= 1 and final_workers(1, threads=1) == 1
    assert final_workers(5, threads=10_000) == 1
