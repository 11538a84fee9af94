"""Every `NASEnv` argument, declared once: name, concern, allowed values, help, CLI flag.

What is derived from `ARGUMENTS`: the env's own argument list (`ENV_ARGUMENTS` in
`nas_env.env.settings`) and the choices its checks allow, `EvaluatorSettings`' field
order (a test holds them equal), the ``train_rl.py`` flags that set an env argument
directly (``--backend``, ``--executor``, ``--workers``...), and the argument table of the
README (``python -m nas_env.env.arguments`` prints it; a test holds the README to it).
Defaults live where Python needs them: `NASEnv`'s signature and the `EvaluatorSettings`
dataclass.

Concerns (``group``): ``env`` (the env's own), ``table`` (the benchmark a ``table`` or
``surrogate`` evaluator serves), ``training`` (how a candidate trains and where results are
cached), ``promotion`` (successive halving inside the env) and ``executor`` (where
candidates train). Each concern but ``env`` is one settings object
(`nas_env.env.setting_groups`, `nas_env.evaluation.executors.ExecutorSettings`) and an
attribute of `EvaluatorSettings` of the same name; an argument is the field ``field`` of
its group (``executor="ray"`` is ``settings.executor.kind``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from nas_env.evaluation.backends import BACKENDS
from nas_env.evaluation.executors import EXECUTORS
from nas_env.evaluation.precision import PRECISIONS
from nas_env.evaluation.train_settings import LATENCY_SOURCES, RESIDUAL_INITS
from nas_env.table.evaluator import MISSING_MODES
from nas_env.tasks.registry import TASK_IDS

MODES: tuple[str, ...] = ("edit", "design")
STARTS: tuple[str, ...] = ("default", "random", "incumbent")
TARGET_MODES: tuple[str, ...] = ("fixed", "random", "observed")
OBSERVATIONS: tuple[str, ...] = ("flat", "dict", "masked")
RENDER_MODES: tuple[str, ...] = ("ansi", "rgb_array")
EVALUATOR_KINDS: tuple[str, ...] = ("train", "table", "surrogate")
PROMOTIONS: tuple[str, ...] = ("off", "asha")
GROUPS: tuple[str, ...] = ("env", "table", "training", "promotion", "executor")
SETTINGS_GROUPS: tuple[str, ...] = GROUPS[1:]
"""The concerns of `EvaluatorSettings`, one settings object each."""


@dataclass(frozen=True)
class Argument:
    """One keyword argument of `NASEnv`.

    Attributes:
        name: The keyword.
        group: Its concern (`GROUPS`).
        help: One line on what it does.
        choices: The values allowed, when they are a fixed set.
        flag: ``train_rl.py`` has a flag of its own for it (``--name-with-dashes``).
        field: Its field in its group's settings object, where that is not ``name``.
    """

    name: str
    group: str
    help: str
    choices: tuple[str, ...] | None = None
    flag: bool = False
    field: str = ""

    @property
    def attribute(self) -> str:
        """Its field in its group's settings object (``settings.<group>.<attribute>``)."""
        return self.field or self.name

    @property
    def cli_flag(self) -> str:
        """The ``train_rl.py`` flag (``--cpus-per-eval``)."""
        return "--" + self.name.replace("_", "-")


ARGUMENTS: tuple[Argument, ...] = (
    Argument("space", "env", "search space: a preset name or a YAML path"),
    Argument("task", "env", "task id: " + ", ".join(TASK_IDS)),
    Argument("fidelity", "env", "training budget: a level of config/fidelities.yaml or a mapping"),
    Argument("reward", "env", "target (default), weighted, mnasnet, budget, quality or one of "
             "register_reward; a mapping or a Reward"),
    Argument("mode", "env", "edit a genome, or design one gene per step", MODES),
    Argument("evaluator", "env", "real training, a benchmark table or a surrogate (or an object)",
             EVALUATOR_KINDS),
    Argument("start", "env", "first genome of an edit episode", STARTS),
    Argument("targets", "env", "size and latency targets: the space's, drawn, or observed",
             TARGET_MODES),
    Argument("reward_scale", "env", "multiplies every reward (info['score'] is unscaled)"),
    Argument("horizon", "env", "steps episode.progress counts against (default: the time limit)"),
    Argument("invalid_action_penalty", "env", "reward of an action the mask would hide"),
    Argument("observation", "env", "flat vector, dict, or vector plus action_mask", OBSERVATIONS),
    Argument("render_mode", "env", "ansi text or an rgb_array image", RENDER_MODES),
    Argument("table", "table", "a table or surrogate: path or shipped name (default: the space's)",
             field="path"),
    Argument("missing", "table", "a genome absent from a table: error, or train it",
             MISSING_MODES),
    Argument("table_allow_mismatch", "table",
             "serve a table of another evaluator version or task data, with a warning",
             field="allow_mismatch"),
    Argument("backend", "training", "training backend", BACKENDS, flag=True),
    Argument("device", "training", "auto, cpu, cuda or cuda:N"),
    Argument("precision", "training", "autocast dtype (auto: bf16 where it helps)", PRECISIONS),
    Argument("training_seed", "training", "seeds model initialisation and batch sampling",
             field="seed"),
    Argument("cache", "training", "result database path, false for none (default: shared)"),
    Argument("cache_root", "training", "folder of tokenizers, tokens and the default database"),
    Argument("vocab_size", "training", "tokenizer vocabulary (default: the space's task spec)"),
    Argument("latency", "training", "timed on the trained model, or predicted by a profile",
             LATENCY_SOURCES),
    Argument("latency_profile", "training",
             "latency profile file (default: config/latency/SPACE-DEVICE.json)"),
    Argument("latency_profile_mismatch", "training",
             "use a profile of another processor or torch, with a warning"),
    Argument("residual_init", "training",
             "projections into the residual stream: GPT-2's scaled init, or v4's flat one",
             RESIDUAL_INITS),
    Argument("promotion", "promotion", "successive halving over rungs of the fidelity",
             PROMOTIONS, field="kind"),
    Argument("rungs", "promotion", "rungs of the ladder (asha)"),
    Argument("eta", "promotion", "the top 1/eta of a rung go on (asha)"),
    Argument("checkpoint_mb", "promotion", "size cap of the promotion checkpoints"),
    Argument("executor", "executor", "where candidates train", EXECUTORS, flag=True,
             field="kind"),
    Argument("workers", "executor", "candidates training at once", flag=True),
    Argument("ray_address", "executor", "Ray cluster to join: auto, HOST:PORT, ray://HOST:PORT",
             flag=True),
    Argument("cpus_per_eval", "executor", "CPU threads per candidate", flag=True),
    Argument("gpus_per_eval", "executor", "GPUs per candidate (a remote executor)", flag=True),
    Argument("max_retries", "executor", "re-runs of a candidate whose worker died", flag=True),
)  # fmt: skip
"""Every argument, the env's own first (in signature order), then by concern."""

BY_NAME: dict[str, Argument] = {a.name: a for a in ARGUMENTS}


def arguments_of(group: str) -> tuple[Argument, ...]:
    """The arguments of one concern, in declaration order."""
    return tuple(a for a in ARGUMENTS if a.group == group)


def markdown_table() -> str:
    """The README's argument table."""
    lines = ["| argument | concern | allowed | what it does |", "| --- | --- | --- | --- |"]
    for a in ARGUMENTS:
        allowed = ", ".join(f"`{c}`" for c in a.choices) if a.choices else ""
        flag = f" (`{a.cli_flag}`)" if a.flag else ""
        lines.append(f"| `{a.name}`{flag} | {a.group} | {allowed} | {a.help} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
