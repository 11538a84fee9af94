"""SurrogateEvaluator: serve a surrogate benchmark (every genome of a space, predicted).

A surrogate benchmark (NAS-Bench-301 / HW-GPT-Bench style) is one ``.npz`` file built by
``python -m nas_env.table surrogate`` (`nas_env.table.surrogate`): a model fitted on real
training results at every rung of a promotion ladder predicted the held-out loss of each
rung and the latency of every valid genome of the space; the file holds those
predictions, the analytic sizes, and a JSON ``meta`` (space, task, fidelities, the model,
its held-out rank correlation with real results, the build data). Serving is a lookup:
deterministic, identical on every machine, no model library needed. Every result says
``source="surrogate"``.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nas_env.errors import ConfigError
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.result import EvalResult
from nas_env.genome import Genome
from nas_env.space import SearchSpace
from nas_env.tasks.kinds import kind_of_metric

FORMAT = "nas_env-surrogate/1"
ARRAYS = ("keys", "val_loss", "latency_ms", "params", "size_mb", "flops_per_token")

_LOADED: dict[str, dict[str, Any]] = {}  # path -> arrays, meta and the key index


def load_benchmark(path: str | Path) -> dict[str, Any]:
    """The arrays, meta and key index of a surrogate file (read once per process).

    Raises:
        ConfigError: Missing or unreadable file, or not a surrogate benchmark.
    """
    path = Path(path)
    cached = _LOADED.get(str(path.resolve()))
    if cached is not None:
        return cached
    if not path.is_file():
        raise ConfigError(
            f"surrogate benchmark {path} does not exist; build it with `python -m "
            "nas_env.table surrogate` or pass table=PATH"
        )
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("one .npy array, not an .npz archive")
        with data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        reason = "not an .npz archive" if "pickle" in str(exc) else str(exc)
        raise ConfigError(
            f"{path}: not a readable .npz surrogate benchmark ({reason}); rebuild it with "
            "`python -m nas_env.table surrogate` or pass another table=PATH"
        ) from exc
    missing = [name for name in (*ARRAYS, "meta") if name not in arrays]
    if missing:
        raise ConfigError(f"{path}: not a surrogate benchmark (lacks {', '.join(missing)})")
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != FORMAT:
        raise ConfigError(
            f"{path}: format {meta.get('format')!r}, this version reads {FORMAT!r}; rebuild it"
        )
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in arrays["keys"].tolist()]
    loaded = {"arrays": arrays, "meta": meta, "index": {k: i for i, k in enumerate(keys)}}
    _LOADED[str(path.resolve())] = loaded
    return loaded


def result_template(meta: dict[str, Any], fidelity: Fidelity) -> dict[str, Any]:
    """The fields every result a surrogate benchmark serves carries, from its meta."""
    return {
        "task": meta["task"],
        "metric": meta["metric"],
        "task_fingerprint": meta["task_fingerprint"],
        "baseline_loss": meta["baseline_loss"],
        "fidelity": fidelity.name,
        "fidelity_config": fidelity.to_dict(),
        "backend": "surrogate",
        "device": "cpu",
        "precision": "fp32",
        "seed": meta.get("seed"),
        "steps": fidelity.steps,
        "evaluator_version": meta["evaluator_version"],
        "source": "surrogate",
        "cache_hit": True,
    }


class SurrogateEvaluator:
    """Serves one rung of a surrogate benchmark (default: the top rung).

    Args:
        path: The ``.npz`` file.
        rung: Rung index (0 is the cheapest); None for the top rung.

    Attributes:
        space, meta, fidelity, task_id, steps (each rung's optimizer steps), rungs.

    Raises:
        ConfigError: See `load_benchmark`; a rung outside the ladder.
    """

    def __init__(self, path: str | Path, rung: int | None = None) -> None:
        self.path = Path(path)
        loaded = load_benchmark(self.path)
        self.meta: dict[str, Any] = loaded["meta"]
        self._arrays = loaded["arrays"]
        self._index: dict[str, int] = loaded["index"]
        self.space = SearchSpace.from_dict(self.meta["space"], source=f"surrogate:{path}")
        self.steps: tuple[int, ...] = tuple(int(s) for s in self.meta["rung_steps"])
        self.rungs = len(self.steps)
        self.rung = self.rungs - 1 if rung is None else int(rung)
        if not 0 <= self.rung < self.rungs:
            raise ConfigError(f"{path}: rung {rung} is outside its {self.rungs} rungs")
        self.fidelity = Fidelity(**self.meta["fidelities"][self.rung])
        self.task_id: str = self.meta["task"]
        self._results: dict[str, EvalResult] = {}
        self._template = result_template(self.meta, self.fidelity)

    @property
    def vocab_size(self) -> int:
        """The vocabulary the benchmark was built with (its meta), else its space's."""
        return int(self.meta.get("vocab_size") or self.space.task.vocab_size)

    def close(self) -> None:
        """Nothing to release: the benchmark is read into memory when opened."""

    def rung_views(self) -> list[SurrogateEvaluator]:
        """One evaluator per rung, lowest first (for promotion)."""
        return [SurrogateEvaluator(self.path, i) for i in range(self.rungs)]

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, genome: object) -> bool:
        return isinstance(genome, Genome) and genome.key() in self._index

    def keys(self) -> list[str]:
        """Every genome key, in the file's order."""
        return list(self._index)

    def losses(self, rung: int | None = None) -> np.ndarray:
        """The predicted held-out loss of every genome at ``rung`` (default: this one)."""
        return np.asarray(self._arrays["val_loss"][self.rung if rung is None else rung])

    def evaluate(self, genome: Genome) -> EvalResult:
        """The predicted result of ``genome`` at this rung (``source="surrogate"``)."""
        key = genome.key()
        found = self._results.get(key)
        if found is not None:
            return found
        index = self._index.get(key)
        if index is None:
            reasons = self.space.check(genome) or [
                f"genome {key} is valid but not in the benchmark {self.path}"
            ]
            result = EvalResult(
                status="invalid", message="; ".join(reasons), genome_key=key, **self._template
            )
        else:
            result = self._result(key, index)
        self._results[key] = result
        return result

    def _result(self, key: str, i: int) -> EvalResult:
        arrays = self._arrays
        kind = kind_of_metric(self.meta["metric"])
        loss = float(arrays["val_loss"][self.rung, i])
        return EvalResult(
            status="ok",
            genome_key=key,
            val_loss=loss,
            perplexity=math.exp(loss) if kind and kind.loss_is_log_perplexity else None,
            params=int(arrays["params"][i]),
            size_mb=float(arrays["size_mb"][i]),
            flops_per_token=int(arrays["flops_per_token"][i]),
            latency_ms=float(arrays["latency_ms"][i]),
            **self._template,
        )

    def __repr__(self) -> str:
        return f"SurrogateEvaluator({str(self.path)!r}, rung={self.rung}/{self.rungs})"
