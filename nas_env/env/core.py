"""NASEnv: neural architecture search as a Gymnasium environment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from nas_env.actions import STOP
from nas_env.env.arguments import MODES, OBSERVATIONS, RENDER_MODES, STARTS
from nas_env.env.design import DesignState
from nas_env.env.factory import make_evaluator
from nas_env.env.info import env_info
from nas_env.env.observation import ObservationEncoder, observation_space, observe
from nas_env.env.render import render_ansi, render_rgb
from nas_env.env.reward_setup import env_reward, metric_bounds
from nas_env.env.settings import (
    DEFAULT_EVALUATOR,
    DEFAULT_FIDELITY,
    DEFAULT_REWARD,
    DEFAULT_SPACE,
    DEFAULT_TASK,
    EvaluatorSettings,
    argument_names,
    check_arguments,
    check_names,
    check_options,
)
from nas_env.env.starting import start_genome
from nas_env.env.targets import EpisodeTargets
from nas_env.evaluation import EvalResult
from nas_env.evaluation.interface import GenomeEvaluator, as_genome_evaluator
from nas_env.genome import Genome
from nas_env.rewards import Reward, step_reward
from nas_env.space import SearchSpace

__all__ = ["MODES", "OBSERVATIONS", "STARTS", "NASEnv"]


class NASEnv(gym.Env):
    """Neural architecture search: edit or design an architecture, rewarded by real training.

    ## Description
    Each state is a genome of a search space (``config/spaces/*.yaml``): layers, width,
    per-layer heads and FFN ratios, norm, activation, position encoding, RNN cell... A
    genome is scored by an evaluator that trains the model it describes for a fidelity's
    budget on a task (e.g. causal LM on the Python standard library's source) and measures
    held-out quality, size and latency; results are cached on disk, so revisiting a genome
    costs well under a millisecond. A ``table`` evaluator serves a pre-built benchmark table
    instead (every record is labelled ``source="table"``), a ``surrogate`` evaluator a
    surrogate benchmark's prediction for every genome of its space (``source="surrogate"``).
    With ``promotion="asha"`` a new candidate first trains a lower rung of the fidelity and
    continues from its checkpoint to the next rung only while its loss stays in the top
    ``1/eta`` of that rung's results (successive halving); a candidate stopped early is
    scored from its calibrated rung loss, and ``info["result"]`` carries ``rung``,
    ``rungs``, ``cost_steps`` and ``calibration``. With ``executor="ray"`` (or ``workers >
    1``) candidates train on an executor's workers (a vector env submitting every env's
    `candidate` first trains them at once).

    ## Action Space
    ``Discrete(n)``. Mode ``edit``: the space's named edits, ``action_names[i]`` (e.g.
    ``layers+1``, ``heads[2]-1``, ``norm=rmsnorm``) and ``stop`` (the last action). Mode
    ``design``: index of the choice for the current gene (``choice[0]``...).
    ``action_masks()`` returns the valid actions (sb3-contrib MaskablePPO protocol); in
    design mode it hides every choice after which no valid genome can be completed, so a
    masked design always ends valid. An action a mask would hide (no-op, out of range,
    breaks a constraint) is a no-op step with reward ``-invalid_action_penalty`` (default
    0.1): the genome stays, no evaluation runs, ``info["invalid_action"]`` says why.

    ## Observation Space
    ``Box(0, 1, (n,), float32)`` (``observation="flat"``), slot by slot in
    ``observation_names``: ordinal genes as ``index / (n_choices - 1)``, categorical genes
    one-hot, per-layer genes per layer with a ``layer[i].active`` flag (inactive layers all
    zero), then ``metric.quality``, ``metric.size``, ``metric.latency``, ``metric.ok``,
    ``metric.score`` of the current genome (quality, size and latency normalised on the
    active reward's scale, `Reward.metric_bounds`) and ``episode.progress``; with
    ``targets="random"`` or ``"observed"`` then ``target.size_mb``, ``target.latency_ms``.
    ``observation="dict"`` gives ``Dict(genome, metrics, progress[, targets])`` for
    ``MultiInputPolicy``; ``observation="masked"`` gives ``Dict(observations=<the flat
    vector>, action_mask=Box(0, 1, (n_actions,)))``, the action mask inside the observation
    (1.0 = allowed, as `action_masks`), the convention of Ray RLlib's action-masking modules
    and PettingZoo.

    ## Rewards
    A named reward turns an `EvalResult` into a score. The default, ``target``
    (`TargetReward`), answers "the best quality within the space's size and latency targets"
    (``targets:`` in the space YAML): quality is ``1 - val_loss / baseline_loss``, the share
    of the task's context-free cross-entropy the model removes; within the targets the score
    is that quality, beyond them it is multiplied by a smooth penalty (``exp(-beta *
    excess)``, about ``(value / target) ** -beta`` far out). ``quality``, ``weighted``,
    ``mnasnet``, ``budget`` or a registered reward are chosen with ``reward=``. ``edit``:
    each evaluated step earns ``score(new) - score(previous)``, so an episode's return
    telescopes to final minus initial score; a failed evaluation (``diverged``, ``oom``,
    ``timeout``, ``invalid``, ``error``) earns ``-reward.failure_penalty`` and the genome is
    not adopted (an edit that evaluated a candidate names it in ``info["candidate_genome"]``
    and ``info["candidate_key"]``, failed or not; ``info["genome"]`` is the env's genome).
    ``design``: 0 per decision, then the final genome's score (or ``-failure_penalty``).
    Every reward (penalties included) is multiplied by ``reward_scale`` (default 1; the
    benchmark-table ids use 20, because neighbouring genomes there differ by 0.001-0.03 in
    score and value-based agents learn poorly from such small numbers); ``info["score"]`` is
    never scaled. With ``targets="random"`` each episode draws its size and latency targets
    (log-uniform in the space's ranges, ``config/target_ranges.yaml``; or ``reset(options=
    {"targets": {...}})``), the reward aims at them and ``info["targets"]`` says them
    (`nas_env.env.targets`); ``"observed"``: the same, but the space's targets unless given.

    ## Starting State
    ``edit``: the space's default genome (``start="default"``), a valid random one drawn
    from ``self.np_random`` (``start="random"``), or the best genome this env instance has
    evaluated so far (``start="incumbent"``; random until one scored), already evaluated;
    ``reset(options={"genome": ...})`` starts from a given genome or a named baseline of the
    space (``"llama-like"``, `nas_env.baselines`). ``design``: nothing decided.
    ``reset(seed=...)`` makes the episode repeatable (with ``incumbent``, given the env's
    history).

    ## Episode End
    Terminated by ``stop`` (edit) or after the last decision (design). Truncated by
    Gymnasium's ``TimeLimit`` (``max_episode_steps``, 20 for the registered edit ids).

    ## Arguments
    Declared once, in `nas_env.env.arguments` (the README's table is printed from it): the
    env's own (``space``, ``task``, ``fidelity``, ``reward``, ``mode``, ``evaluator``: a
    kind or a `GenomeEvaluator`, ``start``, ``targets``, ``reward_scale``, ``horizon``,
    ``invalid_action_penalty``, ``observation``, ``render_mode``), then the evaluator's
    settings by concern (`EvaluatorSettings`). `argument_names` lists them; any other name
    is refused with a close match; `check_arguments` checks them without building anything.

    ## Version History
    * v0: initial release. Scores are comparable only between results of one
      ``evaluator_version`` and ``task_fingerprint`` (both in every result and record);
      evaluator version 3 pinned the corpus, took the context from the space and sampled
      the held-out windows over all documents, so its scores differ from version 2's.
      Evaluator version 4 fixed the sinusoidal position encoding (it swamped the token
      embeddings), added ``baseline_loss`` to every result and made ``target`` the default
      reward. Executor settings change where candidates train, not their results.
    * v1 (``TransformerLM-v1``, ``TransformerLMDesign-v1``; the default ``fidelity`` is now
      ``search``): a candidate still trains `fast`'s 100 steps, but its ``val_loss`` (and
      perplexity, and so the reward) is the level's signal, an estimate of the held-out
      loss after long training (``signal`` and ``measured_val_loss`` in the result;
      `nas_env.evaluation.signals`), because the loss after 100 steps ranks genomes near
      the size target the opposite way from long training. The v0 ids keep ``fast``.
      ``TransformerCls-v1``, ``RNNCls-v1``, ``BenchLM-v1`` and ``BenchLMDesign-v1`` keep
      their v0 settings: their results changed under v0 (evaluator versions 3 and 4, the
      ``target`` reward), hence the new version. ``SurrogateLM[Design]-v1`` serve a
      benchmark whose truth is long training (``mid-long.npz``; v0's: ``fast``).
    * v2 (``TransformerLM``, ``TransformerLMDesign``, ``TransformerCls``, ``BenchLM``,
      ``BenchLMDesign``): evaluator version 5 draws pre-norm blocks' projections into the
      residual stream from GPT-2's N(0, 0.02 / sqrt(2 x layers)) (``residual_init=
      "scaled"``), not N(0, 0.02); the bench table was rebuilt. Their v1 and v0 ids pass
      ``residual_init="flat"`` (and serve ``bench-v4.sqlite``): their old results.
      ``SurrogateLM[Design]-v2``: v1's losses, latency from ``mid``'s CPU profile.
    * v3 (``TransformerLM``, ``TransformerLMDesign``), v1 (``MidLM``, ``MidLMDesign``):
      fidelity ``search-gp``, scored by a prior fitted on long training
      (`nas_env.evaluation.prior`); their previous versions keep ``search``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        space: str | Path | SearchSpace = DEFAULT_SPACE,
        task: str = DEFAULT_TASK,
        fidelity: Any = DEFAULT_FIDELITY,
        reward: str | dict[str, Any] | Reward = DEFAULT_REWARD,
        mode: str = "edit",
        evaluator: str | GenomeEvaluator = DEFAULT_EVALUATOR,
        *,
        start: str = "default",
        targets: str = "fixed",
        reward_scale: float = 1.0,
        horizon: int | None = None,
        invalid_action_penalty: float = 0.1,
        observation: str = "flat",
        render_mode: str | None = None,
        **settings: Any,
    ) -> None:
        options = dict(
            mode=mode, start=start, targets=targets, observation=observation,
            render_mode=render_mode, reward_scale=reward_scale, horizon=horizon,
            invalid_action_penalty=invalid_action_penalty,
        )  # fmt: skip
        check_options(options, "NASEnv")
        check_names(settings, argument_names(), "NASEnv")
        self.mode, self.start, self.observation_mode = mode, start, observation
        self.render_mode = render_mode
        kind = {"evaluator": evaluator} if isinstance(evaluator, str) else {}
        self.settings = EvaluatorSettings.from_kwargs({**settings, **kind}, "NASEnv")
        if kind:
            self.evaluator = make_evaluator(space, task, fidelity, self.settings)
        else:
            self.evaluator = as_genome_evaluator(evaluator)
        self.space: SearchSpace = self.evaluator.space
        self.vocab_size = self.evaluator.vocab_size
        self.reward_fn = env_reward(reward, self.space, self.vocab_size)
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.reward_scale = float(reward_scale)
        self._horizon = horizon
        self._targets = EpisodeTargets.of(targets, self.reward_fn, self.space.name)
        self.targets = self._targets.fixed()
        self._target_slots: np.ndarray | None = None
        bounds = metric_bounds(self.reward_fn, self.vocab_size)
        self.encoder = ObservationEncoder(self.space, bounds, self._targets.slot_names)
        self._design = DesignState(self.space)
        if self.mode == "edit":
            self.action_names: tuple[str, ...] = self.space.action_names
        else:
            self.action_names = tuple(f"choice[{i}]" for i in range(self._design.width))
        self.action_space = spaces.Discrete(len(self.action_names))
        self.observation_space: spaces.Space[Any] = observation_space(
            self.encoder, self.observation_mode, len(self.action_names)
        )
        self.observation_names = self.encoder.slot_names
        self.genome: Genome | None = None
        self.result: EvalResult | None = None
        self.score = 0.0
        self.steps = 0
        self._metrics_memo: tuple[Any, float, np.ndarray] = (None, 0.0, np.zeros(5, np.float32))
        self._incumbent: tuple[float, Genome] | None = None

    # -- the declared arguments -------------------------------------------------
    @classmethod
    def argument_names(cls) -> tuple[str, ...]:
        """Every keyword argument the env accepts: its own, then `EvaluatorSettings`'s."""
        return argument_names()

    @classmethod
    def check_arguments(cls, kwargs: Mapping[str, Any], where: str = "NASEnv") -> EvaluatorSettings:
        """Check keyword arguments as the env would, without training or loading a table
        (see `nas_env.env.settings.check_arguments`); returns their evaluator settings."""
        return check_arguments(kwargs, where)

    # -- helpers ----------------------------------------------------------------
    @property
    def horizon(self) -> int:
        """Steps (edit) or decisions (design) that ``episode.progress`` is measured against."""
        if self.mode == "design":
            return self._design.max_decisions
        if self._horizon:
            return self._horizon
        limit = self.spec.max_episode_steps if self.spec is not None else None
        return int(limit or 20)

    def _metrics(self) -> np.ndarray:
        r = self.result
        if self._metrics_memo[0] is r and self._metrics_memo[1] == self.score:
            return self._metrics_memo[2]
        metrics = self.encoder.encode_metrics(r, self.score)
        self._metrics_memo = (r, self.score, metrics)
        return metrics

    def _observation(self) -> Any:
        genes = self._design.genes if self.mode == "design" else (self.genome or {})
        done = self._design.position if self.mode == "design" else self.steps
        progress = done / max(1, self.horizon)
        flat = self.encoder.encode(genes, self._metrics(), progress, self._target_slots)
        return observe(self.encoder, self.observation_mode, flat, self.action_masks)

    def _info(self, action: str = "", invalid: str = "") -> dict[str, Any]:
        info = env_info(
            action=action, invalid=invalid, score=self.score, step=self.steps, mode=self.mode,
            genome=self.genome, result=self.result,
        )  # fmt: skip
        if self._targets.conditioned:
            info["targets"] = dict(self.targets)
        return info

    def _aim(self, given: Any) -> None:
        """Set this episode's targets (`nas_env.env.targets`) and what follows from them:
        the reward, the metric slots' bounds and the target slots."""
        self.targets = self._targets.choose(self.np_random, given)
        if self._targets.conditioned:
            self.reward_fn = self._targets.reward(self.targets)
            self.encoder.bounds = metric_bounds(self.reward_fn, self.vocab_size)
            self._target_slots = self._targets.encode(self.targets)
            self._metrics_memo = (None, 0.0, np.zeros(5, np.float32))

    def _evaluate(self, genome: Genome) -> tuple[float, EvalResult]:
        result = self.evaluator.evaluate(genome)
        previous = self.score if self.result is not None and self.result.ok else None
        reward, score = step_reward(self.reward_fn, previous, result)
        self.score = score if score is not None else self.score
        self._keep_best(genome, result)
        return reward, result

    def _keep_best(self, genome: Genome, result: EvalResult) -> None:
        """Remember the best genome this env evaluated (``start="incumbent"``)."""
        if result.ok and (self._incumbent is None or self.score > self._incumbent[0]):
            self._incumbent = (self.score, genome)

    # -- Gymnasium API ----------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode (see Starting State); ``options["genome"]`` sets the first
        genome (a genome, its genes or a baseline's name), ``options["targets"]`` the
        episode's targets (``random``, ``observed``)."""
        super().reset(seed=seed)
        self.steps = 0
        self.score = 0.0
        self.result = None
        self.genome = None
        self._design = DesignState(self.space)
        self._aim((options or {}).get("targets"))
        if self.mode == "edit":
            incumbent = self._incumbent[1] if self._incumbent is not None else None
            chosen = (options or {}).get("genome")
            self.genome = start_genome(self.space, self.start, chosen, incumbent, self.np_random)
            self.result = self.evaluator.evaluate(self.genome)
            self.score = self.reward_fn.score(self.result) if self.result.ok else 0.0
            self._keep_best(self.genome, self.result)
        return self._observation(), self._info("reset")

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Apply one action (see Action Space and Rewards)."""
        if self.mode == "edit" and self.genome is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        index = int(action)
        if not 0 <= index < len(self.action_names):
            raise ValueError(f"action {action!r} is outside Discrete({len(self.action_names)})")
        self.steps += 1
        if self.mode == "design":
            return self._design_step(index)
        name = self.action_names[index]
        if name == STOP:
            return self._observation(), 0.0, True, False, self._info(name)
        new, reason = self.space.actions.try_apply(self.genome, index)  # type: ignore[arg-type]
        if new is None:
            return self._invalid(name, reason)
        reward, result = self._evaluate(new)
        self.result = result if result.ok else self.result
        if result.ok:
            self.genome = new
        info = self._info(name)
        candidate = info["result"] if result is self.result else result.to_dict()
        info.update(
            status=result.status, cache_hit=result.cache_hit, candidate=candidate,
            candidate_genome=new.to_dict()["genes"], candidate_key=new.key(),
        )  # fmt: skip
        return self._observation(), float(reward) * self.reward_scale, False, False, info

    def _design_step(self, index: int) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        state = self._design
        label = state.current.label
        if not state.mask()[index]:
            return self._invalid(f"{label}=#{index}", f"choice {index} is not allowed for {label}")
        state.decide(index)
        if not state.done:
            return self._observation(), 0.0, False, False, self._info(label)
        genome = state.genome()
        self.genome = genome
        result = self.evaluator.evaluate(genome)
        self.result = result
        reward, score = step_reward(self.reward_fn, None, result)
        self.score = score if score is not None else 0.0
        scaled = float(reward) * self.reward_scale
        return self._observation(), scaled, True, False, self._info(label)

    def _invalid(self, action: str, reason: str) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """The no-op step of an action the mask would hide."""
        penalty = -self.invalid_action_penalty * self.reward_scale
        return self._observation(), penalty, False, False, self._info(action, reason)

    def candidate(self, action: Any) -> Genome | None:
        """The genome ``step(action)`` would evaluate now, without stepping (None: that
        step evaluates nothing). A vector env submits these before stepping, so that
        an executor trains them at once (`agents.vec_env.InFlightVecEnv`)."""
        index = int(action)
        if not 0 <= index < len(self.action_names):
            return None
        if self.mode == "design":
            state = self._design
            return None if state.done or not state.mask()[index] else state.candidate(index)
        if self.genome is None or self.action_names[index] == STOP:
            return None
        return self.space.actions.try_apply(self.genome, index)[0]

    def action_masks(self) -> np.ndarray:
        """Valid actions now (True = allowed); ``stop`` is always allowed in edit mode."""
        if self.mode == "design" and not self._design.done:
            return self._design.mask()
        if self.mode == "design" or self.genome is None:
            return np.ones(self.action_space.n, dtype=bool)
        return self.space.action_mask(self.genome)

    def close(self) -> None:
        """Close what the evaluator holds open (`GenomeEvaluator.close`)."""
        if "evaluator" in vars(self):  # absent when __init__ failed early
            self.evaluator.close()
        super().close()

    def render(self) -> str | np.ndarray | None:
        """``ansi``: the architecture and its metrics as text; ``rgb_array``: that text drawn."""
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; pass render_mode='ansi'")
            return None
        text = render_ansi(self)
        return text if self.render_mode == "ansi" else render_rgb(text)
