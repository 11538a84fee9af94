"""The final training: re-train a search's best few genomes at the reference fidelity.

Standard NAS practice: a search ranks candidates at a cheap fidelity, then its best few
are trained for longer and the winner is chosen on that measurement. `final_training`
reads the run's ``episodes.jsonl``, takes the ``top`` distinct genomes by search score,
evaluates each with the run's own env (same space, task, reward and targets) at
``fidelity``, writes ``RUN_DIR/final.json`` and returns it; `final_report` is the text
``train_rl.py`` prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.records import metrics_of
from agents.runs import EPISODES_FILE
from nas_env.atomic import atomic_write_json
from nas_env.genome import Genome

FINAL_FILE = "final.json"


def top_genomes(run_dir: Path, top: int) -> list[dict[str, Any]]:
    """The ``top`` distinct successfully evaluated genomes of a run, best search score first.

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
    return ranked[:top]


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
) -> dict[str, Any]:
    """Re-train the run's ``top`` best genomes at ``fidelity``; write and return final.json.

    The winner is the candidate with the best score at ``fidelity`` (failures never win).
    """
    candidates = top_genomes(run_dir, top)
    env = gym.make(env_id, **{**dict(env_kwargs), "fidelity": fidelity})
    try:
        base = env.unwrapped
        reward, space = base.reward_fn, base.space
        rows = []
        for record in candidates:
            genome = Genome.from_genes(space, record["genome"])
            result = base.evaluator.evaluate(genome)
            rows.append(
                {
                    "genome_key": record["genome_key"],
                    "genome": record["genome"],
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
    finally:
        env.close()
    scored = [r for r in rows if r["final"]["score"] is not None]
    winner = max(scored, key=lambda r: r["final"]["score"]) if scored else None
    data = {
        "fidelity": fidelity,
        "reward": reward.to_dict(),
        "targets": space.targets.to_dict(),
        "task": base.evaluator.task_id if hasattr(base.evaluator, "task_id") else None,
        "candidates": rows,
        "winner": winner["genome_key"] if winner else None,
    }
    atomic_write_json(run_dir / FINAL_FILE, data)
    return data


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
        within = {True: "yes", False: "no", None: "-"}[f["within_targets"]]
        lines.append(
            f"  {c['genome_key']:<16} {_num(s['score'], 4):>12} {_num(s['quality']):>14} "
            f"{_num(f['quality']):>13} {_num(f['score'], 4):>11} {_num(f['size_mb']):>6} "
            f"{_num(f['latency_ms']):>6}  {within}{mark}"
        )
        if f["status"] != "ok":
            lines.append(f"    {f['status']}: {f['message']}")
    winner = next((c for c in data["candidates"] if c["genome_key"] == data["winner"]), None)
    if winner is None:
        lines.append("no candidate trained successfully at the final fidelity")
    else:
        genes = ", ".join(f"{k}={json.dumps(v)}" for k, v in winner["genome"].items())
        lines.append(f"winner: {genes}")
    lines.append(f"  -> {run_dir / FINAL_FILE}")
    lines += pareto_lines(run_dir)
    return "\n".join(lines)


def pareto_lines(run_dir: Path, shown: int = 8) -> list[str]:
    """The search's Pareto front (quality, parameters, latency) as a few lines of text."""
    path = run_dir / "pareto.json"
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
