"""Evaluator: genome -> trained, measured `EvalResult`, through a persistent cache.

One task definition: the space's task spec (vocabulary size, context length) is the
single source for every entry point; the fidelity sets the training budget only, and the
held-out selection is the task's own, so scores of different fidelities are comparable.

An evaluation leaves the caller's global random state (Python, NumPy, torch CPU and
CUDA) exactly as it found it: initialisation and batch sampling are seeded privately.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch

from models import build_model, model_config
from models.transformer import scale_residual_init
from nas_env.checks import expect_choice
from nas_env.errors import ConfigError
from nas_env.evaluation.backends import BACKENDS, TrainingBackend, training_backend
from nas_env.evaluation.cache import ResultCache, cache_key
from nas_env.evaluation.checkpoints import CheckpointStore, train_from_lower_rung
from nas_env.evaluation.deployment import Train, deploy
from nas_env.evaluation.failures import TimedOut, classify, free_memory, memory_limit
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.latency_source import latency_key, latency_of, latency_profile
from nas_env.evaluation.loop import TrainJob, TrainOutcome
from nas_env.evaluation.measure import peak_memory, score_heldout, torch_threads
from nas_env.evaluation.measured import measured_fields, signal_scored, static_fields
from nas_env.evaluation.precision import Precision, resolve_device, resolve_precision
from nas_env.evaluation.result import EvalResult
from nas_env.evaluation.rng import isolated_rng
from nas_env.evaluation.signals import Signal, checked_signal
from nas_env.evaluation.train_settings import TrainSettings
from nas_env.genome import Genome
from nas_env.space import SearchSpace, load_space
from nas_env.tasks import cache_dir, make_task
from nas_env.tasks.kinds import task_kind
from nas_env.training_genes import TRAINING_GENES, model_genes
from nas_env.training_genes import apply as apply_training_genes

EVALUATOR_VERSION = "5"


class Evaluator:
    """Trains and measures genomes of one space on one task at one fidelity.

    Args:
        space: Search space (name, path or `SearchSpace`). Its task spec is the single
            source of the vocabulary size and context length; its budgets are re-measured
            for the task's real vocabulary (and classes).
        task: Task id (`nas_env.tasks.TASK_IDS`); its kind must match the space's.
        fidelity: Level name, mapping or `Fidelity` (the training budget; a ``seq_len`` in
            it must equal the space's context).
        settings: Backend, device, precision, seed and limits.
        cache: Result database path; None for ``<cache dir>/results.sqlite``; False for no
            persistent cache (results still memoised in memory).
        cache_root: Folder for tokenizers, token arrays and the default result database
            (default: ``$NAS_ENV_CACHE`` or the user's cache folder).
        vocab_size: Tokenizer vocabulary size (None: the space's ``task.vocab_size``).

    Raises:
        ConfigError: The task's kind differs from the space's, the fidelity's ``seq_len``
            differs from the space's context, or a setting is invalid.
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
        base = load_space(space)
        kind = task.split("/", 1)[0]
        if kind != base.task.kind:
            raise ConfigError(
                f"task {task!r} is a {kind} task but space {base.name!r} is a "
                f"{base.task.kind} space (its task.kind); use a {base.task.kind}/... task id"
            )
        self.seq_len = base.task.seq_len
        if self.fidelity.seq_len not in (None, self.seq_len):
            raise ConfigError(
                f"fidelity {self.fidelity.name!r} has seq_len={self.fidelity.seq_len}, but the "
                f"context belongs to the task: space {base.name!r} has task.seq_len="
                f"{self.seq_len}; drop seq_len from the fidelity or change the space's task"
            )
        vocab = base.task.vocab_size if vocab_size is None else vocab_size
        self.task = make_task(task, cache=cache_root, vocab_size=vocab)
        self.spec = self.task.spec(self.seq_len)
        self.space = base.with_task(self.spec)
        self.device = resolve_device(self.settings.device)
        self.precision: Precision = resolve_precision(self.settings.precision, self.device)
        self.latency_profile = latency_profile(self.settings, base.name, self.device)
        if cache is False:
            self.cache = ResultCache(":memory:")
        else:
            path = cache if isinstance(cache, str | Path) else cache_dir(cache_root)
            path = Path(path)
            self.cache = ResultCache(path / "results.sqlite" if path.is_dir() else path)
        self.backend: TrainingBackend = training_backend(self.settings.backend)
        backend_token = self.backend.prepare(
            self.settings.deepspeed_config, self.fidelity, self.precision, self.device
        )
        self.task_fingerprint: str = self.task.fingerprint
        self._task_token = f"{task}#{self.task.fingerprint}@{self.seq_len}"
        self.signal: Signal | None = None
        self._fidelity_token = ""
        self._set_fidelity(self.fidelity)
        settings = self.settings
        self._settings_token = (
            f"mem={settings.max_memory_mb};lat={settings.latency_warmup}+"
            f"{settings.latency_repeats}x{settings.latency_threads};{settings.key_suffix()}"
            f"{latency_key(self.latency_profile)}"
            f"ds={backend_token}"
        )
        self.checkpoints: CheckpointStore | None = None
        self.lower: Evaluator | None = None

    def at_rung(
        self, steps: int, checkpoints: CheckpointStore, lower: Evaluator | None
    ) -> Evaluator:
        """This evaluator trained for the first ``steps`` of its fidelity's schedule.

        A rung below the top leaves its training state in ``checkpoints``; a rung above
        ``lower`` continues from ``lower``'s checkpoint of the same genome when there is
        one (and discards it), else trains from scratch: the result is the same either
        way. The copy shares this evaluator's task, cache and settings.

        Raises:
            ConfigError: The DeepSpeed backend (it does not continue from checkpoints),
                or ``steps`` outside the fidelity's schedule.
        """
        if not self.backend.resumable:
            raise ConfigError(
                f"promotion continues training from checkpoints, which the "
                f"{self.settings.backend!r} backend does not support; use backend='torch' "
                "or promotion='off'"
            )
        rung = copy.copy(self)  # shares task, cache, backend and settings
        rung._set_fidelity(self.fidelity.rung(steps))
        rung.checkpoints = checkpoints
        rung.lower = lower
        return rung

    def _set_fidelity(self, fidelity: Fidelity) -> None:
        """Use ``fidelity``: its signal (checked) and its part of every cache key follow."""
        searched = sorted(set(TRAINING_GENES) & set(self.space.gene_names))
        if searched and fidelity.signal:
            raise ConfigError(
                f"space {self.space.name!r} searches training genes {searched}; fidelity "
                f"{fidelity.name!r} scores by the signal {fidelity.signal!r}, fitted on one "
                "recipe: use a measured level (fast, reference...)"
            )
        self.fidelity = fidelity
        self.signal = checked_signal(fidelity, self.space)
        self._fidelity_token = self._fidelity_key()

    def placed_on(self, device: str, precision: str) -> Evaluator:
        """A copy whose keys and records say ``device``/``precision``, for a driver that
        submits evaluations to workers with a device it lacks (a GPU node of a Ray
        cluster); the copy must not train.

        Raises:
            ConfigError: ``precision`` is ``auto`` (only the worker's device could
                resolve it) or ``device`` is not ``cuda``/``cuda:N``/``cpu``.
        """
        target = torch.device(device)
        if target.type not in ("cpu", "cuda"):
            raise ConfigError(f"device {device!r}: allowed: cpu, cuda, cuda:N")
        if precision == "auto" and target.type != self.device.type:
            raise ConfigError(
                f"precision 'auto' on a {target.type} device this machine lacks: the driver "
                "cannot resolve it; pass precision fp32, bf16 or fp16"
            )
        placed = copy.copy(self)
        placed.device = target
        placed.precision = resolve_precision(precision, target)
        return placed

    def _fidelity_key(self) -> str:
        """The fidelity's cache token, with the signal's version when there is one."""
        token = self.fidelity.cache_token()
        return f"{token};{self.signal.tag}" if self.signal is not None else token

    def context_key(self) -> str:
        """A hash of every part of `key` but the genome (which evaluations compare)."""
        return cache_key(*self._key_parts(""))

    def train_threads(self) -> int:
        """CPU threads training runs with (the setting, else torch's current count)."""
        return self.settings.threads or torch.get_num_threads()

    @property
    def vocab_size(self) -> int:
        """The task's vocabulary size (its measured spec)."""
        return int(self.spec.vocab_size)

    def close(self) -> None:
        """Close this thread's result-database connection (reopened on next use)."""
        self.cache.close()

    def key(self, genome: Genome) -> str:
        """Cache key of ``genome``: every setting that changes its result.

        That is the genome, the task (id, data fingerprint, context), every fidelity
        field, the seed, backend, device type and precision, the evaluator version, the
        memory cap, the latency protocol (warm-up, repeats, pinned threads), the training
        thread count and, for DeepSpeed, a hash of the resolved DeepSpeed config.
        """
        return cache_key(*self._key_parts(genome.key()))

    def _key_parts(self, genome_key: str) -> tuple[object, ...]:
        return (
            genome_key,
            self._task_token,
            self._fidelity_token,
            self.settings.seed,
            f"{self.settings.backend}/{self.device.type}/{self.precision.name}",
            EVALUATOR_VERSION,
            f"{self._settings_token};threads={self.train_threads()}",
        )

    def evaluate(self, genome: Genome) -> EvalResult:
        """The measured result of ``genome`` (from the cache when already evaluated).

        Never raises for a bad candidate: invalid genomes, NaN losses, out-of-memory,
        timeouts and other exceptions become results with that status. A genome that
        another process is evaluating right now is waited for, not trained again (see
        `ResultCache.compute` for the claim and retry policy).
        """
        return self.cache.compute(
            self.key(genome),
            lambda: self.evaluate_uncached(genome),
            fidelity=self.fidelity.name,
            seed=self.settings.seed,
        )

    def evaluate_uncached(self, genome: Genome) -> EvalResult:
        """Train and measure ``genome`` now, without the cache (neither read nor written):
        what `evaluate` runs on a miss, and what an executor's worker runs
        (`nas_env.evaluation.jobs`). Private RNG state, the settings' thread count."""
        with isolated_rng(self.device), torch_threads(self.settings.threads):
            return self._evaluate_uncached(genome)

    def evaluate_with_model(self, genome: Genome) -> tuple[EvalResult, torch.nn.Module | None]:
        """`evaluate`, and the trained model (on the CPU, in eval mode) when it was
        trained now; None when the result came from the cache or the candidate failed.

        On the CPU, training the same genome again with the same settings gives the same
        weights, so `train_model` recovers a cached candidate's model exactly.
        """
        kept: list[torch.nn.Module] = []

        def run() -> EvalResult:
            with isolated_rng(self.device), torch_threads(self.settings.threads):
                return self._evaluate_uncached(genome, kept)

        result = self.cache.compute(
            self.key(genome), run, fidelity=self.fidelity.name, seed=self.settings.seed
        )
        model = kept[0].cpu().eval() if kept and result.ok and not result.cache_hit else None
        return result, model

    def train_model(self, genome: Genome) -> tuple[EvalResult, torch.nn.Module | None]:
        """Train and measure ``genome`` now (the cache is neither read nor written) and
        return the trained model (on the CPU, in eval mode; None when it failed)."""
        kept: list[torch.nn.Module] = []
        with isolated_rng(self.device), torch_threads(self.settings.threads):
            result = self._evaluate_uncached(genome, kept)
        return result, (kept[0].cpu().eval() if kept and result.ok else None)

    def base_fields(self, genome: Genome) -> dict[str, Any]:
        """The fields every result of ``genome`` carries (task, fidelity, placement...)."""
        return {
            "genome_key": genome.key(),
            "task": self.task_id,
            "task_fingerprint": self.task.fingerprint,
            "baseline_loss": self.task.baseline_loss(),
            "metric": self.task.metric,
            "fidelity": self.fidelity.name,
            "fidelity_config": apply_training_genes(self.fidelity, genome).to_dict(),
            "backend": self.settings.backend,
            "device": str(self.device),
            "precision": self.precision.name,
            "seed": self.settings.seed,
            "evaluator_version": EVALUATOR_VERSION,
            "threads": torch.get_num_threads(),
        }

    def _evaluate_uncached(
        self, genome: Genome, keep: list[torch.nn.Module] | None = None
    ) -> EvalResult:
        base = self.base_fields(genome)
        reasons = self.space.check(genome)
        if reasons:
            return EvalResult(status="invalid", message="; ".join(reasons), **base)
        config = model_config(model_genes(genome, self.space.family), self.spec)
        static = static_fields(config)
        start = time.perf_counter()
        memory: dict[str, float | None] = {"peak_mb": None}
        try:
            with (
                memory_limit(self.settings.max_memory_mb, self.device),
                peak_memory(self.device) as memory,
            ):
                measured = self._train_and_measure(config, start, genome, keep)
                static["size_mb"] = measured.pop("deployed_size_mb", None) or static["size_mb"]
                kind = task_kind(self.task.kind)
                measured = signal_scored(measured, static, genome, self.signal, kind)
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

    def initialised_model(self, config: Any) -> torch.nn.Module:
        """The untrained model of ``config`` as a candidate's training starts from it:
        drawn from the training seed, with the settings' residual init."""
        torch.manual_seed(self.settings.seed)
        model = build_model(config)
        if self.settings.residual_init == "scaled":
            scale_residual_init(model)
        return model

    def _train_and_measure(
        self,
        config: Any,
        start: float,
        genome: Genome,
        keep: list[torch.nn.Module] | None = None,
    ) -> dict[str, Any]:
        deadline = start + self.fidelity.max_seconds
        model = self.initialised_model(config).to(self.device)
        outcome, model = self._train(model, deadline, genome)
        onnx = "precision" in self.space.gene_names
        shipped = deploy(model, config, outcome, self.fidelity, self._recovery(deadline), onnx)
        outcome, model = shipped.outcome, shipped.model
        if keep is not None:
            keep.append(model)
        autocast = self.precision.dtype if self.precision.autocast and not onnx else None
        scores = score_heldout(
            shipped.runner, self.task, self.seq_len, self.fidelity.batch_size,
            self.fidelity.eval_tokens, self.device, autocast,
        )  # fmt: skip
        if time.perf_counter() > deadline:
            raise TimedOut(f"wall-clock cap {self.fidelity.max_seconds:g} s reached in validation")
        profile = None if onnx else self.latency_profile
        latency, source = latency_of(
            shipped.runner, genome, self.spec, self.device, self.settings, profile
        )
        fields = measured_fields(scores, latency, outcome, task_kind(self.task.kind), self.device)
        return {**fields, "latency_source": source, "deployed_size_mb": shipped.size_mb}

    def _job(self, model: torch.nn.Module, fidelity: Fidelity, deadline: float) -> TrainJob:
        return TrainJob(
            model, self.task, fidelity, self.seq_len, self.device, self.precision,
            self.settings.seed, deadline, config=self.settings.deepspeed_config,
        )  # fmt: skip

    def _recovery(self, deadline: float) -> Train:
        """Trains a pruned model for the recovery recipe (`deployment.recovery_fidelity`)."""
        return lambda model, fidelity: self.backend.train(self._job(model, fidelity, deadline))

    def _train(
        self, model: torch.nn.Module, deadline: float, genome: Genome
    ) -> tuple[TrainOutcome, Any]:
        job = self._job(model, apply_training_genes(self.fidelity, genome), deadline)
        if self.checkpoints is None:
            return self.backend.train(job)
        lower_key = self.lower.key(genome) if self.lower is not None else None
        store, key = self.checkpoints, self.key(genome)
        return train_from_lower_rung(self.backend.train, job, store, key, lower_key)
