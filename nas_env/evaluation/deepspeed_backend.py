"""The `deepspeed` backend: the same training run through `deepspeed.initialize`.

One process, world size 1, on CUDA (NCCL) or on DeepSpeed's CPU accelerator (gloo).
``config/deepspeed.json`` (or the user's file) gives the ZeRO stage and optimizer
settings; the fidelity fills in batch size, learning rate, weight decay and clipping,
and the resolved precision decides ``bf16``/``fp16`` (fp16 is refused on CPU, as
DeepSpeed does). Weight decay applies to matrices and embeddings only, not to norms and
biases: the optimizer gets the torch backend's parameter groups. The process group is
created once per process on a free port; every candidate's engine is torn down with
``engine.destroy()``, which keeps memory flat across many candidates for ZeRO stages
0-2. ZeRO-3 keeps growing even with ``destroy()``, so it is refused in-process.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from config import CONFIG_DIR
from nas_env.checks import describe
from nas_env.errors import ConfigError
from nas_env.evaluation.fidelity import Fidelity
from nas_env.evaluation.loop import (
    LossTally,
    TrainJob,
    TrainOutcome,
    check_progress,
    forward_loss,
    param_groups,
    set_lr,
)
from nas_env.evaluation.precision import Precision
from nas_env.evaluation.schedules import plateau_of
from nas_env.tasks.kinds import task_kind

DEFAULT_CONFIG = CONFIG_DIR / "deepspeed.json"
_DIST_ENV = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (each worker picks its own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_distributed(device: torch.device) -> None:
    """Create this process' single-rank process group once (env vars set if missing)."""
    import deepspeed

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return
    defaults = {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
    }
    for name in _DIST_ENV:
        os.environ.setdefault(name, defaults[name])
    backend = "nccl" if device.type == "cuda" else "gloo"
    _skip_shared_memory_op()
    deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False, verbose=False)


def _skip_shared_memory_op() -> None:
    """Keep DeepSpeed from JIT-compiling its shared-memory all-reduce op.

    On a CPU accelerator, creating the communication backend compiles (or loads)
    ``deepspeed_shm_comm`` under a file lock in the torch extensions folder; the op only
    serves several ranks on one host, and this backend always runs one rank. A process
    killed while compiling leaves the lock behind, and every later DeepSpeed start on that
    machine waits on it forever; not compiling avoids both the wait and the minutes of
    compilation on a fresh machine.
    """
    import deepspeed.ops

    compatible = getattr(deepspeed.ops, "__compatible_ops__", None)
    if isinstance(compatible, dict):
        compatible["deepspeed_shm_comm"] = False


def load_deepspeed_config(path: str | Path | None) -> dict[str, Any]:
    """Read and check a DeepSpeed JSON config.

    Raises:
        ConfigError: Missing/unparsable file, or a ZeRO stage other than 0-2.
    """
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"DeepSpeed config {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"DeepSpeed config {path}: cannot parse: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"DeepSpeed config {path}: expected a JSON object")
    stage = data.get("zero_optimization", {}).get("stage", 0)
    if stage not in (0, 1, 2):
        raise ConfigError(
            f"DeepSpeed config {path}: zero_optimization.stage={describe(stage)} is not "
            "supported in-process (ZeRO-3 leaks memory for every engine even after "
            "destroy()); allowed stages: 0, 1, 2"
        )
    return data


def resolve_deepspeed_config(
    base: dict[str, Any], fidelity: Fidelity, precision: Precision, device: torch.device
) -> dict[str, Any]:
    """Fill the fidelity's recipe and the precision into a copy of ``base``."""
    if precision.name == "fp16" and device.type == "cpu":
        raise ConfigError("DeepSpeed refuses fp16 on CPU; use precision fp32 or bf16")
    config = copy.deepcopy(base)
    config["train_micro_batch_size_per_gpu"] = fidelity.batch_size
    config["gradient_accumulation_steps"] = 1
    config["gradient_clipping"] = fidelity.grad_clip
    optimizer = config.setdefault("optimizer", {"type": "AdamW", "params": {}})
    params = optimizer.setdefault("params", {})
    params.update({"lr": fidelity.lr, "weight_decay": fidelity.weight_decay})
    offload = config.get("zero_optimization", {}).get("offload_optimizer")
    adam = str(optimizer.get("type", "")).lower() in ("adam", "adamw")
    if device.type == "cpu" and adam and not offload:
        # DeepSpeed's CPU FusedAdam is a C++ op JIT-compiled per machine (minutes, under a
        # file lock a killed process leaves behind); torch's AdamW computes the same update.
        params.setdefault("torch_adam", True)
    config["bf16"] = {"enabled": precision.name == "bf16"}
    config["fp16"] = {"enabled": precision.name == "fp16"}
    return config


