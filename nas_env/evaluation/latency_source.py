"""Where a result's latency comes from: timed on the trained model (``measured``, the
default), or ``predicted`` by the latency profile of the space and device
(`nas_env.latency.profile`; ``latency_profile`` names another file)."""

from __future__ import annotations

from typing import Any

import torch

from nas_env.evaluation.measure import Latency, measure_latency
from nas_env.evaluation.train_settings import TrainSettings
from nas_env.genome import Genome


def latency_profile(settings: TrainSettings, space: str, device: torch.device) -> Any:
    """The profile ``settings`` ask for (None: latency is measured).

    Raises:
        ConfigError: The profile is missing, corrupted, of another space, or of another
            device (unless ``latency_profile_mismatch``: then a warning).
    """
    if settings.latency != "predicted":
        return None
    from nas_env.latency.profile import default_path, load_profile

    path = settings.latency_profile or default_path(space, device.type)
    threads = settings.latency_threads if device.type == "cpu" else 0
    return load_profile(path, space, device.type, threads, settings.latency_profile_mismatch)


def latency_key(profile: Any) -> str:
    """The cache key's part for predicted latency ("" when measured)."""
    return "" if profile is None else f"latp={profile.tag};"


def latency_of(
    model: torch.nn.Module,
    genome: Genome,
    spec: Any,
    device: torch.device,
    settings: TrainSettings,
    profile: Any,
) -> tuple[Latency, str]:
    """The latency of ``genome`` (its trained ``model``) and its source: ``measured``, or
    ``predicted:<profile tag>``."""
    if profile is not None:
        threads = settings.latency_threads if device.type == "cpu" else 0
        return Latency(profile.predict(dict(genome), spec), 0.0, threads, 0, 0), (
            f"predicted:{profile.tag}"
        )
    latency = measure_latency(
        model, spec, device, warmup=settings.latency_warmup, repeats=settings.latency_repeats,
        threads=settings.latency_threads, warmup_seconds=settings.latency_warmup_seconds,
        statistic=settings.latency_statistic,
    )  # fmt: skip
    return latency, "measured"
