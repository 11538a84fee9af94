"""Pretrained policies: an SB3 agent's policy weights in one safetensors file (no pickle),
with what they fit, so that a run can start from them (``train_rl.py --pretrained``).

The file holds the policy's ``state_dict`` and, in its header metadata, a JSON ``meta``:
the format (`FORMAT`), the algorithm and its policy class and ``policy_kwargs`` (plain
data, as in ``config/agents/*.yaml``), and the env layout the weights fit: the space's name,
the mode, the observation form, ``action_names`` and ``observation_names`` (slot by slot,
so that a space with other genes or choices is refused with the first difference), plus
where it came from (the env id and kwargs, steps, seed, command). Loading reads tensors and
strings only: nothing in the file is executed.

A NAME is a file shipped in ``config/policies/<NAME>.safetensors``; anything else is a path.
``python -m agents.pretrained export RUN_DIR --out FILE`` writes one from a run's last
checkpoint (the run's own SB3 zip); ``python -m agents.pretrained info NAME|PATH`` shows one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import CONFIG_DIR
from nas_env.errors import ConfigError

FORMAT = "nas_env-policy-1"
POLICIES_DIR = CONFIG_DIR / "policies"
SUFFIX = ".safetensors"
LAYOUT = ("space", "mode", "observation", "action_names", "observation_names")
"""What an env must share with the policy's for the weights to mean the same thing."""


@dataclass(frozen=True)
class PolicyFile:
    """A loaded pretrained policy.

    Attributes:
        path: Where it was read from.
        meta: Its metadata (see the module docstring).
        state: The policy's ``state_dict`` (CPU tensors).
    """

    path: Path
    meta: dict[str, Any]
    state: dict[str, Any]

    @property
    def algo(self) -> str:
        """The algorithm the weights were trained with (``ppo``, ``maskable_ppo``...)."""
        return str(self.meta["algo"])

    def hyperparams(self) -> dict[str, Any]:
        """The hyperparameters that rebuild the same network (``policy``,
        ``policy_kwargs``)."""
        return {"policy": self.meta["policy"], "policy_kwargs": dict(self.meta["policy_kwargs"])}


def shipped() -> tuple[str, ...]:
    """Names of the policies in ``config/policies``."""
    return tuple(sorted(p.stem for p in POLICIES_DIR.glob(f"*{SUFFIX}")))


def resolve(name_or_path: str | Path) -> Path:
    """The file a NAME or PATH means.

    Raises:
        ConfigError: No such shipped name and no such file.
    """
    text = str(name_or_path)
    if "/" not in text and not text.endswith(SUFFIX):
        candidate = POLICIES_DIR / f"{text}{SUFFIX}"
        if candidate.is_file():
            return candidate
    path = Path(text)
    if path.is_file():
        return path
    names = ", ".join(shipped()) or "none shipped yet"
    raise ConfigError(
        f"--pretrained: {text!r} is neither a shipped policy ({names}) nor a file; allowed: "
        f"a name from config/policies or a path to a {SUFFIX} file"
    )


def layout_of(env: Any) -> dict[str, Any]:
    """The layout (`LAYOUT`) of an env, a vector env or its first env."""
    base = env.unwrapped if hasattr(env, "unwrapped") else None
    if base is None or not hasattr(base, "action_names"):  # a vector env
        get = env.get_attr
        names = ("space", "mode", "observation_mode", "action_names", "observation_names")
        values = {n: get(n, indices=[0])[0] for n in names}
    else:
        values = {n: getattr(base, n) for n in ("space", "mode", "action_names")}
        values["observation_mode"] = base.observation_mode
        values["observation_names"] = base.observation_names
    return {
        "space": values["space"].name,
        "mode": values["mode"],
        "observation": values["observation_mode"],
        "action_names": list(values["action_names"]),
        "observation_names": list(values["observation_names"]),
    }


def save_policy(
    model: Any, env: Any, path: str | Path, hyperparams: Mapping[str, Any], **origin: Any
) -> Path:
    """Write ``model``'s policy with the layout of ``env`` (see the module docstring).

    Args:
        model: A trained SB3 model (``model.policy`` is saved).
        env: The env (or vector env) it was trained on.
        path: The ``.safetensors`` file to write.
        hyperparams: The run's hyperparameters (``policy`` and ``policy_kwargs`` kept).
        **origin: Where it came from (``env_id``, ``env_kwargs``, ``steps``, ``seed``...).
    """
    from safetensors.torch import save_file

    from agents.runs import plain

    algo = next(n for n, cls in _algos().items() if isinstance(model, cls))
    meta = {
        "format": FORMAT,
        "algo": algo,
        "policy": hyperparams.get("policy", "MlpPolicy"),
        "policy_kwargs": plain(dict(hyperparams.get("policy_kwargs") or {})),
        **layout_of(env),
        **plain(origin),
    }
    state = {k: v.detach().cpu().contiguous() for k, v in model.policy.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"meta": json.dumps(meta, sort_keys=True)})
    return path


