"""Search baselines that run on the same environment as the RL agents.

They use an edit-mode `NASEnv` (any registered edit id) and the same `RunLog`, so their
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

Candidates in flight (``in_flight=K``, default: twice the evaluator's ``capacity``, 1 for
in-process training): the searcher proposes up to K candidates ahead and submits them to
the evaluator (`ParallelEvaluator.submit`), so its workers always have one to train, then
records them
in the order proposed, one env step each. Random search proposes exactly the genomes it
would one at a time, so its records do not depend on K; evolution picks the parents of
the candidates in flight from the population it has (asynchronous evolution, as in Real
et al.'s distributed runs) and TPE asks with its constant liar for the trials in flight.
Proposals never exceed the step budget left.

Randomness comes from a ``numpy`` generator seeded with the run seed; `state_dict`
captures it with the population and the proposals in flight, so a resumed search
continues exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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


@dataclass
class Proposal:
    """A candidate proposed and submitted, not yet recorded.

    Attributes:
        kind: ``sample`` (a fresh genome) or ``mutate`` (``action`` applied to ``parent``).
        genes: The candidate's genes.
        parent: The parent member (``mutate``).
        action: The edit action's index (``mutate``).
        extra: What the searcher needs back when it records the candidate (an Optuna
            trial; not saved).
    """

    kind: str
    genes: dict[str, Any]
    parent: Member | None = None
    action: int | None = None
    extra: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (``extra`` left out)."""
        parent = asdict(self.parent) if self.parent is not None else None
        return {"kind": self.kind, "genes": self.genes, "parent": parent, "action": self.action}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        """Inverse of `to_dict`."""
        parent = Member(**data["parent"]) if data.get("parent") else None
        return cls(data["kind"], data["genes"], parent, data.get("action"))


