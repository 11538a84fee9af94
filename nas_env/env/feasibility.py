"""Whether a partly designed genome can still be completed into a valid one.

Design mode masks every choice after which no valid genome remains, so that a masked
agent never builds an invalid genome (which ends its episode with the failure penalty,
a reward ten times larger than the score differences it should learn from).

* A flat space (every searchable gene global, `nas_env.mask_table.tabulable`): exact, from
  the validity grid of every genome (`nas_env.mask_table.valid_grid`): a choice is
  feasible when any grid point with the decided values and that choice is valid.
* Otherwise: the cheapest completion. Every undecided gene (and every per-layer value of
  the layers to come) takes the choice that gives the fewest parameters, and the choice
  is feasible when that genome is valid. The constraints of the model families are
  budgets that grow with every gene independently of the others (a wider model, a gated
  activation, biases, untied embeddings, learned positions, another layer: each only
  adds parameters), so the cheapest completion is valid whenever any completion is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nas_env.genome import Genome
from nas_env.mask_table import tabulable, valid_grid
from nas_env.space import SearchSpace
from nas_env.training_genes import model_genes

_BY_SPACE: dict[int, tuple[SearchSpace, Feasibility]] = {}


class Feasibility:
    """Feasibility checks of one space, memoised (see the module docstring)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self._memo: dict[tuple[Any, ...], bool] = {}
        self._grid: np.ndarray | None = None
        if tabulable(space):
            searchable = [g for g in space.genes if g.searchable]
            shape = tuple(len(g.choices) for g in searchable)
            self._grid = valid_grid(space).reshape(shape)
            self._axis = {g.name: i for i, g in enumerate(searchable)}
        self._cheapest = {g.name: self._cheapest_choice(g.name) for g in space.genes}

    @classmethod
    def of(cls, space: SearchSpace) -> Feasibility:
        """The (shared) checker of ``space``."""
        found = _BY_SPACE.get(id(space))
        if found is None or found[0] is not space:
            found = _BY_SPACE[id(space)] = (space, cls(space))
        return found[1]

    def _cheapest_choice(self, name: str) -> Any:
        """The choice of gene ``name`` giving the fewest parameters, others at default."""
        from models import count_params, model_config

        gene = self.space.gene(name)
        if len(gene.choices) == 1:
            return gene.choices[0]
        base = dict(self.space.default_genome())
        costs = []
        for choice in gene.choices:
            genes = dict(base)
            if gene.per_layer:
                genes[name] = tuple(choice for _ in range(int(base.get("layers", 1))))
            else:
                genes[name] = choice
            try:
                config = model_config(model_genes(genes, self.space.family), self.space.task)
                costs.append(count_params(config))
            except ValueError:
                costs.append(np.inf)
        return gene.choices[int(np.argmin(costs))]

    def feasible(self, decided: dict[str, Any], gene: str, value: Any, layer: int | None) -> bool:
        """Whether ``decided`` (gene values so far; per-layer genes as tuples of the layers
        decided) with ``gene`` (at ``layer``) set to ``value`` can still become valid."""
        key = (tuple(sorted((k, v) for k, v in decided.items())), gene, value, layer)
        found = self._memo.get(key)
        if found is None:
            found = self._grid_check(decided, gene, value) if self._grid is not None else None
            if found is None:
                found = self._cheapest_check(decided, gene, value, layer)
            if len(self._memo) >= 200_000:
                self._memo.clear()
            self._memo[key] = found
        return found

    def _grid_check(self, decided: dict[str, Any], gene: str, value: Any) -> bool | None:
        assert self._grid is not None
        index: list[Any] = [slice(None)] * self._grid.ndim
        try:
            for name, v in {**decided, gene: value}.items():
                axis = self._axis.get(name)
                if axis is not None:
                    index[axis] = self.space.gene(name).index(v)
        except ValueError:
            return None
        return bool(self._grid[tuple(index)].any())

    def _cheapest_check(
        self, decided: dict[str, Any], gene: str, value: Any, layer: int | None
    ) -> bool:
        genes = dict(decided)
        if layer is None:
            genes[gene] = value
        else:
            genes[gene] = (*genes.get(gene, ()), value)
        layers = int(genes.get("layers", self._cheapest.get("layers", 1)))
        for g in self.space.genes:
            cheap = self._cheapest[g.name]
            if not g.per_layer:
                genes.setdefault(g.name, cheap)
                continue
            have = tuple(genes.get(g.name, ()))
            genes[g.name] = have + (cheap,) * (layers - len(have))
        return self.space.is_valid(Genome(self.space.name, genes))
