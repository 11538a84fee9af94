"""Run a `RunConfig`: build envs, the run folder, the agent or baseline, and train.

Used by ``train_rl.py``, which builds the config; `run_job` takes it and nothing else.
The order matters for the user: everything that can be wrong with the command line (env
arguments included, since building the env checks them) fails before a run folder is
created.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from agents.algos import ALGOS, BASELINE_CLASSES
from agents.baselines import SearchBaseline
from agents.callbacks import (
    CheckpointCallback,
    NASRecordCallback,
    save_checkpoint,
)
from agents.config import RunConfig
from agents.entropy import EntropyFloor
from agents.envs import env_settings
from agents.hyperparams import model_kwargs
from agents.progress import follow_evaluation_budget
from agents.records import RecordWriter
from agents.runlog import RunLog
from agents.runs import (
    describe_run,
    run_dir_for,
    summary,
    write_config,
)
from agents.sb3_counters import gradient_updates
from agents.vec_env import make_in_flight_vec_env
from nas_env.atomic import atomic_write_json
from runfolder import (
    CHECKPOINTS,
    EPISODES_FILE,
    EVAL_FILE,
    MODEL_FILE,
    REPLAY_FILE,
    STATE_FILE,
    TB_FOLDER,
)

INTERRUPTED = 130


def _logger(run_dir: Path, tensorboard: bool, verbose: int) -> Logger:
    formats = (["tensorboard"] if tensorboard else []) + (["stdout"] if verbose else [])
    return configure(str(run_dir / TB_FOLDER), formats)


def _open_run(config: RunConfig) -> tuple[RunConfig, RunLog, Logger]:
    """Create (or reopen) the run folder; the config returned knows its ``run_dir``."""
    if config.run_dir is None:
        folder = run_dir_for(config.log_folder, config.algo, config.env_id, config.seed)
        created = time.strftime("%Y-%m-%d %H:%M:%S")
        config = replace(config, run_dir=str(folder), created=created)
    run_dir = config.path
    write_config(run_dir, config.to_dict())
    describe_run(run_dir, config.argv)
    logger = _logger(run_dir, config.tensorboard, config.verbose)
    writer = RecordWriter(
        run_dir / EPISODES_FILE, run_dir.name, config.algo, config.env_id, config.seed
    )
    run_log = RunLog(writer, run_dir, logger=logger)
    if config.resumed:
        lines = run_log.resume_from(run_dir / EPISODES_FILE)
        print(f"resuming {run_dir}: {lines} records, {run_log.unique_evaluations} genomes")
    return config, run_log, logger


def run_job(config: RunConfig, after: Callable[[Path], None] | None = None) -> int:
    """Run the agent or baseline ``config`` describes; returns the exit code.

    A search that ends normally is followed by the final training of its
    ``config.final_top`` best genomes (`agents.final`), then by ``after(run_dir)`` (the
    CLI draws the plots there). SIGTERM is handled like Ctrl-C (checkpoint, then exit
    code 130), so that a job scheduler's preemption loses nothing.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run = _run_baseline if config.algo in BASELINE_CLASSES else _run_agent
        code, config = run(config)
        if code == 0 and config.run_dir is not None:
            if config.final_top > 0:
                _final(config)
            if after is not None:
                after(config.path)
        return code
    except KeyboardInterrupt:  # before training started, or in the final training
        print("\ninterrupted (the search's results and checkpoint are kept)")
        return INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _final(config: RunConfig) -> None:
    from agents.final import final_report, final_training

    print(
        f"\nfinal training: the best {config.final_top} genomes and the best of each depth "
        f"at `{config.final_fidelity}` (--final-top 0 skips it)",
        flush=True,
    )
    data = final_training(
        config.path,
        config.env_id,
        config.env_kwargs,
        config.final_top,
        config.final_fidelity,
        baselines=config.final_baselines,
    )
    print(final_report(data, config.path))


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _save_anyway(save: Any) -> None:
    """On a crash, keep what was computed (checkpoint); never mask the original error."""
    try:
        save()
        print("crashed; a checkpoint was saved (continue with --resume once fixed)")
    except Exception as exc:  # the original exception matters more
        print(f"crashed, and the checkpoint could not be saved either: {exc}")


