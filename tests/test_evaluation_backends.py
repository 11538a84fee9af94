"""Training backends and executors come from one registry each: names, one signature,
what each supports, clear errors for unknown names; the torch backend is `train_torch`."""

from __future__ import annotations

import inspect
import math
from types import SimpleNamespace

import pytest
import torch

from models import build_model, model_config
from nas_env.errors import ConfigError
from nas_env.evaluation.backends import BACKENDS, training_backend
from nas_env.evaluation.executors import (
    EXECUTORS,
    REMOTE_EXECUTORS,
    LocalPool,
    executor_kind,
)
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.loop import TrainJob, train_torch
from nas_env.evaluation.precision import resolve_precision
from nas_env.tasks import make_task


def test_every_backend_has_one_signature() -> None:
    assert BACKENDS == ("torch", "deepspeed")
    signatures = {str(inspect.signature(training_backend(n).train)) for n in BACKENDS}
    assert len(signatures) == 1
    assert training_backend("torch").resumable and not training_backend("deepspeed").resumable
    with pytest.raises(ConfigError, match="backend: 'jax' is not allowed; allowed: torch"):
        training_backend("jax")


def test_the_torch_backend_trains_like_train_torch() -> None:
    task = make_task("lm/stdlib", vocab_size=512)
    fidelity = Fidelity.resolve("tiny")
    device, precision = torch.device("cpu"), resolve_precision("fp32", torch.device("cpu"))
    genes = {"layers": 1, "d_model": 32, "heads": (2,)}

    def fresh() -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(model_config(genes, task.spec(64)))

    direct = train_torch(fresh(), task, fidelity, 64, device, precision, 3, math.inf)
    job = TrainJob(fresh(), task, fidelity, 64, device, precision, 3, math.inf)
    outcome, model = training_backend("torch").train(job)
    assert model is job.model
    assert outcome.final_loss == direct.final_loss and outcome.steps == direct.steps


def test_executor_kinds_build_and_describe() -> None:
    assert EXECUTORS == ("local", "ray") and REMOTE_EXECUTORS == ("ray",)
    settings = SimpleNamespace(
        workers=2, cpus_per_eval=1, gpus_per_eval=0.0, max_retries=1, ray_address=None
    )
    local = executor_kind("local")
    assert not local.remote
    assert local.describe(settings) == "a pool of 2 local processes"
    pool = local.build(settings)
    try:
        assert isinstance(pool, LocalPool) and pool.capacity == 2 and pool.max_retries == 1
    finally:
        pool.shutdown()
    assert "Ray ($RAY_ADDRESS" in executor_kind("ray").describe(settings)
    with pytest.raises(ConfigError, match="executor: 'dask' is not allowed; allowed: local, ray"):
        executor_kind("dask")
