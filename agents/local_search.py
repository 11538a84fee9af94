"""Local search: hill climbing over one-edit neighbours, with random restarts.

The neighbours of a genome are the genomes one allowed edit action of the env away (its
own ``action_masks()`` without ``stop``). From a uniformly random start the climber
evaluates neighbours through the env (``reset(options={"genome": current})`` then
``step(action)``, the same one-step episode record as an evolution mutation):

* ``improvement="first"`` (default): neighbours in a random order; the first that scores
  higher than the current genome becomes the current genome.
* ``improvement="best"``: every neighbour, then the best if it scores higher.

A genome none of whose neighbours scores higher is a local optimum: the climber restarts
from a new random genome. It is the simple baseline of the NAS literature (White et al.,
2021, "Exploring the Loss Landscape in Neural Architecture Search": on NAS-Bench-101 at
150 evaluations local search beats regularized evolution, random search and REINFORCE).

With candidates in flight the next neighbours of the current genome are proposed ahead;
a neighbour recorded after the climber has moved on is recorded and counted, and it is
adopted only if it beats the genome the climber holds then. `state_dict` keeps the
current genome, the neighbours not yet tried and the generator, so a resumed search
continues exactly.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from agents.baselines import STOP, Member, Proposal, SearchBaseline
from agents.runlog import RunLog

IMPROVEMENTS: tuple[str, ...] = ("first", "best")


class LocalSearch(SearchBaseline):
    """Hill climbing with random restarts (see the module docstring).

    Args:
        env, run_log, seed, in_flight: See `SearchBaseline`.
        improvement: ``first`` or ``best`` improvement.
    """

    name = "local"

    def __init__(
        self,
        env: Any,
        run_log: RunLog,
        seed: int = 0,
        improvement: str = "first",
        in_flight: int | None = None,
    ) -> None:
        self.check_hyperparams({"improvement": improvement})
        super().__init__(env, run_log, seed, in_flight)
        self.improvement = improvement
        self.current: Member | None = None
        self.untried: list[int] = []
        self.best: Member | None = None  # best neighbour so far (best improvement)
        self.restarts = 0
        self.moves = 0
        names = list(self.base.action_names)
        self._stop = names.index(STOP) if STOP in names else None

    @classmethod
    def check_hyperparams(cls, params: dict[str, Any]) -> None:
        improvement = params.get("improvement", "first")
        if improvement not in IMPROVEMENTS:
            raise ValueError(
                f"local: improvement={improvement!r} is not allowed; allowed: "
                f"{', '.join(IMPROVEMENTS)}"
            )

    # -- proposals ----------------------------------------------------------------
    def propose(self) -> Proposal | None:
        """A random start when there is no current genome (None while one is in flight),
        else its next untried neighbour (None when all are in flight)."""
        if self.current is None:
            if any(p.kind == "sample" for p in self.pending):
                return None
            return self.draw()
        while self.untried:
            action = self.untried.pop(0)
            genome = self.space.genome(self.current.genes)
            child, _reason = self.space.actions.try_apply(genome, action)
            if child is not None:
                return Proposal("mutate", child.to_dict()["genes"], self.current, action)
        return None

    def _neighbourhood(self, member: Member) -> None:
        """Make ``member`` the current genome and shuffle its allowed edits."""
        self.current, self.best = member, None
        mask = np.asarray(self.space.action_mask(self.space.genome(member.genes)), dtype=bool)
        mask = mask.copy()
        if self._stop is not None:
            mask[self._stop] = False
        allowed = np.flatnonzero(mask)
        self.untried = [int(a) for a in self.rng.permutation(allowed)]

    def _restart(self) -> None:
        self.current, self.best, self.untried = None, None, []
        self.restarts += 1

    def _waiting_on(self, member: Member) -> bool:
        return any(p.parent is not None and p.parent.key == member.key for p in self.pending)

    # -- records --------------------------------------------------------------------
    def complete(self, proposal: Proposal) -> None:
        if proposal.kind == "sample":
            member = self.sample(proposal.genes)
            if self.current is None:
                self._neighbourhood(member)
            return
        assert proposal.parent is not None and proposal.action is not None
        child = self.mutate(proposal.parent, proposal.action)
        current = self.current
        if current is None or proposal.parent.key != current.key:
            if current is not None and child.score > current.score:  # a stale winner
                self.moves += 1
                self._neighbourhood(child)
            return
        if self.improvement == "first":
            if child.score > current.score:
                self.moves += 1
                self._neighbourhood(child)
            elif not self.untried and not self._waiting_on(current):
                self._restart()
            return
        if self.best is None or child.score > self.best.score:
            self.best = child
        if self.untried or self._waiting_on(current):
            return
        if self.best.score > current.score:
            self.moves += 1
            self._neighbourhood(self.best)
        else:
            self._restart()

    # -- resume -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(
            improvement=self.improvement,
            current=asdict(self.current) if self.current is not None else None,
            untried=list(self.untried),
            best=asdict(self.best) if self.best is not None else None,
            restarts=self.restarts,
            moves=self.moves,
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.current = Member(**state["current"]) if state.get("current") else None
        self.best = Member(**state["best"]) if state.get("best") else None
        self.untried = [int(a) for a in state.get("untried", [])]
        self.restarts = int(state.get("restarts", 0))
        self.moves = int(state.get("moves", 0))
