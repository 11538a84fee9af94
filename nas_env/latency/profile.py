"""Latency profiles: a sample of genomes measured on one device, the latency model fitted on
them, and the file that ships it.

``python -m nas_env.latency profile --space mid --device cpu`` measures ``--genomes``
genomes drawn uniformly from the space (seed 0; rows appended to ``<out>.rows.jsonl`` as
they come, so an interrupted profile resumes), each on a freshly built model (latency does
not depend on the weights) with the stable protocol (`PROTOCOL`), in ``--passes`` passes
back to back (a genome's figure is the minimum of its timings; timings from different
periods of a shared machine do not mix well). It fits `nas_env.latency.model` on a seeded
80 % of them, reports the error on the other 20 % (median absolute percentage error,
Kendall tau), refits on all and writes a small JSON file with the costs, the protocol and
the device it was measured on (processor, threads, torch version). `load_profile` refuses
a profile of another space or device with a clear error (or warns, when asked).
"""

from __future__ import annotations

import json
import platform
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config import CONFIG_DIR
from nas_env.errors import ConfigError
from nas_env.latency.model import FEATURES, features, fit, matrix, predict

FORMAT = "nas_env-latency-1"
PROFILES_DIR = CONFIG_DIR / "latency"
PROTOCOL: dict[str, Any] = {
    "warmup": 10,
    "warmup_seconds": 0.2,
    "repeats": 30,
    "statistic": "min",
}
"""How a profile times a genome (`nas_env.evaluation.measure.measure_latency`)."""


def device_description(device: str, threads: int) -> dict[str, Any]:
    """What a profile is valid for: device kind, processor (or GPU) name, threads, torch."""
    import torch

    from nas_env.table.store import machine_name

    name = machine_name() if device == "cpu" else torch.cuda.get_device_name(0)
    return {
        "device": device,
        "processor": name.split(" (")[0] if device == "cpu" else name,
        "threads": threads,
        "torch": torch.__version__.split("+")[0],
        "machine": platform.machine(),
    }


def default_path(space: str, device: str) -> Path:
    """The shipped profile of a space and device kind: ``config/latency/<space>-<device>.json``."""
    return PROFILES_DIR / f"{space}-{device}.json"


@dataclass(frozen=True)
class Profile:
    """A fitted latency profile (see the module docstring).

    Attributes:
        path: The file.
        meta: Its contents: ``space``, ``family``, ``task`` spec, ``batch``, ``device``
            description, ``protocol``, ``features``, ``costs``, ``fit`` report.
    """

    path: Path
    meta: dict[str, Any]

    @property
    def tag(self) -> str:
        """Names the profile in records and cache keys (its name and a content hash)."""
        import hashlib

        text = json.dumps(self.meta["costs"]) + json.dumps(self.meta["device"], sort_keys=True)
        return f"{self.path.stem}@{hashlib.sha256(text.encode()).hexdigest()[:8]}"

    def predict(self, genes: Mapping[str, Any], task: Any) -> float:
        """Predicted latency (ms) of one genome on the profile's device."""
        row = features(genes, self.meta["family"], task, int(self.meta["batch"]))
        return float(predict(self.meta["costs"], [row], self.meta["features"])[0])


def load_profile(
    path: str | Path, space: str, device: str, threads: int, allow_mismatch: bool = False
) -> Profile:
    """Read a profile and check it was made for ``space`` on this device.

    Raises:
        ConfigError: A missing or corrupted file, another format or space, or (unless
            ``allow_mismatch``: then a warning) another processor, thread count or torch.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"latency profile {path} does not exist; make it with python -m nas_env.latency "
            f"profile --space {space} --device {device}"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        costs = [float(c) for c in meta["costs"]]
        names = [str(n) for n in meta["features"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"latency profile {path}: not a readable profile ({exc})") from None
    if meta.get("format") != FORMAT or len(costs) != len(names):
        raise ConfigError(f"latency profile {path}: format {meta.get('format')!r}, want {FORMAT}")
    unknown = sorted(set(names) - set(FEATURES))
    if unknown:
        raise ConfigError(
            f"latency profile {path}: features {', '.join(unknown)} are not counted by this "
            f"nas_env (it counts {', '.join(FEATURES)}); refit it with python -m "
            f"nas_env.latency profile --space {meta.get('space')} (its timed rows are reused)"
        )
    if meta["space"] != space:
        raise ConfigError(
            f"latency profile {path} was made for space {meta['space']!r}, not {space!r}"
        )
    here = device_description(device, threads)
    differ = [
        f"{k} {meta['device'].get(k)!r} vs {here[k]!r} here"
        for k in ("device", "processor", "threads", "torch")
        if meta["device"].get(k) != here[k]
    ]
    if differ:
        text = f"latency profile {path} was measured elsewhere: {'; '.join(differ)}"
        if not allow_mismatch:
            raise ConfigError(
                f"{text}. Profile this machine (python -m nas_env.latency profile --space "
                f"{space} --device {device}) or allow the mismatch"
            )
        warnings.warn(text, stacklevel=2)
    return Profile(path, meta)


def fastest_rows(path: str | Path) -> list[dict[str, Any]]:
    """A profile's timed rows (``<profile>.rows.jsonl``), one per genome: its fastest pass,
    in the order the genomes were first timed (the profile's genome order)."""
    best: dict[str, dict[str, Any]] = {}
    for line in Path(path).with_suffix(".rows.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        kept = best.get(row["key"])
        if kept is None or row["latency_ms"] < kept["latency_ms"]:
            best[row["key"]] = row
    return [{"key": k, "genes": r["genes"], "latency_ms": r["latency_ms"]} for k, r in best.items()]


def fit_profile(
    rows: list[dict[str, Any]], meta: dict[str, Any], task: Any, seed: int = 0
) -> dict[str, Any]:
    """Fit on a seeded 80 % of ``rows`` (genes and measured latency), report the other
    20 %, refit on all; the profile's contents. Features are counted from the genes now, so
    measured rows stay usable when the model gains a feature."""
    from nas_env.ranking import kendall_tau

    batch = int(meta["batch"])
    x = matrix([features(r["genes"], meta["family"], task, batch) for r in rows])
    y = np.array([r["latency_ms"] for r in rows], dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = round(0.8 * len(rows))
    train, test = order[:cut], order[cut:]
    report: dict[str, Any] = {"genomes": len(rows), "held_out": len(test)}
    if len(test) >= 3:
        guess = x[test] @ fit(x[train], y[train])
        errors = np.abs(guess - y[test]) / y[test]
        report.update(
            median_ape=float(np.median(errors)),
            kendall_tau=float(kendall_tau(guess.tolist(), y[test].tolist())),
        )
        # Genomes with the same counts run the same computation (an assembly that differs
        # only in its learning rate): among them the order of the timings is the timer's
        # noise. Ranked once per computation, their timings averaged:
        groups: dict[tuple[float, ...], list[int]] = {}
        for i in test:
            groups.setdefault(tuple(x[i].tolist()), []).append(int(i))
        if len(groups) >= 3:
            firsts = [members[0] for members in groups.values()]
            timed = [float(np.mean(y[members])) for members in groups.values()]
            predicted = (x[firsts] @ fit(x[train], y[train])).tolist()
            report.update(computations=len(groups), kendall_tau_computations=float(
                kendall_tau(predicted, timed)
            ))  # fmt: skip
    return {**meta, "format": FORMAT, "features": list(FEATURES),
            "costs": [float(c) for c in fit(x, y)], "fit": report}  # fmt: skip
