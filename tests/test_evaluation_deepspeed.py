"""DeepSpeed backend: config checks, and flat memory over many candidates in one process."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from nas_env import ConfigError
from nas_env.evaluation import Fidelity, resolve_precision
from nas_env.evaluation.deepspeed_backend import (
    free_port,
    load_deepspeed_config,
    resolve_deepspeed_config,
)


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "ds.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_default_config_resolves() -> None:
    fidelity = Fidelity.resolve("tiny")
    cpu = torch.device("cpu")
    precision = resolve_precision("fp32", cpu)
    config = resolve_deepspeed_config(load_deepspeed_config(None), fidelity, precision, cpu)
    assert config["train_micro_batch_size_per_gpu"] == fidelity.batch_size
    assert config["optimizer"]["params"]["lr"] == fidelity.lr
    assert config["gradient_clipping"] == fidelity.grad_clip
    assert config["bf16"] == {"enabled": False} and config["fp16"] == {"enabled": False}


@pytest.mark.parametrize(
    ("base", "want"),
    [
        ({}, True),
        ({"optimizer": {"type": "Adam", "params": {}}}, True),
        ({"optimizer": {"type": "AdamW", "params": {"torch_adam": False}}}, False),
        ({"optimizer": {"type": "Lamb", "params": {}}}, None),
        (
            {
                "optimizer": {"type": "AdamW"},
                "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}},
            },
            None,
        ),
    ],
)
def test_cpu_adam_needs_no_compiled_op(base: dict, want: bool | None) -> None:
    """On CPU, Adam runs as torch's AdamW unless the user chose otherwise or offloads
    (DeepSpeed's CPU FusedAdam would be JIT-compiled on every fresh machine)."""
    cpu = torch.device("cpu")
    config = resolve_deepspeed_config(
        base, Fidelity.resolve("tiny"), resolve_precision("fp32", cpu), cpu
    )
    assert config["optimizer"]["params"].get("torch_adam") is want


def test_the_single_rank_backend_skips_the_shared_memory_op() -> None:
    deepspeed = pytest.importorskip("deepspeed")
    from nas_env.evaluation.deepspeed_backend import _skip_shared_memory_op

    ops = deepspeed.ops.__compatible_ops__
    before = ops.get("deepspeed_shm_comm")
    try:
        _skip_shared_memory_op()
        assert ops["deepspeed_shm_comm"] is False
        from deepspeed.comm.torch import build_shm_op

        assert build_shm_op() is None
    finally:
        ops["deepspeed_shm_comm"] = before


def test_zero3_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"stage=3.*leaks.*allowed stages: 0, 1, 2"):
        load_deepspeed_config(write(tmp_path, {"zero_optimization": {"stage": 3}}))


def test_fp16_on_cpu_is_refused() -> None:
    cpu = torch.device("cpu")
    with pytest.raises(ConfigError, match="fp16 on CPU"):
        resolve_deepspeed_config({}, Fidelity.resolve("tiny"), resolve_precision("fp16", cpu), cpu)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_deepspeed_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_deepspeed_config(bad)


def test_free_ports_differ() -> None:
    assert 0 < free_port() < 65536


@pytest.mark.slow
@pytest.mark.deepspeed
def test_memory_stays_flat_over_many_candidates(tmp_path: Path) -> None:
    pytest.importorskip("deepspeed")
    import psutil

    from nas_env.evaluation import Evaluator, TrainSettings

    config = write(tmp_path, {"zero_optimization": {"stage": 2}})
    settings = TrainSettings(
        backend="deepspeed", device="cpu", deepspeed_config=str(config), latency_repeats=1
    )
    evaluator = Evaluator(
        "tiny",
        fidelity=Fidelity.resolve("tiny", steps=5),
        settings=settings,
        cache=False,
        cache_root=tmp_path,
        vocab_size=256,
    )
    genome = evaluator.space.default_genome()
    rss = []
    for i in range(14):
        result = evaluator.evaluate(genome.replace(norm="rmsnorm" if i % 2 else "layernorm"))
        assert result.status == "ok", result.message
        rss.append(psutil.Process().memory_info().rss / 2**20)
    growth = rss[-1] - rss[3]  # after allocator warm-up
    assert growth < 10, rss  # a leaking engine grows ~19 MiB per candidate


class _Initialized(Exception):
    """Raised by the stand-in for `deepspeed.initialize` once it has seen its arguments."""


def test_deepspeed_path_decays_matrices_only(monkeypatch: pytest.MonkeyPatch) -> None:
    deepspeed = pytest.importorskip("deepspeed")
    from nas_env.evaluation import deepspeed_backend

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
    seen: dict[str, object] = {}

    def initialize(**kwargs: object) -> None:
        seen.update(kwargs)
        raise _Initialized

    monkeypatch.setattr(deepspeed_backend, "prepare", lambda config, device: None)
    monkeypatch.setattr(deepspeed, "initialize", initialize)
    fidelity = Fidelity.resolve("tiny", weight_decay=0.1)
    cpu = torch.device("cpu")
    task = SimpleNamespace(kind="lm", metric="perplexity")
    with pytest.raises(_Initialized):
        deepspeed_backend.train_deepspeed(
            model, task, fidelity, 8, cpu, resolve_precision("fp32", cpu), 0, float("inf")
        )
    groups = list(seen["model_parameters"])  # type: ignore[call-overload]
    assert all(isinstance(g, dict) for g in groups)
    decay = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    no_decay = {id(p) for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    linear, norm = model[0], model[1]
    assert decay == {id(linear.weight)}
    assert no_decay == {id(linear.bias), id(norm.weight), id(norm.bias)}
    assert [g["weight_decay"] for g in groups if g["params"]] == [0.1, 0.0]