_PREPARED: set[str] = set()


def prepare(config: dict[str, Any], device: torch.device) -> None:
    """Pay DeepSpeed's one-time costs before any candidate's clock starts.

    The first ``deepspeed.initialize`` in a process creates the process group and
    JIT-compiles (or loads) the ops the config needs, which can take tens of seconds
    on a fresh machine; a throw-away engine on a one-layer model does it once per
    process and config.
    """
    import deepspeed

    token = f"{device}:{json.dumps(config, sort_keys=True)}"
    if token in _PREPARED:
        return
    ensure_distributed(device)
    dummy = nn.Linear(2, 2).to(device)
    engine, *_ = deepspeed.initialize(
        model=dummy, model_parameters=dummy.parameters(), config=config
    )
    engine.destroy()
    _PREPARED.add(token)


def optimizer_groups(
    model: nn.Module, weight_decay: float, lr_scaling: str | None = None
) -> list[dict[str, Any]]:
    """The torch backend's `param_groups` (decay on matrices only), without empty groups.

    DeepSpeed's optimizers and ZeRO partitioning take the groups as given; an empty one
    (a model without biases or norms) is left out rather than handed to them.
    """
    return [group for group in param_groups(model, weight_decay, lr_scaling) if group["params"]]


def train_deepspeed(
    model: nn.Module,
    task: Any,
    fidelity: Fidelity,
    seq_len: int,
    device: torch.device,
    precision: Precision,
    seed: int,
    deadline: float,
    config_path: str | Path | None = None,
) -> tuple[TrainOutcome, nn.Module]:
    """Train ``model`` through a DeepSpeed engine; return the outcome and the trained module.

    The engine is destroyed before returning (also on failure), so nothing of it
    outlives the candidate but the module's weights.
    """
    import deepspeed

    base = load_deepspeed_config(config_path)
    config = resolve_deepspeed_config(base, fidelity, precision, device)
    prepare(config, device)
    generator = torch.Generator().manual_seed(seed)
    kind = task_kind(task.kind)
    engine, optimizer, _, _ = deepspeed.initialize(
        model=model,
        model_parameters=optimizer_groups(model, fidelity.weight_decay, fidelity.lr_scaling),
        config=config,
    )
    try:
        start = time.perf_counter()
        last = float("nan")
        check_every = 1 if device.type == "cpu" else 16
        tally = LossTally(fidelity, device)
        plateau = plateau_of(fidelity, optimizer)
        for step in range(fidelity.steps):
            set_lr(optimizer, fidelity.lr_at(step) * (plateau.scale if plateau else 1.0))
            batch = task.sample_batch(fidelity.batch_size, seq_len, generator).to(engine.device)
            loss = forward_loss(engine, batch, kind, fidelity.label_smoothing)
            engine.backward(loss)
            engine.step()
            tally.add(loss, step)
            if plateau is not None:
                plateau.add(loss, step)
            if (step + 1) % check_every == 0 or step + 1 == fidelity.steps:
                last = check_progress(loss, step, deadline)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        trained = engine.module.float()
    finally:
        engine.destroy()
        del engine, optimizer
    tokens = fidelity.steps * fidelity.batch_size * seq_len
    mean_loss, late_loss = tally.means()
    outcome = TrainOutcome(fidelity.steps, tokens, seconds, last, 0, None, mean_loss, late_loss)
    return outcome, trained


class DeepSpeedBackend:
    """The ``deepspeed`` training backend (`nas_env.evaluation.backends`); it does not
    continue from promotion checkpoints."""

    name = "deepspeed"
    resumable = False

    def prepare(
        self, config: str | Path | None, fidelity: Fidelity, precision: Precision, device: Any
    ) -> str:
        """Check the JSON config, pay DeepSpeed's one-time costs (`prepare`) and return a
        hash of the resolved config (it changes results).

        Raises:
            ConfigError: See `load_deepspeed_config` and `resolve_deepspeed_config`.
        """
        base = load_deepspeed_config(config)
        resolved = resolve_deepspeed_config(base, fidelity, precision, device)
        prepare(resolved, device)
        text = json.dumps(resolved, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def train(self, job: TrainJob) -> tuple[TrainOutcome, nn.Module]:
        """`train_deepspeed` on the job (``resume`` and ``keep_state`` unsupported)."""
        return train_deepspeed(
            job.model, job.task, job.fidelity, job.seq_len, job.device, job.precision,
            job.seed, job.deadline, job.config,
        )  # fmt: skip


DEEPSPEED = DeepSpeedBackend()
"""The ``deepspeed`` backend."""