class SearchBaseline:
    """Common budget loop of the baselines, with candidates in flight.

    Subclasses implement `propose` (the next candidate, submitted by the loop) and
    `complete` (record it through the env).

    Args:
        env: An edit-mode nas_env environment (``gymnasium.make`` result or `NASEnv`).
        run_log: Receives the records.
        seed: Seeds the searcher's generator (and the env's first reset).
        in_flight: Candidates proposed ahead and submitted (None: twice the env's
            evaluator's ``capacity``, so that a worker never waits for the oldest
            candidate to be recorded; 1 when it trains in process).
    """

    name = "baseline"

    def __init__(
        self, env: Any, run_log: RunLog, seed: int = 0, in_flight: int | None = None
    ) -> None:
        base = env.unwrapped
        if getattr(base, "mode", "edit") != "edit":
            raise ValueError(
                f"{self.name} needs an edit-mode env (mode='edit'), got mode={base.mode!r}; "
                "use an edit id such as nas_env/TransformerLM-v3 or nas_env/BenchLM-v2"
            )
        self.env = env
        self.base = base
        self.space = base.space
        self.run_log = run_log
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.num_timesteps = 0
        self._seeded = False
        capacity = int(getattr(base.evaluator, "capacity", 1) or 1)
        default = 1 if capacity == 1 else 2 * capacity
        self.in_flight = default if in_flight is None else int(in_flight)
        if self.in_flight < 1:
            raise ValueError(f"{self.name}: in_flight must be >= 1, got {in_flight}")
        submit = getattr(base.evaluator, "submit", None)
        self._submit = submit if callable(submit) else None
        self.pending: deque[Proposal] = deque()
        self._limit: int | None = None
        self._evaluations_left: int | None = None
        self.lineage: list[tuple[str, str, str]] = []  # (parent key, action, child key)

    @classmethod
    def check_hyperparams(cls, params: dict[str, Any]) -> None:
        """Raise ValueError, saying what is allowed, for a bad value in ``params`` (the
        constructor's keyword arguments) before anything is built."""

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
        self._limit = total_timesteps
        while self.num_timesteps < total_timesteps and not (self.exhausted() and not self.pending):
            if max_evaluations is not None:
                left = max_evaluations - self.run_log.unique_evaluations
                if left <= 0:
                    break
                self._evaluations_left = left
            self.step_once()
            if callback is not None and callback(self) is False:
                break
        return self

    def step_once(self) -> None:
        """One env step of the search: top up the candidates in flight, record the oldest."""
        self._fill()
        if not self.pending:  # nothing could be proposed ahead: one at a time
            proposal = self.propose()
            if proposal is None:
                raise RuntimeError(f"{self.name}: no candidate to propose")
            self.pending.append(proposal)
        self.complete(self.pending.popleft())

    def _room(self) -> int:
        room = self.in_flight - len(self.pending)
        if self._limit is not None:
            room = min(room, self._limit - self.num_timesteps - len(self.pending))
        if self._evaluations_left is not None:
            room = min(room, self._evaluations_left - len(self.pending))
        return room

    def _fill(self) -> None:
        while self._room() > 0:
            proposal = self.propose()
            if proposal is None:
                return
            self.pending.append(proposal)
            self.submit(proposal.genes)

    def submit(self, genes: dict[str, Any]) -> None:
        """Start training ``genes`` on the evaluator's workers (when it has them)."""
        if self._submit is not None:
            self._submit(self.space.genome(genes))

    def resubmit(self) -> None:
        """Submit the candidates in flight again (after `load_state_dict`)."""
        for proposal in self.pending:
            self.submit(proposal.genes)

    def exhausted(self) -> bool:
        """Whether the search has nothing left to propose, ever (a finished grid)."""
        return False

    def propose(self) -> Proposal | None:
        """The next candidate (None: none can be proposed before a result comes back)."""
        raise NotImplementedError

    def complete(self, proposal: Proposal) -> None:
        """Evaluate ``proposal`` through the env and record it (one env step)."""
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------
    def _reset(self, genes: dict[str, Any] | Any) -> tuple[Any, dict[str, Any]]:
        seed = None if self._seeded else self.seed
        self._seeded = True
        return self.env.reset(seed=seed, options={"genome": genes})

    def draw(self) -> Proposal:
        """A uniformly random valid genome, as a ``sample`` proposal."""
        return Proposal("sample", self.space.random_genome(self.rng).to_dict()["genes"])

    def sample(self, genes: dict[str, Any]) -> Member:
        """Evaluate ``genes`` through the env (one step, one record)."""
        genome = self.space.genome(genes)
        _obs, info = self._reset(genome)
        self.num_timesteps += 1
        record = self.run_log.on_reset(info, 0, self.num_timesteps, action="sample", done=True)
        return Member(
            genes=genome.to_dict()["genes"],
            key=genome.key(),
            score=self._score(record),
            born=self.num_timesteps,
        )

    def mutate(self, parent: Member, action: int) -> Member:
        """The child of ``parent`` by edit ``action``, evaluated through the env (one step,
        one record of a one-step episode)."""
        _obs, info = self._reset(parent.genes)
        self.run_log.begin(0, info.get("genome", parent.genes))
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
            "pending": [p.to_dict() for p in self.pending],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict` output (the candidates in flight are submitted again)."""
        self.num_timesteps = int(state["num_timesteps"])
        self.rng.bit_generator.state = state["rng"]
        self._seeded = True
        self.pending = deque(Proposal.from_dict(p) for p in state.get("pending", []))
        self.resubmit()


class RandomSearch(SearchBaseline):
    """Uniform random sampling of valid genomes (with replacement: repeats are cache hits)."""

    name = "random"

    def propose(self) -> Proposal:
        return self.draw()

    def complete(self, proposal: Proposal) -> None:
        self.sample(proposal.genes)


class RegularizedEvolution(SearchBaseline):
    """Aging evolution with tournament selection and single-edit mutations.

    Args:
        env, run_log, seed, in_flight: See `SearchBaseline`.
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
        in_flight: int | None = None,
    ) -> None:
        self.check_hyperparams({"population_size": population_size, "sample_size": sample_size})
        super().__init__(env, run_log, seed, in_flight)
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.population: deque[Member] = deque()
        names = list(self.base.action_names)
        self._stop = names.index(STOP) if STOP in names else None

    @classmethod
    def check_hyperparams(cls, params: dict[str, Any]) -> None:
        population = params.get("population_size", 20)
        sample = params.get("sample_size", 5)
        if population < 2 or not 2 <= sample <= population:
            raise ValueError(
                f"evolution needs population_size >= 2 and 2 <= sample_size <= population_size,"
                f" got population_size={population}, sample_size={sample}"
            )

    def propose(self) -> Proposal | None:
        """A random member while the population (with the samples in flight) is short of
        P; then the child of a tournament winner by one random allowed edit. None while
        fewer than S members are back to hold a tournament."""
        sampling = sum(1 for p in self.pending if p.kind == "sample" and p.parent is None)
        if len(self.population) + sampling < self.population_size:
            return self.draw()
        if len(self.population) < self.sample_size:
            return None
        picks = self.rng.choice(len(self.population), size=self.sample_size, replace=False)
        parent = max((self.population[int(i)] for i in picks), key=lambda m: m.score)
        genome = self.space.genome(parent.genes)
        mask = np.asarray(self.space.action_mask(genome), dtype=bool).copy()
        if self._stop is not None:
            mask[self._stop] = False
        allowed = np.flatnonzero(mask)
        if allowed.size == 0:  # a genome no edit can leave: explore elsewhere
            proposal = self.draw()
            proposal.parent = parent  # in place of a child: the oldest still dies
            return proposal
        action = int(self.rng.choice(allowed))
        child, _reason = self.space.actions.try_apply(genome, action)
        genes = child.to_dict()["genes"] if child is not None else parent.genes
        return Proposal("mutate", genes, parent, action)

    def complete(self, proposal: Proposal) -> None:
        if proposal.kind == "sample":
            self.population.append(self.sample(proposal.genes))
        else:
            assert proposal.parent is not None and proposal.action is not None
            self.population.append(self.mutate(proposal.parent, proposal.action))
        while len(self.population) > self.population_size:
            self.population.popleft()  # regularisation: the oldest dies, not the worst

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
