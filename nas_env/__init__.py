"""nas_env: neural architecture search as a Gymnasium environment.

The building blocks are importable from here: `SearchSpace`, `Genome`, `Gene`,
`Action`, `EditActions` and the error types.
"""

from __future__ import annotations

__version__ = "0.1.0"

from nas_env.actions import STOP, Action, EditActions
from nas_env.constraints import Budget
from nas_env.errors import ConfigError, InvalidActionError, InvalidGenomeError, NASEnvError
from nas_env.genes import Gene
from nas_env.genome import Genome
from nas_env.registration import ENV_IDS, register_envs
from nas_env.space import SearchSpace, load_space

register_envs()

__all__ = [
    "ENV_IDS",
    "STOP",
    "Action",
    "Budget",
    "ConfigError",
    "EditActions",
    "Gene",
    "Genome",
    "InvalidActionError",
    "InvalidGenomeError",
    "NASEnvError",
    "SearchSpace",
    "__version__",
    "load_space",
    "register_envs",
]