def load_policy(name_or_path: str | Path) -> PolicyFile:
    """Read a pretrained policy (tensors and JSON only).

    Raises:
        ConfigError: No such policy, a file that is not one, or another format.
    """
    from safetensors import SafetensorError, safe_open

    path = resolve(name_or_path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        meta = json.loads(header["meta"])
    except (OSError, KeyError, ValueError, SafetensorError) as exc:
        raise ConfigError(f"--pretrained {path}: not a nas_env policy file ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ConfigError(
            f"--pretrained {path}: format {meta.get('format')!r}; this nas_env reads {FORMAT!r}"
        )
    return PolicyFile(path, meta, state)


def check_fits(policy: PolicyFile, env: Any, algo: str) -> None:
    """Refuse a policy whose algorithm or env layout differs from the run's.

    Raises:
        ConfigError: Naming the first difference and what the policy needs.
    """
    where = f"--pretrained {policy.path}"
    if algo != policy.algo:
        raise ConfigError(
            f"{where}: trained with {policy.algo}, the run uses {algo}; allowed: "
            f"--algo {policy.algo}"
        )
    layout = layout_of(env)
    for key in LAYOUT:
        want, got = policy.meta[key], layout[key]
        if want == got:
            continue
        if isinstance(want, list) and isinstance(got, list):
            pairs = enumerate(zip(want, got, strict=False))
            index = next((i for i, (a, b) in pairs if a != b), None)
            first = (
                f"at {index}: {want[index]!r} vs {got[index]!r}"
                if index is not None
                else f"lengths {len(want)} vs {len(got)}"
            )
            detail = f"{key} differ ({first})"
        else:
            detail = f"{key} {want!r} vs the env's {got!r}"
        raise ConfigError(
            f"{where}: made for space {policy.meta['space']!r} in mode {policy.meta['mode']!r} "
            f"(observation {policy.meta['observation']!r}); the env's {detail}. A policy "
            "fine-tunes only on an env with the same space, mode and observation layout"
        )


def start_from(policy: PolicyFile, model: Any) -> None:
    """Load the weights into ``model``'s policy (same network: see `PolicyFile.hyperparams`).

    Raises:
        ConfigError: The network's parameters differ in names or shapes.
    """
    current = model.policy.state_dict()
    problems = [k for k in policy.state if k not in current]
    problems += [k for k in current if k not in policy.state]
    problems += [
        k
        for k, v in policy.state.items()
        if k in current and tuple(v.shape) != tuple(current[k].shape)
    ]
    if problems:
        raise ConfigError(
            f"--pretrained {policy.path}: the network differs from the run's at "
            f"{', '.join(sorted(problems)[:4])}; drop --hyperparams policy_kwargs (the "
            f"policy's are {policy.meta['policy_kwargs']})"
        )
    model.policy.load_state_dict({k: v.to(model.device) for k, v in policy.state.items()})


def _algos() -> dict[str, type]:
    from agents.algos import ALGOS

    return dict(ALGOS)


def export(run_dir: str | Path, out: str | Path) -> Path:
    """Write the policy of a run's last checkpoint (``checkpoints/model.zip``, the run's
    own file) with its env's layout."""
    import gymnasium as gym

    import nas_env  # noqa: F401  (registers the ids)
    from agents.runs import read_config
    from runfolder import CHECKPOINTS, MODEL_FILE

    run = Path(run_dir)
    config = read_config(run)
    model = _algos()[config["algo"]].load(run / CHECKPOINTS / MODEL_FILE, device="cpu")
    env = gym.make(config["env_id"], **dict(config.get("env_kwargs") or {}))
    try:
        return save_policy(
            model, env, out, config.get("hyperparams") or {}, env_id=config["env_id"],
            env_kwargs={k: v for k, v in (config.get("env_kwargs") or {}).items()
                        if k != "cache"},  # the machine's result database: not provenance
            steps=int(model.num_timesteps),
            seed=config.get("seed"), command=" ".join(config.get("command") or ()),
            run=run.name,
        )  # fmt: skip
    finally:
        env.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m agents.pretrained export RUN_DIR --out FILE`` / ``info NAME|PATH``."""
    parser = argparse.ArgumentParser(prog="python -m agents.pretrained", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write a run's policy as a pretrained policy file")
    exp.add_argument("run_dir")
    exp.add_argument("--out", required=True, help=f"the {SUFFIX} file to write")
    info = sub.add_parser("info", help="describe a pretrained policy")
    info.add_argument("policy", help="a shipped name or a path")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            print(export(args.run_dir, args.out))
            return 0
        policy = load_policy(args.policy)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = {k: v for k, v in policy.meta.items() if k not in ("action_names", "observation_names")}
    shown["actions"], shown["observation_slots"] = (
        len(policy.meta["action_names"]),
        len(policy.meta["observation_names"]),
    )
    print(json.dumps(shown, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