# -- SB3 agents ------------------------------------------------------------------------
def _make_venv(config: RunConfig) -> Any:
    env_kwargs = dict(config.env_kwargs)
    if env_settings(config.env_id, env_kwargs).executor.parallel and config.vec_env == "dummy":
        return make_in_flight_vec_env(config.env_id, config.n_envs, config.seed, env_kwargs)
    if config.vec_env == "subproc" and config.n_envs > 1:
        gym.make(config.env_id, **env_kwargs).close()  # clear errors from this process
        vec_cls: Any = SubprocVecEnv
    else:
        vec_cls = DummyVecEnv
    return make_vec_env(
        f"nas_env:{config.env_id}",
        n_envs=config.n_envs,
        seed=config.seed,
        env_kwargs=env_kwargs,
        vec_env_cls=vec_cls,
    )


def _load_or_create(config: RunConfig, venv: Any) -> Any:
    cls = ALGOS[config.algo]
    folder = config.path / CHECKPOINTS
    if config.resumed:
        model = cls.load(
            folder / MODEL_FILE, env=venv, device=config.device, print_system_info=False
        )
        if (folder / REPLAY_FILE).is_file() and hasattr(model, "load_replay_buffer"):
            model.load_replay_buffer(folder / REPLAY_FILE)
        venv.seed(config.seed + model.num_timesteps)
        return model
    kwargs = model_kwargs(config.hyperparams)
    policy = config.hyperparams.get("policy", "MlpPolicy")
    if policy == "MlpPolicy" and isinstance(venv.observation_space, gym.spaces.Dict):
        policy = "MultiInputPolicy"  # observation="dict" or "masked"
    model = cls(
        policy, venv, seed=config.seed, device=config.device, verbose=config.verbose, **kwargs
    )
    if config.pretrained is not None:
        from agents.pretrained import check_fits, load_policy, start_from

        pretrained = load_policy(config.pretrained)
        check_fits(pretrained, venv, config.algo)
        start_from(pretrained, model)
        print(f"agent: starts from the pretrained policy {config.pretrained} ({pretrained.path})")
    return model


def _run_agent(config: RunConfig) -> tuple[int, RunConfig]:
    venv = _make_venv(config)
    run_log: RunLog | None = None
    try:
        config, run_log, logger = _open_run(config)
        run_dir = config.path
        model = _load_or_create(config, venv)
        model.set_logger(logger)
        max_evals = config.max_evaluations
        if max_evals:
            follow_evaluation_budget(model, lambda: run_log.unique_evaluations, max_evals)
        total = config.n_timesteps
        remaining = total - model.num_timesteps
        if remaining <= 0:
            print(
                f"nothing to do: {run_dir} is at {model.num_timesteps}/{total} steps "
                "(pass -n with a larger total to continue)"
            )
            return 0, config
        record = NASRecordCallback(run_log, total, max_evals)
        checkpoint = CheckpointCallback(run_dir / CHECKPOINTS, config.save_freq, run_log)
        callbacks: list[Any] = [record, checkpoint]
        if config.hyperparams.get("entropy_floor"):
            callbacks.append(EntropyFloor(float(config.hyperparams["entropy_floor"])))
        started = time.monotonic()
        try:
            model.learn(
                total_timesteps=remaining,
                callback=callbacks,
                progress_bar=config.progress,
                reset_num_timesteps=not config.resumed,
                tb_log_name=config.algo,
            )
        except KeyboardInterrupt:
            save_checkpoint(model, run_dir / CHECKPOINTS, checkpoint.state_extra())
            print(
                f"\ninterrupted at {model.num_timesteps} steps; checkpoint saved. "
                f"Continue with: python train_rl.py --resume {run_dir}"
            )
            _finish(run_log, run_dir, model.num_timesteps, started, "interrupted")
            return INTERRUPTED, config
        except Exception:
            _save_anyway(lambda: save_checkpoint(model, run_dir / CHECKPOINTS))
            raise
        save_checkpoint(model, run_dir / CHECKPOINTS, checkpoint.state_extra())
        print(f"gradient updates (SB3 n_updates): {gradient_updates(model)}")
        _finish(run_log, run_dir, model.num_timesteps, started, record.stop_reason)
        if config.eval_episodes > 0:
            _evaluate(model, config)
        return 0, config
    finally:
        _close(run_log, venv)


