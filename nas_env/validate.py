"""Replay a run's episodes against the environment and check that they hold.

Usage::

    python -m nas_env.validate RUN_DIR [--tolerance 0.05] [--no-train] [--json]

Every episode of ``RUN_DIR/episodes.jsonl`` is replayed on a fresh env made from the
run's ``config.yaml`` (the same id and env keyword arguments: space, task, fidelity,
reward, evaluator and result cache): the episode's start genome (the step-0 record, or
``start_genome`` for an episode whose start has no record of its own, such as an
evolution mutation), then each recorded action. A record holds when

* the action was legal (allowed by the env's action mask) exactly when the record says so
  (``invalid_action`` empty), and it leads to the same candidate and env genome (keys);
* the reward, the score and the held-out loss are equal to the recorded ones: exactly
  when the replayed result comes from a benchmark (table or surrogate) or the result
  cache (a reward recorded by an SB3 agent equals to float32 precision: its vector envs
  carry rewards as float32), within ``--tolerance`` (absolute, on the unscaled score)
  when it had to be trained again (latency is re-measured), or when promotion calibrated
  it (its calibration depends on what the rung log held at the time).

It prints a summary and exits with 0 when every record holds, 1 on any mismatch, 2 on
a usage error. ``--no-train`` skips (and counts) the steps whose result is not cached
instead of training them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nas_env.errors import NASEnvError
from runfolder import CONFIG_FILE, EPISODES_FILE

EXACT_SOURCES = ("table", "surrogate")
DEFAULT_TOLERANCE = 0.05


class NotCached(NASEnvError):
    """Raised by the ``--no-train`` guard for a genome whose result is not cached."""


class NoTrainEvaluator:
    """Wraps a training evaluator: cached results only, else `NotCached`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.space = inner.space

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def evaluate(self, genome: Any) -> Any:
        cache, key = getattr(self.inner, "cache", None), getattr(self.inner, "key", None)
        if cache is not None and key is not None and cache.get(key(genome)) is None:
            raise NotCached(genome.key())
        return self.inner.evaluate(genome)


@dataclass
class Report:
    """What a replay found."""

    records: int = 0
    episodes: int = 0
    exact: int = 0
    tolerant: int = 0
    skipped: int = 0
    mismatches: list[str] = field(default_factory=list)
    max_difference: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "episodes": self.episodes,
            "exact": self.exact,
            "within_tolerance": self.tolerant,
            "skipped": self.skipped,
            "mismatches": len(self.mismatches),
            "max_difference": self.max_difference,
            "first_mismatches": self.mismatches[:20],
            "ok": self.ok,
        }


def same_float(a: float, b: float) -> bool:
    """Equal, or equal once rounded to float32 (SB3's vector envs carry rewards as float32,
    so an agent's records hold the float32 value of the env's reward)."""
    import numpy as np

    return a == b or bool(np.float32(a) == np.float32(b))


def read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's config and records.

    Raises:
        NASEnvError: No config.yaml or episodes.jsonl, or an unreadable line.
    """
    config_path, episodes = run_dir / CONFIG_FILE, run_dir / EPISODES_FILE
    for path in (config_path, episodes):
        if not path.is_file():
            raise NASEnvError(f"{run_dir} is not a run folder: {path.name} is missing")
    try:
        config = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise NASEnvError(f"{config_path}: not readable YAML ({exc})") from None
    if not isinstance(config, dict):
        raise NASEnvError(f"{config_path}: expected a mapping, got {type(config).__name__}")
    records = []
    for number, line in enumerate(episodes.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise NASEnvError(f"{episodes}:{number}: not JSON ({exc.msg})") from None
    return config, records


def episodes_of(records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Records grouped by (env slot, episode), each group in step order."""
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record.get("env_index"), record.get("episode")), []).append(record)
    for group in groups.values():
        yield sorted(group, key=lambda r: r.get("step", 0))


