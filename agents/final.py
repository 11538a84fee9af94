"""The final training: re-train a search's best candidates longer and choose there.

Standard NAS practice: a search ranks candidates at a cheap fidelity, then its best few
are trained for longer and the winner is chosen on that measurement. A cheap level's
ranking is biased by shape (at 100 steps shallow, wide genomes lead; after long training
deeper ones do), so the final training does not only take the search's top few: it also
takes the best genome of every depth the search evaluated (`choose_candidates`), so that
the longer training can overturn the search's ranking across depths.

`final_training` reads the run's ``episodes.jsonl``, chooses the candidates, evaluates
each with the run's own env (same space, task, reward and targets) at ``fidelity`` (side
by side, one process per free core, where they train on the CPU: `agents.final_pool`), saves
the winner's trained model in ``RUN_DIR/model/`` (safetensors weights and a JSON
description, `models.artifact`; ``models.load_trained(RUN_DIR / "model")`` rebuilds it;
``model.onnx`` too where the ``onnx`` extra is installed), writes ``RUN_DIR/final.json``
and returns it; `final_report` is the text ``train_rl.py`` prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.final_pool import FinalPool, evaluate_candidate, final_workers
from agents.records import metrics_of
from nas_env.atomic import atomic_write_json
from nas_env.genome import Genome
from nas_env.training_genes import model_genes
from runfolder import EPISODES_FILE, FINAL_FILE, MODEL_DIR, PARETO_FILE, TOKENIZER_FILE


def choose_candidates(
    run_dir: Path, top: int, depth_gene: str | None = "layers", per_depth: int = 1
) -> list[dict[str, Any]]:
    """The final training's candidates: the ``top`` best by search score, then the best
    ``per_depth`` of every value of ``depth_gene`` not already among them.

    Each entry is the record of the genome's best search score with ``chosen_as`` added
    (``top``, or ``best of layers=2``).
    """
    ranked = top_genomes(run_dir, None)
    chosen = [{**r, "chosen_as": "top"} for r in ranked[:top]]
    keys = {r["genome_key"] for r in chosen}
    if depth_gene and per_depth > 0:
        depths = sorted(
            {r["genome"][depth_gene] for r in ranked if depth_gene in r["genome"]}, key=str
        )
        for depth in depths:
            same = [r for r in ranked if r["genome"].get(depth_gene) == depth]
            for record in [r for r in same if r["genome_key"] not in keys][:per_depth]:
                if sum(1 for r in chosen if r["genome"].get(depth_gene) == depth) >= per_depth:
                    break
                chosen.append({**record, "chosen_as": f"best of {depth_gene}={depth}"})
                keys.add(record["genome_key"])
    return chosen


def top_genomes(run_dir: Path, top: int | None) -> list[dict[str, Any]]:
    """The ``top`` (None: all) distinct successfully evaluated genomes of a run, best
    search score first.

    Each entry holds the genome, its key and the record of its best search score.
    """
    best: dict[str, dict[str, Any]] = {}
    path = run_dir / EPISODES_FILE
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            score = record.get("score")
            if record.get("status") != "ok" or not isinstance(score, int | float):
                continue
            key = record["genome_key"]
            if key not in best or score > best[key]["score"]:
                best[key] = record
    ranked = sorted(best.values(), key=lambda r: (-r["score"], r["genome_key"]))
    return ranked if top is None else ranked[:top]


def _measured(result: Any, reward: Any) -> dict[str, Any]:
    """The record's metric fields of ``result`` (`metrics_of`), its training time, and
    its score and whether it is within the reward's targets (None unless ok)."""
    data = {
        **metrics_of(result.to_dict()),
        "train_seconds": result.train_seconds,
        "score": None,
        "within_targets": None,
    }
    if result.ok:
        data["score"] = float(reward.score(result))
        within = getattr(reward, "within", None)
        data["within_targets"] = bool(within(result)) if within is not None else None
    return data


