"""Pretrained policies: exported from a run without pickle, loaded into a new run's agent
with the same weights, refused with a clear error where the env or algorithm differ."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import torch

import nas_env  # noqa: F401  (registers the ids)
import train_rl
from agents.algos import ALGOS
from agents.hyperparams import model_kwargs
from agents.pretrained import check_fits, export, load_policy, main, start_from
from nas_env.errors import ConfigError

CASES = {
    "maskable_ppo": ("nas_env/SurrogateLMDesign-v0", ["n_steps:8", "batch_size:8", "n_epochs:1"]),
    "ppo": ("nas_env/SurrogateLM-v0", ["n_steps:8", "batch_size:8", "n_epochs:1"]),
    "dqn": ("nas_env/SurrogateLM-v0", ["learning_starts:2", "target_update_interval:4"]),
}


def run(tmp_path: Path, algo: str, *extra: str, env_id: str | None = None) -> int:
    env, hp = CASES[algo]
    argv = ["--algo", algo, "--env", env_id or env, "-n", "16", "--hyperparams", *hp]
    argv += ["--log-folder", str(tmp_path / "logs"), "--no-progress", "--no-tensorboard"]
    return train_rl.main([*argv, *extra])


_EXPORTED: dict[str, Path] = {}


def exported(tmp_path: Path, algo: str) -> Path:
    """A policy file of a 16-step run of ``algo``, made once per test session."""
    if algo not in _EXPORTED:
        assert run(tmp_path, algo) == 0
        (folder,) = list((tmp_path / "logs" / algo).iterdir())
        _EXPORTED[algo] = export(folder, tmp_path / f"{algo}.safetensors")
    return _EXPORTED[algo]


@pytest.mark.parametrize("algo", list(CASES))
def test_an_exported_policy_starts_a_new_agent_with_its_weights(algo: str, tmp_path: Path) -> None:
    path = exported(tmp_path, algo)
    assert b"__reduce__" not in path.read_bytes() and b"cloudpickle" not in path.read_bytes()
    policy = load_policy(path)
    assert policy.algo == algo and policy.meta["steps"] >= 16
    env_id = CASES[algo][0]
    env = gym.make(env_id)
    hp = policy.hyperparams()
    model = ALGOS[algo](
        hp["policy"], env, seed=5, **model_kwargs({k: v for k, v in hp.items() if k != "policy"})
    )
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    check_fits(policy, env, algo)
    start_from(policy, model)
    after = model.policy.state_dict()
    assert all(torch.equal(after[k], policy.state[k]) for k in policy.state)
    assert any(not torch.equal(before[k], after[k]) for k in before)  # not a fresh network
    env.close()
    if algo != "maskable_ppo":
        return
    # and from the command line: a fine-tuning run records where it started
    assert run(tmp_path / "again", algo, "--pretrained", str(path)) == 0
    (folder,) = list((tmp_path / "again" / "logs" / algo).iterdir())
    assert str(path) in (folder / "config.yaml").read_text()


def test_a_policy_of_another_space_algorithm_or_observation_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = exported(tmp_path, "maskable_ppo")
    policy = load_policy(path)
    bench = gym.make("nas_env/BenchLMDesign-v2")
    with pytest.raises(ConfigError, match=r"made for space 'mid'.*vs the env's 'bench'"):
        check_fits(policy, bench, "maskable_ppo")
    design = gym.make("nas_env/SurrogateLMDesign-v0")
    with pytest.raises(ConfigError, match=r"trained with maskable_ppo.*--algo maskable_ppo"):
        check_fits(policy, design, "ppo")
    conditioned = gym.make("nas_env/SurrogateLMDesign-v0", targets="random")
    with pytest.raises(ConfigError, match=r"observation_names differ \(lengths"):
        check_fits(policy, conditioned, "maskable_ppo")
    capsys.readouterr()
    code = run(tmp_path / "b", "maskable_ppo", "--pretrained", str(path),
               env_id="nas_env/BenchLMDesign-v2")  # fmt: skip
    assert code == 2 and "made for space 'mid'" in capsys.readouterr().err
    for env in (bench, design, conditioned):
        env.close()


def test_names_files_and_formats_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="neither a shipped policy"):
        load_policy("no-such-policy")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="not a nas_env policy file"):
        load_policy(bad)
    assert main(["info", str(bad)]) == 2 and "not a nas_env policy" in capsys.readouterr().err
    path = exported(tmp_path, "ppo")
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    assert '"algo": "ppo"' in capsys.readouterr().out


@pytest.mark.parametrize("version", ["v1", "v0"])
def test_the_shipped_policies_load_by_name_and_fit_their_env(version: str) -> None:
    from agents.pretrained import shipped

    assert f"mid-design-{version}" in shipped()
    policy = load_policy(f"mid-design-{version}")
    assert policy.algo == "maskable_ppo" and policy.meta["env_kwargs"] == {"targets": "random"}
    assert policy.meta["env_id"] == f"nas_env/SurrogateLMDesign-{version}"
    env = gym.make(f"nas_env/SurrogateLMDesign-{version}", targets="random")
    check_fits(policy, env, "maskable_ppo")
    hp = policy.hyperparams()
    kwargs = model_kwargs({k: v for k, v in hp.items() if k != "policy"})
    model = ALGOS["maskable_ppo"](hp["policy"], env, seed=0, **kwargs)
    start_from(policy, model)
    obs, _ = env.reset(seed=0, options={"targets": {"size_mb": 0.5, "latency_ms": 1.0}})
    action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks(), deterministic=True)
    assert env.unwrapped.action_masks()[int(action)]
    env.close()


def test_the_shipped_policy_fits_real_training_on_its_space_at_the_space_targets() -> None:
    policy = load_policy("mid-design-v1")
    env = gym.make("nas_env/TransformerLMDesign-v2", space="mid", targets="observed", cache=False)
    check_fits(policy, env, "maskable_ppo")
    env.close()
    fixed = gym.make("nas_env/TransformerLMDesign-v2", space="mid", cache=False)
    with pytest.raises(ConfigError, match="observation_names differ"):
        check_fits(policy, fixed, "maskable_ppo")
    fixed.close()
