"""Train an RL agent (or run a search baseline) on a nas_env environment.

``python train_rl.py`` with no arguments runs the default job: MaskablePPO on
``nas_env/MidLMDesign-v1``, starting from the shipped policy ``mid-design-v1`` (pretrained
on the surrogate benchmark of that space over random targets) and fine-tuned with real
training at the registered ``search-gp`` fidelity (100 steps scored by an estimate of the
loss after long training; its measured Kendall tau against the ``long`` level is printed first),
on CPU with one torch thread and a progress bar, then the final training: its best
``DEFAULT_FINAL_TOP`` genomes and the best genome of each depth re-trained at the ``rerank``
fidelity, the winner chosen on that, printed with both measurements, the space's targets,
the Pareto front and where the plots are, and its trained model saved in the run folder.
``--env nas_env/BenchLM-v2`` serves results from the benchmark table instead (20000
steps in well under a minute, enough for the agent to learn visibly).

See ``--help`` for the flags and examples. Every run writes
``runs/<algo>/<env-name>__<seed>__<time>/`` (see `agents.runs`).
Exit codes: 0 done, 2 bad command line or configuration, 130 interrupted (Ctrl-C or
SIGTERM; a checkpoint is saved first, continue with ``--resume RUN_DIR``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_env.env.arguments import ARGUMENTS
from nas_env.tasks.kinds import TASK_KINDS

if TYPE_CHECKING:
    from agents.config import RunConfig

DEFAULT_ALGO = "maskable_ppo"
DEFAULT_ENV = "nas_env/MidLMDesign-v1"
DEFAULT_EDIT_ENV = "nas_env/MidLM-v1"
"""The default env of the search baselines, which edit genomes: the same space and training."""
DEFAULT_ENV_KWARGS: dict[str, Any] = {}
"""Env kwargs the CLI gives `DEFAULT_ENV` (``--env-kwargs`` override them): none. The main
job trains candidates at the registered ``search-gp`` fidelity, the one `gymnasium.make`
uses, chosen by ``benchmarks/prior_rank.py`` for how well it ranks genomes like the
``long`` level (the banner prints its Kendall tau)."""
DEFAULT_PRETRAINED: dict[tuple[str, str], str] = {
    (DEFAULT_ALGO, DEFAULT_ENV): "mid-design-v1",
    (DEFAULT_ALGO, "nas_env/MidLMDesign-v0"): "mid-design-v1",
}
"""The policy a run of (algo, env id) starts from when ``--pretrained`` is not given (``none``
starts from scratch): the main job fine-tunes the design policy pretrained on the
surrogate benchmark of its space."""
DEFAULT_FINAL_TOP = 3
"""Top genomes re-trained at the final fidelity after a search that trains candidates
(with the best genome of each depth)."""
DEFAULT_FINAL_FIDELITY = TASK_KINDS["lm"].final_level
"""The final training's level for language-model envs; other task kinds use their own
(`nas_env.tasks.kinds.TaskKind.final_level`)."""
CLI_ENV_KWARGS: dict[str, dict[str, Any]] = {DEFAULT_ENV: DEFAULT_ENV_KWARGS}
"""The CLI's own env kwargs per env id (applied before ``--env-kwargs``)."""
FLAG_ARGUMENTS = tuple(a for a in ARGUMENTS if a.flag)
"""Env arguments with a flag of their own (``--backend``, ``--workers``...)."""
EXECUTOR_ARGUMENTS = tuple(a for a in FLAG_ARGUMENTS if a.group == "executor")
EXECUTOR_FLAGS: tuple[str, ...] = tuple(a.name for a in EXECUTOR_ARGUMENTS)
"""Flags that set where candidates train; a resumed run may change them: they change
where results are computed, not what they are."""
RESUME_FLAGS = (
    "n_timesteps", "max_evaluations", "save_freq", "device", "progress", "verbose", "threads",
    "tensorboard", "eval_episodes",
)  # fmt: skip


