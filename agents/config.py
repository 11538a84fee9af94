"""One validated, serialisable configuration per run: what ``config.yaml`` holds.

`RunConfig` is built once: by ``train_rl.py`` from the command line (the algorithm's
hyperparameter YAML, then ``--hyperparams``, then the other flags), or from a run folder's
``config.yaml`` on ``--resume`` (`RunConfig.from_dict`; the files of earlier versions,
which also held a top-level ``cache``, read the same). `agents.session.run_job` takes it
and nothing else. Every field is checked when a config is made (`dataclasses.replace`
included), and an error names the field's value, where it came from (a flag, a YAML
entry, a config file: `RunConfig.origin`) and what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from nas_env.checks import describe, expect_choice, expect_int, suggest
from nas_env.errors import ConfigError

VEC_ENVS: tuple[str, ...] = ("dummy", "subproc")
REQUIRED: tuple[str, ...] = ("algo", "env_id", "n_timesteps")
NOT_SAVED: tuple[str, ...] = ("argv", "resumed", "origin")
"""Fields of one invocation, not of the run: `RunConfig.to_dict` leaves them out."""
LEGACY_KEYS: tuple[str, ...] = ("cache",)
"""Keys that earlier ``config.yaml`` files hold besides the fields (``cache`` repeated
``env_kwargs.cache``); read and checked, not written."""


class RunConfigError(ConfigError):
    """A run configuration value is wrong (the message says where it came from)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, resolved and checked.

    Attributes:
        algo: An SB3 agent of `agents.algos.ALGOS` or a search baseline.
        env_id: A registered nas_env id.
        n_timesteps: Env steps of the run in all (a resumed run continues to this total).
        seed: Seeds the agent, the envs and the searcher.
        n_envs: Parallel envs (baselines run one).
        vec_env: ``dummy`` (in-process) or ``subproc`` (one process per env).
        max_evaluations: Also stop after this many unique genomes (None: no limit).
        hyperparams: Constructor arguments (+ ``policy``), fitted to the budget.
        budget_changes: One sentence per change made to fit the budget.
        env_kwargs: The env's keyword arguments (`NASEnv.argument_names`), the result
            database path ``cache`` included.
        device: The agent's torch device.
        save_freq: Env steps between checkpoints (0: only at the end and on Ctrl-C).
        tensorboard: Write TensorBoard events into ``RUN_DIR/tb``.
        progress: Show a progress bar.
        verbose: 1 prints SB3's log tables.
        eval_episodes: Greedy episodes of the policy after training (``eval.json``).
        threads: Torch CPU threads for agent and candidates (0: torch's default).
        final_top: After the search, re-train this many best genomes at
            ``final_fidelity`` and pick the winner on that measurement (0: no final
            training; `agents.final`).
        final_fidelity: The fidelity level of the final training.
        final_baselines: Also train the space's named baselines (`nas_env.baselines`) at
            ``final_fidelity`` beside the candidates, for comparison (never the winner).
        pretrained: The pretrained policy (a shipped name or a path, `agents.pretrained`)
            the agent starts from (None: a fresh network); its network is the run's.
        log_folder: Where new run folders go.
        command: The command line that created the run.
        run_dir: The run folder (None until the session creates it).
        created: When the run folder was created.
        argv: This invocation's command line (appended to ``command.txt``; not saved).
        resumed: This invocation continues ``run_dir`` from its checkpoint (not saved).
        origin: Where each value came from, by field (for messages; not saved).
    """

    algo: str
    env_id: str
    n_timesteps: int
    seed: int = 0
    n_envs: int = 1
    vec_env: str = "dummy"
    max_evaluations: int | None = None
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    budget_changes: tuple[str, ...] = ()
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    save_freq: int = 1
    tensorboard: bool = True
    progress: bool = True
    verbose: int = 0
    eval_episodes: int = 0
    threads: int = 1
    final_top: int = 0
    final_fidelity: str = "rerank"
    final_baselines: bool = False
    pretrained: str | None = None
    log_folder: str = "runs"
    command: tuple[str, ...] = ()
    run_dir: str | None = None
    created: str | None = None
    argv: tuple[str, ...] = ()
    resumed: bool = False
    origin: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("hyperparams", "env_kwargs", "origin"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise RunConfigError(f"{self.where(name)}: expected a mapping, got {value!r}")
            object.__setattr__(self, name, MappingProxyType(dict(value)))
        for name in ("budget_changes", "command", "argv"):
            value = getattr(self, name)
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise RunConfigError(f"{self.where(name)}: expected a list of strings")
            object.__setattr__(self, name, tuple(value))
        for check in CHECKS:
            check(self)

    # -- where values came from ---------------------------------------------------------
    def where(self, name: str) -> str:
        """Where the value of field ``name`` came from (``--seed``, ``config.yaml: seed``)."""
        return self.origin.get(name, f"run config {name}")

    def fail(self, name: str, allowed: str) -> RunConfigError:
        """The error for a bad value of field ``name``."""
        value = getattr(self, name)
        return RunConfigError(f"{self.where(name)}: {describe(value)} is not allowed; {allowed}")

    # -- derived facts --------------------------------------------------------------------
    @property
    def is_agent(self) -> bool:
        """True for an SB3 agent, False for a search baseline."""
        from agents.algos import ALGOS

        return self.algo in ALGOS

    @property
    def cache(self) -> str | bool | None:
        """The result database path of the run (False: no persistent cache)."""
        return self.env_kwargs.get("cache")

    @property
    def path(self) -> Path:
        """``run_dir`` as a path (the session sets it before anything is written)."""
        if self.run_dir is None:
            raise RunConfigError("the run has no folder yet (run_dir is None)")
        return Path(self.run_dir)

    def updated(self, origin: str | Mapping[str, str], **values: Any) -> RunConfig:
        """A copy with ``values`` changed, each recorded as coming from ``origin`` (one
        source for all, or one per field); checked like a new config."""
        sources = {k: origin for k in values} if isinstance(origin, str) else dict(origin)
        return replace(self, **values, origin={**self.origin, **sources})

    # -- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``config.yaml`` (every field but `NOT_SAVED`)."""
        from agents.runs import plain

        return {
            f.name: plain(getattr(self, f.name)) for f in fields(self) if f.name not in NOT_SAVED
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str, **invocation: Any) -> RunConfig:
        """A config from ``config.yaml`` data.

        Args:
            data: The mapping ``to_dict`` wrote (or an earlier version's, see `LEGACY_KEYS`).
            source: Where it came from, for messages (the file's path).
            **invocation: Values of this invocation (``argv``, ``resumed``...).

        Raises:
            RunConfigError: An unknown or missing key, or a bad value, naming ``source``.
        """
        names = [f.name for f in fields(cls) if f.name not in NOT_SAVED]
        for key in data:
            if key not in names and key not in LEGACY_KEYS:
                raise RunConfigError(
                    f"{source}: unknown key {key!r}{suggest(str(key), names)}; allowed: "
                    f"{', '.join(names)}"
                )
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise RunConfigError(f"{source}: missing {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in names}
        origin = {k: f"{source}: {k}" for k in names}
        config = cls(**values, **invocation, origin=origin)
        if "cache" in data and data["cache"] != config.cache:
            raise RunConfigError(
                f"{source}: cache {data['cache']!r} differs from env_kwargs.cache "
                f"{config.cache!r}; allowed: the same path (or drop cache)"
            )
        return config


# -- the checks, in order -----------------------------------------------------------------
def check_algo(name: Any, where: str) -> str:
    """``name`` if it is an algorithm `train_rl.py` runs, else `RunConfigError`."""
    from agents.algos import ALL_ALGOS

    if name not in ALL_ALGOS:
        hint = suggest(name, ALL_ALGOS) if isinstance(name, str) else ""
        raise RunConfigError(
            f"{where}: unknown algorithm {describe(name)}{hint}; allowed: {', '.join(ALL_ALGOS)}"
        )
    return str(name)


def _identity(config: RunConfig) -> None:
    from agents.envs import EnvIdError, nas_env_ids, resolve_env_id

    check_algo(config.algo, config.where("algo"))
    if config.env_id not in nas_env_ids():
        try:
            resolve_env_id(str(config.env_id))
        except EnvIdError as exc:
            raise RunConfigError(f"{config.where('env_id')}: {exc}") from None
        raise config.fail("env_id", f"allowed: the full id, e.g. {nas_env_ids()[0]}")


def _numbers(config: RunConfig) -> None:
    for name, minimum in (
        ("n_timesteps", 1),
        ("n_envs", 1),
        ("seed", 0),
        ("save_freq", 0),
        ("verbose", 0),
        ("eval_episodes", 0),
        ("threads", 0),
        ("final_top", 0),
    ):
        expect_int(getattr(config, name), config.where(name), minimum=minimum)
    expect_int(config.max_evaluations, config.where("max_evaluations"), 1, allow_none=True)
    expect_choice(config.vec_env, config.where("vec_env"), VEC_ENVS)
    for name in ("tensorboard", "progress", "resumed", "final_baselines"):
        if not isinstance(getattr(config, name), bool):
            raise config.fail(name, "allowed: true, false")
    if config.final_top:
        from nas_env.evaluation.fidelity import Fidelity

        try:
            Fidelity.resolve(config.final_fidelity)
        except ConfigError as exc:
            raise RunConfigError(f"{config.where('final_fidelity')}: {exc}") from None
    for name in ("device", "log_folder"):
        if not isinstance(getattr(config, name), str) or not getattr(config, name):
            raise config.fail(name, "allowed: a non-empty string")
    for name in ("run_dir", "created", "pretrained"):
        if not isinstance(getattr(config, name), str | None):
            raise config.fail(name, "allowed: a string or None")


def _hyperparams(config: RunConfig) -> None:
    from agents.hyperparams import check_hyperparam_keys

    check_hyperparam_keys(config.algo, config.hyperparams, config.where("hyperparams"))


def _env(config: RunConfig) -> None:
    from agents.envs import registered_kwargs
    from nas_env.env import NASEnv

    where = config.where("env_kwargs")
    executor = NASEnv.check_arguments(dict(config.env_kwargs), where).executor
    if config.pretrained is not None and not config.is_agent:
        raise config.fail("pretrained", f"{config.algo} has no policy; allowed with an SB3 agent")
    if config.is_agent:
        if executor.parallel and config.vec_env == "subproc":
            raise RunConfigError(
                f"{config.where('vec_env')}: subproc envs evaluate in their own processes; "
                f"with executor {executor.kind!r} and {executor.workers} worker(s) use the "
                "default vec env (dummy), which submits every env's candidate at once"
            )
        return
    if config.n_envs != 1:
        raise RunConfigError(
            f"{config.where('n_envs')}: {config.algo} runs a single env; drop --n-envs "
            f"{config.n_envs}"
        )
    mode = {**registered_kwargs(config.env_id), **config.env_kwargs}.get("mode", "edit")
    if mode != "edit":
        raise RunConfigError(
            f"{config.algo} edits genomes: it needs an edit-mode env, but {config.env_id} runs "
            f"in mode {mode!r}; use e.g. nas_env/MidLM-v1 or nas_env/BenchLM-v2"
        )


CHECKS: tuple[Callable[[RunConfig], None], ...] = (_identity, _numbers, _hyperparams, _env)
"""Every check a `RunConfig` passes when it is made, in order."""
