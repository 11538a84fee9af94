"""TableEvaluator: serve `EvalResult`s from a benchmark table instead of training."""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nas_env.checks import expect_choice
from nas_env.constraints import Budget
from nas_env.errors import ConfigError, NASEnvError
from nas_env.evaluation.evaluator import Evaluator, TrainSettings
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.result import EvalResult, lower_is_better
from nas_env.genome import Genome
from nas_env.space import SearchSpace
from nas_env.table import store
from nas_env.table.provenance import check_provenance

MISSING_MODES: tuple[str, ...] = ("error", "train")


class TableMissError(NASEnvError, KeyError):
    """A valid genome is not in the benchmark table (and no fallback evaluator is allowed).

    Attributes:
        genome_key: `Genome.key` of the missing genome.
        path: The table file.
    """

    def __init__(self, message: str, genome_key: str = "", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.genome_key = genome_key
        self.path = path

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


def _space_from_meta(data: Any, source: str) -> SearchSpace:
    """Rebuild the table's space; the default genome is not re-checked against the budget
    (like `SearchSpace.with_task`, a space re-measured for a larger vocabulary may exceed it).
    """
    try:
        return SearchSpace.from_dict(data, source=source)
    except ConfigError:
        if not isinstance(data, dict) or not data.get("constraints"):
            raise
    loose = SearchSpace.from_dict({**data, "constraints": None}, source=source)
    budget = Budget.from_dict(data["constraints"], f"{source}: constraints")
    return SearchSpace(
        loose.name,
        loose.family,
        loose.genes,
        loose.task,
        budget,
        loose.description,
        source,
        check_default=False,
    )


class TableEvaluator:
    """Evaluates genomes by looking them up in a benchmark table built by `build_table`.

    The whole table is read into memory at construction; `evaluate` is a dict lookup.
    Every result it serves from the table has ``source="table"`` and ``cache_hit=True``
    (``backend``, ``device``... say how the row was originally measured).

    Args:
        path: The table file (``config/tables/bench.sqlite`` for the shipped one).
        missing: What to do with a valid genome that is not in the table: ``"error"``
            raises `TableMissError`; ``"train"`` evaluates it with ``fallback`` and returns
            that result (``source="train"``; the table itself is never modified).
        fallback: The evaluator used with ``missing="train"``; it must match the table's
            space, task and task fingerprint, and should match its fidelity (a warning says
            when it does not).
        allow_mismatch: Use a table whose evaluator version or task fingerprint differs
            from the running code's (a warning instead of an error).
        cache_root: Cache folder used to compute the running task fingerprint.

    Genomes that break the space's rules are not misses: like `Evaluator`, they get a
    result with status ``invalid`` (``source="table"``) whether or not they are stored.

    Raises:
        ConfigError: Missing, unreadable or corrupt file; missing or incomplete meta;
            unknown ``missing`` mode; ``missing="train"`` without a ``fallback``; a
            fallback for another space, task or task fingerprint; an evaluator version or
            task fingerprint that differs from the running one (unless ``allow_mismatch``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        missing: str = "error",
        fallback: Evaluator | Any | None = None,
        allow_mismatch: bool = False,
        cache_root: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.missing = expect_choice(missing, "missing", MISSING_MODES)
        if missing == "train" and fallback is None:
            raise ConfigError(
                "TableEvaluator(missing='train') needs a fallback evaluator to train genomes "
                "that are not in the table: pass fallback=Evaluator(space, task, fidelity, ...), "
                "or use missing='error'"
            )
        self.fallback = fallback if missing == "train" else None
        self.trained = 0  # genomes evaluated through the fallback
        conn = store.connect_reader(self.path)
        try:
            self.meta: dict[str, Any] = store.read_meta(conn, self.path)
            lacking = [k for k in store.REQUIRED_KEYS if k not in self.meta]
            if lacking:
                raise ConfigError(
                    f"{self.path}: incomplete benchmark table, meta lacks {', '.join(lacking)}; "
                    "rebuild it with `python -m nas_env.table build`"
                )
            try:
                rows = conn.execute("SELECT genome_key, genome, result FROM rows").fetchall()
            except Exception as exc:
                raise ConfigError(f"{self.path}: cannot read the 'rows' table ({exc})") from exc
        finally:
            conn.close()
        self.space = _space_from_meta(self.meta["space"], f"table:{self.path}")
        self.task_id: str = self.meta["task"]
        self.task_fingerprint: str = str(self.meta.get("task_fingerprint") or "")
        self.provenance_problems = check_provenance(
            self.meta,
            str(self.path),
            f"python -m nas_env.table build --space {self.space.name} --task {self.task_id} "
            f"--out {self.path}",
            allow_mismatch,
            cache_root,
        )
        fid = self.meta["fidelity"]
        try:
            self.fidelity = Fidelity(**fid["config"])
        except (TypeError, KeyError) as exc:
            raise ConfigError(f"{self.path}: meta 'fidelity' is malformed ({exc})") from exc
        self.settings = TrainSettings(
            backend=self.meta["backend"],
            device=str(self.meta.get("device", "cpu")),
            precision=str(self.meta.get("precision", "fp32")),
            seed=int(self.meta["seed"]),
            residual_init=str(self.meta.get("residual_init", "flat")),  # v4 tables: flat
        )
        self._genomes: dict[str, str] = {}
        self._results: dict[str, EvalResult] = {}
        for key, genome_json, result_json in rows:
            try:
                data = json.loads(result_json)
                data["source"] = "table"
                data["cache_hit"] = True
                data.setdefault("task_fingerprint", self.task_fingerprint)
                self._results[key] = EvalResult.from_dict(data)
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"{self.path}: row {key} holds an unreadable result ({exc})"
                ) from exc
            self._genomes[key] = genome_json
        self.metric: str | None = self.meta.get("metric") or next(
            (r.metric for r in self._results.values() if r.metric), None
        )
        self._invalid: dict[str, EvalResult] = {}
        if self.fallback is not None:
            self._check_fallback(self.fallback)

    @property
    def vocab_size(self) -> int:
        """The vocabulary the table was built with (its meta), else its space's."""
        return int(self.meta.get("vocab_size") or self.space.task.vocab_size)

    def close(self) -> None:
        """Close the training fallback's connections, if there is one (the table itself
        is read into memory when opened)."""
        if self.fallback is not None:
            self.fallback.close()

    # -- evaluation ---------------------------------------------------------------
    def evaluate(self, genome: Genome) -> EvalResult:
        """The stored result of ``genome`` (``source="table"``, ``cache_hit=True``).

        Raises:
            TableMissError: ``genome`` is valid but not in the table and ``missing="error"``.
        """
        result = self._results.get(genome.key())
        if result is not None:
            return result
        return self._miss(genome)

    def _miss(self, genome: Genome) -> EvalResult:
        key = genome.key()
        reasons = self.space.check(genome)
        if reasons:
            cached = self._invalid.get(key)
            if cached is None:
                cached = self._invalid_result(key, reasons)
                if len(self._invalid) < 100_000:
                    self._invalid[key] = cached
            return cached
        if self.fallback is not None:
            self.trained += 1
            return self.fallback.evaluate(genome)
        genes = json.dumps(genome.to_dict()["genes"], sort_keys=True)
        raise TableMissError(
            f"genome {key} {genes} is not in the benchmark table {self.path} "
            f"({len(self)} rows of space {self.space.name!r}, task {self.task_id}, fidelity "
            f"{self.fidelity.name!r}). Either evaluate misses by training: "
            "TableEvaluator(path, missing='train', fallback=Evaluator(...)), or rebuild the "
            f"table so it covers this genome: python -m nas_env.table build --space "
            f"{self.space.name} --task {self.task_id} --fidelity {self.fidelity.name} "
            f"--out {self.path}",
            genome_key=key,
            path=str(self.path),
        )

    def _invalid_result(self, key: str, reasons: list[str]) -> EvalResult:
        return EvalResult(
            status="invalid",
            message="; ".join(reasons),
            genome_key=key,
            task=self.task_id,
            task_fingerprint=self.task_fingerprint,
            metric=self.metric or "",
            fidelity=self.fidelity.name,
            fidelity_config=self.fidelity.to_dict(),
            backend=self.settings.backend,
            device=self.settings.device,
            precision=self.settings.precision,
            seed=self.settings.seed,
            evaluator_version=str(self.meta.get("evaluator_version", "")),
            source="table",
        )

    def _check_fallback(self, fallback: Any) -> None:
        space = getattr(fallback, "space", None)
        if space is not None and space.name != self.space.name:
            raise ConfigError(
                f"fallback evaluator is for space {space.name!r}, but the table "
                f"{self.path} is for space {self.space.name!r}"
            )
        task = getattr(fallback, "task_id", None)
        if task is not None and task != self.task_id:
            raise ConfigError(
                f"fallback evaluator trains on task {task!r}, but the table {self.path} "
                f"holds task {self.task_id!r}"
            )
        fingerprint = getattr(fallback, "task_fingerprint", None)
        if fingerprint is not None and fingerprint != self.task_fingerprint:
            raise ConfigError(
                f"fallback evaluator's task {task!r} has fingerprint {fingerprint!r}, but the "
                f"table {self.path} was built on fingerprint {self.task_fingerprint!r} (other "
                "data, split or tokenizer): its results would mix corpora"
            )
        differences = []
        fidelity = getattr(fallback, "fidelity", None)
        if fidelity is not None and fidelity.to_dict() != self.fidelity.to_dict():
            differences.append(f"fidelity {fidelity.name!r} vs the table's {self.fidelity.name!r}")
        settings = getattr(fallback, "settings", None)
        if settings is not None:
            if settings.seed != self.settings.seed:
                differences.append(f"seed {settings.seed} vs {self.settings.seed}")
            if settings.backend != self.settings.backend:
                differences.append(f"backend {settings.backend} vs {self.settings.backend}")
        if space is not None and space.task.vocab_size != self.space.task.vocab_size:
            differences.append(
                f"vocabulary {space.task.vocab_size} vs {self.space.task.vocab_size}"
            )
        if differences:
            warnings.warn(
                "the fallback evaluator differs from the benchmark table ("
                + "; ".join(differences)
                + "): trained results will not be comparable with the table's",
                stacklevel=3,
            )

    # -- the table as data ----------------------------------------------------------
    def __len__(self) -> int:
        return len(self._results)

    def __contains__(self, genome: object) -> bool:
        key = genome.key() if isinstance(genome, Genome) else genome
        return key in self._results

    def keys(self) -> list[str]:
        """Genome keys of the stored rows."""
        return list(self._results)

    def results(self) -> list[EvalResult]:
        """Every stored result (as served: ``source="table"``)."""
        return list(self._results.values())

    def get(self, genome: Genome | str) -> EvalResult | None:
        """The stored result of a genome or genome key, or None (never trains)."""
        return self._results.get(genome.key() if isinstance(genome, Genome) else genome)

    def genome(self, key: str) -> Genome:
        """The stored genome of a row (not re-validated)."""
        data = json.loads(self._genomes[key])
        return Genome(data["space"], data["genes"])

    def genomes(self) -> Iterator[Genome]:
        """Every stored genome."""
        for key in self._genomes:
            yield self.genome(key)

    def status_counts(self) -> dict[str, int]:
        """Rows per status, most common first."""
        return dict(Counter(r.status for r in self._results.values()).most_common())

    def best(
        self,
        metric_key: str | Callable[[EvalResult], float | None] | None = None,
        maximize: bool | None = None,
    ) -> EvalResult | None:
        """The best ``ok`` row, or None when there is none.

        Args:
            metric_key: An `EvalResult` field name (``"val_loss"``, ``"latency_ms"``...) or
                a function of a result; default: the task's quality metric.
            maximize: Direction; default: maximise accuracy, minimise anything else.
        """
        if metric_key is None:
            metric_key = "quality"
            if maximize is None:
                maximize = not lower_is_better(self.metric)
        if isinstance(metric_key, str):
            name = metric_key
            value: Callable[[EvalResult], Any] = lambda r: getattr(r, name)  # noqa: E731
        else:
            value = metric_key
        scored = [
            (v, r)
            for r in self._results.values()
            if r.ok
            and isinstance(v := value(r), int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
        ]
        if not scored:
            return None
        pick = max if maximize else min
        return pick(scored, key=lambda item: item[0])[1]

    def __repr__(self) -> str:
        return (
            f"TableEvaluator({str(self.path)!r}, space={self.space.name!r}, task={self.task_id!r}, "
            f"fidelity={self.fidelity.name!r}, rows={len(self)}, missing={self.missing!r})"
        )
