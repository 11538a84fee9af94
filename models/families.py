"""From genes to a model config: the family registry, `model_config` and `resolve_config`.

Each family's config dataclass lives beside its checks (`models.config`: Transformer and
RNN; `models.dendritic`); this module maps a genome to the right one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from models.assembly import AssemblyConfig
from models.checks import check_choice
from models.config import RNNConfig, TransformerConfig
from models.dendritic import DendriticConfig
from models.errors import ModelConfigError
from models.spec import TaskSpec

ModelConfig = TransformerConfig | RNNConfig | DendriticConfig | AssemblyConfig
_CONFIG_CLASSES: dict[str, type[ModelConfig]] = {
    "transformer": TransformerConfig,
    "rnn": RNNConfig,
    "dendritic": DendriticConfig,
    "assembly": AssemblyConfig,
}
FAMILIES: tuple[str, ...] = tuple(_CONFIG_CLASSES)
"""The model families, by the name a space's ``family:`` gives."""

GENE_NAMES: dict[str, tuple[str, ...]] = {
    family: tuple(f.name for f in fields(cls) if f.name != "task")
    for family, cls in _CONFIG_CLASSES.items()
}
"""Gene vocabulary of each family, in declaration order."""

GENE_DEFAULTS: dict[str, dict[str, Any]] = {
    family: {f.name: f.default for f in fields(cls) if f.name != "task"}
    for family, cls in _CONFIG_CLASSES.items()
}
"""Value used for every gene a genome leaves out."""


def family_of(genes: Mapping[str, Any]) -> str:
    """Decides the architecture family of a genome.

    An explicit ``family`` key wins; otherwise a ``cell`` gene means ``"rnn"``, an
    ``architecture`` gene ``"dendritic"``, and neither ``"transformer"``.

    Raises:
        ModelConfigError: If ``family`` is given but is not a known family.
    """
    if "family" in genes:
        return str(check_choice(genes["family"], "genome key 'family'", FAMILIES))
    if "architecture" in genes:
        return "dendritic"
    if "blocks" in genes:
        return "assembly"
    return "rnn" if "cell" in genes else "transformer"


def model_config(genes: Mapping[str, Any], task: TaskSpec) -> ModelConfig:
    """Turns a genome into a validated model config.

    Args:
        genes: Mapping gene name -> value. Missing genes take :data:`GENE_DEFAULTS`. An
            optional ``family`` key (one of `FAMILIES`) selects the family; without it
            `family_of` decides by the genes.
        task: The task the model is built for.

    Returns:
        A :class:`TransformerConfig`, :class:`RNNConfig` or `DendriticConfig`.

    Raises:
        ModelConfigError: On unknown gene names or invalid values; the message names the gene,
            the bad value and the allowed values.
    """
    if not isinstance(genes, Mapping):
        raise ModelConfigError(f"genes={genes!r} is invalid; allowed: a mapping gene name -> value")
    if not isinstance(task, TaskSpec):
        raise ModelConfigError(f"task={task!r} is invalid; allowed: a TaskSpec")
    family = family_of(genes)
    given = {k: v for k, v in genes.items() if k != "family"}
    unknown = sorted(str(k) for k in set(given) - set(GENE_NAMES[family]))
    if unknown:
        raise ModelConfigError(
            f"unknown {family} genes {unknown}; allowed: {GENE_NAMES[family]} "
            "(plus the optional key 'family')"
        )
    return _CONFIG_CLASSES[family](task=task, **{**GENE_DEFAULTS[family], **given})


def resolve_config(
    genes_or_config: Mapping[str, Any] | ModelConfig, task: TaskSpec | None
) -> ModelConfig:
    """Accepts either a ready config or a genome plus task and returns the config.

    Raises:
        ModelConfigError: If a genome is given without a task, or a config with a different task.
    """
    if isinstance(genes_or_config, (TransformerConfig, RNNConfig, DendriticConfig, AssemblyConfig)):
        if task is not None and task != genes_or_config.task:
            raise ModelConfigError(
                f"task={task!r} differs from the config's task {genes_or_config.task!r}; "
                "allowed: None or the same TaskSpec"
            )
        return genes_or_config
    if task is None:
        raise ModelConfigError("task=None is invalid when passing genes; allowed: a TaskSpec")
    return model_config(genes_or_config, task)