class Replayer:
    """Replays episodes on one env (see the module docstring)."""

    def __init__(self, config: dict[str, Any], tolerance: float, train: bool) -> None:
        import gymnasium as gym

        import nas_env  # noqa: F401  (registers the ids)

        self.env = gym.make(config["env_id"], **dict(config.get("env_kwargs") or {}))
        self.base = self.env.unwrapped
        if not train:
            self.base.evaluator = NoTrainEvaluator(self.base.evaluator)
        self.scale = float(getattr(self.base, "reward_scale", 1.0))
        self.tolerance = tolerance
        self.report = Report()

    def close(self) -> None:
        self.env.close()

    def replay(self, records: list[dict[str, Any]]) -> Report:
        for episode in episodes_of(records):
            self.report.episodes += 1
            try:
                self._episode(episode)
            except NotCached:
                self.report.skipped += sum(1 for r in episode if r.get("evaluated"))
        return self.report

    def _mismatch(self, record: dict[str, Any], what: str) -> None:
        where = f"episode {record.get('episode')} step {record.get('step')}"
        self.report.mismatches.append(f"{where} (global step {record.get('global_step')}): {what}")

    def _episode(self, episode: list[dict[str, Any]]) -> None:
        first = episode[0]
        steps = episode
        if first.get("step", 0) == 0:
            self.report.records += 1
            genes = first.get("genome")
            options = {"genome": genes} if self.base.mode == "edit" and genes else {}
            _obs, info = self.base.reset(options=self._aimed(first, options))
            if first.get("evaluated"):
                self._compare(first, info.get("genome_key"), info, 0.0, info.get("result"))
            steps = episode[1:]
        else:
            start = first.get("start_genome")
            if self.base.mode == "edit" and not start:
                self.report.skipped += len(episode)
                return
            self.base.reset(options=self._aimed(first, {"genome": start} if start else {}))
        for record in steps:
            self.report.records += 1
            self._step(record)

    def _aimed(self, record: dict[str, Any], options: dict[str, Any]) -> dict[str, Any] | None:
        """Reset options with the episode's recorded targets (a ``targets="random"`` run)."""
        if record.get("targets") is not None:
            options = {**options, "targets": record["targets"]}
        return options or None

    def _step(self, record: dict[str, Any]) -> None:
        index = record.get("action_index")
        if index is None:
            self._mismatch(record, "a step record without action_index")
            return
        legal = bool(self.base.action_masks()[int(index)])
        if legal == bool(record.get("invalid_action")):
            said = "refused" if record.get("invalid_action") else "legal"
            self._mismatch(record, f"action {record.get('action')!r} was {said} in the run")
        _obs, reward, _term, _trunc, info = self.base.step(int(index))
        candidate = info.get("candidate")
        result = candidate if candidate is not None else info.get("result")
        key = info.get("candidate_key") if candidate is not None else info.get("genome_key")
        if record.get("evaluated"):
            self._compare(record, key, info, float(reward), result)
        elif not same_float(float(reward), float(record.get("reward") or 0.0)):
            self._mismatch(record, f"reward {reward!r}, recorded {record.get('reward')!r}")
        if record.get("state_key") != info.get("genome_key"):
            self._mismatch(
                record, f"env genome {info.get('genome_key')}, recorded {record.get('state_key')}"
            )

    def _compare(
        self,
        record: dict[str, Any],
        key: Any,
        info: dict[str, Any],
        reward: float,
        result: dict[str, Any] | None,
    ) -> None:
        if record.get("genome_key") != key:
            self._mismatch(record, f"candidate {key}, recorded {record.get('genome_key')}")
            return
        result = result or {}
        if result.get("status") != record.get("status"):
            self._mismatch(
                record, f"status {result.get('status')}, recorded {record.get('status')}"
            )
            return
        exact = (result.get("source") in EXACT_SOURCES or result.get("cache_hit")) and (
            result.get("rung") is None
        )
        pairs = {
            "reward": (reward, float(record.get("reward") or 0.0)),
            "score": (info.get("score"), record.get("score")),
            "val_loss": (result.get("val_loss"), record.get("val_loss")),
        }
        worst = 0.0
        for name, (now, then) in pairs.items():
            if now is None or then is None:
                if now != then:
                    self._mismatch(record, f"{name} {now!r}, recorded {then!r}")
                    return
                continue
            difference = abs(float(now) - float(then))
            if name == "reward":  # compared on the unscaled score's scale
                difference /= self.scale
            if same_float(float(now), float(then)):
                difference = 0.0
            worst = max(worst, difference)
            limit = 0.0 if exact else self.tolerance
            if difference > limit:
                how = "exactly" if exact else f"within {self.tolerance:g}"
                self._mismatch(
                    record,
                    f"{name} {now!r}, recorded {then!r} (expected {how}; differs by "
                    f"{difference:.3g})",
                )
                return
        self.report.max_difference = max(self.report.max_difference, worst)
        if exact:
            self.report.exact += 1
        else:
            self.report.tolerant += 1


def validate_run(
    run_dir: str | Path, tolerance: float = DEFAULT_TOLERANCE, train: bool = True
) -> Report:
    """Replay every episode of ``run_dir`` (see the module docstring)."""
    from nas_env.evaluation.measure import torch_threads

    config, records = read_run(Path(run_dir))
    threads = config.get("threads")
    # The run's thread count is part of every cache key: replay with it, or nothing it
    # computed would be found again.
    with torch_threads(threads if isinstance(threads, int) and threads > 0 else None):
        replayer = Replayer(config, tolerance, train)
        try:
            return replayer.replay(records)
        finally:
            replayer.close()


def render(run_dir: str, report: Report, tolerance: float) -> str:
    """The human-readable summary."""
    lines = [
        f"validate {run_dir}: {report.records} records in {report.episodes} episodes",
        f"  exact             {report.exact}  (benchmark or cached results)",
        f"  within tolerance  {report.tolerant}  (trained again or calibrated, "
        f"|difference| <= {tolerance:g}; largest {report.max_difference:.3g})",
        f"  skipped           {report.skipped}  (not cached with --no-train, or no start genome)",
        f"  mismatches        {len(report.mismatches)}",
    ]
    lines += [f"    {m}" for m in report.mismatches[:20]]
    lines.append("OK" if report.ok else "FAILED")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; the exit code (0 valid, 1 mismatch, 2 usage error)."""
    parser = argparse.ArgumentParser(
        prog="python -m nas_env.validate",
        description="Replay every episode of a run against the env and check its records.",
    )
    parser.add_argument("run_dir", help="a run folder (config.yaml + episodes.jsonl)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"largest difference of a retrained or calibrated result (default "
        f"{DEFAULT_TOLERANCE:g})",
    )
    parser.add_argument("--no-train", action="store_true", help="skip results not cached")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.tolerance < 0:
        parser.error(f"--tolerance: must be >= 0, got {args.tolerance}")
    try:
        report = validate_run(args.run_dir, args.tolerance, train=not args.no_train)
    except (NASEnvError, ValueError, OSError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(report.to_dict(), indent=2)
        if args.json
        else render(args.run_dir, report, args.tolerance)
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
