"""Training backends: one registry, one signature.

Every backend trains one candidate through ``train(job: TrainJob) -> (TrainOutcome,
trained module)``; the evaluator never asks which backend it has. ``resumable`` says
whether it continues from a lower promotion rung's checkpoint (``job.resume``) and can
leave its own (``job.keep_state``); ``key_token`` is what of its configuration changes
results (part of every cache key).

=============  ==============================================  =========
name           module                                          resumable
=============  ==============================================  =========
``torch``      `nas_env.evaluation.loop` (``TORCH``)           yes
``deepspeed``  `nas_env.evaluation.deepspeed_backend`          no
=============  ==============================================  =========

Adding a backend: a module with an object that has these members, and its line in
`BACKEND_MODULES` (this file). Modules are imported when the backend is first used, so
an optional extra (DeepSpeed) is never imported by a run that does not use it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

from torch import nn

from nas_env.errors import ConfigError
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.loop import TrainJob, TrainOutcome
from nas_env.evaluation.precision import Precision


class TrainingBackend(Protocol):
    """What every backend offers (see the module docstring)."""

    name: str
    resumable: bool

    def key_token(
        self, config: str | Path | None, fidelity: Fidelity, precision: Precision, device: Any
    ) -> str:
        """What of the backend's configuration changes results ("" when nothing does).

        Raises:
            ConfigError: The configuration is unusable here (checked before training).
        """
        ...

    def train(self, job: TrainJob) -> tuple[TrainOutcome, nn.Module]:
        """Train ``job.model``; the outcome and the trained module.

        Raises:
            Diverged: The loss became NaN or infinite.
            TimedOut: The deadline passed.
        """
        ...


BACKEND_MODULES: dict[str, str] = {
    "torch": "nas_env.evaluation.loop:TORCH",
    "deepspeed": "nas_env.evaluation.deepspeed_backend:DEEPSPEED",
}
"""Backend name -> ``module:object``."""
BACKENDS: tuple[str, ...] = tuple(BACKEND_MODULES)


def training_backend(name: str) -> TrainingBackend:
    """The backend called ``name``.

    Raises:
        ConfigError: No such backend.
    """
    target = BACKEND_MODULES.get(name)
    if target is None:
        raise ConfigError(f"backend: {name!r} is not allowed; allowed: {', '.join(BACKENDS)}")
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)
