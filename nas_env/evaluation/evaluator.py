"""Evaluator: genome -> trained, measured `EvalResult`, through a persistent cache."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from models import build_model, count_params, flops_per_token, model_config, size_mb
from nas_env._validate import expect_choice
from nas_env.evaluation.cache import ResultCache, cache_key
from nas_env.evaluation.failures import TimedOut, classify, free_memory, memory_limit
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.loop import TrainOutcome, train_torch
from nas_env.evaluation.measure import measure_latency, peak_memory, validate
from nas_env.evaluation.precision import Precision, resolve_device, resolve_precision
from nas_env.evaluation.result import EvalResult
from nas_env.genome import Genome
from nas_env.space import SearchSpace, load_space
from nas_env.tasks import cache_dir, make_task

EVALUATOR_VERSION = "2"
BACKENDS: tuple[str, ...] = ("torch", "deepspeed")


@dataclass(frozen=True)
class TrainSettings:
    """How candidates are trained, beyond the fidelity's budget.

    Attributes:
        backend: ``torch`` (plain PyTorch + AMP) or ``deepspeed``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        precision: ``auto`` (what the device accelerates), ``fp32``, ``bf16`` or ``fp16``.
        seed: Seeds model initialisation and batch sampling.
        max_memory_mb: Memory a candidate may allocate before it is an ``oom`` (None: no cap).
        latency_repeats: Timed forward passes for the latency median.
        deepspeed_config: Path of the DeepSpeed JSON (None: ``config/deepspeed.json``).
    """

    backend: str = "torch"
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    max_memory_mb: float | None = None
    latency_repeats: int = 15
    deepspeed_config: str | None = None


class Evaluator:
    """Trains and measures genomes of one space on one task at one fidelity.

    Args:
        space: Search space (name, path or `SearchSpace`); its budgets are re-measured
            for the task's real vocabulary.
        task: Task id (``lm/stdlib``, ``lm/text:PATH``, ``cls/stdlib-modules``, ``cls/jsonl:PATH``).
        fidelity: Level name, mapping or `Fidelity`.
        settings: Backend, device, precision, seed and limits.
        cache: Result database path; None for ``<cache dir>/results.sqlite``; False for no
            persistent cache (results still memoised in memory).
        cache_root: Folder for tokenizers, token arrays and the default result database
            (default: ``$NAS_ENV_CACHE`` or the user's cache folder).
        vocab_size: Tokenizer vocabulary size (None: the task's default).
    """

    def __init__(
        self,
        space: str | Path | SearchSpace = "tiny",
        task: str = "lm/stdlib",
        fidelity: str | dict[str, Any] | Fidelity = "fast",
        settings: TrainSettings | None = None,
        cache: str | Path | bool | None = None,
        cache_root: str | Path | None = None,
        vocab_size: int | None = None,
    ) -> None:
        self.settings = settings or TrainSettings()
        expect_choice(self.settings.backend, "backend", BACKENDS)
        self.fidelity = Fidelity.resolve(fidelity)
        self.task_id = task
        self.task = make_task(task, cache=cache_root, vocab_size=vocab_size)
        base = load_space(space)
        self.seq_len = self.fidelity.seq_len or base.task.seq_len
        self.spec = self.task.spec(self.seq_len)
        self.space = base.with_task(self.spec)
        self.device = resolve_device(self.settings.device)
        self.precision: Precision = resolve_precision(self.settings.precision, self.device)
        if cache is False:
            self.cache = ResultCache(":memory:")
        else:
            path = cache if isinstance(cache, str | Path) else cache_dir(cache_root)
            path = Path(path)
            self.cache = ResultCache(path / "results.sqlite" if path.is_dir() else path)
        if self.settings.backend == "deepspeed":
            from nas_env.evaluation import deepspeed_backend as ds

            base_config = ds.load_config(self.settings.deepspeed_config)
            ds.prepare(
                ds.resolve_config(base_config, self.fidelity, self.precision, self.device),
                self.device,
            )
        self._task_token = f"{task}#{self.task.fingerprint}@{self.seq_len}"
        self._fidelity_token = self.fidelity.cache_token()

    def key(self, genome: Genome) -> str:
        """Cache key of ``genome`` under this evaluator's task, fidelity, seed and backend."""
        return cache_key(
            genome.key(),
            self._task_token,
            self._fidelity_token,
            self.settings.seed,
            f"{self.settings.backend}/{self.device.type}/{self.precision.name}",
            EVALUATOR_VERSION,
        )

    def evaluate(self, genome: Genome) -> EvalResult:
        """The measured result of ``genome`` (from the cache when already evaluated).

        Never raises for a bad candidate: invalid genomes, NaN losses, out-of-memory,
        timeouts and other exceptions become results with that status.
        """
        key = self.key(genome)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        result = self._evaluate_uncached(genome)
        if result.status != "error":  # errors may be transient: retry them next time
            self.cache.put(key, result, self.fidelity.name, self.settings.seed)
        return result

    def _base(self, genome: Genome) -> dict[str, Any]:
        return {
            "genome_key": genome.key(),
            "task": self.task_id,
            "metric": self.task.metric,
            "fidelity": self.fidelity.name,
            "fidelity_config": self.fidelity.to_dict(),
            "backend": self.settings.backend,
            "device": str(self.device),
            "precision": self.precision.name,
            "seed": self.settings.seed,
            "evaluator_version": EVALUATOR_VERSION,
        }

    def _evaluate_uncached(self, genome: Genome) -> EvalResult:
        base = self._base(genome)
        reasons = self.space.check(genome)
        if reasons:
            return EvalResult(status="invalid", message="; ".join(reasons), **base)
        genes = {**genome, "family": self.space.family}
        config = model_config(genes, self.spec)
        static = {
            "params": count_params(config),
            "size_mb": size_mb(config, dtype="float32"),
            "flops_per_token": flops_per_token(config),
        }
        start = time.perf_counter()
        memory: dict[str, float | None] = {"peak_mb": None}
        try:
            with (
                memory_limit(self.settings.max_memory_mb, self.device),
                peak_memory(self.device) as memory,
            ):
                measured = self._train_and_measure(config, start)
        except Exception as exc:  # every failure becomes a result, never a crash
            status, message = classify(exc)
            free_memory(self.device)
            return EvalResult(
                status=status,  # type: ignore[arg-type]
                message=message,
                eval_seconds=time.perf_counter() - start,
                peak_memory_mb=memory["peak_mb"],
                **static,
                **base,
            )
        return EvalResult(
            status="ok",
            eval_seconds=time.perf_counter() - start,
            peak_memory_mb=memory["peak_mb"],
            **measured,
            **static,
            **base,
        )

    def _train_and_measure(self, config: Any, start: float) -> dict[str, Any]:
        deadline = start + self.fidelity.max_seconds
        torch.manual_seed(self.settings.seed)
        model = build_model(config).to(self.device)
        outcome, model = self._train(model, deadline)
        autocast = self.precision.dtype if self.precision.autocast else None
        scores = validate(
            model,
            self.task,
            self.seq_len,
            self.fidelity.batch_size,
            self.fidelity.eval_tokens,
            self.device,
            autocast,
        )
        if time.perf_counter() > deadline:
            raise TimedOut(f"wall-clock cap {self.fidelity.max_seconds:g} s reached in validation")
        repeats = self.settings.latency_repeats
        latency = measure_latency(model, self.spec, self.device, repeats=repeats)
        is_lm = self.task.metric == "perplexity"
        return {
            "val_loss": scores.loss,
            "perplexity": float(torch.tensor(scores.loss).exp()) if is_lm else None,
            "accuracy": scores.accuracy,
            "latency_ms": latency,
            "train_seconds": outcome.seconds,
            "train_tokens": outcome.tokens,
            "tokens_per_second": outcome.tokens / max(outcome.seconds, 1e-9),
            "steps": outcome.steps,
            "final_train_loss": outcome.final_loss,
        }

    def _train(self, model: torch.nn.Module, deadline: float) -> tuple[TrainOutcome, Any]:
        args = (self.task, self.fidelity, self.seq_len, self.device, self.precision)
        if self.settings.backend == "deepspeed":
            from nas_env.evaluation.deepspeed_backend import train_deepspeed

            return train_deepspeed(
                model, *args, self.settings.seed, deadline, self.settings.deepspeed_config
            )
        return train_torch(model, *args, self.settings.seed, deadline), model
