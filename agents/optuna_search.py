"""Optuna baselines on the same env and records as the other searchers.

* ``tpe``: `optuna.samplers.TPESampler` (Bergstra et al. 2011; multivariate, with its
  constant-liar setting for trials in flight) maximising the env's score.
* ``nsga2``: `optuna.samplers.NSGAIISampler` (Deb et al. 2002) on three objectives:
  normalised quality ``1 - val_loss / baseline_loss`` (maximise), size in MiB and latency
  in ms (minimise); the records still carry the env's score, so every searcher is judged
  alike.

Both use Optuna's ask/tell interface over the space's genes: an ordinal gene is an
integer index into its choices (so the sampler sees its order), a categorical gene a
categorical parameter, and a per-layer gene one parameter per active layer
(``heads.0``, ``heads.1``...; define-by-run, conditional on ``layers``). A proposal that
breaks the space's rules is told a failure score without spending an env step. Each
evaluation is one env reset to the proposed genome (a one-record episode, action
``sample``, like random search).

The study lives in the run folder (``optuna.journal``, Optuna's journal storage), so a
resumed run continues the same study; the sampler is seeded with the run seed.
``warm_start`` adds the genomes of earlier runs' ``episodes.jsonl`` whose results are in
the env's result cache as finished trials, without training or env steps.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from agents.baselines import Proposal, SearchBaseline
from agents.runlog import RunLog
from nas_env.genome import Genome
from nas_env.rewards.target import normalized_quality
from runfolder import EPISODES_FILE

STUDY_FILE = "optuna.journal"
STUDY_NAME = "nas_env"


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise RuntimeError("the tpe and nsga2 baselines need optuna: pip install optuna") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class OptunaSearch(SearchBaseline):
    """Ask/tell search with an Optuna sampler (see the module docstring).

    Args:
        env, run_log, seed, in_flight: See `SearchBaseline` (trials asked ahead are
            running trials, which TPE's constant liar accounts for).
        n_startup_trials: Random trials before the model-based proposals (TPE), or the
            population size (NSGA-II).
        warm_start: Run folders (or ``episodes.jsonl`` files) whose cached genomes seed
            the study.
    """

    name = "optuna"
    directions: tuple[str, ...] = ("maximize",)

    def __init__(
        self,
        env: Any,
        run_log: RunLog,
        seed: int = 0,
        n_startup_trials: int = 10,
        warm_start: list[str] | None = None,
        in_flight: int | None = None,
    ) -> None:
        super().__init__(env, run_log, seed, in_flight)
        if int(n_startup_trials) < 1:
            raise ValueError(f"{self.name}: n_startup_trials must be >= 1, got {n_startup_trials}")
        self.n_startup_trials = int(n_startup_trials)
        self.optuna = _optuna()
        folder = getattr(run_log.tracker, "folder", None)
        self.storage_path = Path(folder) / STUDY_FILE if folder else None
        self.study = self._open_study()
        self.rejected = 0
        self.warm_started = self._warm_start(warm_start or []) if warm_start else 0

    # -- the study -----------------------------------------------------------------
    def make_sampler(self) -> Any:
        """The Optuna sampler of this baseline."""
        raise NotImplementedError

    def _open_study(self) -> Any:
        optuna = self.optuna
        storage = None
        if self.storage_path is not None:
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend

            self.storage_path.parent.mkdir(parents=True, exist_ok=True)
            storage = JournalStorage(JournalFileBackend(str(self.storage_path)))
        study = optuna.create_study(
            storage=storage,
            sampler=self.make_sampler(),
            study_name=STUDY_NAME,
            directions=list(self.directions),
            load_if_exists=True,
        )
        for trial in study.get_trials():  # asked but never told: interrupted
            if trial.state == optuna.trial.TrialState.RUNNING:
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        return study

    def propose_genes(self, trial: Any) -> dict[str, Any]:
        """The genes ``trial`` suggests (define-by-run over the space's genes)."""
        genes: dict[str, Any] = {}
        layers = self.space.default_layers()
        for gene in self.space.genes:
            names = [gene.name]
            if gene.per_layer:
                names = [f"{gene.name}.{i}" for i in range(layers)]
            values = [self._suggest(trial, gene, name) for name in names]
            genes[gene.name] = values if gene.per_layer else values[0]
            if gene.name == "layers":
                layers = int(genes["layers"])
        return genes

    @staticmethod
    def _suggest(trial: Any, gene: Any, name: str) -> Any:
        if not gene.searchable:
            return gene.choices[0]
        if gene.kind == "ordinal":
            return gene.choices[trial.suggest_int(name, 0, len(gene.choices) - 1)]
        return trial.suggest_categorical(name, list(gene.choices))

    def params_of(self, genes: dict[str, Any]) -> dict[str, Any]:
        """The trial parameters that `propose_genes` would turn into ``genes``."""
        params: dict[str, Any] = {}
        for gene in self.space.genes:
            if not gene.searchable:
                continue
            values = genes[gene.name] if gene.per_layer else [genes[gene.name]]
            names = (
                [f"{gene.name}.{i}" for i in range(len(values))] if gene.per_layer else [gene.name]
            )
            for name, value in zip(names, values, strict=True):
                params[name] = gene.index(value) if gene.kind == "ordinal" else value
        return params

    def distributions_of(self, genes: dict[str, Any]) -> dict[str, Any]:
        """The distributions of `params_of` (for warm-start trials)."""
        dist = self.optuna.distributions
        out: dict[str, Any] = {}
        for gene in self.space.genes:
            if not gene.searchable:
                continue
            count = len(genes[gene.name]) if gene.per_layer else 1
            names = [f"{gene.name}.{i}" for i in range(count)] if gene.per_layer else [gene.name]
            for name in names:
                out[name] = (
                    dist.IntDistribution(0, len(gene.choices) - 1)
                    if gene.kind == "ordinal"
                    else dist.CategoricalDistribution(list(gene.choices))
                )
        return out

    def objectives(self, record: dict[str, Any], result: Any) -> list[float] | None:
        """The values told to the study for an evaluated record and its `EvalResult`
        (None: a failed trial)."""
        if record.get("status") != "ok":
            return [-float(self.base.reward_fn.failure_penalty)]
        return [float(record["score"])]

    # -- one step --------------------------------------------------------------------
    def propose(self) -> Proposal:
        """Ask trials until one keeps the space's rules (the others are told failures
        without an env step); its genome, with the trial."""
        for _ in range(1000):
            trial = self.study.ask()
            genes = self.propose_genes(trial)
            genome = Genome(self.space.name, genes)  # every value is a choice; rules next
            if not self.space.check(genome):
                return Proposal("sample", genome.to_dict()["genes"], extra=trial)
            self.rejected += 1
            failure = self._failure_values()
            if failure is None:
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(trial, failure)
        raise RuntimeError(f"{self.name}: 1000 proposals in a row broke the space's rules")

    def complete(self, proposal: Proposal) -> None:
        trial = proposal.extra
        record = self.evaluate(self.space.genome(proposal.genes))
        result = self.base.result if record.get("status") == "ok" else None
        values = self.objectives(record, result)
        if trial is None:  # proposed before an interruption: its trial was failed
            return
        if values is None:
            self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, values)

    def _failure_values(self) -> list[float] | None:
        penalty = float(self.base.reward_fn.failure_penalty)
        return [-penalty] if len(self.directions) == 1 else None

    def evaluate(self, genome: Any) -> dict[str, Any]:
        """Evaluate ``genome`` through the env (one step, one record); the record."""
        _obs, info = self._reset(genome)
        self.num_timesteps += 1
        return self.run_log.on_reset(info, 0, self.num_timesteps, action="sample", done=True)

    # -- warm start ----------------------------------------------------------------------
    def _warm_start(self, sources: list[str]) -> int:
        evaluator = self.base.evaluator
        cache = getattr(evaluator, "cache", None)
        if cache is None or not hasattr(evaluator, "key"):
            raise ValueError(
                f"{self.name}: warm_start reads the env's result cache of trained genomes; "
                f"this env's evaluator ({type(evaluator).__name__}) has none"
            )
        seen: set[str] = set()
        added = 0
        for source in sources:
            path = Path(source)
            path = path / EPISODES_FILE if path.is_dir() else path
            if not path.is_file():
                raise ValueError(f"{self.name}: warm_start {source!r} has no episodes.jsonl")
            for line in path.read_text().splitlines():
                genes = json.loads(line).get("genome") if line.strip() else None
                if not isinstance(genes, dict):
                    continue
                genome = Genome(self.space.name, genes)
                if genome.key() in seen or self.space.check(genome):
                    continue
                seen.add(genome.key())
                result = cache.get(evaluator.key(genome))
                if result is None or not result.ok:
                    continue
                record = {"status": "ok", "score": self.base.reward_fn.score(result)}
                values = self.objectives(record, result)
                if values is None or not all(math.isfinite(v) for v in values):
                    continue
                self.study.add_trial(
                    self.optuna.trial.create_trial(
                        params=self.params_of(genes),
                        distributions=self.distributions_of(genes),
                        values=values,
                    )
                )
                added += 1
        return added

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(trials=len(self.study.trials), rejected=self.rejected)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.rejected = int(state.get("rejected", 0))


class TPESearch(OptunaSearch):
    """Optuna's TPE sampler (multivariate, constant liar) on the env's score."""

    name = "tpe"

    def make_sampler(self) -> Any:
        return self.optuna.samplers.TPESampler(
            seed=self.seed,
            n_startup_trials=self.n_startup_trials,
            multivariate=True,
            constant_liar=True,
        )


class NSGA2Search(OptunaSearch):
    """Optuna's NSGA-II sampler on (quality, size, latency)."""

    name = "nsga2"
    directions = ("maximize", "minimize", "minimize")

    def make_sampler(self) -> Any:
        return self.optuna.samplers.NSGAIISampler(
            seed=self.seed, population_size=max(2, self.n_startup_trials)
        )

    def objectives(self, record: dict[str, Any], result: Any) -> list[float] | None:
        if record.get("status") != "ok" or result is None:
            return None
        try:
            quality = normalized_quality(result)
        except ValueError:
            return None
        values = [quality, result.size_mb, result.latency_ms]
        if any(v is None for v in values):
            return None
        return [float(v) for v in values]
