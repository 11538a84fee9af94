"""Search baselines that run on the same environment as the RL agents.

Both use an edit-mode `NASEnv` (any registered edit id) and the same `RunLog`, so their
``episodes.jsonl`` has exactly the RL agents' format and their budgets are counted the
same way: in env steps (one per genome sampled or mutation made) and in unique
evaluations (distinct genomes scored).

* `RandomSearch`: each step draws a valid genome uniformly from the space
  (``space.random_genome``) and evaluates it with ``env.reset(options={"genome": g})``;
  record: ``step 0``, action ``sample``, one-record episode.
* `RegularizedEvolution` (Real et al., 2019, "Regularized Evolution for Image Classifier
  Architecture Search", Algorithm 1): a population of ``population_size`` random genomes;
  each cycle samples ``sample_size`` members, takes the best-scoring one as parent,
  mutates it by one random allowed edit action *through the env*
  (``reset(options={"genome": parent})`` then ``step(action)``), adds the child and
  removes the *oldest* member (aging). A failing child joins with score
  ``-failure_penalty`` and soon ages out. A mutation record is ``step 1`` of a one-step
  episode (the parent, already evaluated, is not recorded again).

Randomness comes from a ``numpy`` generator seeded with the run seed; `state_dict`
captures it with the population, so a resumed search continues exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from agents.runlog import RunLog

STOP = "stop"


@dataclass
class Member:
    """One genome of the evolution population."""

    genes: dict[str, Any]
    key: str
    score: float
    born: int  # global step at which it was evaluated


class SearchBaseline:
    """Common budget loop of the baselines.

    Args:
        env: An edit-mode nas_env environment (``gymnasium.make`` result or `NASEnv`).
        run_log: Receives the records.
        seed: Seeds the searcher's generator (and the env's first reset).
    """

    name = "baseline"

    def __init__(self, env: Any, run_log: RunLog, seed: int = 0) -> None:
        base = env.unwrapped
        if getattr(base, "mode", "edit") != "edit":
            raise ValueError(
                f"{self.name} needs an edit-mode env (mode='edit'), got mode={base.mode!r}; "
                "use an edit id such as nas_env/TransformerLM-v0 or nas_env/BenchLM-v0"
            )
        self.env = env
        self.base = base
        self.space = base.space
        self.run_log = run_log
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.num_timesteps = 0
        self._seeded = False

    # -- budget loop --------------------------------------------------------------
    def learn(
        self,
        total_timesteps: int,
        max_evaluations: int | None = None,
        callback: Callable[[SearchBaseline], bool] | None = None,
    ) -> SearchBaseline:
        """Search until ``total_timesteps`` env steps in all (counting earlier sessions)
        or ``max_evaluations`` unique genomes; ``callback(self)`` after each step may
        return False to stop."""
        while self.num_timesteps < total_timesteps:
            if max_evaluations is not None and self.run_log.unique_evaluations >= max_evaluations:
                break
            self.step_once()
            if callback is not None and callback(self) is False:
                break
        return self

    def step_once(self) -> None:
        """One env step of the search."""
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------
    def _reset(self, genes: dict[str, Any] | Any) -> tuple[Any, dict[str, Any]]:
        seed = None if self._seeded else self.seed
        self._seeded = True
        return self.env.reset(seed=seed, options={"genome": genes})

    def sample(self) -> Member:
        """Evaluate a uniformly random valid genome (one step, one record)."""
        genome = self.space.random_genome(self.rng)
        _obs, info = self._reset(genome)
        self.num_timesteps += 1
        record = self.run_log.on_reset(info, 0, self.num_timesteps, action="sample", done=True)
        return Member(
            genes=genome.to_dict()["genes"],
            key=genome.key(),
            score=self._score(record),
            born=self.num_timesteps,
        )

    def _score(self, record: dict[str, Any]) -> float:
        if record.get("status") == "ok" and record.get("score") is not None:
            return float(record["score"])
        return -float(self.base.reward_fn.failure_penalty)

    # -- resume -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-able state: steps done and the generator."""
        return {
            "algo": self.name,
            "num_timesteps": self.num_timesteps,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict` output."""
        self.num_timesteps = int(state["num_timesteps"])
        self.rng.bit_generator.state = state["rng"]
        self._seeded = True


class RandomSearch(SearchBaseline):
    """Uniform random sampling of valid genomes (with replacement: repeats are cache hits)."""

    name = "random"

    def step_once(self) -> None:
        self.sample()


class RegularizedEvolution(SearchBaseline):
    """Aging evolution with tournament selection and single-edit mutations.

    Args:
        env, run_log, seed: See `SearchBaseline`.
        population_size: P, members alive at once.
        sample_size: S, tournament size (``2 <= S <= P``).
    """

    name = "evolution"

    def __init__(
        self,
        env: Any,
        run_log: RunLog,
        seed: int = 0,
        population_size: int = 20,
        sample_size: int = 5,
    ) -> None:
        super().__init__(env, run_log, seed)
        if population_size < 2 or not 2 <= sample_size <= population_size:
            raise ValueError(
                f"evolution needs population_size >= 2 and 2 <= sample_size <= population_size,"
                f" got population_size={population_size}, sample_size={sample_size}"
            )
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.population: deque[Member] = deque()
        self.lineage: list[tuple[str, str, str]] = []  # (parent key, action, child key)
        names = list(self.base.action_names)
        self._stop = names.index(STOP) if STOP in names else None

    def step_once(self) -> None:
        if len(self.population) < self.population_size:
            self.population.append(self.sample())
            return
        picks = self.rng.choice(len(self.population), size=self.sample_size, replace=False)
        parent = max((self.population[int(i)] for i in picks), key=lambda m: m.score)
        self.population.append(self.mutate(parent))
        self.population.popleft()  # regularisation: the oldest dies, not the worst

    def mutate(self, parent: Member) -> Member:
        """The child of ``parent`` by one random allowed edit, evaluated through the env."""
        _obs, info = self._reset(parent.genes)
        self.run_log.begin(0, info.get("genome", parent.genes))
        mask = np.asarray(self.base.action_masks(), dtype=bool).copy()
        if self._stop is not None:
            mask[self._stop] = False
        allowed = np.flatnonzero(mask)
        if allowed.size == 0:  # a genome no edit can leave: explore elsewhere
            return self.sample()
        action = int(self.rng.choice(allowed))
        _obs, reward, _terminated, _truncated, info = self.env.step(action)
        self.num_timesteps += 1
        record = self.run_log.on_step(info, float(reward), action, True, 0, self.num_timesteps)
        child = Member(
            genes=record["genome"],
            key=str(record.get("genome_key")),
            score=self._score(record),
            born=self.num_timesteps,
        )
        self.lineage.append((parent.key, self.base.action_names[action], child.key))
        return child

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(
            population_size=self.population_size,
            sample_size=self.sample_size,
            population=[asdict(m) for m in self.population],
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.population = deque(Member(**m) for m in state.get("population", []))