EXAMPLES = """examples:
  python train_rl.py                                   # the default job
  python train_rl.py --algo dqn -n 500
  python train_rl.py --algo ppo --env nas_env/BenchLM-v2          # table-served, seconds
  python train_rl.py --algo evolution --max-evaluations 100
  python train_rl.py --hyperparams learning_rate:1e-3 n_steps:32 \\
      --env-kwargs fidelity:fast reward:mnasnet device:cuda
  python train_rl.py --env-kwargs 'fidelity:{steps:100,batch_size:16,lr:3e-3}'
  python train_rl.py --resume runs/maskable_ppo/TransformerLM-v3__0__20250101-120000 -n 1000
"""


class UsageError(ValueError):
    """A bad command line (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    from agents.algos import ALL_ALGOS
    from nas_env.env.settings import EvaluatorSettings

    parser = argparse.ArgumentParser(
        prog="nas-train",
        description="Neural architecture search with SB3 agents or search baselines on nas_env. "
        "With no arguments: the default job (MaskablePPO, real training at the search "
        "fidelity, then the final training at the rerank fidelity).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--algo", default=None, help=f"{', '.join(ALL_ALGOS)} (default: {DEFAULT_ALGO})")
    add(
        "--env",
        default=None,
        help=f"registered nas_env id (default: {DEFAULT_ENV}; {DEFAULT_EDIT_ENV} for baselines)",
    )
    add("-n", "--n-timesteps", type=int, default=None, help="env steps (default: from the YAML)")
    add("--n-envs", type=int, default=None, help="parallel envs (default: from the YAML, 1)")
    add("--vec-env", choices=("dummy", "subproc"), default="dummy", help="default: dummy")
    add("--seed", type=int, default=None, help="random seed (default: 0)")
    add("--log-folder", default="runs", help="where run folders go (default: runs)")
    add("--hyperparams", nargs="+", default=None, metavar="KEY:VALUE", help="YAML overrides")
    add("--env-kwargs", nargs="+", default=None, metavar="KEY:VALUE", help="env arguments")
    defaults = EvaluatorSettings().to_dict()
    for argument in FLAG_ARGUMENTS:  # env arguments with a flag of their own
        default = defaults[argument.name]
        kind = type(default) if isinstance(default, int | float) else str
        add(
            argument.cli_flag,
            type=kind,
            choices=argument.choices,
            default=None,
            metavar=None if argument.choices else "N" if kind is not str else "ADDRESS",
            help=f"{argument.help} (= --env-kwargs {argument.name}:; default: {default})",
        )
    add("--max-evaluations", type=int, default=None, help="also stop after N unique genomes")
    add(
        "-tb",
        "--tensorboard",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="TensorBoard events in RUN_DIR/tb (default: on)",
    )
    add("--save-freq", type=int, default=None, help="checkpoint every N steps (default: n/10)")
    add("--resume", default=None, metavar="RUN_DIR", help="continue a run from its checkpoint")
    add(
        "--pretrained",
        default=None,
        metavar="NAME|PATH",
        help="start from a pretrained policy; none: from scratch (default: "
        f"{DEFAULT_PRETRAINED[DEFAULT_ALGO, DEFAULT_ENV]} for the main job, else none)",
    )
    add("--device", default="cpu", help="the agent's torch device (default: cpu)")
    add(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bar (default: on)",
    )
    add(
        "--eval-episodes",
        type=int,
        default=0,
        help="after training, play N greedy episodes of the policy (masked for "
        "maskable_ppo) and write RUN_DIR/eval.json (default: 0)",
    )
    add("--verbose", type=int, default=0, help="1 prints SB3's log tables (default: 0)")
    add(
        "--final-top",
        type=int,
        default=None,
        metavar="N",
        help="after the search, re-train the N best genomes at --final-fidelity and pick the "
        f"winner on that (default: {DEFAULT_FINAL_TOP} when candidates are trained, 0 for "
        "table-served ids)",
    )
    add(
        "--final-baselines",
        action="store_true",
        help="also train the space's named baselines (config/baselines.yaml) at "
        "--final-fidelity, for comparison with the winner",
    )
    add(
        "--final-fidelity",
        default=None,
        metavar="LEVEL",
        help="fidelity level of the final training (default: the task kind's: "
        + ", ".join(f"{kind.final_level} for {name}" for name, kind in TASK_KINDS.items())
        + "; the kind's truth level where that level's signal was fitted on another family)",
    )
    add(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads for agent and candidate training, 0 = torch's default "
        "(default: 1: tiny models train fastest on one, and more collapse on a busy machine)",
    )
    return parser


def run_config_flags() -> dict[str, str]:
    """The flag behind each `RunConfig` field the command line sets (where a bad value
    came from), read off the parser: a field is its flag's destination, but for
    ``env_id`` (``--env``) and ``run_dir`` (``--resume``)."""
    renamed = {"env": "env_id", "resume": "run_dir"}
    return {
        renamed.get(action.dest, action.dest): "/".join(
            o for o in action.option_strings if not o.startswith("--no-")
        )
        for action in build_parser()._actions
        if action.option_strings and action.dest != "help"
    }


def resolve_env(args: argparse.Namespace, algo: str = DEFAULT_ALGO) -> tuple[str, dict[str, Any]]:
    """The env id and env kwargs of a new run: `CLI_ENV_KWARGS` for the id (named with
    ``--env`` or the default for ``algo``), then ``--env-kwargs``, then ``--backend``."""
    from agents.algos import BASELINE_CLASSES
    from agents.envs import resolve_env_id
    from agents.hyperparams import parse_overrides

    default = DEFAULT_EDIT_ENV if algo in BASELINE_CLASSES else DEFAULT_ENV
    env_id = resolve_env_id(args.env or default)
    env_kwargs = dict(CLI_ENV_KWARGS.get(env_id, {}))
    env_kwargs.update(parse_overrides(args.env_kwargs, "--env-kwargs"))
    env_kwargs.update(flag_kwargs(args, FLAG_ARGUMENTS))
    return env_id, env_kwargs


def flag_kwargs(args: argparse.Namespace, arguments: Any) -> dict[str, Any]:
    """The env kwargs of the env-argument flags given."""
    return {a.name: getattr(args, a.name) for a in arguments if getattr(args, a.name) is not None}


def _invocation(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """The `RunConfig` fields that every invocation sets anew, resumes included."""
    return {
        "device": args.device,
        "tensorboard": bool(args.tensorboard),
        "progress": bool(args.progress),
        "verbose": args.verbose,
        "eval_episodes": args.eval_episodes,
        "threads": args.threads,
        "argv": tuple(argv),
    }


def prepare(args: argparse.Namespace, argv: list[str]) -> RunConfig:
    """The run's configuration, built once: the algorithm's hyperparameter YAML, then
    ``--hyperparams``, then the other flags; fitted to the budget for an SB3 agent.

    Raises:
        UsageError: ``--resume`` with flags it cannot change, or a folder that is no run.
        ConfigError: A bad value (named with the flag or file it came from).
        HyperparamError: A bad hyperparameter, or a budget too small to learn in.
    """
    if args.resume:
        return _prepare_resume(args, argv)
    from agents.budget import fit_budget
    from agents.config import RunConfig, check_algo
    from agents.envs import max_episode_steps, resolve_cache
    from agents.hyperparams import load_hyperparams, parse_overrides

    flags = run_config_flags()
    algo = check_algo(args.algo or DEFAULT_ALGO, flags["algo"])
    env_id, env_kwargs = resolve_env(args, algo)
    env_kwargs["cache"] = resolve_cache(env_kwargs)
    hp = load_hyperparams(algo, env_id, parse_overrides(args.hyperparams))
    pretrained = args.pretrained or DEFAULT_PRETRAINED.get((algo, env_id))
    pretrained = None if pretrained == "none" else pretrained
    if pretrained is not None:  # its network, whatever the YAML says
        from agents.pretrained import load_policy

        hp.update(load_policy(pretrained).hyperparams())
    yaml_file = f"config/agents/{algo}.yaml"
    origin = {**flags, "hyperparams": f"{yaml_file} + --hyperparams"}
    n_timesteps, n_envs = hp.pop("n_timesteps", 500), hp.pop("n_envs", 1)
    if args.n_timesteps is None:
        origin["n_timesteps"] = f"{yaml_file} n_timesteps"
    else:
        n_timesteps = args.n_timesteps
    if args.n_envs is None:
        origin["n_envs"] = f"{yaml_file} n_envs"
    else:
        n_envs = args.n_envs
    save_freq = max(1, n_timesteps // 10) if args.save_freq is None else args.save_freq
    from agents.envs import final_level, registered_kwargs

    final_top = args.final_top
    if final_top is None:
        evaluator = {**registered_kwargs(env_id), **env_kwargs}.get("evaluator")
        served = evaluator in ("table", "surrogate")
        final_top = 0 if served else DEFAULT_FINAL_TOP
    config = RunConfig(
        algo=algo,
        env_id=env_id,
        seed=0 if args.seed is None else args.seed,
        vec_env=args.vec_env,
        max_evaluations=args.max_evaluations,
        hyperparams=hp,
        env_kwargs=env_kwargs,
        save_freq=save_freq,
        log_folder=args.log_folder,
        final_top=final_top,
        final_fidelity=args.final_fidelity or final_level(env_id, env_kwargs),
        final_baselines=args.final_baselines,
        pretrained=pretrained,
        command=tuple(argv),
        origin=origin,
        n_timesteps=n_timesteps,
        n_envs=n_envs,
        **_invocation(args, argv),
    )
    if not config.is_agent:
        return config
    fitted, changes = fit_budget(
        algo,
        config.hyperparams,
        config.n_timesteps,
        config.n_envs,
        max_episode_steps(env_id),
        config.max_evaluations,
    )
    return replace(config, hyperparams=fitted, budget_changes=tuple(changes))


def _prepare_resume(args: argparse.Namespace, argv: list[str]) -> RunConfig:
    given = [
        f"--{k.replace('_', '-')}"
        for k in (
            "algo",
            "env",
            "n_envs",
            "seed",
            "hyperparams",
            "env_kwargs",
            "backend",
            "final_top",
            "pretrained",
        )
        if getattr(args, k) is not None
    ]
    if given:
        allowed = ", ".join("--" + f.replace("_", "-") for f in (*RESUME_FLAGS, *EXECUTOR_FLAGS))
        raise UsageError(
            f"--resume continues a run with its own config; {', '.join(given)} cannot be "
            f"changed (allowed with --resume: {allowed})"
        )
    from agents.config import RunConfig
    from agents.runs import read_config
    from runfolder import CHECKPOINTS, CONFIG_FILE, STATE_FILE

    run_dir = Path(args.resume)
    try:
        data = read_config(run_dir)
        if not (run_dir / CHECKPOINTS / STATE_FILE).is_file():
            raise FileNotFoundError(f"{run_dir} has no checkpoint ({CHECKPOINTS}/{STATE_FILE})")
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    config = RunConfig.from_dict(data, str(run_dir / CONFIG_FILE), resumed=True)
    changes = {"run_dir": str(run_dir), **_invocation(args, argv)}
    for name in ("n_timesteps", "max_evaluations", "save_freq"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    executor = flag_kwargs(args, EXECUTOR_ARGUMENTS)
    if executor:
        changes["env_kwargs"] = {**config.env_kwargs, **executor}
    flags = run_config_flags()
    return config.updated({k: flags.get(k, "the command line") for k in changes}, **changes)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the error
        return int(exc.code or 0)
    from agents.hyperparams import HyperparamError
    from nas_env.errors import NASEnvError

    try:
        config = prepare(args, argv)
        from agents.envs import describe_executor, describe_fidelity, env_settings

        print(describe_fidelity(config.env_id, config.env_kwargs))
        where = describe_executor(env_settings(config.env_id, config.env_kwargs))
        if where:
            print(where)
        for change in () if config.resumed else config.budget_changes:
            print(f"budget: {change}")
        from agents.session import run_job
        from agents.vec_env import process_threads
        from analyze.report import report_run

        with process_threads(config.threads):
            return run_job(config, after=report_run)
    except (UsageError, HyperparamError, NASEnvError) as exc:
        print(f"nas-train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
