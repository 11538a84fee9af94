"""Build the evaluator an environment scores genomes with, from plain keyword arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from config import CONFIG_DIR
from nas_env._validate import expect_choice
from nas_env.errors import ConfigError
from nas_env.evaluation import EvalResult, Evaluator, TrainSettings
from nas_env.genome import Genome
from nas_env.space import SearchSpace, load_space

EVALUATOR_KINDS: tuple[str, ...] = ("train", "table")


class EvaluatorLike(Protocol):
    """What the environment needs from an evaluator."""

    space: SearchSpace

    def evaluate(self, genome: Genome) -> EvalResult:
        """Score one genome."""
        ...


def default_table(space_name: str) -> Path:
    """The shipped benchmark table of a space (``config/tables/<space>.sqlite``)."""
    return CONFIG_DIR / "tables" / f"{space_name}.sqlite"


def vocab_size_of(evaluator: Any, default: int = 1024) -> int:
    """Vocabulary size of the evaluator's task (for perplexity-derived scores)."""
    spec = getattr(evaluator, "spec", None)
    if spec is not None:
        return int(spec.vocab_size)
    meta = getattr(evaluator, "meta", None) or {}
    return int(meta.get("vocab_size") or default)


def make_evaluator(
    evaluator: str | EvaluatorLike,
    space: str | Path | SearchSpace,
    task: str,
    fidelity: Any,
    *,
    table: str | Path | None = None,
    missing: str = "error",
    backend: str = "torch",
    device: str = "auto",
    precision: str = "auto",
    training_seed: int = 0,
    cache: str | Path | bool | None = None,
    cache_root: str | Path | None = None,
    vocab_size: int | None = None,
) -> EvaluatorLike:
    """An evaluator from a kind (``train`` or ``table``) or a ready object.

    ``table`` serves a benchmark table (``table`` path, default the space's shipped
    table); ``missing="train"`` trains genomes absent from it with the other arguments.
    """
    if not isinstance(evaluator, str):
        if not hasattr(evaluator, "evaluate") or not hasattr(evaluator, "space"):
            raise ConfigError(
                f"evaluator {evaluator!r} has no evaluate()/space; pass 'train', 'table' or "
                "an object with both"
            )
        return evaluator
    expect_choice(evaluator, "evaluator", EVALUATOR_KINDS)

    def trainer() -> Evaluator:
        return Evaluator(
            space,
            task=task,
            fidelity=fidelity,
            settings=TrainSettings(
                backend=backend, device=device, precision=precision, seed=training_seed
            ),
            cache=cache,
            cache_root=cache_root,
            vocab_size=vocab_size,
        )

    if evaluator == "train":
        return trainer()
    from nas_env.table import TableEvaluator

    name = space.name if isinstance(space, SearchSpace) else load_space(space).name
    path = Path(table) if table else default_table(name)
    fallback = trainer() if missing == "train" else None
    served = TableEvaluator(path, missing=missing, fallback=fallback)
    if served.space.name != name:
        raise ConfigError(
            f"table {path} holds space {served.space.name!r}, but the env asks for {name!r}"
        )
    return served
