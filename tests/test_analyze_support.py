"""Synthetic but realistic run folders for the analyze tests, written with the project's own
record writer (`agents.records.RecordWriter`) and config writer (`agents.runs.write_config`).

Each `write_run` call also returns the ground truth of what it wrote (unique genomes, best
score, cache hits, failures...), tracked while generating, so that tests compare
`analyze.summarize` with facts rather than with a second implementation.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.records import RecordWriter
from agents.runs import write_config

CHOICES: dict[str, list[Any]] = {
    "layers": [1, 2, 3, 4],
    "d_model": [32, 64, 128],
    "norm": ["layernorm", "rmsnorm"],
    "activation": ["relu", "gelu", "swiglu"],
    "position": ["learned", "rope", "alibi"],
    "bias": [True, False],
}
PER_LAYER = {"heads": [1, 2, 4], "ffn_ratio": [2, 4]}
MAX_LAYERS = 4


@dataclass
class Truth:
    """What a synthetic run contains, counted while it was written."""

    run_dir: Path
    steps: int = 0
    records: int = 0
    evaluations: int = 0
    unique: set[str] = field(default_factory=set)
    cache_hits: int = 0
    failures: Counter = field(default_factory=Counter)
    invalid_actions: int = 0
    best_score: float | None = None
    best_genome: dict[str, Any] | None = None
    wall_time: float = 0.0
    episodes: int = 0


def default_genes() -> dict[str, Any]:
    return {
        "layers": 2,
        "d_model": 64,
        "heads": [2, 2],
        "ffn_ratio": [2, 2],
        "norm": "layernorm",
        "activation": "gelu",
        "position": "learned",
        "bias": True,
    }


def key_of(genes: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(genes, sort_keys=True).encode()).hexdigest()[:16]


def measure(genes: dict[str, Any], metric: str) -> dict[str, Any]:
    """Deterministic fake measurements of a genome (bigger models: better and slower)."""
    layers, width = genes["layers"], genes["d_model"]
    params = int(
        layers * width * width * (4 + 2 * float(np.mean(genes["ffn_ratio"]))) + 256 * width
    )
    bonus = {"relu": 0.0, "gelu": 0.03, "swiglu": 0.05}[genes["activation"]]
    bonus += {"learned": 0.0, "rope": 0.04, "alibi": 0.02}[genes["position"]]
    strength = np.log(params) / 14 + bonus
    quality = 600 * np.exp(-2.2 * strength) if metric == "perplexity" else 0.4 + 0.45 * strength
    latency = 0.05 * layers * (1 + width / 64) * (1.1 if genes["norm"] == "layernorm" else 1.0)
    return {
        "metric": metric,
        "quality": float(quality),
        metric: float(quality),
        "val_loss": float(np.log(quality)) if metric == "perplexity" else None,
        "params": params,
        "size_mb": params * 4 / 2**20,
        "latency_ms": float(latency),
        "flops_per_token": 2 * params,
    }


def score_of(m: dict[str, Any]) -> float:
    quality = m["quality"]
    q = 1 / np.log(quality) if m["metric"] == "perplexity" else quality
    return float(q - 0.02 * np.log10(m["params"]) - 0.05 * m["latency_ms"])


def mutate(genes: dict[str, Any], rng: np.random.Generator) -> tuple[str, dict[str, Any] | None]:
    """A random edit action and the child genes (None when the edit is a no-op)."""
    name = rng.choice([*CHOICES, *PER_LAYER])
    child = json.loads(json.dumps(genes))
    if name in PER_LAYER:
        layer = int(rng.integers(MAX_LAYERS))
        delta = int(rng.choice([-1, 1]))
        action = f"{name}[{layer}]{'+' if delta > 0 else '-'}1"
        if layer >= genes["layers"]:
            return action, None
        options = PER_LAYER[name]
        index = options.index(child[name][layer]) + delta
        if not 0 <= index < len(options):
            return action, None
        child[name][layer] = options[index]
        return action, child
    value = CHOICES[name][int(rng.integers(len(CHOICES[name])))]
    action = f"{name}={str(value).lower()}" if not isinstance(value, int) else f"{name}={value}"
    if value == genes[name]:
        return action, None
    child[name] = value
    if name == "layers":
        for gene, options in PER_LAYER.items():
            child[gene] = (genes[gene] + [options[0]] * MAX_LAYERS)[:value]
    return action, child


def random_genes(rng: np.random.Generator) -> dict[str, Any]:
    genes = {name: options[int(rng.integers(len(options)))] for name, options in CHOICES.items()}
    for gene, options in PER_LAYER.items():
        genes[gene] = [options[int(rng.integers(len(options)))] for _ in range(genes["layers"])]
    return genes


def write_run(
    root: Path,
    algo: str = "ppo",
    env_id: str = "nas_env/TransformerLM-v2",
    seed: int = 0,
    steps: int = 60,
    episode_len: int = 8,
    failures: dict[int, str] | None = None,
    metric: str = "perplexity",
    planned: int | None = None,
) -> Truth:
    """Write ``root/<algo>/<env>__<seed>__<stamp>/`` with config.yaml and episodes.jsonl.

    ``algo="random"`` writes one-record episodes of random samples (as the baseline does);
    any other name writes edit episodes (reset, then ``episode_len`` edit actions).
    ``failures`` maps a global step to the status of the evaluation made at that step.
    """
    rng = np.random.default_rng(seed + 1000 * len(algo))
    name = env_id.split("/", 1)[-1]
    run_dir = root / algo / f"{name}__{seed}__20250101-12000{seed % 10}"
    run_dir.mkdir(parents=True)
    write_config(run_dir, {"algo": algo, "env_id": env_id, "seed": seed,
                           "n_timesteps": planned or steps, "hyperparams": {}})  # fmt: skip
    truth = Truth(run_dir)
    writer = RecordWriter(run_dir / "episodes.jsonl", run_dir.name, algo, env_id, seed)
    failures = failures or {}
    sample = algo == "random"
    episode, step, ret, wall = -1, 0, 0.0, 0.0
    genes, state = default_genes(), None
    global_step = 1 if sample else 0
    while global_step <= steps:
        base: dict[str, Any] = {"env_index": 0, "invalid_action": "", "global_step": global_step}
        if sample or step == 0:
            episode, step, ret = episode + 1, 0, 0.0
            genes = random_genes(rng) if sample else default_genes()
            action, candidate, index = ("sample" if sample else "reset"), genes, None
        else:
            action, candidate = mutate(genes, rng)
            while candidate is None and global_step in failures:  # fail a real evaluation
                action, candidate = mutate(genes, rng)
            index = int(rng.integers(40))
        evaluated = candidate is not None
        status = failures.get(global_step, "ok") if evaluated else "ok"
        shown = candidate if evaluated else genes
        key = key_of(shown)
        m = measure(shown, metric)
        hit = evaluated and key in truth.unique
        if evaluated:
            truth.evaluations += 1
            truth.cache_hits += hit
            new = key not in truth.unique
            truth.unique.add(key)
        else:
            new = False
            base["invalid_action"] = f"{action}: no-op"
            truth.invalid_actions += 1
        if status != "ok":
            truth.failures[status] += 1
            m = {**m, "quality": None, metric: None, "val_loss": None}
            m["latency_ms"] = float("nan")  # non-finite values are written as null
            reward = -1.0
        else:
            new_score = score_of(m)
            reward = 0.0 if step == 0 else new_score - state
            genes, state = shown, new_score
            if evaluated and (truth.best_score is None or new_score > truth.best_score):
                truth.best_score, truth.best_genome = new_score, shown
        wall += 0.01 if hit or not evaluated else 0.4 + 0.1 * rng.random()
        ret += reward
        done = sample or step == episode_len
        writer.write({
            **base, "episode": episode, "step": step, "action": action, "action_index": index,
            "genome": shown, "genome_key": key, "state_key": key_of(genes),
            "evaluated": evaluated, "new_evaluation": new, "unique_evaluations": len(truth.unique),
            "status": status, "message": "" if status == "ok" else f"{status} during training",
            **m, "source": "train", "cache_hit": hit, "reward": reward, "score": state,
            "episode_return": ret, "done": done, "wall_time": round(wall, 4),
            "step_seconds": 0.4, "timestamp": "2025-01-01T12:00:00.000+00:00",
        })  # fmt: skip
        truth.records += 1
        truth.steps = global_step
        step = 0 if done else step + 1
        global_step += 1
    writer.close()
    truth.wall_time = round(wall, 4)
    truth.episodes = episode + 1
    return truth


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content (to prove nothing was written there)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def check_png(path: Path) -> tuple[int, int]:
    """Assert ``path`` is a real, non-trivial PNG; return (width, height)."""
    from matplotlib import image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > 5_000, f"{path} is suspiciously small ({len(data)} bytes)"
    pixels = image.imread(path)
    height, width = pixels.shape[:2]
    assert width > 300 and height > 300, f"{path}: {width}x{height}"
    return width, height