def final_training(
    run_dir: Path,
    env_id: str,
    env_kwargs: Mapping[str, Any],
    top: int,
    fidelity: str = "reference",
    per_depth: int = 1,
    baselines: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Re-train the run's candidates (`choose_candidates`) at ``fidelity``; save the
    winner's model in ``RUN_DIR/model/``; write and return final.json.

    The winner is the candidate with the best score at ``fidelity`` (failures never win).
    With ``baselines``, the space's named baselines (`nas_env.baselines`) are trained the
    same way and reported under ``"baselines"``, for comparison only. Candidates that
    train on the CPU train side by side on ``workers`` processes (None: one per free core,
    `agents.final_pool`), each with this process's thread count: the same results, sooner.
    """
    env = gym.make(env_id, **{**dict(env_kwargs), "fidelity": fidelity})
    pool: FinalPool | None = None
    try:
        base = env.unwrapped
        reward, space, evaluator = base.reward_fn, base.space, base.evaluator

        def genome_of(record: Mapping[str, Any]) -> Genome:
            return Genome.from_genes(space, record["genome"])

        depth = space.layer_gene().name if space.layer_gene() is not None else None
        candidates = choose_candidates(run_dir, top, depth, per_depth)
        if not _trains_on_cpu(evaluator):
            workers = 1
        workers = (
            final_workers(len(candidates)) if workers is None else min(workers, len(candidates))
        )
        if workers > 1:
            pool = FinalPool(env_id, {**dict(env_kwargs), "fidelity": fidelity}, workers)
            results = [(result, None) for result in pool.train(candidates)]
        else:
            results = [evaluate_candidate(evaluator, genome_of(r)) for r in candidates]
        rows, models = [], {}
        for record, (result, model) in zip(candidates, results, strict=True):
            models[record["genome_key"]] = (genome_of(record), model)
            rows.append(
                {
                    "genome_key": record["genome_key"],
                    "genome": record["genome"],
                    "chosen_as": record["chosen_as"],
                    "search": {
                        "fidelity": record.get("fidelity"),
                        "score": record["score"],
                        "quality": record.get("quality"),
                        "size_mb": record.get("size_mb"),
                        "latency_ms": record.get("latency_ms"),
                    },
                    "final": _measured(result, reward),
                }
            )
        scored = [r for r in rows if r["final"]["score"] is not None]
        winner = max(scored, key=lambda r: r["final"]["score"]) if scored else None
        saved = None
        if winner is not None:
            genome, model = models[winner["genome_key"]]
            if pool is not None:
                model = pool.load(winner["genome_key"])
            saved = _save_model(run_dir, evaluator, genome, model, winner)
        compared = _baselines(space, evaluator, reward) if baselines else None
    finally:
        if pool is not None:
            pool.close()
        env.close()
    data = {
        "fidelity": fidelity,
        "reward": reward.to_dict(),
        "targets": space.targets.to_dict(),
        "task": getattr(evaluator, "task_id", None),
        "candidates": rows,
        "winner": winner["genome_key"] if winner else None,
        "model": saved,
    }
    if compared is not None:
        data["baselines"] = compared
    atomic_write_json(run_dir / FINAL_FILE, data)
    return data


def _baselines(space: Any, evaluator: Any, reward: Any) -> list[dict[str, Any]]:
    """The space's named baselines measured like the candidates."""
    from nas_env.baselines import baseline_genomes

    out = []
    for name, genome in baseline_genomes(space).items():
        result, _ = evaluate_candidate(evaluator, genome)
        out.append(
            {
                "name": name,
                "genome_key": genome.key(),
                "genome": genome.to_dict()["genes"],
                "final": _measured(result, reward),
            }
        )
    return out


def _trains_on_cpu(evaluator: Any) -> bool:
    """Whether candidates train here on the CPU (and so can train side by side)."""
    trains = getattr(evaluator, "evaluate_with_model", None) is not None
    return trains and str(getattr(evaluator, "device", "cpu")) == "cpu"


def _save_model(
    run_dir: Path, evaluator: Any, genome: Genome, model: Any, winner: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Save the winner's trained model (trained again when its result came from the
    cache: the same weights on the CPU); None where the evaluator trains nothing."""
    if model is None:
        train = getattr(evaluator, "train_model", None)
        if train is None:
            return None
        _, model = train(genome)
        if model is None:
            return None
    from models.artifact import export_onnx, save_trained

    folder = run_dir / MODEL_DIR
    genes = model_genes(genome, evaluator.space.family)
    meta = {
        "genome_key": winner["genome_key"],
        "fidelity": evaluator.fidelity.name,
        "task": evaluator.task_id,
        "task_fingerprint": evaluator.task_fingerprint,
        "final": winner["final"],
    }
    save_trained(model, genes, evaluator.spec, folder, meta)
    # Text tasks tokenise with a sentencepiece model: ship it beside the weights (image
    # and series tasks read their data as it is and have none).
    tokenizer = evaluator.task.tokenizer
    if tokenizer is not None:
        (folder / TOKENIZER_FILE).write_bytes(tokenizer.model_bytes)
    onnx = export_onnx(model, evaluator.spec, folder)
    deployed = None
    if "precision" in dict(genome):  # what the reward measured: the deployed graph
        from nas_env.compression import compress_to_onnx

        deployed = compress_to_onnx(model, evaluator.spec, dict(genome)["precision"], folder)
    return {
        "folder": str(folder),
        "weights": str(folder / "model.safetensors"),
        "tokenizer": str(folder / TOKENIZER_FILE) if tokenizer is not None else None,
        "onnx": str(onnx) if onnx else None,
        "deployed": str(deployed) if deployed else None,
    }


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def final_report(data: Mapping[str, Any], run_dir: Path) -> str:
    """The text printed after the final training: each candidate, the winner, the targets."""
    targets = data["targets"]
    shown = ", ".join(f"{k} <= {v:g}" for k, v in targets.items() if v is not None) or "none"
    search_fid = next((c["search"]["fidelity"] for c in data["candidates"]), "?")
    lines = [
        "",
        f"final training of the best {len(data['candidates'])} at `{data['fidelity']}` "
        f"(search fidelity `{search_fid}`; targets: {shown}):",
        f"  {'genome':<16} {'search score':>12} {'search quality':>14} "
        f"{'final quality':>13} {'final score':>11} {'MiB':>6} {'ms':>6}  within",
    ]
    for c in data["candidates"]:
        s, f = c["search"], c["final"]
        mark = " <- winner" if c["genome_key"] == data["winner"] else ""
        mark += f" ({c['chosen_as']})" if c.get("chosen_as", "top") != "top" else ""
        within = {True: "yes", False: "no", None: "-"}[f["within_targets"]]
        lines.append(
            f"  {c['genome_key']:<16} {_num(s['score'], 4):>12} {_num(s['quality']):>14} "
            f"{_num(f['quality']):>13} {_num(f['score'], 4):>11} {_num(f['size_mb']):>6} "
            f"{_num(f['latency_ms']):>6}  {within}{mark}"
        )
        if f["status"] != "ok":
            lines.append(f"    {f['status']}: {f['message']}")
    signal = next(
        (c["final"].get("signal") for c in data["candidates"] if c["final"].get("signal")), ""
    )
    if signal:
        lines.append(
            f"  final quality: the perplexity after long training as the signal {signal} "
            "estimates it (measured_val_loss in final.json: the held-out loss as measured)"
        )
    winner = next((c for c in data["candidates"] if c["genome_key"] == data["winner"]), None)
    if winner is None:
        lines.append("no candidate trained successfully at the final fidelity")
    else:
        genes = ", ".join(f"{k}={json.dumps(v)}" for k, v in winner["genome"].items())
        lines.append(f"winner: {genes}")
    lines += baseline_lines(data.get("baselines") or [])
    lines.append(f"  -> {run_dir / FINAL_FILE}")
    if data.get("model"):
        lines.append(
            f"  trained model: {data['model']['folder']} (models.load_trained(...) rebuilds it)"
        )
    lines += pareto_lines(run_dir)
    return "\n".join(lines)


def baseline_lines(baselines: list[dict[str, Any]]) -> list[str]:
    """The named baselines' final measurements, for comparison with the winner."""
    if not baselines:
        return []
    lines = ["named baselines at the same fidelity (for comparison; never the winner):"]
    for b in baselines:
        f = b["final"]
        within = {True: "yes", False: "no", None: "-"}[f["within_targets"]]
        lines.append(
            f"  {b['name']:<16} {'':>12} {'':>14} {_num(f['quality']):>13} "
            f"{_num(f['score'], 4):>11} {_num(f['size_mb']):>6} {_num(f['latency_ms']):>6}  "
            f"{within}" + ("" if f["status"] == "ok" else f"  ({f['status']}: {f['message']})")
        )
    return lines


def pareto_lines(run_dir: Path, shown: int = 8) -> list[str]:
    """The search's Pareto front (quality, parameters, latency) as a few lines of text."""
    path = run_dir / PARETO_FILE
    if not path.is_file():
        return []
    front = json.loads(path.read_text(encoding="utf-8")).get("front", [])
    lines = [f"Pareto front of the search ({len(front)} genomes; quality, params, latency):"]
    for entry in front[:shown]:
        m = entry.get("metrics", {})
        lines.append(
            f"  {entry['genome_key']:<16} {m.get('metric', 'quality')} {_num(m.get('quality'))}"
            f", {m.get('params')} params, {_num(m.get('latency_ms'))} ms"
        )
    if len(front) > shown:
        lines.append(f"  ... {len(front) - shown} more in {path}")
    return lines
