"""Every env argument is declared once (`nas_env.env.arguments`): the env's signature,
`EvaluatorSettings`, the CLI flags and the README table all follow the declaration."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import train_rl
from nas_env.env import NASEnv
from nas_env.env.arguments import ARGUMENTS, GROUPS, markdown_table
from nas_env.env.settings import ENV_ARGUMENTS, EvaluatorSettings
from nas_env.evaluation.backends import BACKENDS
from nas_env.evaluation.executors import EXECUTORS

ROOT = Path(__file__).resolve().parents[1]


def test_the_env_signature_and_the_settings_follow_the_declaration() -> None:
    own = [
        name
        for name, p in inspect.signature(NASEnv.__init__).parameters.items()
        if name != "self" and p.kind is not p.VAR_KEYWORD
    ]
    assert tuple(own) == ENV_ARGUMENTS
    settings = [a.name for a in ARGUMENTS if a.group != "env"]
    assert [n for n in EvaluatorSettings.names() if n != "evaluator"] == settings
    assert all(a.group in GROUPS for a in ARGUMENTS)
    defaults = EvaluatorSettings()
    for argument in ARGUMENTS:  # each argument is the declared field of its group's object
        if argument.group != "env":
            group = getattr(defaults, argument.group)
            assert argument.attribute in {f.name for f in fields(group)}, argument
    assert len({a.name for a in ARGUMENTS}) == len(ARGUMENTS)


def test_choices_come_from_the_registries() -> None:
    by_name = {a.name: a for a in ARGUMENTS}
    assert by_name["backend"].choices == BACKENDS
    assert by_name["executor"].choices == EXECUTORS


def test_every_flag_argument_is_a_cli_flag_that_sets_the_env_kwarg() -> None:
    parser = train_rl.build_parser()
    flags = [a for a in ARGUMENTS if a.flag]
    assert {a.name for a in flags} >= {"backend", "executor", "workers"}
    args = parser.parse_args(["--workers", "3", "--backend", "torch", "--cpus-per-eval", "2"])
    expected = {"workers": 3, "backend": "torch", "cpus_per_eval": 2}
    assert train_rl.flag_kwargs(args, flags) == expected
    for argument in flags:
        assert argument.cli_flag in parser.format_help()


def test_the_readme_table_is_the_declared_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "regenerate it: python -m nas_env.env.arguments"
