"""Grid search: every valid genome of a small space once, in a documented order.

The order is the space's own enumeration (`nas_env.space.SearchSpace.enumerate`: layer
counts in their listed order, then the genes' choices as an odometer whose last gene turns
fastest), or with ``order="shuffled"`` a permutation of it drawn from the run seed, so that
a run stopped early has covered the space uniformly rather than one corner of it. Each
genome is evaluated through the env like a random-search sample (one record of a one-step
episode). When every genome has been evaluated the search ends, whatever budget is left.
`state_dict` keeps the position, so a resumed search continues exactly where it stopped.

Spaces over `MAX_GENOMES` (counted before constraints) are refused: a grid over them would
never finish (random search samples the same distribution as a shuffled grid).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.baselines import Proposal, SearchBaseline
from agents.runlog import RunLog

ORDERS: tuple[str, ...] = ("space", "shuffled")
MAX_GENOMES = 1_000_000


class GridSearch(SearchBaseline):
    """Exhaustive search (see the module docstring).

    Args:
        env, run_log, seed, in_flight: See `SearchBaseline`.
        order: ``space`` (the enumeration order) or ``shuffled`` (seeded permutation).
    """

    name = "grid"

    def __init__(
        self,
        env: Any,
        run_log: RunLog,
        seed: int = 0,
        order: str = "space",
        in_flight: int | None = None,
    ) -> None:
        self.check_hyperparams({"order": order})
        super().__init__(env, run_log, seed, in_flight)
        size = self.space.cardinality()
        if size > MAX_GENOMES:
            raise ValueError(
                f"grid: space {self.space.name!r} has {size:,} genomes before constraints; "
                f"allowed: at most {MAX_GENOMES:,} (use random search on larger spaces)"
            )
        self.order = order
        self.grid = [g.to_dict()["genes"] for g in self.space.enumerate()]
        if order == "shuffled":
            permutation = np.random.default_rng(seed).permutation(len(self.grid))
            self.grid = [self.grid[int(i)] for i in permutation]
        self.position = 0  # next genome of `grid` to propose

    @classmethod
    def check_hyperparams(cls, params: dict[str, Any]) -> None:
        order = params.get("order", "space")
        if order not in ORDERS:
            raise ValueError(f"grid: order={order!r} is not allowed; allowed: {', '.join(ORDERS)}")

    def exhausted(self) -> bool:
        """Every genome of the grid has been proposed."""
        return self.position >= len(self.grid)

    def propose(self) -> Proposal | None:
        if self.exhausted():
            return None
        genes = self.grid[self.position]
        self.position += 1
        return Proposal("sample", genes)

    def complete(self, proposal: Proposal) -> None:
        self.sample(proposal.genes)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(order=self.order, position=self.position, size=len(self.grid))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("order", self.order) != self.order or state.get("size") != len(self.grid):
            raise ValueError(
                f"grid: the saved run walked a grid of {state.get('size')} genomes in "
                f"{state.get('order')!r} order; this one has {len(self.grid)} in {self.order!r}"
            )
        self.position = int(state["position"])
        super().load_state_dict(state)
