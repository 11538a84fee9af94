"""Build the evaluator an environment scores genomes with, from its `EvaluatorSettings`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from config import CONFIG_DIR
from nas_env.env.settings import EvaluatorSettings
from nas_env.errors import ConfigError
from nas_env.evaluation import Evaluator
from nas_env.evaluation.checkpoints import CheckpointStore
from nas_env.evaluation.interface import GenomeEvaluator
from nas_env.evaluation.jobs import EvaluatorRecipe
from nas_env.evaluation.promotion import PromotionEvaluator, rung_steps
from nas_env.evaluation.rung_log import RungLog
from nas_env.space import SearchSpace, load_space
from nas_env.tasks import cache_dir


def default_table(space_name: str, suffix: str = ".sqlite") -> Path:
    """The shipped benchmark of a space: ``config/tables/<space>.sqlite`` (a table) or
    ``<space>.npz`` (a surrogate benchmark)."""
    return CONFIG_DIR / "tables" / f"{space_name}{suffix}"


def table_path(table: str | None, space_name: str, suffix: str) -> Path:
    """The benchmark file the ``table`` argument names: a path when one exists there, else
    a file shipped in ``config/tables/`` (``table="mid-long.npz"``), else the space's
    default (`default_table`) when ``table`` is empty. A name found nowhere stays a path
    (the evaluator names it in its error)."""
    if not table:
        return default_table(space_name, suffix)
    path = Path(table)
    shipped = CONFIG_DIR / "tables" / path
    if not path.exists() and path.name == table and shipped.exists():
        return shipped
    return path


def promoted_trainer(top: Evaluator, settings: EvaluatorSettings) -> GenomeEvaluator:
    """A `PromotionEvaluator` over rungs of ``top``'s fidelity (``settings.promotion``:
    ``rungs``, ``eta``): checkpoints in ``<cache root>/checkpoints``, the rung log beside the
    result database (in memory for a private cache)."""
    promotion = settings.promotion
    steps = rung_steps(top.fidelity.steps, promotion.rungs, promotion.eta)
    root = cache_dir(settings.training.cache_root)
    store = CheckpointStore(root / "checkpoints", promotion.checkpoint_mb)
    rungs: list[Evaluator] = []
    for count in steps:
        rungs.append(top.at_rung(count, store, rungs[-1] if rungs else None))
    path = top.cache.path
    log = RungLog(None if path == ":memory:" else f"{path}.rungs")
    return PromotionEvaluator(rungs, steps, promotion.eta, log, top.context_key())


def promoted_parallel_trainer(
    recipe: EvaluatorRecipe, settings: EvaluatorSettings
) -> GenomeEvaluator:
    """A `PromotionEvaluator` whose rungs train on the executor of ``settings``: each rung
    a `ParallelEvaluator` of the recipe on its rung of the ladder (built in the worker,
    continuing from the checkpoint the rung below left in ``<cache root>/checkpoints``),
    all rungs on one pool."""
    from nas_env.evaluation.jobs import Ladder

    promotion = settings.promotion
    steps = rung_steps(recipe.fidelity.steps, promotion.rungs, promotion.eta)
    folder = str(cache_dir(settings.training.cache_root) / "checkpoints")
    pool = settings.executor.build()
    rungs: list[Any] = []
    for index in range(len(steps)):
        ladder = Ladder(tuple(steps), index, folder, promotion.checkpoint_mb)
        shared = pool if index == len(steps) - 1 else _Borrowed(pool)  # the top rung closes it
        rungs.append(parallel_trainer(replace(recipe, ladder=ladder), settings, shared))
    path = rungs[-1].cache.path
    log = RungLog(None if path == ":memory:" else f"{path}.rungs")
    return PromotionEvaluator(rungs, steps, promotion.eta, log, rungs[-1].context_key())


class _Borrowed:
    """An executor used by a lower rung and shut down by the top rung that owns it."""

    def __init__(self, executor: Any) -> None:
        self._executor = executor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)  # run, capacity, kind...: the owner's

    def shutdown(self) -> None:
        """Nothing: the owner shuts the pool down."""


def parallel_trainer(
    recipe: EvaluatorRecipe, settings: EvaluatorSettings, pool: Any = None
) -> GenomeEvaluator:
    """A `ParallelEvaluator` of ``recipe`` on the executor of ``settings`` (or ``pool``,
    one it shares): each evaluation trains with ``cpus_per_eval`` threads; with GPUs on
    Ray workers the driver keys results by the workers' device (``device`` ``auto`` means
    ``cuda`` there)."""
    from nas_env.evaluation.parallel import ParallelEvaluator

    executor = settings.executor
    recipe = recipe.with_threads(executor.cpus_per_eval)
    driver_recipe = recipe
    if executor.remote_gpus:
        import torch

        device = "cuda" if settings.training.device == "auto" else settings.training.device
        recipe = replace(recipe, settings=replace(recipe.settings, device=device))
        if not torch.cuda.is_available():  # keys say the workers' device, not this one's
            local = replace(recipe.settings, device="cpu")
            driver_recipe = replace(recipe, settings=local)
    driver = driver_recipe.build(cache=settings.training.cache)
    if driver_recipe is not recipe:
        driver = driver.placed_on(recipe.settings.device, settings.training.precision)
    return ParallelEvaluator(recipe, pool if pool is not None else executor.build(), driver=driver)


def surrogate(name: str, settings: EvaluatorSettings) -> GenomeEvaluator:
    """The surrogate benchmark ``settings`` name (default ``config/tables/<space>.npz``),
    promoted over its own rungs (rung log in memory) with ``promotion="asha"``. A file of
    predictions per genome is served by lookup, a file of models by prediction."""
    from nas_env.table.model_evaluator import ModelSurrogateEvaluator, is_model_benchmark
    from nas_env.table.surrogate_evaluator import SurrogateEvaluator

    path = table_path(settings.table.path, name, ".npz")
    served: SurrogateEvaluator | ModelSurrogateEvaluator
    if path.is_file() and is_model_benchmark(path):
        served = ModelSurrogateEvaluator(path)
    else:
        served = SurrogateEvaluator(path)
    if served.space.name != name:
        raise ConfigError(
            f"surrogate benchmark {path} holds space {served.space.name!r}, but the env asks "
            f"for {name!r}"
        )
    if not settings.promotion.on:
        return served
    context = f"surrogate:{path.resolve()}"
    eta = settings.promotion.eta
    return PromotionEvaluator(served.rung_views(), served.steps, eta, RungLog(), context)


def make_evaluator(
    space: str | Path | SearchSpace,
    task: str,
    fidelity: Any,
    settings: EvaluatorSettings | None = None,
) -> GenomeEvaluator:
    """The evaluator ``settings`` describe (default: training, `EvaluatorSettings()`).

    ``evaluator="table"`` serves a benchmark table (``table`` path, default the space's
    shipped table); ``missing="train"`` trains genomes absent from it with the other
    settings; ``table_allow_mismatch`` serves a table built by another evaluator version or
    on other task data (with a warning) instead of refusing it.
    """
    settings = settings or EvaluatorSettings()
    training = settings.training
    recipe = EvaluatorRecipe.of(
        space,
        task,
        fidelity,
        training.train_settings(),
        cache_root=training.cache_root,
        vocab_size=training.vocab_size,
    )

    def trainer() -> Any:
        if settings.executor.parallel:
            return parallel_trainer(recipe, settings)
        return recipe.build(cache=training.cache)

    if settings.evaluator == "train":
        if settings.promotion.on and settings.executor.parallel:
            return promoted_parallel_trainer(recipe, settings)
        if settings.promotion.on:
            return promoted_trainer(trainer(), settings)
        return trainer()
    name = space.name if isinstance(space, SearchSpace) else load_space(space).name
    if settings.evaluator == "surrogate":
        return surrogate(name, settings)
    from nas_env.table import TableEvaluator

    if settings.promotion.on:
        raise ConfigError(
            "promotion='asha' needs rungs: a training evaluator or a surrogate benchmark; "
            "a benchmark table holds one fidelity"
        )
    table = settings.table
    path = table_path(table.path, name, ".sqlite")
    fallback = trainer() if table.missing == "train" else None
    served = TableEvaluator(
        path,
        missing=table.missing,
        fallback=fallback,
        allow_mismatch=table.allow_mismatch,
        cache_root=training.cache_root,
    )
    if served.space.name != name:
        raise ConfigError(
            f"table {path} holds space {served.space.name!r}, but the env asks for {name!r}"
        )
    return served
