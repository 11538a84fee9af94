"""ModelSurrogateEvaluator: serve a surrogate benchmark that predicts one genome at a time.

The file (`nas_env.table.model_surrogate`) holds Gaussian processes as arrays: one per
rung for the held-out loss of the deployed model, one each for its log size and log
latency. A result is their closed-form posterior mean at the genome's features
(`nas_env.table.gp_export`): deterministic, the same on every machine, no model library
needed. Parameters and FLOPs are the undeployed model's analytic counts. Every result
says ``source="surrogate"``.
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
from nas_env.table.features import analytic, encode
from nas_env.table.gp_export import GPPredictor
from nas_env.table.model_surrogate import FORMAT, MEASURES
from nas_env.table.surrogate_evaluator import result_template
from nas_env.tasks.kinds import kind_of_metric

_LOADED: dict[str, tuple[dict[str, Any], dict[str, GPPredictor]]] = {}


def load_model_benchmark(path: str | Path) -> tuple[dict[str, Any], dict[str, GPPredictor]]:
    """The meta and the predictors (``loss0``... and `MEASURES`) of a file, read once.

    Raises:
        ConfigError: A missing or unreadable file, or not a per-genome surrogate.
    """
    path = Path(path)
    cached = _LOADED.get(str(path.resolve()))
    if cached is not None:
        return cached
    if not path.is_file():
        raise ConfigError(
            f"surrogate benchmark {path} does not exist; build it with `python -m "
            "nas_env.table model-surrogate` or pass table=PATH"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, EOFError, KeyError, AttributeError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a readable per-genome surrogate ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ConfigError(
            f"{path}: format {meta.get('format')!r}, this version reads {FORMAT!r}; rebuild it"
        )
    names = [f"loss{i}" for i in range(len(meta["rung_steps"]))] + list(MEASURES)
    models = {name: GPPredictor.from_arrays(arrays, f"{name}.") for name in names}
    _LOADED[str(path.resolve())] = (meta, models)
    return meta, models


def is_model_benchmark(path: str | Path) -> bool:
    """Whether ``path`` is a per-genome surrogate file (else, for instance, a table one)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"])).get("format") == FORMAT
    except (OSError, ValueError, EOFError, KeyError, AttributeError, zipfile.BadZipFile):
        return False


class ModelSurrogateEvaluator:
    """Serves one rung of a per-genome surrogate benchmark (default: the top rung).

    Args:
        path: The ``.npz`` file.
        rung: Rung index (0 is the cheapest); None for the top rung.

    Attributes:
        space, meta, fidelity, task_id, steps (each rung's optimizer steps), rungs.

    Raises:
        ConfigError: See `load_model_benchmark`; a rung outside the ladder.
    """

    def __init__(self, path: str | Path, rung: int | None = None) -> None:
        self.path = Path(path)
        self.meta, self._models = load_model_benchmark(self.path)
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
        """The vocabulary of the benchmark's space."""
        return int(self.space.task.vocab_size)

    def close(self) -> None:
        """Nothing to release: the benchmark is read into memory when opened."""

    def rung_views(self) -> list[ModelSurrogateEvaluator]:
        """One evaluator per rung, lowest first (for promotion)."""
        return [ModelSurrogateEvaluator(self.path, i) for i in range(self.rungs)]

    def __contains__(self, genome: object) -> bool:
        return isinstance(genome, Genome) and not self.space.check(genome)

    def evaluate(self, genome: Genome) -> EvalResult:
        """The predicted result of ``genome`` at this rung (``source="surrogate"``)."""
        key = genome.key()
        found = self._results.get(key)
        if found is None:
            reasons = self.space.check(genome)
            if reasons:
                found = EvalResult(
                    status="invalid", message="; ".join(reasons), genome_key=key,
                    **self._template,
                )  # fmt: skip
            else:
                found = self._result(genome)
            self._results[key] = found
        return found

    def predict_losses(self, genomes: list[Genome]) -> np.ndarray:
        """This rung's predicted loss of many valid genomes at once (one matrix product)."""
        return self._models[f"loss{self.rung}"].predict(encode(self.space, genomes))

    def _result(self, genome: Genome) -> EvalResult:
        params, _size, flops = analytic(self.space, genome)
        x = encode(self.space, [genome], [(params, _size, flops)])
        loss = float(self._models[f"loss{self.rung}"].predict(x)[0])
        kind = kind_of_metric(self.meta["metric"])
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            val_loss=loss,
            perplexity=math.exp(loss) if kind and kind.loss_is_log_perplexity else None,
            params=int(params),
            size_mb=float(np.exp(self._models["size_mb"].predict(x)[0])),
            flops_per_token=int(flops),
            latency_ms=float(np.exp(self._models["latency_ms"].predict(x)[0])),
            **self._template,
        )

    def __repr__(self) -> str:
        return f"ModelSurrogateEvaluator({str(self.path)!r}, rung={self.rung}/{self.rungs})"
