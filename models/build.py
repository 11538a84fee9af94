"""Model factory: genome or config -> ``nn.Module``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from models.assembly import AssemblyClassifier, AssemblyConfig
from models.config import TransformerConfig
from models.dendritic import DendriticClassifier, DendriticConfig
from models.families import ModelConfig, resolve_config
from models.rnn import RNNLM, RNNClassifier
from models.spec import TaskSpec
from models.transformer import TransformerClassifier, TransformerLM


def build_model(genes: Mapping[str, Any] | ModelConfig, task: TaskSpec | None = None) -> nn.Module:
    """Instantiates the model described by a genome (or a ready config).

    Args:
        genes: Genome mapping gene name -> value (see :func:`models.model_config`) or a
            :class:`TransformerConfig` / :class:`RNNConfig` / `DendriticConfig`.
        task: The task; required with a genome, ignored with a config (which carries it).

    Returns:
        A :class:`TransformerLM`, :class:`TransformerClassifier`, :class:`RNNLM`,
        :class:`RNNClassifier` or `DendriticClassifier`, according to the family and
        ``task.kind``.
    """
    config = resolve_config(genes, task)
    if isinstance(config, DendriticConfig):
        return DendriticClassifier(config)
    if isinstance(config, AssemblyConfig):
        return AssemblyClassifier(config)
    if isinstance(config, TransformerConfig):
        return TransformerLM(config) if config.task.is_lm else TransformerClassifier(config)
    return RNNLM(config) if config.task.is_lm else RNNClassifier(config)
