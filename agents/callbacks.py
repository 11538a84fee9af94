"""SB3 callbacks: episode records, NAS scalars, budgets and checkpoints.

* `NASRecordCallback` feeds every reset and step of the training env to a `RunLog`
  (``episodes.jsonl``, TensorBoard scalars under ``nas/``, ``best.json``,
  ``pareto.json``) and stops training at the step or unique-evaluation budget.
* `CheckpointCallback` saves ``checkpoints/model.zip`` (+ ``replay_buffer.pkl`` for
  off-policy agents) and ``checkpoints/state.json`` every ``save_freq`` steps; `save_checkpoint`
  is also what the CLI calls at the end of a run and on Ctrl-C.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from agents.runlog import RunLog
from agents.sb3_counters import gradient_updates
from nas_env.atomic import atomic_write_json, atomic_writer
from runfolder import MODEL_FILE, REPLAY_FILE, STATE_FILE


class NASRecordCallback(BaseCallback):
    """Records resets and steps of the training env and enforces the run's budgets.

    Args:
        run_log: Receives the events (its logger is set to the model's logger).
        total_timesteps: Stop once the model has made this many env steps in all
            (None: let ``learn`` decide). On-policy agents finish a rollout that ends
            exactly at the budget, so that it is trained on.
        max_evaluations: Stop once this many distinct genomes were evaluated (None: no
            limit). An on-policy agent reaching it at the last step of a rollout trains on
            that rollout first (at most one more step).

    SB3 stops an on-policy agent only from inside a step, so a stop after a trained-on
    rollout costs one more vector step; that step is recorded like every other, so that
    ``episodes.jsonl`` ends at the model's ``num_timesteps``. A rollout ends after the
    model's ``n_steps`` vector steps, counted from ``on_rollout_start``.
    """

    def __init__(
        self,
        run_log: RunLog,
        total_timesteps: int | None = None,
        max_evaluations: int | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        self.run_log = run_log
        self.total_timesteps = total_timesteps
        self.max_evaluations = max_evaluations
        self.stop_reason = ""
        self._stop_pending = False
        self._rollout_steps = 0

    def _on_training_start(self) -> None:
        if self.run_log.logger is None:
            self.run_log.logger = self.logger
        for index, info in enumerate(self.training_env.reset_infos):
            self.run_log.on_reset(info or {}, index, self.num_timesteps)

    def _on_rollout_start(self) -> None:
        self._rollout_steps = 0

    def _on_step(self) -> bool:
        self._rollout_steps += 1
        self._record_step()
        if self._stop_pending:  # the envs already stepped once more: recorded, now stop
            return False
        return self._keep_going()

    def _record_step(self) -> None:
        """Write the records of the vector step SB3 just made (one per env, + resets)."""
        infos = self.locals.get("infos", [])
        rewards = np.asarray(self.locals.get("rewards", np.zeros(len(infos)))).reshape(-1)
        dones = np.asarray(self.locals.get("dones", np.zeros(len(infos), bool))).reshape(-1)
        actions = self.locals.get("actions")
        flat = None if actions is None else np.asarray(actions).reshape(len(infos), -1)[:, 0]
        for index, info in enumerate(infos):
            action = None if flat is None else int(flat[index])
            self.run_log.on_step(
                info, float(rewards[index]), action, bool(dones[index]), index, self.num_timesteps
            )
            if dones[index]:
                reset_info = self.training_env.reset_infos[index] or {}
                self.run_log.on_reset(reset_info, index, self.num_timesteps)

    def _keep_going(self) -> bool:
        reason = ""
        if self.total_timesteps is not None and self.num_timesteps >= self.total_timesteps:
            reason = f"step budget reached ({self.num_timesteps} steps)"
        if (
            self.max_evaluations is not None
            and self.run_log.unique_evaluations >= self.max_evaluations
        ):
            reason = f"evaluation budget reached ({self.run_log.unique_evaluations} genomes)"
        if not reason:
            return True
        self.stop_reason = reason
        model = self.model
        if isinstance(model, OnPolicyAlgorithm) and self._rollout_steps >= model.n_steps:
            self._stop_pending = True  # the rollout is full: let it be trained on, then stop
            return True
        return False


def save_checkpoint(
    model: BaseAlgorithm, folder: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Save the model (+ replay buffer) and ``state.json`` into ``folder``, atomically.

    Returns:
        The path of ``state.json``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_writer(folder / MODEL_FILE) as handle:
        model.save(handle)
    replay = None
    if isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
        with atomic_writer(folder / REPLAY_FILE) as handle:
            model.save_replay_buffer(handle)
        replay = REPLAY_FILE
    state = {
        "num_timesteps": int(model.num_timesteps),
        "n_updates": gradient_updates(model),
        "model": MODEL_FILE,
        "replay_buffer": replay,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    path = folder / STATE_FILE
    atomic_write_json(path, state)
    return path


class CheckpointCallback(BaseCallback):
    """Saves a checkpoint every ``save_freq`` env steps (all envs together).

    Args:
        folder: ``<run>/checkpoints``.
        save_freq: Env steps between checkpoints (<= 0 disables periodic saving).
        run_log: Its counters go into ``state.json``.
    """

    def __init__(
        self, folder: str | Path, save_freq: int, run_log: RunLog | None = None, verbose: int = 0
    ) -> None:
        super().__init__(verbose)
        self.folder = Path(folder)
        self.save_freq = int(save_freq)
        self.run_log = run_log
        self._last = 0
        self.saves = 0

    def _on_training_start(self) -> None:
        self._last = self.num_timesteps

    def state_extra(self) -> dict[str, Any]:
        """Run counters for ``state.json``."""
        log = self.run_log
        if log is None:
            return {}
        return {
            "unique_evaluations": log.unique_evaluations,
            "episodes": log.episodes_done,
            "wall_time": round(log.wall_time(), 3),
            "best_score": log.tracker.best_score,
        }

    def _on_step(self) -> bool:
        if self.save_freq > 0 and self.num_timesteps - self._last >= self.save_freq:
            started = time.monotonic()
            save_checkpoint(self.model, self.folder, self.state_extra())
            self._last = self.num_timesteps
            self.saves += 1
            if self.verbose:
                print(
                    f"checkpoint at {self.num_timesteps} steps -> {self.folder} "
                    f"({time.monotonic() - started:.1f}s)"
                )
        return True
