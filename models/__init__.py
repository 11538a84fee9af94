"""Model zoo for the NAS environment: transformer and recurrent LMs / classifiers.

A genome (mapping gene name -> value) plus a :class:`TaskSpec` fully determines a model:
:func:`model_config` validates it, :func:`build_model` instantiates it and
:func:`count_params`, :func:`size_mb` and :func:`flops_per_token` measure it analytically;
:func:`save_trained` / :func:`load_trained` keep a trained model on disk (safetensors).
A bad config, gene value or task spec raises `models.errors.ModelConfigError` (a ``ValueError``).
"""

from models.artifact import load_trained, save_trained
from models.build import build_model
from models.config import RNNConfig, TransformerConfig
from models.counting import count_params, flops_per_token, size_mb
from models.families import GENE_NAMES, model_config
from models.spec import TaskSpec

__all__ = [
    "GENE_NAMES",
    "RNNConfig",
    "TaskSpec",
    "TransformerConfig",
    "build_model",
    "count_params",
    "flops_per_token",
    "load_trained",
    "model_config",
    "save_trained",
    "size_mb",
]