def _close(run_log: RunLog | None, env: Any) -> None:
    """Close the run's writers (records, TensorBoard) and its envs, whatever happened."""
    try:
        if run_log is not None:
            run_log.close()
    finally:
        env.close()


def _evaluate(model: Any, config: RunConfig) -> None:
    from agents.evaluate import greedy_episodes

    run_dir = config.path
    results = greedy_episodes(
        model,
        config.env_id,
        dict(config.env_kwargs),
        config.eval_episodes,
        seed=config.seed + 10_000,
    )
    atomic_write_json(run_dir / EVAL_FILE, {"episodes": results})
    for r in results:
        print(
            f"greedy episode {r['episode']}: return {r['return']:+.4f}, final score "
            f"{r['score']:.4f} after {len(r['actions'])} actions ({', '.join(r['actions'])})"
        )
    print(f"  -> {run_dir / EVAL_FILE}")


def _finish(run_log: RunLog, run_dir: Path, steps: int, started: float, reason: str) -> None:
    run_log.tracker.save()
    if run_log.logger is not None:
        run_log.logger.dump(step=steps)
    run_log.close()
    rate = run_log.cache_hits / max(1, run_log.evaluations)
    print(
        summary(
            run_dir,
            run_log.best,
            steps,
            run_log.unique_evaluations,
            rate,
            time.monotonic() - started,
            reason,
        )
    )


# -- baselines -------------------------------------------------------------------------
def _baseline_state(searcher: SearchBaseline, run_log: RunLog) -> dict[str, Any]:
    return {
        "num_timesteps": searcher.num_timesteps,
        "unique_evaluations": run_log.unique_evaluations,
        "episodes": run_log.episodes_done,
        "wall_time": round(run_log.wall_time(), 3),
        "best_score": run_log.tracker.best_score,
        "searcher": searcher.state_dict(),
    }


def _run_baseline(config: RunConfig) -> tuple[int, RunConfig]:
    env = gym.make(config.env_id, **dict(config.env_kwargs))
    run_log: RunLog | None = None
    try:
        config, run_log, _ = _open_run(config)
        run_dir = config.path
        params = {k: v for k, v in config.hyperparams.items() if k != "n_timesteps"}
        searcher = BASELINE_CLASSES[config.algo](env, run_log, seed=config.seed, **params)
        state_path = run_dir / CHECKPOINTS / STATE_FILE
        if config.resumed:
            searcher.load_state_dict(json.loads(state_path.read_text())["searcher"])
        total, save_freq = config.n_timesteps, config.save_freq
        bar = _progress(config.progress, total, searcher.num_timesteps)
        last = [searcher.num_timesteps]

        def after_step(s: SearchBaseline) -> bool:
            if bar is not None:
                bar.update(s.num_timesteps - bar.n)
            if save_freq > 0 and s.num_timesteps - last[0] >= save_freq:
                atomic_write_json(state_path, _baseline_state(s, run_log))
                last[0] = s.num_timesteps
            return True

        started = time.monotonic()
        max_evals = config.max_evaluations
        try:
            searcher.learn(total, max_evals, after_step)
        except KeyboardInterrupt:
            atomic_write_json(state_path, _baseline_state(searcher, run_log))
            print(
                f"\ninterrupted at {searcher.num_timesteps} steps; state saved. "
                f"Continue with: python train_rl.py --resume {run_dir}"
            )
            _finish(run_log, run_dir, searcher.num_timesteps, started, "interrupted")
            return INTERRUPTED, config
        except Exception:
            _save_anyway(lambda: atomic_write_json(state_path, _baseline_state(searcher, run_log)))
            raise
        finally:
            if bar is not None:
                bar.close()
        atomic_write_json(state_path, _baseline_state(searcher, run_log))
        reason = ""
        if max_evals is not None and run_log.unique_evaluations >= max_evals:
            reason = f"evaluation budget reached ({run_log.unique_evaluations} genomes)"
        _finish(run_log, run_dir, searcher.num_timesteps, started, reason)
        return 0, config
    finally:
        _close(run_log, env)


def _progress(enabled: bool, total: int, initial: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", desc="search")
