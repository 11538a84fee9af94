"""Design mode: the order of decisions that builds a genome gene by gene.

Global genes are decided first, in space order (so ``layers`` is known before any
per-layer gene), then the per-layer genes layer by layer for the active layers
only. Each decision picks a choice index; indices past the gene's number of
choices are masked, and so is every choice after which no valid genome can be completed
(`nas_env.env.feasibility`), so a masked design always ends in a valid genome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nas_env.env.feasibility import Feasibility
from nas_env.genes import Gene
from nas_env.genome import Genome
from nas_env.space import SearchSpace


@dataclass(frozen=True)
class Decision:
    """One step of a design episode: which gene (and layer) the action sets."""

    gene: Gene
    layer: int | None = None

    @property
    def label(self) -> str:
        """``layers`` or ``heads[2]``."""
        return self.gene.name if self.layer is None else f"{self.gene.name}[{self.layer}]"


class DesignState:
    """A genome under construction.

    Args:
        space: The search space.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.width = max(len(g.choices) for g in space.genes)
        self.genes: dict[str, Any] = {}
        self._order: list[Decision] = [Decision(g) for g in space.genes if not g.per_layer]
        self.position = 0

    @property
    def max_decisions(self) -> int:
        """Decisions of the longest possible episode (deepest stack)."""
        per_layer = sum(1 for g in self.space.genes if g.per_layer)
        return len(self._order) + per_layer * self.space.max_layers

    def total(self) -> int:
        """Decisions of this episode (known exactly once ``layers`` is decided)."""
        layers = int(self.genes.get("layers", self.space.max_layers))
        per_layer = sum(1 for g in self.space.genes if g.per_layer)
        return len(self._order) + per_layer * layers

    @property
    def current(self) -> Decision:
        """The decision the next action makes."""
        return self._order[self.position]

    @property
    def done(self) -> bool:
        """True once every decision is made."""
        return self.position >= len(self._order)

    def _expand_layers(self) -> None:
        layers = int(self.genes.get("layers", 1))
        per_layer = [g for g in self.space.genes if g.per_layer]
        for i in range(layers):
            self._order += [Decision(g, i) for g in per_layer]
        for gene in per_layer:
            self.genes[gene.name] = ()

    def _assign(self, decision: Decision, value: Any, genes: dict[str, Any]) -> None:
        if decision.layer is None:
            genes[decision.gene.name] = value
        else:
            genes[decision.gene.name] = (*genes[decision.gene.name], value)

    def candidate(self, index: int) -> Genome | None:
        """The completed genome if ``index`` were the last decision, else None."""
        if self.position != len(self._order) - 1 or self._needs_expansion():
            return None
        genes = dict(self.genes)
        self._assign(self.current, self.current.gene.choices[index], genes)
        return Genome(self.space.name, genes)

    def _needs_expansion(self) -> bool:
        globals_left = any(d.layer is None for d in self._order[self.position + 1 :])
        has_layers = any(g.per_layer for g in self.space.genes)
        return has_layers and not globals_left and self.current.layer is None

    def mask(self) -> np.ndarray:
        """Allowed choice indices for the current decision: within the gene's choices,
        and leaving a valid genome within reach (`nas_env.env.feasibility`)."""
        mask = np.zeros(self.width, dtype=bool)
        decision = self.current
        choices = decision.gene.choices
        mask[: len(choices)] = True
        feasibility = Feasibility.of(self.space)
        allowed = mask.copy()
        for i in range(len(choices)):
            allowed[i] = feasibility.feasible(
                self.genes, decision.gene.name, choices[i], decision.layer
            )
        if allowed.any():  # with no valid completion, let the evaluator say "invalid"
            mask = allowed
        return mask

    def decide(self, index: int) -> None:
        """Apply an allowed choice (the caller checks the mask)."""
        decision = self.current
        self._assign(decision, decision.gene.choices[index], self.genes)
        self.position += 1
        if decision.layer is None and all(d.layer is None for d in self._order) and self.done:
            self._expand_layers()

    def genome(self) -> Genome:
        """The finished genome."""
        return Genome(self.space.name, self.genes)
