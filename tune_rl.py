"""Tune an agent's hyperparameters for a benchmark id with Optuna, the rl-baselines3-zoo way.

    python tune_rl.py --algo ppo --env nas_env/SurrogateLMDesign-v0 --trials 40 \\
        --seeds 100-104 --budget 300 --jobs 2

Each trial samples hyperparameters (`agents.tune_space`), runs ``train_rl.py`` in process
with them for every tuning seed at a budget of unique evaluations (``--max-evaluations``),
and scores each run by the benchmark's own figure: the regret (best score of the whole
benchmark minus the true score of the genome the run rates best) after each checkpoint
(default 100 and 300 unique evaluations), averaged. The trial's value is the mean over
its seeds; after each seed the running mean is reported, so the median pruner stops
trials that are worse than the median of earlier ones at the same seed. The sampler is
Optuna's TPE (seeded; multivariate).

The study lives in ``<study-dir>/<algo>__<env>.journal`` (Optuna's journal storage): run
the same command again to continue it, ``--trials`` being the total. ``--jobs N`` runs N
worker processes (one torch thread each) on the same study. At the end the best trial's
entry for ``config/agents/<algo>.yaml`` is printed and written to
``<study-dir>/<algo>__<env>.yaml``, beside the shipped entry's value on the same seeds
(measured once, kept in the study): paste it only where it is lower. Tune on seeds
that are not the ones you report (the benchmarks report 0-9; the default tuning seeds
are 100-104).

Only benchmark ids (a table or a surrogate: instant, with a known best) can be tuned on.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from agents.tune_space import SAMPLERS
from nas_env.errors import ConfigError, NASEnvError
from runfolder import EPISODES_FILE

STEPS_PER_EVALUATION = 30  # env-step cap per unique evaluation (the evaluation budget binds)
REPORTED_SEEDS = range(10)

_TRUTH: dict[str, tuple[dict[str, float], float]] = {}


def parse_seeds(text: str) -> list[int]:
    """``100-104`` or ``100,101,105`` as a list of seeds.

    Raises:
        ConfigError: Not a range or a comma list of integers.
    """
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-", 1))
            seeds = list(range(low, high + 1))
        else:
            seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds:
        raise ConfigError(f"--seeds {text!r}: expected a range (100-104) or a list (100,101)")
    return seeds


def truth(env_id: str) -> tuple[dict[str, float], float]:
    """The env's score of every genome of its benchmark (``{key: score}``) and the best.

    Raises:
        ConfigError: The id is not served by a table or a surrogate benchmark.
    """
    found = _TRUTH.get(env_id)
    if found is not None:
        return found
    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids)

    kind = gym.spec(env_id).kwargs.get("evaluator")
    if kind not in ("table", "surrogate"):
        raise ConfigError(
            f"{env_id}: tuning needs a benchmark id (evaluator table or surrogate, with a "
            f"known best), not evaluator={kind!r}; e.g. nas_env/SurrogateLM-v0"
        )
    env = gym.make(env_id)
    try:
        base = env.unwrapped
        scores = {
            g.key(): float(base.reward_fn.score(r))
            for g in base.space.enumerate()
            if (r := base.evaluator.evaluate(g)).ok
        }
    finally:
        env.close()
    _TRUTH[env_id] = (scores, max(scores.values()))
    return _TRUTH[env_id]


def run_regrets(
    algo: str, env_id: str, params: dict[str, Any], seed: int, budget: int, marks: list[int]
) -> list[float]:
    """Regret after each of ``marks`` unique evaluations of one ``train_rl.py`` run.

    Raises:
        RuntimeError: The run failed (its output's tail in the message).
    """
    from train_rl import main

    scores, best = truth(env_id)
    overrides = [f"{key}:{json.dumps(value)}" for key, value in params.items()]
    with tempfile.TemporaryDirectory(prefix="tune_") as folder:
        argv = ["--algo", algo, "--env", env_id, "--seed", str(seed), "--threads", "1"]
        argv += ["--max-evaluations", str(budget), "-n", str(budget * STEPS_PER_EVALUATION)]
        argv += ["--log-folder", folder, "--no-progress", "--no-tensorboard"]
        argv += ["--final-top", "0", "--save-freq", "0"]
        argv += ["--hyperparams", *overrides] if overrides else []
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = main(argv)
        files = sorted(Path(folder).glob(f"*/*/{EPISODES_FILE}"))
        if rc != 0 or len(files) != 1:
            raise RuntimeError(f"exit code {rc}: {out.getvalue()[-1500:]}")
        rated: list[tuple[str, float]] = []
        with files[0].open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("evaluated") and record.get("new_evaluation"):
                    ok = record.get("status") == "ok" and record.get("score") is not None
                    rated.append((record["genome_key"], record["score"] if ok else -math.inf))
    regrets = []
    for mark in marks:
        seen = rated[:mark]
        pick = max(seen, key=lambda p: p[1])[0] if seen else None
        regrets.append(best - scores.get(pick, -math.inf) if pick else math.inf)
    return regrets


def objective(trial: Any, args: argparse.Namespace) -> float:
    """Mean regret over the tuning seeds (see the module docstring)."""
    import optuna

    params = SAMPLERS[args.algo](trial)
    trial.set_user_attr("hyperparams", params)
    values: list[float] = []
    for i, seed in enumerate(args.seed_list):
        try:
            regrets = run_regrets(args.algo, args.env, params, seed, args.budget, args.marks)
        except RuntimeError as exc:
            trial.set_user_attr("error", str(exc)[-500:])
            raise optuna.TrialPruned(f"seed {seed}: {exc}") from None
        values.append(statistics.fmean(regrets))
        trial.report(statistics.fmean(values), i)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return statistics.fmean(values)


def shipped_value(study: Any, args: argparse.Namespace) -> float:
    """The objective of the shipped entry (no overrides) on the tuning seeds, measured once
    per study and kept in it (``shipped`` user attribute), so the printed entry says
    whether tuning improved on what ships."""
    stored = study.user_attrs.get("shipped")
    if stored is not None:
        return float(stored)
    values = [
        statistics.fmean(run_regrets(args.algo, args.env, {}, seed, args.budget, args.marks))
        for seed in args.seed_list
    ]
    value = statistics.fmean(values)
    study.set_user_attr("shipped", value)
    return value


def study_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """The study's journal and YAML output files."""
    stem = f"{args.algo}__{args.env.split('/')[-1]}"
    folder = Path(args.study_dir)
    return folder / f"{stem}.journal", folder / f"{stem}.yaml"


def load_study(args: argparse.Namespace, worker: int = 0) -> Any:
    """Create or continue the study (TPE seeded per worker, median pruner)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal, _ = study_paths(args)
    journal.parent.mkdir(parents=True, exist_ok=True)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
        if args.pruner == "median"
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        study_name=journal.stem,
        storage=JournalStorage(JournalFileBackend(str(journal))),
        sampler=optuna.samplers.TPESampler(seed=args.sampler_seed + worker, multivariate=True),
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )


def finished(study: Any) -> int:
    """Trials completed or pruned."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def work(args: argparse.Namespace, worker: int) -> None:
    """One worker process: trials until the study holds ``--trials`` finished ones."""
    import optuna
    import torch
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study(args, worker)
    left = args.trials - finished(study)
    if left > 0:
        stop = MaxTrialsCallback(args.trials, states=(TrialState.COMPLETE, TrialState.PRUNED))
        study.optimize(lambda t: objective(t, args), n_trials=left, callbacks=[stop])


def entry(study: Any, args: argparse.Namespace, shipped: float | None = None) -> str:
    """The YAML entry of the best trial, with how it was found (and, given ``shipped``,
    the shipped entry's value on the same seeds)."""
    best = study.best_trial
    seeds = args.seed_list
    header = (
        f"# python tune_rl.py --algo {args.algo} --env {args.env}: best of "
        f"{finished(study)} trials (trial {best.number}), seeds {seeds[0]}-{seeds[-1]}, "
        f"budget {args.budget}; mean regret at {'/'.join(map(str, args.marks))} "
        f"unique evaluations {best.value:.4f}"
    )
    if shipped is not None:
        header += f" (shipped entry: {shipped:.4f})"
    header += "\n"
    body = yaml.safe_dump(
        {args.env: best.user_attrs["hyperparams"]}, sort_keys=False, default_flow_style=None
    )
    return header + body


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags."""
    parser = argparse.ArgumentParser(prog="python tune_rl.py", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--algo", required=True, choices=sorted(SAMPLERS), help="algorithm to tune")
    add("--env", default="nas_env/SurrogateLM-v0", help="benchmark id (table or surrogate)")
    add("--trials", type=int, default=40, help="trials in the study in all (40)")
    add("--seeds", default="100-104", help="tuning seeds: 100-104 or 100,101 (100-104)")
    add("--budget", type=int, default=300, help="unique evaluations per run (300)")
    add("--checkpoints", default="100,300", help="regret read after these evaluations")
    add("--study-dir", default="tune", help="where the study journal and entry go (tune)")
    add("--jobs", type=int, default=1, help="worker processes (1)")
    add("--sampler-seed", type=int, default=0, help="TPE seed (worker i uses seed + i)")
    add("--pruner", default="median", choices=("median", "none"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; 2 on a usage or configuration error."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        args.seed_list = parse_seeds(args.seeds)
        if set(args.seed_list) & set(REPORTED_SEEDS):
            raise ConfigError(
                f"--seeds {args.seeds}: seeds 0-9 are the reported ones; tune on others"
            )
        if args.trials < 1 or args.budget < 1 or args.jobs < 1:
            raise ConfigError("--trials, --budget and --jobs must be >= 1")
        marks = sorted({min(int(m), args.budget) for m in args.checkpoints.split(",")})
        args.marks = marks
        truth(args.env)
    except (NASEnvError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.jobs == 1:
        work(args, 0)
    else:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            for future in [pool.submit(work, args, i) for i in range(args.jobs)]:
                future.result()
    study = load_study(args)
    _, out = study_paths(args)
    if not any(t.value is not None for t in study.get_trials(deepcopy=False)):
        print(f"no trial of {study.study_name} completed (all pruned or failed)", file=sys.stderr)
        return 1
    try:
        shipped = shipped_value(study, args)
    except RuntimeError as exc:
        print(f"the shipped entry's runs failed: {exc}", file=sys.stderr)
        shipped = None
    text = entry(study, args, shipped)
    if shipped is not None and shipped <= study.best_value:
        print(f"tuning did not beat the shipped entry ({shipped:.4f}); keep it", file=sys.stderr)
    out.write_text(text, encoding="utf-8")
    print(text, end="")
    print(f"(written to {out}; paste it into config/agents/{args.algo}.yaml)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
