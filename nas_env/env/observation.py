"""Observation encoding: a genome plus its normalised metrics as a flat float32 vector.

Slots, in order (`ObservationEncoder.slot_names` lists them by name):

- every global ordinal gene: one slot, ``index / (n_choices - 1)`` in [0, 1]
  (0 for a gene with one choice);
- every global categorical gene: one-hot over its choices (``norm=rmsnorm``...);
- per layer ``i`` up to the space's maximum depth: ``layer[i].active`` (1 or 0),
  then that layer's per-layer genes encoded as above; all zero when inactive;
- metrics of the current genome, each in [0, 1]: ``metric.quality`` (accuracy, or the
  perplexity score against the reward's vocabulary), ``metric.size`` and
  ``metric.latency`` (1 = smallest / fastest, log scale between the active reward's
  bounds, `Reward.metric_bounds`), ``metric.ok`` (1 when the genome trained and scored)
  and ``metric.score`` (the reward's score, clipped to [0, 1]);
- ``episode.progress``: steps (edit mode) or decisions (design mode) used, as a fraction;
- with ``targets="random"`` or ``"observed"`` only, the episode's targets: ``target.size_mb``,
  ``target.latency_ms`` (log position in their ranges, `nas_env.env.targets`).

In design mode genes not decided yet are all zero.

Forms (the env's ``observation`` argument, `observation_space` and `observe`): ``flat``,
the vector; ``dict``, its parts (``genome``, ``metrics``, ``progress``, and ``targets``
when the env draws them) for
``MultiInputPolicy``; ``masked``, ``{"observations": <the vector>, "action_mask": <1.0
where an action is allowed>}``, the convention of Ray RLlib's action-masking modules and
PettingZoo, for libraries that read the mask from the observation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from nas_env.evaluation import EvalResult
from nas_env.genes import Gene
from nas_env.genome import Genome
from nas_env.rewards import (
    DEFAULT_VOCAB_SIZE,
    MetricBounds,
    log_score,
    normalized_quality,
    quality_score,
)
from nas_env.space import SearchSpace

METRIC_SLOTS: tuple[str, ...] = (
    "metric.quality",
    "metric.size",
    "metric.latency",
    "metric.ok",
    "metric.score",
)


def _gene_slots(gene: Gene, prefix: str) -> list[str]:
    if gene.kind == "ordinal":
        return [prefix]
    return [f"{prefix}={v}" for v in gene.choices]


class ObservationEncoder:
    """Encodes (partial) genomes and metrics of one space into fixed-size vectors.

    Args:
        space: The search space.
        bounds: How the metric slots normalise a result (the active reward's
            `Reward.metric_bounds`); the default bounds when None.
        extra_slots: Names of slots after ``episode.progress`` (the episode's targets).
    """

    def __init__(
        self,
        space: SearchSpace,
        bounds: MetricBounds | None = None,
        extra_slots: tuple[str, ...] = (),
    ) -> None:
        self.space = space
        self.bounds = bounds or MetricBounds()
        self.global_genes = [g for g in space.genes if not g.per_layer]
        self.layer_genes = [g for g in space.genes if g.per_layer]
        names: list[str] = []
        for gene in self.global_genes:
            names += _gene_slots(gene, gene.name)
        if self.layer_genes:
            for i in range(space.max_layers):
                names.append(f"layer[{i}].active")
                for gene in self.layer_genes:
                    names += _gene_slots(gene, f"{gene.name}[{i}]")
        self.genome_size = len(names)
        names += list(METRIC_SLOTS)
        names.append("episode.progress")
        self.extra_slots = tuple(extra_slots)
        names += self.extra_slots
        self.slot_names: tuple[str, ...] = tuple(names)
        self._memo: dict[Any, np.ndarray] = {}

    @property
    def size(self) -> int:
        """Length of the flat observation."""
        return len(self.slot_names)

    @staticmethod
    def _encode_gene(gene: Gene, value: Any, out: list[float]) -> None:
        hot = gene.index(value)
        if gene.kind == "ordinal":
            n = len(gene.choices)
            out.append(hot / (n - 1) if n > 1 else 0.0)
        else:
            out.extend(1.0 if i == hot else 0.0 for i in range(len(gene.choices)))

    @staticmethod
    def _zeros(gene: Gene, out: list[float]) -> None:
        out.extend([0.0] * (1 if gene.kind == "ordinal" else len(gene.choices)))

    def encode_genome(self, genes: Mapping[str, Any]) -> np.ndarray:
        """Genome slots; genes absent from ``genes`` (undecided) are zero."""
        out: list[float] = []
        for gene in self.global_genes:
            if gene.name in genes:
                self._encode_gene(gene, genes[gene.name], out)
            else:
                self._zeros(gene, out)
        if self.layer_genes:
            layers = int(genes.get("layers", 0))
            for i in range(self.space.max_layers):
                out.append(1.0 if i < layers else 0.0)
                for gene in self.layer_genes:
                    values = genes.get(gene.name, ())
                    if i < layers and i < len(values):
                        self._encode_gene(gene, values[i], out)
                    else:
                        self._zeros(gene, out)
        return np.asarray(out, dtype=np.float32)

    def _genome_slots(self, genes: Mapping[str, Any]) -> np.ndarray:
        """`encode_genome`, memoised for complete (hashable) genomes."""
        if not isinstance(genes, Genome):
            return self.encode_genome(genes)
        slots = self._memo.get(genes)
        if slots is None:
            if len(self._memo) >= 100_000:
                self._memo.clear()
            slots = self._memo[genes] = self.encode_genome(genes)
        return slots

    def _quality(self, result: EvalResult) -> float:
        vocab = self.bounds.vocab_size or DEFAULT_VOCAB_SIZE
        if self.bounds.quality == "baseline":
            return normalized_quality(result, vocab)
        return quality_score(result, vocab)

    def encode_metrics(self, result: EvalResult | None, score: float) -> np.ndarray:
        """The metric slots of ``result`` with the current ``score`` (all 0 unless ok)."""
        if result is None or not result.ok:
            return np.zeros(len(METRIC_SLOTS), dtype=np.float32)
        bounds = self.bounds
        return np.array(
            [
                self._quality(result),
                log_score(result.size_mb, *bounds.size_mb),
                log_score(result.latency_ms, *bounds.latency_ms),
                1.0,
                min(max(score, 0.0), 1.0),
            ],
            dtype=np.float32,
        )

    def encode(
        self,
        genes: Mapping[str, Any],
        metrics: np.ndarray,
        progress: float,
        extra: np.ndarray | None = None,
    ) -> np.ndarray:
        """The full flat observation (a new array on every call); ``extra`` fills the
        ``extra_slots``."""
        parts = [
            self._genome_slots(genes),
            np.asarray(metrics, dtype=np.float32),
            np.asarray([min(max(progress, 0.0), 1.0)], dtype=np.float32),
        ]
        if self.extra_slots:
            values = np.zeros(len(self.extra_slots)) if extra is None else extra
            parts.append(np.asarray(values, dtype=np.float32))
        return np.concatenate(parts)

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """The `Dict` form of a flat observation: ``genome``, ``metrics``, ``progress``
        (and ``targets`` with extra slots)."""
        g, m = self.genome_size, self.genome_size + len(METRIC_SLOTS)
        out = {
            "genome": flat[:g].copy(),
            "metrics": flat[g:m].copy(),
            "progress": flat[m : m + 1].copy(),
        }
        if self.extra_slots:
            out["targets"] = flat[m + 1 :].copy()
        return out


def observation_space(
    encoder: ObservationEncoder, form: str, n_actions: int
) -> spaces.Box | spaces.Dict:
    """The observation space of ``form`` (``flat``, ``dict`` or ``masked``)."""
    flat = spaces.Box(0.0, 1.0, (encoder.size,), np.float32)
    if form == "flat":
        return flat
    if form == "masked":
        return spaces.Dict(
            {"observations": flat, "action_mask": spaces.Box(0.0, 1.0, (n_actions,), np.float32)}
        )
    g, m = encoder.genome_size, encoder.genome_size + len(METRIC_SLOTS)
    parts = {
        "genome": spaces.Box(0.0, 1.0, (g,), np.float32),
        "metrics": spaces.Box(0.0, 1.0, (m - g,), np.float32),
        "progress": spaces.Box(0.0, 1.0, (1,), np.float32),
    }
    if encoder.extra_slots:
        parts["targets"] = spaces.Box(0.0, 1.0, (len(encoder.extra_slots),), np.float32)
    return spaces.Dict(parts)


def observe(
    encoder: ObservationEncoder, form: str, flat: np.ndarray, mask: Any = None
) -> np.ndarray | dict[str, np.ndarray]:
    """The observation of ``form`` from the flat vector (and, for ``masked``, a callable
    returning the boolean action mask)."""
    if form == "flat":
        return flat
    if form == "masked":
        return {"observations": flat, "action_mask": np.asarray(mask(), dtype=np.float32)}
    return encoder.split(flat)
