"""RunLog: turns env resets and steps into episode records, scalars, best and Pareto front.

One object per run, shared by the SB3 callback and the search baselines, so that both
write exactly the same records. It counts *unique evaluations* (distinct genomes scored
in this run, whether trained now, served from the result cache or from a table): the
budget that makes RL agents and baselines comparable.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from agents.records import RecordWriter, metrics_of, read_records
from agents.tracking import BestAndFront


class ScalarLogger(Protocol):
    """What RunLog needs from a logger (SB3's `Logger` has it)."""

    def record(self, key: str, value: Any, exclude: Any = None) -> None: ...

    def record_mean(self, key: str, value: Any, exclude: Any = None) -> None: ...

    def dump(self, step: int = 0) -> None: ...


@dataclass
class EnvSlot:
    """Where one (vector) env stands: its episode and the genome it holds."""

    episode: int = -1
    step: int = 0
    episode_return: float = 0.0
    genes: dict[str, Any] | None = None
    start_genes: dict[str, Any] | None = None  # an episode start that has no record
    last_time: float = field(default_factory=time.monotonic)


class RunLog:
    """Episode records + TensorBoard scalars + ``best.json``/``pareto.json`` of one run.

    Args:
        writer: The `RecordWriter` of ``episodes.jsonl``.
        folder: Run folder for ``best.json`` and ``pareto.json`` (None: not written).
        logger: Where scalars go (SB3 ``Logger``); None for no scalars.

    A step that evaluated a candidate is recorded with the candidate's genes and key from
    ``info["candidate_genome"]`` / ``info["candidate_key"]`` (a failed candidate is not
    adopted, so ``info["genome"]`` is still the previous genome).
    """

    def __init__(
        self,
        writer: RecordWriter,
        folder: str | Path | None = None,
        logger: ScalarLogger | None = None,
    ) -> None:
        self.writer = writer
        self.logger = logger
        self.tracker = BestAndFront(folder)
        self.unique_keys: set[str] = set()
        self.evaluations = 0
        self.cache_hits = 0
        self.next_episode = 0
        self.episodes_done = 0
        self.wall_offset = 0.0
        self._t0 = time.monotonic()
        self.slots: dict[int, EnvSlot] = {}

    # -- state ------------------------------------------------------------------
    @property
    def unique_evaluations(self) -> int:
        """Distinct genomes evaluated in this run (including before a resume)."""
        return len(self.unique_keys)

    @property
    def best(self) -> dict[str, Any] | None:
        """The ``best.json`` content so far."""
        return self.tracker.best

    def wall_time(self) -> float:
        """Seconds since the run started (summed over resumed sessions)."""
        return self.wall_offset + time.monotonic() - self._t0

    def resume_from(self, path: str | Path) -> int:
        """Rebuild counters, best and front from an existing ``episodes.jsonl``; returns lines."""
        count = 0
        for record in read_records(path):
            count += 1
            if record.get("evaluated"):
                self.evaluations += 1
                self.cache_hits += bool(record.get("cache_hit"))
                if record.get("genome_key"):
                    self.unique_keys.add(record["genome_key"])
                self.tracker.offer(record, write=False)
            if isinstance(record.get("episode"), int):
                self.next_episode = max(self.next_episode, record["episode"] + 1)
            if record.get("done"):
                self.episodes_done += 1
            if isinstance(record.get("wall_time"), int | float):
                self.wall_offset = max(self.wall_offset, float(record["wall_time"]))
        self.tracker.save()
        return count

    def close(self) -> None:
        """Close ``episodes.jsonl`` and the scalar logger (TensorBoard); safe to repeat."""
        try:
            self.writer.close()
        finally:
            close = getattr(self.logger, "close", None)
            if callable(close):
                close()

    # -- events -----------------------------------------------------------------
    def begin(self, env_index: int, genes: dict[str, Any] | None) -> None:
        """Start an episode from an already evaluated genome without writing a record."""
        slot = self.slots.setdefault(env_index, EnvSlot())
        slot.episode, slot.step, slot.episode_return = self._new_episode(), 0, 0.0
        slot.genes = genes
        slot.start_genes = genes
        slot.last_time = time.monotonic()

    def on_reset(
        self,
        info: Mapping[str, Any],
        env_index: int,
        global_step: int,
        action: str = "reset",
        done: bool = False,
    ) -> dict[str, Any]:
        """An episode starts (``info`` from ``reset``) with the evaluation of its genome.

        ``done`` ends the episode at once (a random-search sample is a one-record episode).
        """
        slot = self.slots.setdefault(env_index, EnvSlot())
        slot.episode, slot.step, slot.episode_return = self._new_episode(), 0, 0.0
        slot.genes = info.get("genome")
        slot.start_genes = None
        result = info.get("result")
        record = self._write(
            slot,
            env_index,
            global_step,
            action=action,
            action_index=None,
            info=info,
            result=result,
            genome=info.get("genome"),
            key=info.get("genome_key"),
            evaluated=result is not None,
            reward=0.0,
            done=done,
        )
        if done:
            self._episode_end(slot, global_step)
        return record

    def on_step(
        self,
        info: Mapping[str, Any],
        reward: float,
        action_index: int | None,
        done: bool,
        env_index: int,
        global_step: int,
    ) -> dict[str, Any]:
        """One env step (``info`` from ``step``); ``done`` ends the episode."""
        slot = self.slots.get(env_index)
        if slot is None:  # a step without a recorded reset: start an episode for it
            slot = self.slots[env_index] = EnvSlot(episode=self._new_episode())
        slot.step += 1
        slot.episode_return += float(reward)
        candidate = info.get("candidate")
        if candidate is not None:  # edit mode: a candidate was trained / looked up
            result, genome = candidate, info.get("candidate_genome")
            if genome is None and candidate.get("status") == "ok":  # adopted: the env's genome
                genome = info.get("genome")
            key = info.get("candidate_key") or candidate.get("genome_key")
        elif info.get("mode") == "design" and info.get("result") is not None:
            result, key, genome = info["result"], info.get("genome_key"), info.get("genome")
        else:  # stop, refused action, or a design decision: nothing evaluated
            result, key, genome = info.get("result"), info.get("genome_key"), info.get("genome")
        evaluated = candidate is not None or (
            info.get("mode") == "design" and info.get("result") is not None
        )
        record = self._write(
            slot,
            env_index,
            global_step,
            action=str(info.get("action", "")),
            action_index=action_index,
            info=info,
            result=result,
            genome=genome,
            key=key,
            evaluated=evaluated,
            reward=float(reward),
            done=done,
        )
        if info.get("genome") is not None:
            slot.genes = info["genome"]
        if done:
            self._episode_end(slot, global_step)
        return record

    # -- internals --------------------------------------------------------------
    def _new_episode(self) -> int:
        self.next_episode += 1
        return self.next_episode - 1

    def _write(
        self,
        slot: EnvSlot,
        env_index: int,
        global_step: int,
        *,
        action: str,
        action_index: int | None,
        info: Mapping[str, Any],
        result: Mapping[str, Any] | None,
        genome: Any,
        key: str | None,
        evaluated: bool,
        reward: float,
        done: bool,
    ) -> dict[str, Any]:
        new = False
        if evaluated:
            self.evaluations += 1
            self.cache_hits += bool(result and result.get("cache_hit"))
            if key and key not in self.unique_keys:
                self.unique_keys.add(key)
                new = True
        now = time.monotonic()
        record: dict[str, Any] = {
            "env_index": env_index,
            "episode": slot.episode,
            "step": slot.step,
            "global_step": int(global_step),
            "action": action,
            "action_index": None if action_index is None else int(action_index),
            "invalid_action": info.get("invalid_action", ""),
            "genome": genome,
            "genome_key": key,
            "state_key": info.get("genome_key"),
            "start_genome": slot.start_genes if slot.step == 1 else None,
            "evaluated": evaluated,
            "new_evaluation": new,
            "unique_evaluations": self.unique_evaluations,
            **metrics_of(result),
            "reward": reward,
            "score": info.get("score"),
            "targets": info.get("targets"),
            "episode_return": slot.episode_return,
            "done": done,
            "wall_time": round(self.wall_time(), 4),
            "step_seconds": round(now - slot.last_time, 4),
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        slot.last_time = now
        full = self.writer.write(record)
        self.tracker.offer(full)
        self._scalars(full)
        return full

    def _scalars(self, record: Mapping[str, Any]) -> None:
        log = self.logger
        if log is None:
            return
        if record["step"] > 0:
            log.record_mean("nas/step_reward", record["reward"])
            log.record_mean("nas/invalid_action_rate", float(bool(record["invalid_action"])))
        if record["evaluated"] and record.get("status") == "ok":
            for name in ("score", "quality", "params", "size_mb", "latency_ms"):
                if record.get(name) is not None:
                    log.record_mean(f"nas/{name}", float(record[name]))
        if record["evaluated"]:
            log.record_mean("nas/failure_rate", float(record.get("status") != "ok"))
        log.record("nas/unique_evaluations", self.unique_evaluations)
        log.record("nas/cache_hit_rate", self.cache_hits / max(1, self.evaluations))
        if self.tracker.best_score is not None:
            log.record("nas/best_score", self.tracker.best_score)

    def _episode_end(self, slot: EnvSlot, global_step: int) -> None:
        self.episodes_done += 1
        if self.logger is None:
            return
        self.logger.record("nas/episode_return", slot.episode_return)
        self.logger.record("nas/episode_length", slot.step)
        self.logger.record("nas/episodes", self.episodes_done)
        self.logger.dump(step=int(global_step))
